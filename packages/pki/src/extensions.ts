/**
 * X.509 v3 extensions: builders for what a CA writes (RFC 5280 §4.2) and readers for what a verifier
 * needs. An extension is kept as { oid, critical, value } where `value` is the DER inside extnValue, so
 * custom extensions (any OID, any DER, either criticality) travel the same way as standard ones.
 */

import { createHash } from 'node:crypto';
import { DecodeError, sm3 } from '@medsign/gm';
import { encodeOctetString, encodeOid, encodeSequence, encodeTlv } from '@medsign/gm/der';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AccessDescription,
  AuthorityInfoAccessSyntax,
  AuthorityKeyIdentifier,
  BasicConstraints,
  CertificatePolicies,
  CRLDistributionPoints,
  DistributionPoint,
  DistributionPointName,
  ExtendedKeyUsage,
  Extension as AsnExtension,
  Extensions,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  PolicyInformation,
  PolicyQualifierInfo,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { parseAsn } from './der-input.js';
import { describePublicKey, readSpki } from './keys.js';
import * as oid from './oids.js';

/** One extension: the DER value inside extnValue, its OID and criticality. */
export type CertExtension = { oid: string; critical: boolean; value: Uint8Array };

const der = (v: unknown) => new Uint8Array(AsnConvert.serialize(v));

/** RFC 5280 key usage bits by name. */
export const KEY_USAGES = {
  digitalSignature: KeyUsageFlags.digitalSignature,
  nonRepudiation: KeyUsageFlags.nonRepudiation,
  keyEncipherment: KeyUsageFlags.keyEncipherment,
  dataEncipherment: KeyUsageFlags.dataEncipherment,
  keyAgreement: KeyUsageFlags.keyAgreement,
  keyCertSign: KeyUsageFlags.keyCertSign,
  cRLSign: KeyUsageFlags.cRLSign,
  encipherOnly: KeyUsageFlags.encipherOnly,
  decipherOnly: KeyUsageFlags.decipherOnly,
} as const;
export type KeyUsageName = keyof typeof KEY_USAGES;

export function basicConstraintsExtension(opts: { ca: boolean; pathLength?: number }): CertExtension {
  const bc = new BasicConstraints({ cA: opts.ca });
  if (opts.pathLength !== undefined) {
    if (!opts.ca) throw new RangeError('pathLength needs ca: true');
    bc.pathLenConstraint = opts.pathLength;
  }
  return { oid: oid.id_ce_basicConstraints, critical: true, value: der(bc) };
}

export function keyUsageExtension(usages: readonly KeyUsageName[]): CertExtension {
  if (usages.length === 0) throw new RangeError('key usage needs at least one bit');
  let flags = 0;
  for (const u of usages) {
    const bit = KEY_USAGES[u];
    if (bit === undefined) throw new RangeError(`unknown key usage ${u}`);
    flags |= bit;
  }
  return { oid: oid.id_ce_keyUsage, critical: true, value: der(new KeyUsage(flags)) };
}

/** Extended key usage; critical only where a profile demands it (RFC 3161 TSA certificates). */
export function extKeyUsageExtension(purposes: readonly string[], critical = false): CertExtension {
  if (purposes.length === 0) throw new RangeError('extended key usage needs at least one purpose');
  return { oid: oid.id_ce_extKeyUsage, critical, value: der(new ExtendedKeyUsage([...purposes])) };
}

/**
 * Key identifier of an SPKI: the leftmost 160 bits of a hash of the subjectPublicKey BIT STRING
 * contents (RFC 7093 §2 method 1) — SM3 for SM2 keys, so an SM certificate uses SM algorithms only,
 * and SHA-256 for the others.
 */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  const key = readSpki(spki).publicKey;
  const hash =
    describePublicKey(spki).family === 'sm2' ? sm3(key) : createHash('sha256').update(key).digest();
  return new Uint8Array(hash.subarray(0, 20));
}

export function subjectKeyIdentifierExtension(keyId: Uint8Array): CertExtension {
  return {
    oid: oid.id_ce_subjectKeyIdentifier,
    critical: false,
    value: der(new SubjectKeyIdentifier(keyId)),
  };
}

export function authorityKeyIdentifierExtension(keyId: Uint8Array): CertExtension {
  return {
    oid: oid.id_ce_authorityKeyIdentifier,
    critical: false,
    value: der(new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyId) })),
  };
}

