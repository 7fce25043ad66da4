/**
 * OCSP (RFC 6960): requests, responses (signed by the CA itself or by a delegated responder carrying
 * id-kp-OCSPSigning), the unsigned error responses, and verification of a response against the CA
 * whose certificates it speaks about. SM3withSM2 responses carry the default SM2 ID; a CertID may hash
 * with SHA-1, SHA-256 or SM3 (gm-standards.md §5.3) and is always checked with its own algorithm.
 *
 *   OCSPRequest ::= SEQUENCE { tbsRequest TBSRequest, optionalSignature [0] EXPLICIT Signature OPTIONAL }
 *   TBSRequest ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, requestorName [1] EXPLICIT
 *     GeneralName OPTIONAL, requestList SEQUENCE OF Request, requestExtensions [2] EXPLICIT Extensions OPTIONAL }
 *   Request ::= SEQUENCE { reqCert CertID, singleRequestExtensions [0] EXPLICIT Extensions OPTIONAL }
 *   CertID ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, issuerNameHash OCTET STRING,
 *     issuerKeyHash OCTET STRING, serialNumber CertificateSerialNumber }
 *   OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, responseBytes [0] EXPLICIT ResponseBytes OPTIONAL }
 *   ResponseBytes ::= SEQUENCE { responseType OBJECT IDENTIFIER, response OCTET STRING }
 *   BasicOCSPResponse ::= SEQUENCE { tbsResponseData ResponseData, signatureAlgorithm AlgorithmIdentifier,
 *     signature BIT STRING, certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
 *   ResponseData ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, responderID ResponderID,
 *     producedAt GeneralizedTime, responses SEQUENCE OF SingleResponse,
 *     responseExtensions [1] EXPLICIT Extensions OPTIONAL }
 *   ResponderID ::= CHOICE { byName [1] Name, byKey [2] KeyHash }   -- EXPLICIT tags (module default)
 *   SingleResponse ::= SEQUENCE { certID CertID, certStatus CertStatus, thisUpdate GeneralizedTime,
 *     nextUpdate [0] EXPLICIT GeneralizedTime OPTIONAL, singleExtensions [1] EXPLICIT Extensions OPTIONAL }
 *   CertStatus ::= CHOICE { good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo, unknown [2] IMPLICIT NULL }
 *   RevokedInfo ::= SEQUENCE { revocationTime GeneralizedTime, revocationReason [0] EXPLICIT CRLReason OPTIONAL }
 */

import { createHash } from 'node:crypto';
import { bytesToHex, concatBytes, copyBytes, sm3, type BytesLike } from '@medsign/gm';
import {
  encodeBitString,
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeTlv,
  encodeUnsignedInteger,
  readBitStringBytes,
  readChildren,
  readOid,
  type Tlv,
} from '@medsign/gm/der';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Name } from '@peculiar/asn1-x509';
import {
  identifySignatureAlgorithm,
  signatureAlgorithmIdentifier,
  type SignatureAlgorithm,
} from './algorithms.js';
import { ParsedCertificate } from './certificate.js';
import { isPossibleIssuer } from './chain.js';
import { Checks, type Check } from './checks.js';
import {
  normalizeSerial,
  readSerialNumber,
  REVOCATION_REASONS,
  revocationReasonName,
  type RevocationReason,
} from './crl.js';
import {
  checkDate,
  derFromInput,
  encodeGeneralizedTime,
  outerSequence,
  parseAsn,
  readSingle,
  readTime,
  sameBytes,
  tlvBytes,
} from './der-input.js';
import { DecodeError, message, UnsupportedError } from './errors.js';
import { encodeExtensions, readExtensions, type CertExtension } from './extensions.js';
import { verifySignature, type Signer } from './keys.js';
import { formatName, namesMatch } from './name.js';
import * as oid from './oids.js';

/** Hashes a CertID may use. We build with sha1 (the RFC 6960 / OpenSSL default), sha256 or sm3. */
export type CertIdHash = 'sha1' | 'sha256' | 'sha384' | 'sha512' | 'sm3';

const CERT_ID_HASH_OIDS: Readonly<Record<CertIdHash, string>> = {
  sha1: oid.id_sha1,
  sha256: oid.id_sha256,
  sha384: oid.id_sha384,
  sha512: oid.id_sha512,
  sm3: oid.id_sm3,
};

function hashWith(hash: CertIdHash, data: Uint8Array): Uint8Array {
  return hash === 'sm3' ? sm3(data) : new Uint8Array(createHash(hash).update(data).digest());
}

