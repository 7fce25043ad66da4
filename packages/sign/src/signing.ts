/**
 * Signing and verification for hospital systems. `signDocument` checks everything that can be checked before
 * a key is touched (format, data, document type, time-stamp availability, idempotency), then the signer
 * (key not locked, certificate valid now and good at the CA, PIN), signs through the keystore — P1 (the raw
 * signature: SM2 with Z over the default ID, or RSA/ECDSA) or CMS detached/attached with RFC 5652 or GM/T 0010
 * object identifiers — optionally adds an RFC 3161 signature time-stamp, and writes one append-only record.
 * A failure before the record leaves nothing behind but audit events (wrong PINs, the keystore's key use).
 */

import { randomUUID } from 'node:crypto';
import { DomainError } from '@medsign/errors';
import { bytesToHex, decodePemBlocks, hexToBytes, type Sm2SignerPool } from '@medsign/gm';
import {
  digest as hashData,
  ParsedCertificate,
  ParsedCms,
  signCms,
  timeStampTokenAttribute,
  verifyCertificateChainAsync,
  verifyCmsAsync,
  verifySignatureAsync,
  verifyTimeStampToken,
  type Check,
  type TimeStampVerifyResult,
  type SignatureAlgorithmName,
} from '@medsign/pki';
import { usableAuthorisation } from './authorisations.js';
import { checkSignerPin, findSigner, type SignerDeps } from './signers.js';
import {
  SIGNATURE_FORMATS,
  type AuditEvent,
  type CertificateDirectory,
  type CertificateStatus,
  type CertificateStatusSource,
  type DigestAlgorithm,
  type SignatureFormat,
  type SignatureMetadata,
  type SealedOriginal,
  type SecretBox,
  type SignatureIntent,
  type SignatureRecord,
  type SignerRecord,
  type TimeStamper,
} from './ports.js';

/** Document types accepted by default (a deployment may configure its own list). */
export const DEFAULT_DOCUMENT_TYPES = [
  'prescription',
  'order',
  'medical-record',
  'lab-report',
  'imaging-report',
  'nursing-record',
  'anaesthesia-record',
  'surgery-record',
  'consent',
  'other',
] as const;

/** Default limit on the data of one signing request (decoded bytes). */
export const DEFAULT_MAX_DATA_BYTES = 4 * 1024 * 1024;

export type SigningDeps = SignerDeps & {
  status: CertificateStatusSource;
  /** The TSA; absent until one is configured (then `timestamp: true` is SIGN_TIMESTAMP_UNAVAILABLE). */
  timeStamper?: TimeStamper;
  documentTypes?: readonly string[];
  maxDataBytes?: number;
  /**
   * The CA certificates between a signer's certificate and the root (issuing CA first, no root), embedded in
   * P7 signatures so a relying party needs only the root it trusts to build the path.
   */
  issuerChain?: (caId: string) => readonly ParsedCertificate[];
  /**
   * Seals signed originals (SM4-GCM, context = the record id) for `storeOriginal`; absent, asking to
   * store one is SIGN_ORIGINALS_UNAVAILABLE.
   */
  originals?: SecretBox;
  /** Store the original of every data request unless it says `storeOriginal: false` (default false). */
  storeOriginals?: boolean;
  /** The CA's records of the certificates it issued (pre-made signatures need it). */
  certificates?: CertificateDirectory;
};

/** One signing request as the API receives it (binary values base64, digests hex). */
export type SignRequest = {
  /** The signer's employee number. */
  signer: string;
  /** The signer's PIN; without it, a live signing authorisation for the calling application is needed. */
  pin?: string;
  /** The data, base64 — or its digest. */
  data?: string;
  /** hex digest of the data (p7-detached only). */
  digest?: string;
  digestAlgorithm?: DigestAlgorithm;
  format?: SignatureFormat;
  /** CMS object identifiers: RFC 5652 (default) or GM/T 0010 (SM2 signers only). */
  oids?: 'rfc5652' | 'gm';
  timestamp?: boolean;
  metadata?: SignatureMetadata;
  /**
   * Keep the data, sealed, for preview and evidence (default: the deployment's setting). A digest
   * request has no original: `true` with a digest is SIGN_DATA_INVALID.
   */
  storeOriginal?: boolean;
};

