/**
 * Pre-made signatures: a signature the signer made on the client with a USB key (SKF / PKCS#11) is sent
 * with its certificate and recorded like a server-made one, intent `usbkey` — the key in the signer's
 * hand, unlocked with the key's own PIN, is the intent. Before anything is written the service checks
 * that the signature verifies over the data under the certificate, that the certificate chains to one
 * of our CAs, is valid now and good at that CA, and that the CA issued it to the named signer (its
 * record's employee number, else the subject's CN equals the signer's name). A bad, forged or foreign
 * signature is refused with a clear code and nothing is recorded.
 */

import { randomUUID } from 'node:crypto';
import { DomainError } from '@medsign/errors';
import { bytesToHex, decodePemBlocks, sm2SignatureToDer } from '@medsign/gm';
import {
  addTimestampToken,
  digest as hashData,
  nameAttribute,
  ParsedCertificate,
  ParsedCms,
  verifyCertificateChain,
  verifyCms,
  verifySignature,
  type SignatureAlgorithmName,
} from '@medsign/pki';
import {
  checkMetadata,
  decodeBase64,
  DEFAULT_DOCUMENT_TYPES,
  DEFAULT_MAX_DATA_BYTES,
  hashOf,
  readCertificate,
  sealOriginal,
  stamp,
  type SignContext,
  type SigningDeps,
  type SignResult,
  type VerifyDeps,
} from './signing.js';
import { findSigner } from './signers.js';
import {
  SIGNATURE_FORMATS,
  type AuditEvent,
  type SignatureFormat,
  type SignatureMetadata,
  type SignatureRecord,
} from './ports.js';

/** A pre-made signature as the API receives it (binary values base64). */
export type PremadeRequest = {
  /** The signer's employee number. */
  signer: string;
  /** `p1`: the raw signature (SM2 DER or r‖s, RSA, ECDSA DER) with `certificate`; `p7-*`: a CMS SignedData. */
  format: SignatureFormat;
  /** The signed data, base64 (a p7-attached signature may carry it instead). */
  data?: string;
  /** base64: the P1 signature value, or the CMS SignedData DER (or PEM text, base64-encoded). */
  signature: string;
  /** The signer certificate, PEM or base64 DER (P1: required; P7: when the CMS does not embed it). */
  certificate?: string;
  /** Add an RFC 3161 time-stamp over the signature value (P7: embedded as an unsigned attribute). */
  timestamp?: boolean;
  metadata?: SignatureMetadata;
  /** Keep the data sealed with the record (default: the deployment's setting). */
  storeOriginal?: boolean;
};

const invalid = (detail: string) => new DomainError('SIGN_PREMADE_SIGNATURE_INVALID', detail);

const P1_ALGORITHM: Record<string, SignatureAlgorithmName> = {
  sm2: 'SM3withSM2',
  rsa: 'SHA256withRSA',
  ec: 'SHA256withECDSA',
};

type Checked = { cert: ParsedCertificate; data: Uint8Array; signature: Uint8Array };

/** Checks the signature itself: P1 over the data under `certificate`, or the CMS (content and signer). */
function checkSignature(req: PremadeRequest, data: Uint8Array | undefined): Checked {
  const sig = decodeBase64(req.signature, 'signature', 'SIGN_PREMADE_SIGNATURE_INVALID');
  const given = req.certificate === undefined ? undefined : certificateOf(req.certificate);
  if (req.format === 'p1') {
    if (!given) throw invalid('a P1 signature needs its certificate');
    if (!data) throw invalid('a P1 signature is checked against the data: give data');
    const family = given.publicKey.family;
    // A USB key (SKF) returns SM2 signatures as r‖s; the record keeps DER like server-made ones.
    const value = family === 'sm2' && sig.length === 64 ? sm2SignatureToDer(sig) : sig;
    const alg = P1_ALGORITHM[family];
    if (!alg || !verifySignature(given.publicKeyInfo, alg, data, value))
      throw invalid('the signature does not verify over the data with this certificate');
    return { cert: given, data, signature: value };
  }
  let cms: ParsedCms;
  try {
    const text = new TextDecoder().decode(sig);
    cms = ParsedCms.parse(text.includes('-----BEGIN') && decodePemBlocks(text).length ? text : sig);
  } catch (e) {
    throw invalid(`the signature is not a CMS SignedData: ${(e as Error).message}`);
  }
  if (cms.signerInfos.length !== 1) throw invalid('a pre-made P7 signature must have exactly one signer');
  const attached = cms.content !== undefined;
  if (attached !== (req.format === 'p7-attached'))
    throw invalid(
      `the CMS ${attached ? 'carries' : 'does not carry'} its content: format ${req.format} does not fit`,
    );
  const content = data ?? cms.content;
  if (!content) throw invalid('a detached P7 signature is checked against the data: give data');
  if (data && cms.content && Buffer.compare(Buffer.from(data), Buffer.from(cms.content)) !== 0)
    throw invalid('the data is not the content the P7 signature carries');
  const r = verifyCms(cms, {
    content,
    ...(given ? { extraCertificates: [given] } : {}),
  });
  const s = r.signers[0];
  if (!r.valid || !s?.certificate)
    throw invalid(`the P7 signature does not verify: ${[...r.errors].join('; ') || 'no signer certificate'}`);
  return { cert: s.certificate, data: content, signature: sig };
}