/** The subjectPublicKey BIT STRING contents of an SPKI (what issuerKeyHash and byKey hash). */
function publicKeyBits(spki: Uint8Array): Uint8Array {
  const parts = outerSequence(spki, 'SubjectPublicKeyInfo');
  if (parts.length !== 2)
    throw new DecodeError('SubjectPublicKeyInfo: expected algorithm and subjectPublicKey');
  return readBitStringBytes(parts[1]!, 'subjectPublicKey');
}

/** A CertID: which certificate (issuer hashes + serial) a request or response is about. */
export type CertId = {
  /** Hash algorithm OID as received. */
  hashAlgorithm: string;
  /** Its name, when medsign knows the hash. */
  hash: CertIdHash | undefined;
  issuerNameHash: Uint8Array;
  issuerKeyHash: Uint8Array;
  /** Lower-case hex, no leading zeros. */
  serialNumber: string;
  /** Exact DER, echoed unchanged in a response. */
  der: Uint8Array;
};

/** Builds the CertID of `serial` issued by `issuer`, hashing issuer name and key with `hash`. */
export function buildCertId(
  issuer: ParsedCertificate,
  serial: string | bigint,
  hash: CertIdHash = 'sha1',
): CertId {
  const oidText = CERT_ID_HASH_OIDS[hash];
  if (!oidText) throw new RangeError(`unknown CertID hash ${String(hash)}`);
  const issuerNameHash = hashWith(hash, issuer.subjectDer);
  const issuerKeyHash = hashWith(hash, publicKeyBits(issuer.publicKeyInfo));
  const n = BigInt('0x' + normalizeSerial(serial));
  // SHA-1/SHA-2 with NULL parameters as OpenSSL and BC write them; SM3 with none (gm-standards §1.1).
  const algId = encodeSequence(encodeOid(oidText), ...(hash === 'sm3' ? [] : [Uint8Array.of(0x05, 0x00)]));
  const der = encodeSequence(
    algId,
    encodeOctetString(issuerNameHash),
    encodeOctetString(issuerKeyHash),
    encodeUnsignedInteger(n),
  );
  return { hashAlgorithm: oidText, hash, issuerNameHash, issuerKeyHash, serialNumber: n.toString(16), der };
}

/** True when a CertID names `issuer` (name and key hashes recomputed with the CertID's own hash). */
export function certIdMatchesIssuer(certId: CertId, issuer: ParsedCertificate): boolean {
  if (!certId.hash) return false;
  try {
    return (
      sameBytes(certId.issuerNameHash, hashWith(certId.hash, issuer.subjectDer)) &&
      sameBytes(certId.issuerKeyHash, hashWith(certId.hash, publicKeyBits(issuer.publicKeyInfo)))
    );
  } catch {
    return false;
  }
}

function readCertId(container: Uint8Array, tlv: Tlv): CertId {
  if (tlv.tag !== 0x30) throw new DecodeError('CertID: expected SEQUENCE', tlv.start);
  const parts = readChildren(tlv.value);
  if (parts.length !== 4 || parts[0]!.tag !== 0x30 || parts[1]!.tag !== 0x04 || parts[2]!.tag !== 0x04) {
    throw new DecodeError('CertID: expected hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber');
  }
  const alg = readChildren(parts[0]!.value);
  if (alg.length < 1 || alg.length > 2) throw new DecodeError('CertID.hashAlgorithm: malformed');
  const hashAlgorithm = readOid(alg[0]!, 'CertID.hashAlgorithm');
  if (alg[1] && !(alg[1].tag === 0x05 && alg[1].value.length === 0)) {
    throw new DecodeError('CertID.hashAlgorithm: unexpected parameters');
  }
  const hash = (Object.keys(CERT_ID_HASH_OIDS) as CertIdHash[]).find(
    (h) => CERT_ID_HASH_OIDS[h] === hashAlgorithm,
  );
  return {
    hashAlgorithm,
    hash,
    issuerNameHash: copyBytes(parts[1]!.value),
    issuerKeyHash: copyBytes(parts[2]!.value),
    serialNumber: readSerialNumber(parts[3]!, 'CertID.serialNumber'),
    der: copyBytes(tlvBytes(tlv)),
  };
}

/** Reads `[n] EXPLICIT Extensions` (the box) into extensions, rejecting duplicates. */
function readExtensionsBox(box: Tlv, what: string): CertExtension[] {
  const inner = readChildren(box.value);
  if (inner.length !== 1 || inner[0]!.tag !== 0x30) throw new DecodeError(`${what}: expected Extensions`);
  return readExtensions(tlvBytes(inner[0]!), what);
}

