/**
 * Raw views of a TBSCertificate for lints that must see the encoding itself (time types, serial
 * octets, repeated extensions) rather than what the schema parser made of it.
 */

import { readChildren, readOid, readTlv, TAG, type Tlv } from '@medsign/gm/der';
import { outerSequence } from '../der-input.js';

/** The TBSCertificate fields as TLVs (RFC 5280 §4.1). */
export type RawTbs = {
  version?: Tlv;
  serialNumber: Tlv;
  signature: Tlv;
  issuer: Tlv;
  notBefore: Tlv;
  notAfter: Tlv;
  subject: Tlv;
  subjectPublicKeyInfo: Tlv;
  /** The SEQUENCE OF Extension inside [3], if present. */
  extensions?: Tlv;
};

/** Split TBSs by their bytes' array: one lint run asks several times for the same certificate's fields. */
const split = new WeakMap<Uint8Array, RawTbs>();

/**
 * Splits TBS DER into its fields (DecodeError when the structure is not a TBSCertificate). Kept per
 * `tbsDer` array (a certificate's bytes are not changed after parsing), so repeated calls do not walk
 * the DER again.
 */
export function rawTbs(tbsDer: Uint8Array): RawTbs {
  let raw = split.get(tbsDer);
  if (!raw) split.set(tbsDer, (raw = splitTbs(tbsDer)));
  return raw;
}

function splitTbs(tbsDer: Uint8Array): RawTbs {
  const parts = outerSequence(tbsDer, 'TBSCertificate');
  const hasVersion = parts[0]?.tag === 0xa0;
  const [serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo] = parts.slice(
    hasVersion ? 1 : 0,
  );
  if (!serialNumber || !signature || !issuer || !validity || !subject || !subjectPublicKeyInfo)
    throw new RangeError('TBSCertificate: missing fields');
  const times = readChildren(validity.value);
  if (times.length !== 2) throw new RangeError('Validity: expected notBefore and notAfter');
  const explicit = parts.find((p) => p.tag === 0xa3);
  const extensions = explicit ? readTlv(explicit.value, 0) : undefined;
  return {
    ...(hasVersion ? { version: parts[0]! } : {}),
    serialNumber,
    signature,
    issuer,
    notBefore: times[0]!,
    notAfter: times[1]!,
    subject,
    subjectPublicKeyInfo,
    ...(extensions ? { extensions } : {}),
  };
}

/** Every extnID in TBS order, repeats included (the schema parser would reject a repeat). */
export function rawExtensionOids(tbsDer: Uint8Array): string[] {
  const ext = rawTbs(tbsDer).extensions;
  if (!ext) return [];
  return readChildren(ext.value).map((e) => {
    const first = readChildren(e.value)[0];
    if (!first || first.tag !== TAG.OID) throw new RangeError('Extension without extnID');
    return readOid(first, 'extnID');
  });
}

/** The OIDs that occur more than once. */
export function duplicateExtensionOids(tbsDer: Uint8Array): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const o of rawExtensionOids(tbsDer)) (seen.has(o) ? dup : seen).add(o);
  return [...dup];
}