/** The transport's facts about the request. */
export type SignContext = {
  appId: string;
  /** The client IP the server saw (recorded as evidence of intent). */
  clientIp?: string;
  /** Idempotency-Key and the SM3 (hex) of the request body, when the caller sent the header. */
  idempotency?: { key: string; requestHash: string };
  /**
   * The signer's intent, already established for this request (a sign job, authorised once with the PIN or
   * under a signing authorisation — jobs.ts): the per-request PIN/authorisation check is skipped and
   * `intent` is recorded instead. Never set from request input.
   */
  authorised?: { intent: string };
  /** The sign job and business id this signature is made for (recorded in its audit event). */
  job?: { id: string; businessId: string };
};

export type SignResult = { record: SignatureRecord; certificate: ParsedCertificate; replayed: boolean };

const dataInvalid = (detail: string) => new DomainError('SIGN_DATA_INVALID', detail);

/** Strict base64 (RFC 4648 §4, padding required, no whitespace); SIGN_DATA_INVALID otherwise. */
export function decodeBase64(
  text: unknown,
  what: string,
  code:
    'SIGN_DATA_INVALID' | 'SIGN_SIGNATURE_INVALID' | 'SIGN_PREMADE_SIGNATURE_INVALID' = 'SIGN_DATA_INVALID',
): Uint8Array {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text))
    throw new DomainError(code, `${what} is not valid base64`);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) throw new DomainError(code, `${what} is not valid base64`);
  return new Uint8Array(bytes);
}

/** The CMS digest (and P1 record digest) of a signer key: SM3 for SM2, SHA-256 for RSA/ECDSA. */
export function hashOf(cert: ParsedCertificate): DigestAlgorithm {
  return cert.publicKey.family === 'sm2' ? 'sm3' : 'sha256';
}

/** Refuses certificates that cannot sign now: not yet valid, expired, revoked, on hold, unknown to the CA. */
async function checkCertificate(
  signer: SignerRecord,
  cert: ParsedCertificate,
  now: Date,
  status: CertificateStatusSource,
): Promise<void> {
  if (now < cert.notBefore)
    throw new DomainError('SIGN_CERT_NOT_YET_VALID', `valid from ${cert.notBefore.toISOString()}`);
  if (now > cert.notAfter)
    throw new DomainError('SIGN_CERT_EXPIRED', `expired on ${cert.notAfter.toISOString()}`);
  const s = await status.status(signer.caId, signer.certSerial);
  if (s === 'revoked') throw new DomainError('SIGN_CERT_REVOKED');
  if (s === 'hold') throw new DomainError('SIGN_CERT_ON_HOLD');
  if (s !== 'good')
    throw new DomainError(
      'SIGN_CERT_REVOKED',
      'the issuing CA does not know this certificate: it cannot sign',
    );
}

type Prepared = {
  format: SignatureFormat;
  data?: Uint8Array;
  digest?: Uint8Array;
  digestAlgorithm?: DigestAlgorithm;
  gm: boolean;
  metadata: SignatureMetadata;
  /** Seal and keep the data with the record. */
  storeOriginal: boolean;
};

/** Checks business metadata (≤ 128 characters, no control characters, a known document type); SIGN_DATA_INVALID / SIGN_DOC_TYPE_UNKNOWN. */
export function checkMetadata(m: SignatureMetadata | undefined, types: readonly string[]): SignatureMetadata {
  const out: SignatureMetadata = {};
  for (const k of ['system', 'docType', 'docId', 'departmentCode', 'visitRef'] as const) {
    const v = m?.[k];
    if (v === undefined) continue;
    // eslint-disable-next-line no-control-regex
    if (typeof v !== 'string' || v.length > 128 || /[\u0000-\u001f]/.test(v))
      throw dataInvalid(`metadata.${k} must be at most 128 characters without control characters`);
    out[k] = v;
  }
  if (out.docType !== undefined && !types.includes(out.docType))
    throw new DomainError('SIGN_DOC_TYPE_UNKNOWN', `"${out.docType}" is not one of ${types.join(', ')}`);
  return out;
}