function nonceExtension(nonce: Uint8Array): CertExtension {
  if (nonce.length < 1 || nonce.length > 128) throw new RangeError('nonce must be 1–128 bytes (RFC 8954)');
  // RFC 8954: extnValue holds an OCTET STRING with the nonce (what OpenSSL and BC write).
  return { oid: oid.id_pkix_ocsp_nonce, critical: false, value: encodeOctetString(nonce) };
}

/** The nonce in a nonce extension: the OCTET STRING contents, or the raw value from old responders. */
function readNonce(exts: readonly CertExtension[]): Uint8Array | undefined {
  const e = exts.find((x) => x.oid === oid.id_pkix_ocsp_nonce);
  if (!e) return undefined;
  try {
    const kids = readChildren(e.value);
    if (kids.length === 1 && kids[0]!.tag === 0x04) return copyBytes(kids[0]!.value);
  } catch {
    // fall through: not DER inside, take the bytes as they are
  }
  return copyBytes(e.value);
}

// --- requests ------------------------------------------------------------------------------------

/** What a relying party asks an OCSP responder. */
export type OcspRequestOptions = {
  /** The CA that issued the certificates asked about. */
  issuer: ParsedCertificate;
  serials: readonly (string | bigint)[];
  /** Replay protection echoed by the responder (RFC 8954; 1–128 bytes, 32 recommended). */
  nonce?: Uint8Array;
  /** CertID hash (default sha1, what most responders index by). */
  hash?: 'sha1' | 'sha256' | 'sm3';
};

/** Builds an unsigned OCSPRequest (DER). */
export function buildOcspRequest(o: OcspRequestOptions): Uint8Array {
  if (o.serials.length === 0) throw new RangeError('an OCSP request needs at least one serial');
  const requests = o.serials.map((s) => encodeSequence(buildCertId(o.issuer, s, o.hash ?? 'sha1').der));
  const tbs = encodeSequence(
    encodeSequence(...requests),
    ...(o.nonce ? [encodeTlv(0xa2, encodeExtensions([nonceExtension(o.nonce)]))] : []),
  );
  return encodeSequence(tbs);
}

/** A parsed OCSPRequest. */
export class ParsedOcspRequest {
  readonly der: Uint8Array;
  readonly tbsRequestDer: Uint8Array;
  readonly certIds: readonly CertId[];
  readonly extensions: readonly CertExtension[];
  readonly nonce: Uint8Array | undefined;
  /** True when the request carries optionalSignature (not verified here). */
  readonly signed: boolean;

  private constructor(der: Uint8Array) {
    this.der = der;
    const top = outerSequence(der, 'OCSPRequest');
    if (top.length < 1 || top.length > 2 || top[0]!.tag !== 0x30 || (top[1] && top[1].tag !== 0xa0)) {
      throw new DecodeError('OCSPRequest: expected tbsRequest and an optional [0] signature');
    }
    this.signed = top.length === 2;
    this.tbsRequestDer = tlvBytes(top[0]!);
    const parts = outerSequence(this.tbsRequestDer, 'TBSRequest');
    let i = 0;
    if (parts[i]?.tag === 0xa0) {
      const v = readChildren(parts[i++]!.value);
      if (v.length !== 1 || v[0]!.tag !== 0x02 || v[0]!.value.length !== 1 || v[0]!.value[0] !== 0) {
        throw new DecodeError('TBSRequest: version must be v1 (0)');
      }
    }
    if (parts[i]?.tag === 0xa1) i++; // requestorName: not used by medsign
    const list = parts[i++];
    if (!list || list.tag !== 0x30) throw new DecodeError('TBSRequest: missing requestList');
    const certIds: CertId[] = [];
    for (const r of readChildren(list.value)) {
      if (r.tag !== 0x30) throw new DecodeError('Request: expected SEQUENCE', r.start);
      const rp = readChildren(r.value);
      if (rp.length < 1 || rp.length > 2 || (rp[1] && rp[1].tag !== 0xa0)) {
        throw new DecodeError('Request: expected reqCert and optional [0] extensions');
      }
      if (rp[1]) readExtensionsBox(rp[1], 'singleRequestExtensions');
      certIds.push(readCertId(r.value, rp[0]!));
    }
    if (certIds.length === 0) throw new DecodeError('TBSRequest: empty requestList');
    let extensions: CertExtension[] = [];
    if (parts[i]?.tag === 0xa2) extensions = readExtensionsBox(parts[i++]!, 'requestExtensions');
    if (i !== parts.length) throw new DecodeError('TBSRequest: unexpected field');
    this.certIds = certIds;
    this.extensions = extensions;
    this.nonce = readNonce(extensions);
  }

