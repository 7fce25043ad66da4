/**
 * CMS attributes (RFC 5652 §5.3, §11): contentType, messageDigest, signingTime, the ESS signing
 * certificate attributes (RFC 2634 signingCertificate with SHA-1, RFC 5035 signingCertificateV2 with any
 * hash — SM3 for SM2 signers) and the RFC 3161 Appendix A signature time-stamp. Attribute values are kept
 * as their DER encodings so signed attributes can be checked over the exact received bytes.
 */

import { createHash } from 'node:crypto';
import { concatBytes } from '@medsign/gm';
import {
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeTlv,
  readOid,
  readWhole,
  TAG,
  type Tlv,
} from '@medsign/gm/der';
import { digest, hashAlgorithmDer, identifyHash, type HashName } from './algorithms.js';
import type { ParsedCertificate } from './certificate.js';
import {
  childrenOf,
  encodeSetOf,
  encodeTime,
  readAlgorithm,
  readOctetString,
  sameBytes,
  TAG_SET,
  tlvBytes,
} from './der-input.js';
import { DecodeError } from './errors.js';
import { namesMatch, parseName } from './name.js';
import * as oid from './oids.js';

/** One Attribute: its type and the DER encoding of each AttributeValue, in received order. */
export type CmsAttribute = { oid: string; values: Uint8Array[] };

/** Attribute ::= SEQUENCE { attrType OBJECT IDENTIFIER, attrValues SET OF AttributeValue } */
export function encodeAttribute(attribute: CmsAttribute): Uint8Array {
  if (attribute.values.length === 0) throw new RangeError(`attribute ${attribute.oid} needs a value`);
  return encodeSequence(encodeOid(attribute.oid), encodeSetOf(attribute.values));
}

/** Reads the attributes inside a SET OF Attribute (any tag: SET, [0] or [1] IMPLICIT). */
export function readAttributes(set: Tlv, what: string): CmsAttribute[] {
  const out: CmsAttribute[] = [];
  for (const a of childrenOf(set)) {
    if (a.tag !== TAG.SEQUENCE) throw new DecodeError(`${what}: Attribute must be a SEQUENCE`);
    const parts = childrenOf(a);
    if (parts.length !== 2 || parts[1]!.tag !== TAG_SET)
      throw new DecodeError(`${what}: Attribute must be { attrType, attrValues SET }`);
    const values = childrenOf(parts[1]!).map(tlvBytes);
    if (values.length === 0) throw new DecodeError(`${what}: attribute with an empty value set`);
    out.push({ oid: readOid(parts[0]!, `${what} attrType`), values });
  }
  return out;
}

/** The only value of the only attribute of a type; undefined if absent, DecodeError if repeated. */
export function singleAttributeValue(
  attributes: readonly CmsAttribute[],
  type: string,
  what: string,
): Uint8Array | undefined {
  const found = attributes.filter((a) => a.oid === type);
  if (found.length === 0) return undefined;
  if (found.length > 1 || found[0]!.values.length !== 1)
    throw new DecodeError(`${what}: attribute ${type} must appear once with one value (RFC 5652 §11)`);
  return found[0]!.values[0]!;
}

/** contentType (RFC 5652 §11.1): the eContentType being signed. */
export function contentTypeAttribute(contentType: string): CmsAttribute {
  return { oid: oid.id_contentType, values: [encodeOid(contentType)] };
}

/** messageDigest (RFC 5652 §11.2): the plain digest of the content (SM3 for SM2 — no Z here). */
export function messageDigestAttribute(value: Uint8Array): CmsAttribute {
  return { oid: oid.id_messageDigest, values: [encodeOctetString(value)] };
}

/** signingTime (RFC 5652 §11.3): UTCTime 1950–2049, GeneralizedTime outside, whole seconds. */
export function signingTimeAttribute(time: Date): CmsAttribute {
  return { oid: oid.id_signingTime, values: [encodeTime(time)] };
}

/** signatureTimeStampToken (RFC 3161 Appendix A): a TimeStampToken over the SignerInfo signature value. */
export function timeStampTokenAttribute(token: Uint8Array): CmsAttribute {
  return { oid: oid.id_aa_timeStampToken, values: [token] };
}

/** The content octets of a certificate's serialNumber INTEGER, read from the exact TBS bytes. */
export function certificateSerialBytes(cert: ParsedCertificate): Uint8Array {
  const tbs = childrenOf(readWhole(cert.tbsDer, TAG.SEQUENCE, 'TBSCertificate'));
  const serial = tbs[tbs[0]?.tag === 0xa0 ? 1 : 0];
  if (!serial || serial.tag !== TAG.INTEGER) throw new DecodeError('TBSCertificate: serialNumber missing');
  return serial.value;
}

/** IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber } (RFC 5035). */
function encodeIssuerSerial(cert: ParsedCertificate): Uint8Array {
  const generalNames = encodeSequence(encodeTlv(0xa4, cert.issuerDer));
  return encodeSequence(generalNames, encodeTlv(TAG.INTEGER, certificateSerialBytes(cert)));
}

/**
 * signingCertificateV2 (RFC 5035): SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 } with one
 * ESSCertIDv2 { hashAlgorithm (omitted for SHA-256, its DEFAULT), certHash, issuerSerial }.
 */
export function signingCertificateV2Attribute(cert: ParsedCertificate, hash: HashName): CmsAttribute {
  // A TSA or signing service puts the same attribute into every signature: computed once per certificate.
  let byHash = essCache.get(cert);
  if (!byHash) essCache.set(cert, (byHash = new Map()));
  let attribute = byHash.get(hash);
  if (!attribute) byHash.set(hash, (attribute = buildSigningCertificateV2(cert, hash)));
  return attribute;
}