function certificateOf(text: string): ParsedCertificate {
  try {
    return readCertificate(text);
  } catch (e) {
    throw invalid(`the certificate cannot be read: ${(e as DomainError).detail ?? (e as Error).message}`);
  }
}

/**
 * Records a pre-made (USB-key) signature for an authenticated application (see the module comment).
 * `trust` is the verifier's view of our CAs (roots, issuing CAs, the CA id of an issuing certificate).
 */
export async function recordPremadeSignature(
  req: PremadeRequest,
  ctx: SignContext,
  deps: SigningDeps,
  trust: Pick<VerifyDeps, 'anchors' | 'intermediates' | 'status'>,
): Promise<SignResult> {
  if (!(SIGNATURE_FORMATS as readonly string[]).includes(req.format))
    throw new DomainError('SIGN_DATA_INVALID', `format must be one of ${SIGNATURE_FORMATS.join(', ')}`);
  const metadata = checkMetadata(req.metadata, deps.documentTypes ?? DEFAULT_DOCUMENT_TYPES);
  if (req.timestamp === true && !deps.timeStamper)
    throw new DomainError('SIGN_TIMESTAMP_UNAVAILABLE', 'no time-stamp authority is configured for signing');
  const max = deps.maxDataBytes ?? DEFAULT_MAX_DATA_BYTES;
  let data: Uint8Array | undefined;
  if (req.data !== undefined) {
    if (typeof req.data === 'string' && req.data.length > Math.ceil(max / 3) * 4)
      throw new DomainError('SIGN_PAYLOAD_TOO_LARGE', `the data exceeds ${max} bytes`);
    data = decodeBase64(req.data, 'data');
  }
  if (req.storeOriginal !== undefined && typeof req.storeOriginal !== 'boolean')
    throw new DomainError('SIGN_DATA_INVALID', 'storeOriginal must be true or false');

  if (ctx.idempotency) {
    const prior = await deps.store.findSignatureByIdempotencyKey(ctx.appId, ctx.idempotency.key);
    if (prior) return replayPremade(prior, ctx.idempotency.requestHash, deps);
  }

  const signer = await findSigner(req.signer, deps.store);
  const checked = checkSignature(req, data);
  const { cert } = checked;
  if (checked.data.length > max)
    throw new DomainError('SIGN_PAYLOAD_TOO_LARGE', `the data exceeds ${max} bytes`);

  // The certificate: ours (chains to one of our roots through a CA we run), valid and good now.
  const now = deps.clock.now();
  const chain = verifyCertificateChain(cert, {
    anchors: trust.anchors,
    intermediates: trust.intermediates,
    at: now,
  });
  const issuer = chain.path[1];
  const caId = issuer ? trust.status.caIdOf(issuer) : undefined;
  if (now < cert.notBefore)
    throw new DomainError('SIGN_CERT_NOT_YET_VALID', `valid from ${cert.notBefore.toISOString()}`);
  if (now > cert.notAfter)
    throw new DomainError('SIGN_CERT_EXPIRED', `expired on ${cert.notAfter.toISOString()}`);
  if (!chain.valid || !caId)
    throw new DomainError(
      'SIGN_PREMADE_CERT_UNTRUSTED',
      chain.valid ? 'not issued by a CA of this platform' : chain.errors.join('; '),
    );
  const issued = await deps.certificates?.get(caId, cert.serialNumber);
  const status = issued?.status ?? (await deps.status.status(caId, cert.serialNumber));
  if (status === 'revoked') throw new DomainError('SIGN_CERT_REVOKED');
  if (status === 'hold') throw new DomainError('SIGN_CERT_ON_HOLD');
  if (status !== 'good')
    throw new DomainError('SIGN_PREMADE_CERT_UNTRUSTED', 'the issuing CA does not know this certificate');
  // Issued to this signer: the CA's record says so, or (no employee number recorded) the subject's name.
  const owner = issued?.employeeNo;
  const cn = nameAttribute(cert.subject, 'CN');
  if (owner !== undefined ? owner !== signer.employeeNo : cn !== signer.name)
    throw new DomainError(
      'SIGN_PREMADE_SIGNER_MISMATCH',
      `the certificate (serial ${cert.serialNumber}) was not issued to signer ${signer.employeeNo}`,
    );

  const storeOriginal = req.storeOriginal ?? deps.storeOriginals ?? false;
  if (storeOriginal && !deps.originals)
    throw new DomainError('SIGN_ORIGINALS_UNAVAILABLE', 'this server has no cipher to seal originals');

  let signature = checked.signature;
  let token: Uint8Array | null = null;
  if (req.timestamp) {
    if (req.format === 'p1') token = await stamp(signature, deps.timeStamper!);
    else {
      token = await stamp(ParsedCms.parse(signature).signerInfos[0]!.signature, deps.timeStamper!);
      try {
        signature = addTimestampToken(signature, 0, token);
      } catch (e) {
        throw new DomainError(
          'SIGN_TIMESTAMP_UNAVAILABLE',
          `the time-stamp authority answered a token that does not fit: ${(e as Error).message}`,
          { cause: e },
        );
      }
    }
  }

  const hash = hashOf(cert);
  const record: SignatureRecord = {
    id: randomUUID(),
    appId: ctx.appId,
    signerId: signer.id,
    employeeNo: signer.employeeNo,
    caId,
    certSerial: cert.serialNumber,
    format: req.format,
    digestAlgorithm: hash,
    digest: bytesToHex(hashData(hash, checked.data)),
    signature,
    token,
    metadata: { departmentCode: signer.departmentCode, ...metadata },
    idempotencyKey: ctx.idempotency?.key ?? null,
    requestHash: ctx.idempotency?.requestHash ?? null,
    createdAt: deps.clock.now(),
    clientIp: ctx.clientIp ?? null,
    intent: { method: 'usbkey' },
  };
  const event: AuditEvent = {
    actor: `app:${ctx.appId}`,
    action: 'sign.signature',
    target: record.id,
    detail: {
      employeeNo: signer.employeeNo,
      format: req.format,
      digest: record.digest,
      intent: 'usbkey',
      certSerial: cert.serialNumber,
      ...(ctx.clientIp ? { clientIp: ctx.clientIp } : {}),
      ...(metadata.docType ? { docType: metadata.docType } : {}),
      ...(metadata.docId ? { docId: metadata.docId } : {}),
      timestamped: token !== null,
      ...(storeOriginal ? { originalStored: true } : {}),
    },
  };
  const original = storeOriginal ? await sealOriginal(record.id, checked.data, deps.originals!) : undefined;
  if (!(await deps.store.insertSignature(record, event, original))) {
    const prior = await deps.store.findSignatureByIdempotencyKey(ctx.appId, ctx.idempotency!.key);
    if (prior) return replayPremade(prior, ctx.idempotency!.requestHash, deps);
    throw new DomainError('SIGN_IDEMPOTENCY_CONFLICT');
  }
  return { record, certificate: cert, replayed: false };
}

async function replayPremade(
  prior: SignatureRecord,
  requestHash: string,
  deps: SigningDeps,
): Promise<SignResult> {
  if (prior.requestHash !== requestHash)
    throw new DomainError(
      'SIGN_IDEMPOTENCY_CONFLICT',
      'this Idempotency-Key was used with another request body',
    );
  return { record: prior, certificate: await recordCertificate(prior, deps), replayed: true };
}

/**
 * The certificate a record was made with: the signer's server-held certificate, or — a pre-made
 * signature's — the one the CA's records hold under the record's CA id and serial.
 */
export async function recordCertificate(
  record: SignatureRecord,
  deps: Pick<SigningDeps, 'store' | 'certificates'>,
): Promise<ParsedCertificate> {
  const signer = await deps.store.getSigner(record.signerId);
  if (signer && signer.caId === record.caId && signer.certSerial === record.certSerial)
    return ParsedCertificate.parse(signer.certificate);
  const issued = await deps.certificates?.get(record.caId, record.certSerial);
  if (issued) return ParsedCertificate.parse(issued.der);
  if (signer) return ParsedCertificate.parse(signer.certificate);
  throw new DomainError('SIGN_SIGNER_NOT_FOUND', `the signer of record ${record.id} is gone`);
}