  /** Parses DER (or PEM "OCSP REQUEST"); DecodeError for anything malformed. */
  static parse(input: Uint8Array | string): ParsedOcspRequest {
    return new ParsedOcspRequest(derFromInput(input, ['OCSP REQUEST'], 'OCSPRequest'));
  }
}

// --- responses -----------------------------------------------------------------------------------

/** RFC 6960 §4.2.1 OCSPResponseStatus values (4 is not used). */
export const OCSP_RESPONSE_STATUSES = {
  successful: 0,
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
} as const;
export type OcspResponseStatus = keyof typeof OCSP_RESPONSE_STATUSES;
/** The statuses sent without a signed body. */
export type OcspErrorStatus = Exclude<OcspResponseStatus, 'successful'>;

export type CertStatusName = 'good' | 'revoked' | 'unknown';

/** One status to sign: about a CertID from a request, or one built from the issuer and a serial. */
export type SingleResponseInput = {
  certId?: CertId;
  /** Used (with the response's issuer, SHA-1) when `certId` is not given. */
  serialNumber?: string | bigint;
  status: CertStatusName;
  /** Required for 'revoked'. */
  revocationTime?: Date;
  reason?: RevocationReason;
  thisUpdate: Date;
  nextUpdate?: Date;
};

/** What a responder signs. */
export type OcspResponseOptions = {
  /** The CA whose certificates the statuses are about. */
  issuer: ParsedCertificate;
  /** The CA itself, or a delegated responder certificate issued by it with id-kp-OCSPSigning. */
  responder: { signer: Signer; certificate: ParsedCertificate };
  responderIdBy: 'name' | 'key';
  producedAt: Date;
  responses: readonly SingleResponseInput[];
  /** The request's nonce, echoed. */
  nonce?: Uint8Array;
  /** Certificates to add after the responder's own (which is always included). */
  extraCertificates?: readonly ParsedCertificate[];
};

function encodeSingleResponse(issuer: ParsedCertificate, r: SingleResponseInput): Uint8Array {
  const certId = r.certId ?? (r.serialNumber !== undefined ? buildCertId(issuer, r.serialNumber) : undefined);
  if (!certId) throw new RangeError('a single response needs certId or serialNumber');
  checkDate(r.thisUpdate, 'thisUpdate');
  let status: Uint8Array;
  if (r.status === 'good') status = Uint8Array.of(0x80, 0x00);
  else if (r.status === 'unknown') status = Uint8Array.of(0x82, 0x00);
  else if (r.status === 'revoked') {
    checkDate(r.revocationTime, 'revocationTime');
    const reason = r.reason === undefined ? undefined : REVOCATION_REASONS[r.reason];
    if (r.reason !== undefined && reason === undefined) throw new RangeError(`unknown reason ${r.reason}`);
    status = encodeTlv(
      0xa1,
      concatBytes(
        encodeGeneralizedTime(r.revocationTime),
        ...(reason === undefined ? [] : [encodeTlv(0xa0, encodeTlv(0x0a, Uint8Array.of(reason)))]),
      ),
    );
  } else throw new RangeError(`unknown certificate status ${String(r.status)}`);
  if (r.nextUpdate !== undefined) {
    checkDate(r.nextUpdate, 'nextUpdate');
    if (r.nextUpdate < r.thisUpdate) throw new RangeError('nextUpdate must not be before thisUpdate');
  }
  return encodeSequence(
    certId.der,
    status,
    encodeGeneralizedTime(r.thisUpdate),
    ...(r.nextUpdate ? [encodeTlv(0xa0, encodeGeneralizedTime(r.nextUpdate))] : []),
  );
}

function wrapResponse(status: number, responseBytes?: Uint8Array): Uint8Array {
  return encodeSequence(
    encodeTlv(0x0a, Uint8Array.of(status)),
    ...(responseBytes ? [encodeTlv(0xa0, responseBytes)] : []),
  );
}