const essCache = new WeakMap<ParsedCertificate, Map<HashName, CmsAttribute>>();

function buildSigningCertificateV2(cert: ParsedCertificate, hash: HashName): CmsAttribute {
  const parts: Uint8Array[] = [];
  if (hash !== 'sha256') parts.push(hashAlgorithmDer(hash));
  parts.push(encodeOctetString(digest(hash, cert.der)), encodeIssuerSerial(cert));
  const essCertIdV2 = encodeSequence(...parts);
  return { oid: oid.id_aa_signingCertificateV2, values: [encodeSequence(encodeSequence(essCertIdV2))] };
}

/** One ESSCertID / ESSCertIDv2 as received. */
export type EssCertId = {
  /** 1 = signingCertificate (SHA-1), 2 = signingCertificateV2. */
  version: 1 | 2;
  hash: HashName | 'sha1';
  certHash: Uint8Array;
  /** issuerSerial, when present: the directoryName issuers (DER Names) and the serial's INTEGER octets. */
  issuerSerial?: { issuers: Uint8Array[]; serial: Uint8Array };
};

function readIssuerSerial(tlv: Tlv, what: string): { issuers: Uint8Array[]; serial: Uint8Array } {
  const parts = childrenOf(tlv);
  if (
    tlv.tag !== TAG.SEQUENCE ||
    parts.length !== 2 ||
    parts[0]!.tag !== TAG.SEQUENCE ||
    parts[1]!.tag !== TAG.INTEGER
  )
    throw new DecodeError(`${what}: malformed IssuerSerial`);
  const issuers = childrenOf(parts[0]!)
    .filter((g) => g.tag === 0xa4)
    .map((g) => {
      const inner = childrenOf(g);
      if (inner.length !== 1 || inner[0]!.tag !== TAG.SEQUENCE)
        throw new DecodeError(`${what}: malformed directoryName`);
      return tlvBytes(inner[0]!);
    });
  return { issuers, serial: parts[1]!.value };
}

/**
 * Reads the ESSCertIDs of a signingCertificate (v1) or signingCertificateV2 attribute value. The first
 * one identifies the signer's certificate (RFC 5035 §3).
 */
export function readSigningCertificate(value: Uint8Array, version: 1 | 2): EssCertId[] {
  const what = version === 2 ? 'SigningCertificateV2' : 'SigningCertificate';
  const fields = childrenOf(readWhole(value, TAG.SEQUENCE, what));
  if (fields.length < 1 || fields[0]!.tag !== TAG.SEQUENCE) throw new DecodeError(`${what}: certs missing`);
  const ids = childrenOf(fields[0]!).map((idTlv): EssCertId => {
    if (idTlv.tag !== TAG.SEQUENCE) throw new DecodeError(`${what}: ESSCertID must be a SEQUENCE`);
    const p = childrenOf(idTlv);
    let i = 0;
    let hash: HashName | 'sha1' = version === 2 ? 'sha256' : 'sha1';
    if (version === 2 && p[0]?.tag === TAG.SEQUENCE) hash = identifyHash(readAlgorithm(p[i++]!, what));
    const hashTlv = p[i++];
    if (!hashTlv) throw new DecodeError(`${what}: certHash missing`);
    const certHash = readOctetString(hashTlv, `${what} certHash`);
    const issuerSerial = p[i] ? readIssuerSerial(p[i++]!, what) : undefined;
    if (i !== p.length) throw new DecodeError(`${what}: unexpected fields in ESSCertID`);
    return { version, hash, certHash, ...(issuerSerial ? { issuerSerial } : {}) };
  });
  if (ids.length === 0) throw new DecodeError(`${what}: no ESSCertID`);
  return ids;
}

/** Does an ESSCertID name this certificate? (hash of the whole DER certificate, then issuerSerial if present). */
export function essCertIdMatches(id: EssCertId, cert: ParsedCertificate): { ok: boolean; detail?: string } {
  const actual =
    id.hash === 'sha1'
      ? new Uint8Array(createHash('sha1').update(cert.der).digest())
      : digest(id.hash, cert.der);
  if (!sameBytes(actual, id.certHash))
    return { ok: false, detail: `certHash (${id.hash}) does not match the signer certificate` };
  if (id.issuerSerial) {
    if (!sameBytes(id.issuerSerial.serial, certificateSerialBytes(cert)))
      return { ok: false, detail: 'issuerSerial serial number does not match the signer certificate' };
    const issuerOk =
      id.issuerSerial.issuers.length === 0 ||
      id.issuerSerial.issuers.some((n) => {
        if (sameBytes(n, cert.issuerDer)) return true;
        try {
          return namesMatch(parseName(n), cert.issuer);
        } catch {
          return false;
        }
      });
    if (!issuerOk) return { ok: false, detail: 'issuerSerial issuer does not match the signer certificate' };
  }
  return { ok: true };
}

/** CMSAlgorithmProtection (RFC 6211): the digest and signature algorithms as DER, for comparison. */
export function readAlgorithmProtection(value: Uint8Array): {
  digestAlgorithm: Uint8Array;
  signatureAlgorithm?: Uint8Array;
} {
  const parts = childrenOf(readWhole(value, TAG.SEQUENCE, 'CMSAlgorithmProtection'));
  if (parts.length < 1 || parts[0]!.tag !== TAG.SEQUENCE)
    throw new DecodeError('CMSAlgorithmProtection: digestAlgorithm missing');
  const sig = parts.find((p) => p.tag === 0xa1);
  return {
    digestAlgorithm: tlvBytes(parts[0]!),
    ...(sig
      ? { signatureAlgorithm: concatBytes(Uint8Array.of(TAG.SEQUENCE), tlvBytes(sig).subarray(1)) }
      : {}),
  };
}