/** Subject alternative names medsign issues: e-mail, DNS, URI, IP. */
export type AltNames = { email?: string[]; dns?: string[]; uri?: string[]; ip?: string[] };

function generalNames(names: AltNames): GeneralName[] {
  return [
    ...(names.email ?? []).map((rfc822Name) => new GeneralName({ rfc822Name })),
    ...(names.dns ?? []).map((dNSName) => new GeneralName({ dNSName })),
    ...(names.uri ?? []).map((uniformResourceIdentifier) => new GeneralName({ uniformResourceIdentifier })),
    ...(names.ip ?? []).map((iPAddress) => new GeneralName({ iPAddress })),
  ];
}

export function subjectAltNameExtension(names: AltNames, critical = false): CertExtension {
  const list = generalNames(names);
  if (list.length === 0) throw new RangeError('subjectAltName needs at least one name');
  return { oid: oid.id_ce_subjectAltName, critical, value: der(new SubjectAlternativeName(list)) };
}

export function crlDistributionPointsExtension(urls: readonly string[]): CertExtension {
  const points = urls.map(
    (uri) =>
      new DistributionPoint({
        distributionPoint: new DistributionPointName({
          fullName: [new GeneralName({ uniformResourceIdentifier: uri })],
        }),
      }),
  );
  return {
    oid: oid.id_ce_cRLDistributionPoints,
    critical: false,
    value: der(new CRLDistributionPoints(points)),
  };
}

/**
 * Freshest CRL (RFC 5280 §4.2.1.15 / §5.2.6): where the delta CRLs are, in a full CRL or a certificate.
 * Same syntax as cRLDistributionPoints; never critical in a CRL.
 */
export function freshestCrlExtension(urls: readonly string[]): CertExtension {
  return { ...crlDistributionPointsExtension(urls), oid: oid.id_ce_freshestCRL };
}

export function authorityInfoAccessExtension(opts: { ocsp?: string[]; caIssuers?: string[] }): CertExtension {
  const items = [
    ...(opts.ocsp ?? []).map(
      (u) =>
        new AccessDescription({
          accessMethod: oid.id_ad_ocsp,
          accessLocation: new GeneralName({ uniformResourceIdentifier: u }),
        }),
    ),
    ...(opts.caIssuers ?? []).map(
      (u) =>
        new AccessDescription({
          accessMethod: oid.id_ad_caIssuers,
          accessLocation: new GeneralName({ uniformResourceIdentifier: u }),
        }),
    ),
  ];
  if (items.length === 0) throw new RangeError('authorityInfoAccess needs at least one URL');
  return {
    oid: oid.id_pe_authorityInfoAccess,
    critical: false,
    value: der(new AuthorityInfoAccessSyntax(items)),
  };
}

function ia5(text: string): ArrayBuffer {
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]*$/.test(text)) throw new RangeError('CPS URI must be ASCII');
  return encodeTlv(0x16, new TextEncoder().encode(text)).slice().buffer;
}

/** Certificate policies, each with an optional CPS URI qualifier. */
export function certificatePoliciesExtension(
  policies: readonly { oid: string; cps?: string }[],
): CertExtension {
  const infos = policies.map(
    (p) =>
      new PolicyInformation({
        policyIdentifier: p.oid,
        ...(p.cps
          ? {
              policyQualifiers: [
                new PolicyQualifierInfo({ policyQualifierId: oid.id_qt_cps, qualifier: ia5(p.cps) }),
              ],
            }
          : {}),
      }),
  );
  return { oid: oid.id_ce_certificatePolicies, critical: false, value: der(new CertificatePolicies(infos)) };
}

/** Converts to the schema type used inside TBSCertificate / TBSCertList. */
export function toAsnExtension(ext: CertExtension): AsnExtension {
  return new AsnExtension({ extnID: ext.oid, critical: ext.critical, extnValue: new OctetString(ext.value) });
}

export function fromAsnExtension(ext: AsnExtension): CertExtension {
  return { oid: ext.extnID, critical: ext.critical, value: new Uint8Array(ext.extnValue.buffer) };
}

// --- readers -------------------------------------------------------------------------------------