/** Builds and signs a successful OCSPResponse carrying a BasicOCSPResponse; returns DER. */
export async function buildOcspResponse(o: OcspResponseOptions): Promise<Uint8Array> {
  checkDate(o.producedAt, 'producedAt');
  const cert = o.responder.certificate;
  if (!sameBytes(o.responder.signer.publicKeyInfo, cert.publicKeyInfo)) {
    throw new RangeError("responder signer key is not the responder certificate's key");
  }
  if (o.responses.length === 0) throw new RangeError('an OCSP response needs at least one single response');
  const responderId =
    o.responderIdBy === 'name'
      ? encodeTlv(0xa1, cert.subjectDer)
      : o.responderIdBy === 'key'
        ? encodeTlv(0xa2, encodeOctetString(hashWith('sha1', publicKeyBits(cert.publicKeyInfo))))
        : undefined;
  if (!responderId) throw new RangeError(`responderIdBy must be 'name' or 'key'`);
  const tbs = encodeSequence(
    responderId,
    encodeGeneralizedTime(o.producedAt),
    encodeSequence(...o.responses.map((r) => encodeSingleResponse(o.issuer, r))),
    ...(o.nonce ? [encodeTlv(0xa1, encodeExtensions([nonceExtension(o.nonce)]))] : []),
  );
  const algId = new Uint8Array(
    AsnConvert.serialize(signatureAlgorithmIdentifier(o.responder.signer.algorithm)),
  );
  const signature = await o.responder.signer.sign(tbs);
  const certs = [cert, ...(o.extraCertificates ?? [])].map((c) => c.der);
  const basic = encodeSequence(
    tbs,
    algId,
    encodeBitString(signature),
    encodeTlv(0xa0, encodeSequence(...certs)),
  );
  return wrapResponse(0, encodeSequence(encodeOid(oid.id_pkix_ocsp_basic), encodeOctetString(basic)));
}

/** An unsigned OCSPResponse with an error status (malformedRequest, internalError, tryLater, …). */
export function buildOcspErrorResponse(status: OcspErrorStatus): Uint8Array {
  const code: number | undefined = OCSP_RESPONSE_STATUSES[status];
  if (code === undefined || code === 0) throw new RangeError(`not an error status: ${String(status)}`);
  return wrapResponse(code);
}

/** ResponderID as received. */
export type ResponderId = { byName: Name; byNameDer: Uint8Array } | { byKey: Uint8Array };

/** One status as received. */
export type OcspSingleResponse = {
  certId: CertId;
  status: CertStatusName;
  revocationTime?: Date;
  reason?: RevocationReason;
  thisUpdate: Date;
  nextUpdate?: Date;
  extensions: CertExtension[];
};

function readGeneralizedTime(tlv: Tlv | undefined, what: string): Date {
  if (!tlv || tlv.tag !== 0x18) throw new DecodeError(`${what}: expected GeneralizedTime`);
  return readTime(tlv, what);
}

function readSingleResponse(tlv: Tlv): OcspSingleResponse {
  if (tlv.tag !== 0x30) throw new DecodeError('SingleResponse: expected SEQUENCE', tlv.start);
  const p = readChildren(tlv.value);
  if (p.length < 3) throw new DecodeError('SingleResponse: missing fields');
  const certId = readCertId(tlv.value, p[0]!);
  const st = p[1]!;
  const out: OcspSingleResponse = { certId, status: 'good', thisUpdate: new Date(0), extensions: [] };
  if (st.tag === 0x80 || st.tag === 0x82) {
    if (st.value.length !== 0) throw new DecodeError('CertStatus: good/unknown must be an empty NULL');
    out.status = st.tag === 0x80 ? 'good' : 'unknown';
  } else if (st.tag === 0xa1) {
    out.status = 'revoked';
    const rp = readChildren(st.value);
    if (rp.length < 1 || rp.length > 2) throw new DecodeError('RevokedInfo: malformed');
    out.revocationTime = readGeneralizedTime(rp[0], 'revocationTime');
    if (rp[1]) {
      if (rp[1].tag !== 0xa0) throw new DecodeError('RevokedInfo: expected [0] revocationReason');
      const e = readSingle(rp[1].value, 'revocationReason');
      if (e.tag !== 0x0a || e.value.length !== 1)
        throw new DecodeError('revocationReason: expected ENUMERATED');
      out.reason = revocationReasonName(e.value[0]!);
    }
  } else {
    throw new DecodeError(`CertStatus: unexpected tag 0x${st.tag.toString(16)}`, st.start);
  }
  out.thisUpdate = readGeneralizedTime(p[2], 'thisUpdate');
  let i = 3;
  if (p[i]?.tag === 0xa0)
    out.nextUpdate = readGeneralizedTime(readSingle(p[i++]!.value, 'nextUpdate'), 'nextUpdate');
  if (p[i]?.tag === 0xa1) out.extensions = readExtensionsBox(p[i++]!, 'singleExtensions');
  if (i !== p.length) throw new DecodeError('SingleResponse: unexpected field');
  return out;
}