/** Everything about the request that can be checked without the signer. */
function prepare(req: SignRequest, deps: SigningDeps): Prepared {
  const format = req.format ?? 'p7-detached';
  if (!(SIGNATURE_FORMATS as readonly string[]).includes(format))
    throw dataInvalid(`format must be one of ${SIGNATURE_FORMATS.join(', ')}`);
  if (req.oids !== undefined && req.oids !== 'rfc5652' && req.oids !== 'gm')
    throw dataInvalid('oids must be rfc5652 or gm');
  const gm = req.oids === 'gm';
  if (gm && format === 'p1') throw dataInvalid('oids apply to p7 formats only');
  const metadata = checkMetadata(req.metadata, deps.documentTypes ?? DEFAULT_DOCUMENT_TYPES);
  if ((req.data === undefined) === (req.digest === undefined))
    throw dataInvalid('give exactly one of data (base64) and digest (hex)');
  if (req.storeOriginal !== undefined && typeof req.storeOriginal !== 'boolean')
    throw dataInvalid('storeOriginal must be true or false');
  if (req.storeOriginal === true && req.data === undefined)
    throw dataInvalid('storeOriginal needs the data: a digest request has no original to store');
  const storeOriginal = req.data !== undefined && (req.storeOriginal ?? deps.storeOriginals ?? false);
  if (storeOriginal && !deps.originals)
    throw new DomainError('SIGN_ORIGINALS_UNAVAILABLE', 'this server has no cipher to seal originals');
  const max = deps.maxDataBytes ?? DEFAULT_MAX_DATA_BYTES;
  if (req.data !== undefined) {
    if (typeof req.data === 'string' && req.data.length > Math.ceil(max / 3) * 4)
      throw new DomainError('SIGN_PAYLOAD_TOO_LARGE', `the data exceeds ${max} bytes`);
    const data = decodeBase64(req.data, 'data');
    if (data.length > max) throw new DomainError('SIGN_PAYLOAD_TOO_LARGE', `the data exceeds ${max} bytes`);
    if (req.digestAlgorithm !== undefined)
      throw dataInvalid('digestAlgorithm goes with digest, not with data');
    return { format, data, gm, metadata, storeOriginal };
  }
  if (format !== 'p7-detached')
    throw dataInvalid(`${format} needs the data itself; a digest can be signed as p7-detached only`);
  const alg = req.digestAlgorithm ?? 'sm3';
  if (alg !== 'sm3' && alg !== 'sha256') throw dataInvalid('digestAlgorithm must be sm3 or sha256');
  if (typeof req.digest !== 'string' || !/^([0-9a-fA-F]{2})+$/.test(req.digest) || req.digest.length !== 64)
    throw dataInvalid(`the ${alg} digest must be 64 hex digits`);
  return {
    format,
    digest: hexToBytes(req.digest.toLowerCase()),
    digestAlgorithm: alg,
    gm,
    metadata,
    storeOriginal: false,
  };
}

/**
 * Checks a request as {@link signDocument} does before it looks at the signer (format, OIDs, data or digest,
 * size, metadata, document type); throws the same errors. Returns the size of what would be signed (data
 * bytes, or the digest's). Sign jobs check every document with it before anything is signed.
 */
export function checkSignRequest(req: SignRequest, deps: SigningDeps): { bytes: number } {
  const p = prepare(req, deps);
  return { bytes: p.data?.length ?? p.digest?.length ?? 0 };
}

const signerCertificates = new Map<string, ParsedCertificate>();
const SIGNER_CERTIFICATE_CACHE_SIZE = 512;

/**
 * A signer's certificate parsed, from a small LRU cache keyed by its DER: the same doctors sign again and
 * again, and parsing a certificate cost more of a request's time than anything else but the signature.
 */
export function signerCertificate(der: Uint8Array): ParsedCertificate {
  const id = bytesToHex(der);
  let cert = signerCertificates.get(id);
  if (cert) signerCertificates.delete(id);
  else {
    cert = ParsedCertificate.parse(der);
    if (signerCertificates.size >= SIGNER_CERTIFICATE_CACHE_SIZE)
      signerCertificates.delete(signerCertificates.keys().next().value!);
  }
  signerCertificates.set(id, cert);
  return cert;
}