/** DER `Extensions` (SEQUENCE OF Extension) for a TBS structure; RangeError if an OID repeats. */
export function encodeExtensions(exts: readonly CertExtension[]): Uint8Array {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  for (const e of exts) {
    if (seen.has(e.oid)) throw new RangeError(`extension ${e.oid} appears twice`);
    seen.add(e.oid);
    // Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE (absent when false, DER), extnValue }
    out.push(
      encodeSequence(encodeOid(e.oid), ...(e.critical ? [CRITICAL_TRUE] : []), encodeOctetString(e.value)),
    );
  }
  return encodeSequence(...out);
}

/** BOOLEAN TRUE in DER. */
const CRITICAL_TRUE = Uint8Array.of(0x01, 0x01, 0xff);

/** Reads DER `Extensions`; DecodeError if malformed or if an OID repeats (RFC 5280 §4.2). */
export function readExtensions(der: Uint8Array, what: string): CertExtension[] {
  const exts = Array.from(parseAsn(der, Extensions, what), fromAsnExtension);
  const seen = new Set<string>();
  for (const e of exts) {
    if (seen.has(e.oid)) throw new DecodeError(`${what}: extension ${e.oid} appears twice`);
    seen.add(e.oid);
  }
  return exts;
}

// Extension values are parsed with parseAsn: a value that does not match its schema (attacker-controlled
// bytes in a received certificate) is a DecodeError, not the schema library's own error type.

export function readBasicConstraints(value: Uint8Array): { ca: boolean; pathLength?: number } {
  const bc = parseAsn(value, BasicConstraints, 'basicConstraints');
  return { ca: bc.cA, ...(bc.pathLenConstraint !== undefined ? { pathLength: bc.pathLenConstraint } : {}) };
}

export function readKeyUsage(value: Uint8Array): KeyUsageName[] {
  const flags = parseAsn(value, KeyUsage, 'keyUsage').toNumber();
  return (Object.keys(KEY_USAGES) as KeyUsageName[]).filter((k) => flags & KEY_USAGES[k]);
}

export function readExtKeyUsage(value: Uint8Array): string[] {
  return [...parseAsn(value, ExtendedKeyUsage, 'extKeyUsage')];
}

export function readSubjectKeyIdentifier(value: Uint8Array): Uint8Array {
  return new Uint8Array(parseAsn(value, SubjectKeyIdentifier, 'subjectKeyIdentifier').buffer);
}

export function readAuthorityKeyIdentifier(value: Uint8Array): Uint8Array | undefined {
  const aki = parseAsn(value, AuthorityKeyIdentifier, 'authorityKeyIdentifier');
  return aki.keyIdentifier ? new Uint8Array(aki.keyIdentifier.buffer) : undefined;
}

function describeGeneralName(g: GeneralName): string {
  if (g.rfc822Name) return `email:${g.rfc822Name}`;
  if (g.dNSName) return `DNS:${g.dNSName}`;
  if (g.uniformResourceIdentifier) return `URI:${g.uniformResourceIdentifier}`;
  if (g.iPAddress) return `IP:${g.iPAddress}`;
  if (g.registeredID) return `RID:${g.registeredID}`;
  if (g.directoryName) return 'dirName';
  if (g.otherName) return `otherName:${g.otherName.typeId}`;
  return 'other';
}

export function readSubjectAltNames(value: Uint8Array): string[] {
  return [...parseAsn(value, SubjectAlternativeName, 'subjectAltName')].map(describeGeneralName);
}

export function readCrlDistributionPoints(value: Uint8Array): string[] {
  return [...parseAsn(value, CRLDistributionPoints, 'cRLDistributionPoints')].flatMap((dp) =>
    (dp.distributionPoint?.fullName ?? []).flatMap((g) =>
      g.uniformResourceIdentifier ? [g.uniformResourceIdentifier] : [],
    ),
  );
}

export function readAuthorityInfoAccess(value: Uint8Array): { ocsp: string[]; caIssuers: string[] } {
  const out = { ocsp: [] as string[], caIssuers: [] as string[] };
  for (const ad of parseAsn(value, AuthorityInfoAccessSyntax, 'authorityInfoAccess')) {
    const uri = ad.accessLocation.uniformResourceIdentifier;
    if (!uri) continue;
    if (ad.accessMethod === oid.id_ad_ocsp) out.ocsp.push(uri);
    if (ad.accessMethod === oid.id_ad_caIssuers) out.caIssuers.push(uri);
  }
  return out;
}

export function readCertificatePolicies(value: Uint8Array): string[] {
  return [...parseAsn(value, CertificatePolicies, 'certificatePolicies')].map((p) => p.policyIdentifier);
}