/** A parsed OCSPResponse. For a successful one the BasicOCSPResponse fields are filled in. */
export class ParsedOcspResponse {
  readonly der: Uint8Array;
  readonly status: OcspResponseStatus;
  /** Exact tbsResponseData bytes (what the signature covers); empty for error responses. */
  readonly tbsResponseDataDer: Uint8Array;
  readonly responderId: ResponderId | undefined;
  readonly producedAt: Date | undefined;
  readonly responses: readonly OcspSingleResponse[];
  readonly extensions: readonly CertExtension[];
  readonly nonce: Uint8Array | undefined;
  /** Certificates carried in BasicOCSPResponse.certs (a delegated responder and its chain). */
  readonly certificates: readonly ParsedCertificate[];
  readonly signatureAlgorithmId: AlgorithmIdentifier | undefined;
  readonly signatureValue: Uint8Array;

  private constructor(der: Uint8Array) {
    this.der = der;
    const top = outerSequence(der, 'OCSPResponse');
    const st = top[0];
    if (!st || st.tag !== 0x0a || st.value.length !== 1)
      throw new DecodeError('OCSPResponse: expected responseStatus');
    const code = st.value[0]!;
    const status = (Object.keys(OCSP_RESPONSE_STATUSES) as OcspResponseStatus[]).find(
      (k) => OCSP_RESPONSE_STATUSES[k] === code,
    );
    if (!status) throw new DecodeError(`OCSPResponse: undefined responseStatus ${code}`);
    this.status = status;
    this.tbsResponseDataDer = new Uint8Array(0);
    this.responses = [];
    this.extensions = [];
    this.certificates = [];
    this.signatureValue = new Uint8Array(0);
    this.responderId = undefined;
    this.producedAt = undefined;
    this.nonce = undefined;
    this.signatureAlgorithmId = undefined;
    if (status !== 'successful') {
      if (top.length !== 1) throw new DecodeError('OCSPResponse: an error response carries no responseBytes');
      return;
    }
    if (top.length !== 2 || top[1]!.tag !== 0xa0)
      throw new DecodeError('OCSPResponse: missing [0] responseBytes');
    const rb = readSingle(top[1]!.value, 'responseBytes');
    const rbp = rb.tag === 0x30 ? readChildren(rb.value) : [];
    if (rbp.length !== 2 || rbp[1]!.tag !== 0x04)
      throw new DecodeError('ResponseBytes: expected responseType, response');
    const type = readOid(rbp[0]!, 'responseType');
    if (type !== oid.id_pkix_ocsp_basic) throw new UnsupportedError(`unsupported OCSP response type ${type}`);
    const basicDer = rbp[1]!.value;

    const basic = outerSequence(basicDer, 'BasicOCSPResponse');
    if (basic.length < 3 || basic.length > 4 || basic[0]!.tag !== 0x30 || basic[1]!.tag !== 0x30) {
      throw new DecodeError(
        'BasicOCSPResponse: expected tbsResponseData, signatureAlgorithm, signature, [0] certs',
      );
    }
    this.tbsResponseDataDer = copyBytes(tlvBytes(basic[0]!));
    this.signatureAlgorithmId = parseAsn(
      tlvBytes(basic[1]!),
      AlgorithmIdentifier,
      'BasicOCSPResponse.signatureAlgorithm',
    );
    this.signatureValue = copyBytes(readBitStringBytes(basic[2]!, 'BasicOCSPResponse.signature'));
    if (basic[3]) {
      if (basic[3].tag !== 0xa0) throw new DecodeError('BasicOCSPResponse: expected [0] certs');
      const seq = readSingle(basic[3].value, 'certs');
      if (seq.tag !== 0x30)
        throw new DecodeError('BasicOCSPResponse.certs: expected SEQUENCE OF Certificate');
      this.certificates = readChildren(seq.value).map((c) => ParsedCertificate.parse(copyBytes(tlvBytes(c))));
    }

    const tbs = this.tbsResponseDataDer;
    const p = outerSequence(tbs, 'ResponseData');
    let i = 0;
    if (p[i]?.tag === 0xa0) {
      const v = readSingle(p[i++]!.value, 'ResponseData.version');
      if (v.tag !== 0x02 || v.value.length !== 1 || v.value[0] !== 0)
        throw new DecodeError('ResponseData: version must be v1 (0)');
    }
    const rid = p[i++];
    if (rid?.tag === 0xa1) {
      // byName [1] EXPLICIT Name
      const n = readSingle(rid.value, 'ResponderID.byName');
      if (n.tag !== 0x30) throw new DecodeError('ResponderID.byName: expected Name');
      const byNameDer = copyBytes(tlvBytes(n));
      this.responderId = { byName: parseAsn(byNameDer, Name, 'ResponderID.byName'), byNameDer };
    } else if (rid?.tag === 0xa2) {
      // byKey [2] EXPLICIT KeyHash (OCTET STRING)
      const k = readSingle(rid.value, 'ResponderID.byKey');
      if (k.tag !== 0x04) throw new DecodeError('ResponderID.byKey: expected OCTET STRING');
      this.responderId = { byKey: copyBytes(k.value) };
    } else {
      throw new DecodeError('ResponseData: expected ResponderID [1] byName or [2] byKey');
    }
    this.producedAt = readGeneralizedTime(p[i++], 'producedAt');
    const list = p[i++];
    if (!list || list.tag !== 0x30) throw new DecodeError('ResponseData: missing responses');
    this.responses = readChildren(list.value).map(readSingleResponse);
    if (p[i]?.tag === 0xa1) this.extensions = readExtensionsBox(p[i++]!, 'responseExtensions');
    if (i !== p.length) throw new DecodeError('ResponseData: unexpected field');
    this.nonce = readNonce(this.extensions);
  }