/** Signs one document for an authenticated application (see the module comment). */
export async function signDocument(
  req: SignRequest,
  ctx: SignContext,
  deps: SigningDeps,
): Promise<SignResult> {
  const p = prepare(req, deps);
  if (req.timestamp === true && !deps.timeStamper)
    throw new DomainError('SIGN_TIMESTAMP_UNAVAILABLE', 'no time-stamp authority is configured for signing');

  if (ctx.idempotency) {
    const prior = await deps.store.findSignatureByIdempotencyKey(ctx.appId, ctx.idempotency.key);
    if (prior) return replay(prior, ctx.idempotency.requestHash, deps);
  }

  const signer = await findSigner(req.signer, deps.store);
  if (signer.locked) throw new DomainError('SIGN_SIGNER_LOCKED');
  const cert = signerCertificate(signer.certificate);
  await checkCertificate(signer, cert, deps.clock.now(), deps.status);
  const hash = hashOf(cert);
  if (p.digestAlgorithm && p.digestAlgorithm !== hash)
    throw dataInvalid(
      `this signer's ${cert.publicKey.family} key signs ${hash} digests, not ${p.digestAlgorithm}`,
    );
  if (p.gm && cert.publicKey.family !== 'sm2')
    throw dataInvalid('GM/T 0010 object identifiers need an SM2 signer');
  let intent: SignatureIntent;
  if (ctx.authorised) {
    intent = intentOfText(ctx.authorised.intent) ?? { method: 'pin' };
  } else if (req.pin !== undefined) {
    await checkSignerPin(signer, req.pin, `app:${ctx.appId}`, deps);
    intent = { method: 'pin' };
  } else {
    const a = await usableAuthorisation(signer, ctx.appId, deps);
    intent = {
      method: 'authorisation',
      authorisationId: a.id,
      grantedAt: a.createdAt.toISOString(),
      expiresAt: a.expiresAt.toISOString(),
      apps: [...a.appIds],
      grantedVia: a.grantedVia,
    };
  }

  const contentDigest = p.digest ?? hashData(hash, p.data!);

  const purpose = `sign ${p.format}${p.metadata.docType ? ` ${p.metadata.docType}` : ''}${p.metadata.docId ? `/${p.metadata.docId}` : ''}`;
  const keySigner = await deps.keys.signer(signer.keyId, purpose.slice(0, 256));
  let signature: Uint8Array;
  let token: Uint8Array | null = null;
  if (p.format === 'p1') {
    signature = await keySigner.sign(p.data!);
    if (req.timestamp) {
      token = await stamp(signature, deps.timeStamper!);
    }
  } else {
    // The time-stamp goes in as the SignedData is built (over the signature value just made), instead of
    // parsing the finished SignedData again to add it — the parse cost more than the signature.
    const stampValue = async (value: Uint8Array) => {
      token = await stamp(value, deps.timeStamper!);
      return [timeStampTokenAttribute(token)];
    };
    signature = await signCms({
      content: p.data ?? new Uint8Array(),
      ...(p.digest ? { contentDigest: p.digest } : {}),
      detached: p.format === 'p7-detached',
      signers: [
        {
          signer: keySigner,
          certificate: cert,
          ...(req.timestamp ? { unsignedAttributesFor: stampValue } : {}),
        },
      ],
      certificates: [cert, ...(deps.issuerChain?.(signer.caId) ?? [])],
      gmOids: p.gm,
      signingTime: deps.clock.now(),
    });
  }

  const record: SignatureRecord = {
    id: randomUUID(),
    appId: ctx.appId,
    signerId: signer.id,
    employeeNo: signer.employeeNo,
    caId: signer.caId,
    certSerial: signer.certSerial,
    format: p.format,
    digestAlgorithm: hash,
    digest: bytesToHex(contentDigest),
    signature,
    token,
    metadata: { departmentCode: signer.departmentCode, ...p.metadata },
    idempotencyKey: ctx.idempotency?.key ?? null,
    requestHash: ctx.idempotency?.requestHash ?? null,
    createdAt: deps.clock.now(),
    clientIp: ctx.clientIp ?? null,
    intent,
  };
  const event: AuditEvent = {
    actor: `app:${ctx.appId}`,
    action: 'sign.signature',
    target: record.id,
    detail: {
      employeeNo: signer.employeeNo,
      format: p.format,
      digest: record.digest,
      // A sign job's signatures keep the job's own wording (`job:<id>/pin`, `job:<id>/authorisation:<id>`).
      intent: ctx.authorised?.intent ?? intentText(intent),
      ...(ctx.clientIp ? { clientIp: ctx.clientIp } : {}),
      ...(p.metadata.docType ? { docType: p.metadata.docType } : {}),
      ...(p.metadata.docId ? { docId: p.metadata.docId } : {}),
      timestamped: token !== null,
      ...(p.storeOriginal ? { originalStored: true } : {}),
      ...(ctx.job ? { job: ctx.job.id, businessId: ctx.job.businessId } : {}),
    },
  };
  const original = p.storeOriginal ? await sealOriginal(record.id, p.data!, deps.originals!) : undefined;
  if (!(await deps.store.insertSignature(record, event, original))) {
    // A concurrent request with the same Idempotency-Key won: answer what it recorded.
    const prior = await deps.store.findSignatureByIdempotencyKey(ctx.appId, ctx.idempotency!.key);
    if (prior) return replay(prior, ctx.idempotency!.requestHash, deps);
    throw new DomainError('SIGN_IDEMPOTENCY_CONFLICT');
  }
  return { record, certificate: cert, replayed: false };
}