  /** Parses DER (or PEM "OCSP RESPONSE"); DecodeError for anything malformed. */
  static parse(input: Uint8Array | string): ParsedOcspResponse {
    return new ParsedOcspResponse(derFromInput(input, ['OCSP RESPONSE'], 'OCSPResponse'));
  }

  /** The signature algorithm; throws UnsupportedError / DecodeError for unknown or malformed ones. */
  get signatureAlgorithm(): SignatureAlgorithm {
    if (!this.signatureAlgorithmId)
      throw new DecodeError(`OCSP response status is ${this.status}, nothing is signed`);
    return identifySignatureAlgorithm(this.signatureAlgorithmId);
  }

  /** The single response about `serial` (first match), if any. */
  responseFor(serial: string | bigint): OcspSingleResponse | undefined {
    const s = normalizeSerial(serial);
    return this.responses.find((r) => r.certId.serialNumber === s);
  }
}

/** Result of verifying an OCSP response. */
export type OcspVerificationResult = {
  valid: boolean;
  checks: Check[];
  errors: string[];
  /** Failed checks the caller chose to tolerate (stale responses with `allowStale`). */
  warnings: string[];
  responses: readonly OcspSingleResponse[];
  /** The certificate whose key signed the response, once identified. */
  responder: ParsedCertificate | undefined;
};

export type OcspVerifyOptions = {
  /** Verification time (default: now). */
  at?: Date;
  /** The nonce sent in the request; the response must echo it. */
  nonce?: Uint8Array;
  /** Report a passed nextUpdate ('fresh') as a warning instead of an error. */
  allowStale?: boolean;
  sm2Id?: BytesLike;
  /** Tolerated clock difference for times in the future, in ms (default 5 minutes). */
  clockSkewMs?: number;
};

function keyHashMatches(keyHash: Uint8Array, cert: ParsedCertificate): boolean {
  try {
    const bits = publicKeyBits(cert.publicKeyInfo);
    // RFC 6960 says SHA-1; accept SM3 and SHA-256 from GM responders by length.
    const hashes: CertIdHash[] =
      keyHash.length === 20 ? ['sha1'] : keyHash.length === 32 ? ['sm3', 'sha256'] : [];
    return hashes.some((h) => sameBytes(keyHash, hashWith(h, bits)));
  } catch {
    return false;
  }
}

function matchesResponderId(rid: ResponderId, cert: ParsedCertificate): boolean {
  if ('byKey' in rid) return keyHashMatches(rid.byKey, cert);
  return sameBytes(rid.byNameDer, cert.subjectDer) || namesMatch(rid.byName, cert.subject);
}

/**
 * Verifies an OCSP response about certificates of `issuer`: successful status, a responder that is the
 * issuer or a delegated responder it issued with id-kp-OCSPSigning (valid at `at`), the ResponderID
 * matching that certificate, the signature over the exact tbsResponseData bytes, every CertID naming the
 * issuer, times, freshness and the nonce when given. Never throws.
 */