/** The intent as the audit event has always said it: `pin`, `authorisation:<id>` or `usbkey` (jobs: `job:<id>/…`). */
export function intentText(intent: SignatureIntent): string {
  const own = intent.method === 'authorisation' ? `authorisation:${intent.authorisationId}` : intent.method;
  return 'job' in intent && intent.job ? `job:${intent.job}/${own}` : own;
}

/**
 * Reads an intent as audit events word it (`pin`, `authorisation:<id>`, `usbkey`, and a sign job's
 * `job:<id>/pin` / `job:<id>/authorisation:<id>`); null for anything else. The grant's facts are not in
 * the words: evidence looks the authorisation up.
 */
export function intentOfText(text: unknown): SignatureIntent | null {
  if (typeof text !== 'string') return null;
  const m = /^(?:job:([^/]+)\/)?(pin|usbkey|authorisation:(.+))$/.exec(text);
  if (!m) return null;
  const job = m[1] ? { job: m[1] } : {};
  if (m[2] === 'usbkey') return m[1] ? null : { method: 'usbkey' };
  if (m[2] === 'pin') return { method: 'pin', ...job };
  return { method: 'authorisation', authorisationId: m[3]!, ...job };
}

/** Seals a signed original bound to its record id (a sealed original moved to another record does not open). */
export async function sealOriginal(
  recordId: string,
  data: Uint8Array,
  box: SecretBox,
): Promise<SealedOriginal> {
  return { size: data.length, sealed: await box.seal(data, `signature:${recordId}`) };
}

/** Opens a record's sealed original (see sealOriginal). */
export function openOriginal(
  recordId: string,
  original: SealedOriginal,
  box: SecretBox,
): Promise<Uint8Array> {
  return box.open(original.sealed, `signature:${recordId}`);
}

/** A stored original opened for preview, with the check that it is what was signed. */
export type OriginalView = {
  record: SignatureRecord;
  data: Uint8Array;
  /** The original's digest (record's algorithm) equals the signed digest. */
  digestMatches: boolean;
};

/**
 * Opens the stored original of a signature record for `actor` (audited `sign.original-read`, with the
 * record id and size only). SIGN_SIGNATURE_NOT_FOUND / SIGN_ORIGINAL_NOT_STORED otherwise.
 */
export async function readOriginal(
  id: string,
  actor: string,
  deps: Pick<SigningDeps, 'store' | 'audit' | 'originals'>,
): Promise<OriginalView> {
  const record = await deps.store.getSignature(id);
  if (!record) throw new DomainError('SIGN_SIGNATURE_NOT_FOUND', `no signature ${id}`);
  const sealed = await deps.store.getOriginal(id);
  if (!sealed || !deps.originals)
    throw new DomainError('SIGN_ORIGINAL_NOT_STORED', `signature ${id} has no stored original`);
  const data = await openOriginal(id, sealed, deps.originals);
  await deps.audit.append({
    actor,
    action: 'sign.original-read',
    target: id,
    detail: { size: data.length },
  });
  return {
    record,
    data,
    digestMatches: bytesToHex(hashData(record.digestAlgorithm, data)) === record.digest,
  };
}

async function replay(prior: SignatureRecord, requestHash: string, deps: SigningDeps): Promise<SignResult> {
  if (prior.requestHash !== requestHash)
    throw new DomainError(
      'SIGN_IDEMPOTENCY_CONFLICT',
      'this Idempotency-Key was used with another request body',
    );
  const signer = await deps.store.getSigner(prior.signerId);
  return { record: prior, certificate: signerCertificate(signer!.certificate), replayed: true };
}