export function verifyOcspResponse(
  resp: ParsedOcspResponse,
  issuer: ParsedCertificate,
  opts: OcspVerifyOptions = {},
): OcspVerificationResult {
  const at = opts.at ?? new Date();
  const skew = opts.clockSkewMs ?? 5 * 60_000;
  const checks = new Checks({ tolerate: (c) => opts.allowStale === true && c.check.endsWith(': fresh') });
  let responder: ParsedCertificate | undefined;
  const finish = (): OcspVerificationResult => ({
    valid: checks.valid,
    checks: checks.list,
    errors: checks.errors,
    warnings: checks.warnings,
    responses: resp.responses,
    responder,
  });

  checks.expect(
    'response status successful',
    resp.status === 'successful',
    `responseStatus is ${resp.status}`,
  );
  if (resp.status !== 'successful' || !resp.responderId) return finish();
  try {
    const rid = resp.responderId;
    if (matchesResponderId(rid, issuer)) responder = issuer;
    else responder = resp.certificates.find((c) => matchesResponderId(rid, c));
    const ridText = 'byKey' in rid ? `byKey ${bytesToHex(rid.byKey)}` : `byName ${formatName(rid.byName)}`;
    checks.expect(
      'responder identified',
      responder !== undefined,
      `no certificate matches ResponderID ${ridText}`,
    );
    if (responder && responder !== issuer) {
      const issued = isPossibleIssuer(responder, issuer) && responder.verifySignature(issuer.publicKeyInfo);
      checks.expect(
        'delegated responder issued by the issuer',
        issued,
        `${responder.subjectText} is not signed by ${issuer.subjectText}`,
      );
      const eku = responder.extKeyUsage ?? [];
      checks.expect(
        'delegated responder extended key usage id-kp-OCSPSigning',
        eku.includes(oid.id_kp_OCSPSigning),
        `EKU is ${eku.join(', ') || 'absent'}`,
      );
      const ku = responder.keyUsage;
      checks.expect(
        'delegated responder key usage digitalSignature',
        !ku || ku.includes('digitalSignature') || ku.includes('nonRepudiation'),
        `key usage is ${ku?.join(', ')}`,
      );
    }
    if (responder) {
      checks.expect(
        'responder certificate validity',
        responder.isValidAt(at),
        `valid ${responder.notBefore.toISOString()} – ${responder.notAfter.toISOString()}, checked at ${at.toISOString()}`,
      );
      let sigOk = false;
      let detail = 'signature does not verify with the responder key';
      try {
        sigOk = verifySignature(
          responder.publicKeyInfo,
          resp.signatureAlgorithm,
          resp.tbsResponseDataDer,
          resp.signatureValue,
          opts.sm2Id === undefined ? {} : { sm2Id: opts.sm2Id },
        );
      } catch (e) {
        detail = message(e);
      }
      checks.expect('signature', sigOk, detail);
    }
    checks.expect(
      'producedAt not in the future',
      resp.producedAt!.getTime() <= at.getTime() + skew,
      `producedAt ${resp.producedAt!.toISOString()} is after ${at.toISOString()}`,
    );
    checks.expect('at least one response', resp.responses.length > 0, 'responses is empty');
    resp.responses.forEach((r, n) => {
      const tag = `response ${n} (serial ${r.certId.serialNumber})`;
      checks.expect(
        `${tag}: CertID names the issuer`,
        certIdMatchesIssuer(r.certId, issuer),
        r.certId.hash
          ? `issuerNameHash/issuerKeyHash (${r.certId.hash}) do not match ${issuer.subjectText}`
          : `unsupported CertID hash ${r.certId.hashAlgorithm}`,
      );
      checks.expect(
        `${tag}: thisUpdate not in the future`,
        r.thisUpdate.getTime() <= at.getTime() + skew,
        `thisUpdate ${r.thisUpdate.toISOString()} is after ${at.toISOString()}`,
      );
      // RFC 6960 §4.2.2.1: without nextUpdate, newer information is always available (never stale).
      checks.expect(
        `${tag}: fresh`,
        !r.nextUpdate || at <= r.nextUpdate,
        `nextUpdate ${r.nextUpdate?.toISOString()} has passed at ${at.toISOString()}`,
      );
    });
    if (opts.nonce) {
      checks.expect(
        'nonce',
        resp.nonce !== undefined && sameBytes(resp.nonce, opts.nonce),
        resp.nonce ? 'the response echoes a different nonce' : 'the response carries no nonce',
      );
    }
  } catch (e) {
    checks.expect('well-formed', false, message(e));
  }
  return finish();
}