/** Time-stamps a signature value; any failure of the TSA is SIGN_TIMESTAMP_UNAVAILABLE. */
export async function stamp(value: Uint8Array, stamper: TimeStamper): Promise<Uint8Array> {
  try {
    return await stamper.timestamp(value);
  } catch (e) {
    if (e instanceof DomainError && e.code === 'SIGN_TIMESTAMP_UNAVAILABLE') throw e;
    throw new DomainError(
      'SIGN_TIMESTAMP_UNAVAILABLE',
      `the time-stamp authority failed: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

// --- verification ---------------------------------------------------------------------------------------

export type VerifyRequest = {
  /** base64 data (required for P1 and detached P7). */
  data?: string;
  /** base64 of the signature: the raw P1 signature (DER), or a CMS SignedData (DER, or PEM text base64-encoded). */
  signature: string;
  /** P1 only: the signer's certificate, PEM or base64 DER. */
  certificate?: string;
  /** P1 only: base64 RFC 3161 TimeStampToken over the signature value (P7 carries its own). */
  token?: string;
};

/** Where the signing time a status is judged at came from. */
export type SigningTimeSource = 'timestamp' | 'signingTime' | 'record';

/**
 * The certificate's status at the signing time: the time-stamp token's genTime when there is a valid one,
 * else the CMS signingTime attribute (the signer's own claim), else — for our own records — the record
 * time; compared with the certificate's validity and the revocation time in our CA's records.
 */
export type StatusAtSigning = VerifyAspect & {
  status: CertificateStatus | 'expired' | 'not-yet-valid';
  time?: string;
  timeSource?: SigningTimeSource;
  /** When the certificate was revoked or put on hold (it is now), if the CA recorded it. */
  revokedAt?: string;
};

/** Options of verifyDocument. */
export type VerifyOptions = {
  /** The time our own record of the signature was made (the last resort for the signing time). */
  recordTime?: Date;
};

/** One summarised aspect of a verification. */
export type VerifyAspect = { ok: boolean; detail?: string };

export type VerifyResult = {
  valid: boolean;
  format: 'p1' | 'p7';
  signer?: { subject: string; issuer: string; serial: string; notBefore: string; notAfter: string };
  /** The signature value verifies under the certificate's key. */
  signature: VerifyAspect;
  /** The data is what was signed (P7: messageDigest; P1: the signature covers the data itself). */
  dataIntegrity: VerifyAspect;
  /** The certificate chains to one of our roots (now). */
  chain: VerifyAspect;
  /** The certificate's status at our CA now. */
  certificateStatus: VerifyAspect & { status: CertificateStatus; revokedAt?: string; reason?: string };
  /** The certificate's status when the signature was made (see StatusAtSigning). */
  statusAtSigning: StatusAtSigning;
  /** The signature time-stamp, when the signature carries one. */
  timestamp?: VerifyAspect & { time?: string; serial?: string; tsa?: string };
  checks: Check[];
  errors: string[];
};

export type VerifyDeps = {
  clock: { now(): Date };
  status: CertificateStatusSource & {
    /** The CA id of an issuing CA certificate of ours (to ask the status of a certificate it issued). */
    caIdOf(issuer: ParsedCertificate): string | undefined;
  };
  /** Our roots (trust anchors) and the issuing CAs below them. */
  anchors: readonly ParsedCertificate[];
  intermediates: readonly ParsedCertificate[];
  /**
   * When given, a P7's per-message SM2 verifications (the signer's signature, its certificate under the
   * issuing CA) run on these worker threads — another core — side by side; the same checks and outcome.
   */
  sm2Pool?: Sm2SignerPool;
};

/** Reads a certificate given as PEM or base64 DER; SIGN_SIGNATURE_INVALID when it cannot be read. */
export function readCertificate(text: string): ParsedCertificate {
  try {
    if (text.includes('-----BEGIN')) return ParsedCertificate.parse(text);
    return ParsedCertificate.parseShared(decodeBase64(text, 'certificate', 'SIGN_SIGNATURE_INVALID'));
  } catch (e) {
    if (e instanceof DomainError) throw e;
    throw new DomainError(
      'SIGN_SIGNATURE_INVALID',
      `the certificate cannot be read: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

function aspect(checks: readonly Check[], names: readonly string[]): VerifyAspect {
  const found = checks.filter((c) => names.includes(c.check));
  if (found.length === 0) return { ok: false, detail: 'not checked' };
  const failed = found.find((c) => !c.ok);
  return failed ? { ok: false, ...(failed.detail ? { detail: failed.detail } : {}) } : { ok: true };
}

/** A certificate's status at our CA now (VerifyResult.certificateStatus). */
export type StatusNow = VerifyAspect & { status: CertificateStatus; revokedAt?: string; reason?: string };

/** The certificate's status at our CA now, and at the signing time `at` (see StatusAtSigning). */
export async function statusOf(
  cert: ParsedCertificate,
  path: readonly ParsedCertificate[],
  deps: VerifyDeps,
  at: { time: Date; source: SigningTimeSource } | undefined,
): Promise<{ now: StatusNow; atSigning: StatusAtSigning }> {
  const issuer = path[1];
  const caId = issuer ? deps.status.caIdOf(issuer) : undefined;
  const info = caId
    ? deps.status.revocation
      ? await deps.status.revocation(caId, cert.serialNumber)
      : { status: await deps.status.status(caId, cert.serialNumber) }
    : { status: 'unknown' as const };
  const status = info.status;
  const revokedAt = info.revokedAt?.toISOString();
  const now: StatusNow = {
    ok: status === 'good',
    status,
    ...(revokedAt && status !== 'good' ? { revokedAt } : {}),
    ...(info.reason && status !== 'good' ? { reason: info.reason } : {}),
    ...(status === 'good'
      ? {}
      : { detail: caId ? `the certificate is ${status}` : 'not issued by a CA of this platform' }),
  };
  const when = at ? { time: at.time.toISOString(), timeSource: at.source } : {};
  const judged = (s: StatusAtSigning['status'], detail?: string): StatusAtSigning => ({
    ok: s === 'good',
    status: s,
    ...when,
    ...(revokedAt && status !== 'good' ? { revokedAt } : {}),
    ...(detail ? { detail } : {}),
  });
  if (!caId) return { now, atSigning: judged('unknown', 'not issued by a CA of this platform') };
  if (!at)
    return { now, atSigning: judged('unknown', 'no signing time: no time-stamp, signingTime or record') };
  if (at.time < cert.notBefore)
    return { now, atSigning: judged('not-yet-valid', 'signed before the certificate was valid') };
  if (at.time > cert.notAfter)
    return { now, atSigning: judged('expired', 'signed after the certificate expired') };
  if (status === 'good') return { now, atSigning: judged('good') };
  if (status === 'unknown')
    return { now, atSigning: judged('unknown', 'the CA does not know this certificate') };
  if (info.revokedAt && info.revokedAt > at.time)
    return { now, atSigning: judged('good', `good when signed; ${status} since ${revokedAt}`) };
  return {
    now,
    atSigning: judged(
      status,
      info.revokedAt ? `${status} since ${revokedAt}, before it was signed` : `${status} (time unknown)`,
    ),
  };
}

function timestampAspect(ts: TimeStampVerifyResult): NonNullable<VerifyResult['timestamp']> {
  return {
    ok: ts.valid,
    ...(ts.genTime ? { time: ts.genTime.toISOString() } : {}),
    ...(ts.serial !== undefined ? { serial: ts.serial.toString(16) } : {}),
    ...(ts.tsaName ? { tsa: ts.tsaName } : ts.tsaCertificate ? { tsa: ts.tsaCertificate.subjectText } : {}),
    ...(ts.valid ? {} : { detail: ts.errors.join('; ') }),
  };
}

/** The signing time by precedence: a valid time-stamp, the signingTime attribute, our record. */
function signingTimeOf(
  ts: TimeStampVerifyResult | undefined,
  signingTime: Date | undefined,
  opts: VerifyOptions,
): { time: Date; source: SigningTimeSource } | undefined {
  if (ts?.valid && ts.genTime) return { time: ts.genTime, source: 'timestamp' };
  if (signingTime) return { time: signingTime, source: 'signingTime' };
  if (opts.recordTime) return { time: opts.recordTime, source: 'record' };
  return undefined;
}

/** Verifies a P1 or P7 signature against our roots; never throws for an invalid signature (only for unreadable input). */
export async function verifyDocument(
  req: VerifyRequest,
  deps: VerifyDeps,
  opts: VerifyOptions = {},
): Promise<VerifyResult> {
  const sigBytes = decodeBase64(req.signature, 'signature', 'SIGN_SIGNATURE_INVALID');
  const data = req.data === undefined ? undefined : decodeBase64(req.data, 'data');
  const at = deps.clock.now();
  if (req.certificate !== undefined) {
    const token =
      req.token === undefined ? undefined : decodeBase64(req.token, 'token', 'SIGN_SIGNATURE_INVALID');
    return verifyP1(sigBytes, data, readCertificate(req.certificate), token, at, deps, opts);
  }
  if (req.token !== undefined)
    throw new DomainError('SIGN_DATA_INVALID', 'token goes with a P1 signature; a P7 carries its own');

  let cms: ParsedCms;
  try {
    const text = new TextDecoder().decode(sigBytes);
    cms = ParsedCms.parse(text.includes('-----BEGIN') && decodePemBlocks(text).length ? text : sigBytes);
  } catch (e) {
    throw new DomainError(
      'SIGN_SIGNATURE_INVALID',
      `the signature is not a CMS SignedData (a P1 signature needs its certificate): ${(e as Error).message}`,
      { cause: e },
    );
  }
  const r = await verifyCmsAsync(cms, {
    ...(data ? { content: data } : {}),
    anchors: deps.anchors,
    extraCertificates: deps.intermediates,
    at,
    ...(deps.sm2Pool ? { sm2Pool: deps.sm2Pool } : {}),
  });
  const s = r.signers[0];
  const checks: Check[] = [...(s?.checks ?? [])];
  const errors = [...r.errors];
  const cert = s?.certificate;
  const ts = s?.timestamp;
  const statuses = cert
    ? await statusOf(cert, s?.chain?.path ?? [], deps, signingTimeOf(ts, s?.signingTime, opts))
    : {
        now: { ok: false, status: 'unknown' as const, detail: 'no signer certificate' },
        atSigning: { ok: false, status: 'unknown' as const, detail: 'no signer certificate' },
      };
  const certificateStatus = statuses.now;
  if (!certificateStatus.ok)
    errors.push(`certificate status: ${certificateStatus.detail ?? certificateStatus.status}`);
  return {
    valid: r.valid && certificateStatus.ok,
    format: 'p7',
    ...(cert ? { signer: signerOf(cert) } : {}),
    signature: aspect(checks, ['signature']),
    dataIntegrity:
      data || cms.content
        ? aspect(checks, ['messageDigest attribute', 'content', 'signature'])
        : { ok: false, detail: 'detached signature: data not given' },
    chain: s?.chain
      ? { ok: s.chain.valid, ...(s.chain.valid ? {} : { detail: s.chain.errors.join('; ') }) }
      : { ok: false, detail: 'no signer certificate' },
    certificateStatus,
    statusAtSigning: statuses.atSigning,
    ...(ts ? { timestamp: timestampAspect(ts) } : {}),
    checks,
    errors,
  };
}

function signerOf(cert: ParsedCertificate): NonNullable<VerifyResult['signer']> {
  return {
    subject: cert.subjectText,
    issuer: cert.issuerText,
    serial: cert.serialNumber,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
  };
}

const P1_ALGORITHM: Record<string, SignatureAlgorithmName> = {
  sm2: 'SM3withSM2',
  rsa: 'SHA256withRSA',
  ec: 'SHA256withECDSA',
};

async function verifyP1(
  signature: Uint8Array,
  data: Uint8Array | undefined,
  cert: ParsedCertificate,
  token: Uint8Array | undefined,
  at: Date,
  deps: VerifyDeps,
  opts: VerifyOptions,
): Promise<VerifyResult> {
  if (!data)
    throw new DomainError('SIGN_DATA_INVALID', 'a P1 signature is verified against the data: give data');
  const alg = P1_ALGORITHM[cert.publicKey.family]!;
  // The signature and the leaf's certificate signature side by side on the SM2 workers, when there are any.
  const pool = deps.sm2Pool ? { sm2Pool: deps.sm2Pool } : {};
  const [ok, chain] = await Promise.all([
    verifySignatureAsync(cert.publicKeyInfo, alg, data, signature, pool),
    verifyCertificateChainAsync(cert, {
      anchors: deps.anchors,
      intermediates: deps.intermediates,
      at,
      ...pool,
    }),
  ]);
  const ts = token
    ? verifyTimeStampToken(token, {
        data: signature,
        anchors: deps.anchors,
        certificates: deps.intermediates,
      })
    : undefined;
  const statuses = await statusOf(cert, chain.path, deps, signingTimeOf(ts, undefined, opts));
  const certificateStatus = statuses.now;
  const checks: Check[] = [
    {
      check: 'signature',
      ok,
      ...(ok ? { detail: alg } : { detail: `${alg} signature does not verify over the data` }),
    },
    ...chain.checks,
  ];
  const errors = [
    ...(ok ? [] : ['signature failed: the signature does not verify over the data with this certificate']),
    ...chain.errors,
    ...(certificateStatus.ok
      ? []
      : [`certificate status: ${certificateStatus.detail ?? certificateStatus.status}`]),
    ...(ts && !ts.valid ? [`time-stamp: ${ts.errors.join('; ')}`] : []),
  ];
  return {
    valid: ok && chain.valid && certificateStatus.ok && (ts?.valid ?? true),
    format: 'p1',
    signer: signerOf(cert),
    signature: ok ? { ok } : { ok, detail: 'does not verify' },
    dataIntegrity: ok ? { ok } : { ok, detail: 'the signature does not cover this data' },
    chain: { ok: chain.valid, ...(chain.valid ? {} : { detail: chain.errors.join('; ') }) },
    certificateStatus,
    statusAtSigning: statuses.atSigning,
    ...(ts ? { timestamp: timestampAspect(ts) } : {}),
    checks,
    errors,
  };
}
