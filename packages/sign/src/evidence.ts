/**
 * The evidence of one signature record (电子签名法 §13), machine-readable: the four statements a court or
 * an inspector asks about, each with `ok` and the facts it rests on —
 *
 * - 真实身份 real identity: who the certificate names, that it chains to our root, which CA issued it,
 *   how the identity was reviewed (the signer's enrolment, the certificate application's approval, the
 *   issuance event), and its status at the signing time and now;
 * - 真实意愿 real intent: how the signer expressed it (PIN, a signing authorisation, a USB key), when,
 *   through which application and from which address, and the record's event in the hash-chained audit
 *   log — with the chain verified from its start up to that event;
 * - 签名未改 signature unaltered: the signature verifies now under the certificate;
 * - 原文未改 original unaltered: the digest of the stored original — or of one the caller supplies — is
 *   the signed digest (`ok: null` when neither is available);
 *
 * plus the time-stamp (time, TSA, serial, verification) and where to verify it online. Building it is
 * audited (`sign.evidence`); the stored original is opened for it but never returned.
 */

import { randomUUID } from 'node:crypto';
import { DomainError } from '@medsign/errors';
import { bytesToHex } from '@medsign/gm';
import {
  digest as hashData,
  ParsedCms,
  verifyCertificateChain,
  verifyCms,
  verifySignature,
  verifyTimeStampToken,
  type ParsedCertificate,
  type SignatureAlgorithmName,
  type TimeStampVerifyResult,
} from '@medsign/pki';
import { recordCertificate } from './premade.js';
import {
  decodeBase64,
  DEFAULT_MAX_DATA_BYTES,
  intentOfText,
  openOriginal,
  statusOf,
  type SigningDeps,
  type SigningTimeSource,
  type StatusAtSigning,
  type StatusNow,
  type VerifyDeps,
} from './signing.js';
import type {
  AppRecord,
  AuditChainReader,
  ChainedEvent,
  IdentityReviewSource,
  SignatureIntent,
  SignatureRecord,
  SignerRecord,
} from './ports.js';

/** What evidence is built from. */
export type EvidenceDeps = Pick<
  SigningDeps,
  'clock' | 'store' | 'audit' | 'originals' | 'certificates' | 'maxDataBytes'
> & {
  /** Our roots, issuing CAs and certificate status (the verifier's view). */
  verify: VerifyDeps;
  auditLog: AuditChainReader;
  identity?: IdentityReviewSource;
};

/** Options of buildEvidence. */
export type EvidenceOptions = {
  /** Who asks (audited): `app:<id>`, an operator. */
  actor: string;
  /** An original the caller holds, base64 (checked instead of the stored one). */
  data?: string;
  /** The public base URL for the verify-online link (none: the link is null, the id remains). */
  baseUrl?: string;
  /**
   * A summary for the public verify-online page: the audit chain is not walked (its cost grows with the log)
   * and a stored original is not opened — intent and original then read "not checked". Default false.
   */
  summary?: boolean;
};

type Fingerprinted = {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  keyAlgorithm: string;
  fingerprintSha256: string;
  fingerprintSm3: string;
};

type EventRef = { seq: number; hash: string; time: string; actor: string; action: string };

/** The machine-readable evidence of one signature (schema `medsign-evidence/v1`). */
export type Evidence = {
  schema: 'medsign-evidence/v1';
  reportId: string;
  generatedAt: string;
  signatureId: string;
  /** Every statement holds (原文未改 may be unchecked: null does not fail it) and the time-stamp verifies. */
  ok: boolean;
  record: {
    id: string;
    format: string;
    digestAlgorithm: string;
    digest: string;
    createdAt: string;
    metadata: SignatureRecord['metadata'];
  };
  identity: {
    statement: '真实身份';
    label: 'Real identity';
    ok: boolean;
    signer: { name: string; employeeNo: string; departmentCode: string } | null;
    certificate: Fingerprinted;
    chain: {
      ok: boolean;
      /** The chain is validated at the signing time. */
      at: string;
      path: { subject: string; serial: string }[];
      root: string | null;
      detail?: string;
    };
    issuingCa: { id: string; subject: string | null };
    review: {
      ok: boolean;
      method: 'certificate-application' | 'signer-enrolment' | 'issuance-record' | 'none';
      summary: string;
      application?: {
        id: string;
        profile: string;
        state: string;
        submittedBy: string;
        submittedAt: string;
        reviewedBy?: string;
        reviewedAt?: string;
      };
      enrolment?: EventRef;
      issuance?: EventRef;
    };
    statusAtSigning: StatusAtSigning;
    statusNow: StatusNow;
  };
  intent: {
    statement: '真实意愿';
    label: 'Real intent';
    ok: boolean;
    method: SignatureIntent['method'] | null;
    time: string;
    authorisation?: {
      id: string;
      grantedAt?: string;
      expiresAt?: string;
      apps?: string[];
      grantedVia?: string;
      /** The record's time lies within the grant. */
      inForce: boolean | null;
      /** The grant's own audit event (`signer.authorise`: the PIN was entered then). */
      grantEvent?: EventRef;
      /** Its revocation's, if it was revoked later (after the record, or the record would not exist). */
      revokeEvent?: EventRef;
    };
    /** The sign job this signature was made in: the intent was shown once for the job (its event). */
    job?: { id: string; authoriseEvent?: EventRef };
    application: { id: string; name: string | null; systemType: string | null };
    clientIp: string | null;
    audit: {
      ok: boolean;
      seq: number | null;
      hash: string | null;
      event?: EventRef;
      /** The event is this record's (target, action, digest) and its hash is the one in the record. */
      matches: boolean;
      /** The chain verifies from its first event up to this one. */
      chainVerified: boolean;
      checked: number;
      detail?: string;
    };
    detail?: string;
  };
  signatureIntact: {
    statement: '签名未改';
    label: 'Signature unaltered';
    ok: boolean | null;
    format: string;
    /** What the signature was checked over. */
    checkedOver: 'data' | 'signed-attributes' | null;
    detail?: string;
  };
  originalIntact: {
    statement: '原文未改';
    label: 'Original unaltered';
    ok: boolean | null;
    source: 'supplied' | 'stored' | 'embedded' | null;
    size?: number;
    digestAlgorithm: string;
    /** The digest the signature covers (P7: its messageDigest attribute; P1: the recorded digest). */
    signedDigest: string;
    /** The original's digest in the same algorithm. */
    digest?: string;
    sm3?: string;
    sha256?: string;
    detail?: string;
  };
  timestamp: {
    ok: boolean;
    time?: string;
    tsa?: string;
    serial?: string;
    policy?: string;
    detail?: string;
  } | null;
  verification: { id: string; url: string | null };
};

const P1_ALGORITHM: Record<string, SignatureAlgorithmName> = {
  sm2: 'SM3withSM2',
  rsa: 'SHA256withRSA',
  ec: 'SHA256withECDSA',
};

function describe(cert: ParsedCertificate): Fingerprinted {
  return {
    subject: cert.subjectText,
    issuer: cert.issuerText,
    serial: cert.serialNumber,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    keyAlgorithm: cert.publicKey.family,
    fingerprintSha256: cert.fingerprint('sha256'),
    fingerprintSm3: cert.fingerprint('sm3'),
  };
}

const eventRef = (e: ChainedEvent): EventRef => ({
  seq: e.seq,
  hash: e.hash,
  time: e.time,
  actor: e.actor,
  action: e.action,
});

/** The CMS messageDigest attribute (hex) of the first signer, when it is a plain OCTET STRING. */
function messageDigestOf(cms: ParsedCms): string | undefined {
  const attr = cms.signerInfos[0]?.signedAttributes?.find((a) => a.oid === '1.2.840.113549.1.9.4');
  const v = attr?.values[0];
  if (!v || v[0] !== 0x04 || v[1] !== v.length - 2) return undefined;
  return bytesToHex(v.subarray(2));
}

/** The intent of records made before evidence capture: their audit event words it (`pin`, `authorisation:<id>`…). */
function intentOf(record: SignatureRecord, event: ChainedEvent | undefined): SignatureIntent | null {
  return record.intent ?? intentOfText(event?.detail.intent);
}

/** Builds the evidence of signature record `id` (see the module comment). SIGN_SIGNATURE_NOT_FOUND if none. */
export async function buildEvidence(
  id: string,
  options: EvidenceOptions,
  deps: EvidenceDeps,
): Promise<Evidence> {
  const max = deps.maxDataBytes ?? DEFAULT_MAX_DATA_BYTES;
  let supplied: Uint8Array | undefined;
  if (options.data !== undefined) {
    if (typeof options.data === 'string' && options.data.length > Math.ceil(max / 3) * 4)
      throw new DomainError('SIGN_PAYLOAD_TOO_LARGE', `the data exceeds ${max} bytes`);
    supplied = decodeBase64(options.data, 'data');
  }
  const record = await deps.store.getSignature(id);
  if (!record) throw new DomainError('SIGN_SIGNATURE_NOT_FOUND', `no signature ${id}`);
  const now = deps.clock.now();
  const signer = await deps.store.getSigner(record.signerId);
  const cert = await recordCertificate(record, deps);
  const app = await deps.store.getApp(record.appId);

  // The original: supplied, else stored, else (p7-attached) embedded.
  let cms: ParsedCms | undefined;
  if (record.format !== 'p1') cms = ParsedCms.parse(record.signature);
  let original: { data: Uint8Array; source: 'supplied' | 'stored' | 'embedded' } | undefined;
  /** The stored original exists but does not open (its ciphertext or tag was changed, or it was moved). */
  let sealedBroken = false;
  if (supplied) original = { data: supplied, source: 'supplied' };
  else {
    const sealed = options.summary ? undefined : await deps.store.getOriginal(id);
    if (sealed && deps.originals) {
      try {
        original = { data: await openOriginal(id, sealed, deps.originals), source: 'stored' };
      } catch {
        sealedBroken = true;
      }
    } else if (cms?.content) original = { data: cms.content, source: 'embedded' };
  }

  // The time-stamp over the signature value.
  const value = cms ? cms.signerInfos[0]!.signature : record.signature;
  const ts: TimeStampVerifyResult | undefined = record.token
    ? verifyTimeStampToken(record.token, {
        data: value,
        anchors: deps.verify.anchors,
        certificates: deps.verify.intermediates,
      })
    : undefined;

  // 签名未改: the signature verifies over the original (or, detached without it, over its signed attributes).
  const signatureIntact = checkSignature(record, cert, cms, original?.data);
  const signingTime: { time: Date; source: SigningTimeSource } =
    ts?.valid && ts.genTime
      ? { time: ts.genTime, source: 'timestamp' }
      : signatureIntact.signingTime
        ? { time: signatureIntact.signingTime, source: 'signingTime' }
        : { time: record.createdAt, source: 'record' };

  const identity = await identityStatement(record, cert, signer, signingTime, deps);
  const intent = await intentStatement(record, app, deps, options.summary === true);
  const signedDigest = (cms && messageDigestOf(cms)) ?? record.digest;
  const originalIntact = sealedBroken
    ? {
        statement: '原文未改' as const,
        label: 'Original unaltered' as const,
        ok: false,
        source: 'stored' as const,
        digestAlgorithm: record.digestAlgorithm,
        signedDigest,
        detail:
          'the stored original does not open: its sealed bytes were changed or moved from another record',
      }
    : originalStatement(record, signedDigest, original);
  const timestamp = ts
    ? {
        ok: ts.valid,
        ...(ts.genTime ? { time: ts.genTime.toISOString() } : {}),
        ...(ts.tsaName
          ? { tsa: ts.tsaName }
          : ts.tsaCertificate
            ? { tsa: ts.tsaCertificate.subjectText }
            : {}),
        ...(ts.serial !== undefined ? { serial: ts.serial.toString(16) } : {}),
        ...(ts.policy ? { policy: ts.policy } : {}),
        ...(ts.valid ? {} : { detail: ts.errors.join('; ') }),
      }
    : null;

  const evidence: Evidence = {
    schema: 'medsign-evidence/v1',
    reportId: randomUUID(),
    generatedAt: now.toISOString(),
    signatureId: record.id,
    ok:
      identity.ok &&
      intent.ok &&
      signatureIntact.statement.ok === true &&
      originalIntact.ok !== false &&
      (timestamp?.ok ?? true),
    record: {
      id: record.id,
      format: record.format,
      digestAlgorithm: record.digestAlgorithm,
      digest: record.digest,
      createdAt: record.createdAt.toISOString(),
      metadata: record.metadata,
    },
    identity,
    intent,
    signatureIntact: signatureIntact.statement,
    originalIntact,
    timestamp,
    verification: {
      id: record.id,
      url: options.baseUrl
        ? `${options.baseUrl.replace(/\/+$/, '')}/verify/${encodeURIComponent(record.id)}`
        : null,
    },
  };
  await deps.audit.append({
    actor: options.actor,
    action: 'sign.evidence',
    target: record.id,
    detail: {
      reportId: evidence.reportId,
      ok: evidence.ok,
      original: sealedBroken ? 'stored-broken' : (original?.source ?? 'none'),
    },
  });
  return evidence;
}

function checkSignature(
  record: SignatureRecord,
  cert: ParsedCertificate,
  cms: ParsedCms | undefined,
  data: Uint8Array | undefined,
): { statement: Evidence['signatureIntact']; signingTime?: Date } {
  const base = { statement: '签名未改', label: 'Signature unaltered', format: record.format } as const;
  if (!cms) {
    if (!data)
      return {
        statement: {
          ...base,
          ok: null,
          checkedOver: null,
          detail: 'a P1 signature is verified over the data: no original is stored or supplied',
        },
      };
    const alg = P1_ALGORITHM[cert.publicKey.family]!;
    const ok = verifySignature(cert.publicKeyInfo, alg, data, record.signature);
    return {
      statement: {
        ...base,
        ok,
        checkedOver: 'data',
        detail: ok ? `${alg} verifies over the original` : `${alg} does not verify over this original`,
      },
    };
  }
  const r = verifyCms(cms, { ...(data ? { content: data } : {}), extraCertificates: [cert] });
  const s = r.signers[0];
  const signingTime = s?.signingTime;
  const byCert = s?.certificate?.fingerprint() === cert.fingerprint();
  if (data || cms.content) {
    const ok = r.valid && byCert;
    return {
      statement: {
        ...base,
        ok,
        checkedOver: 'data',
        detail: ok
          ? 'the CMS signature verifies over the original'
          : byCert
            ? r.errors.join('; ')
            : 'signed by another certificate than the record names',
      },
      ...(signingTime ? { signingTime } : {}),
    };
  }
  // Detached, no original: the signature over the signed attributes, whose messageDigest must be the record's.
  const sigOk = (s?.checks ?? []).some((c) => c.check === 'signature' && c.ok);
  const md = messageDigestOf(cms);
  const ok = sigOk && byCert && md === record.digest;
  return {
    statement: {
      ...base,
      ok,
      checkedOver: 'signed-attributes',
      detail: ok
        ? 'the CMS signature verifies over its signed attributes, whose messageDigest is the recorded digest'
        : !sigOk
          ? 'the CMS signature does not verify over its signed attributes'
          : !byCert
            ? 'signed by another certificate than the record names'
            : 'the messageDigest attribute is not the recorded digest',
    },
    ...(signingTime ? { signingTime } : {}),
  };
}

async function identityStatement(
  record: SignatureRecord,
  cert: ParsedCertificate,
  signer: SignerRecord | undefined,
  at: { time: Date; source: SigningTimeSource },
  deps: EvidenceDeps,
): Promise<Evidence['identity']> {
  const chain = verifyCertificateChain(cert, {
    anchors: deps.verify.anchors,
    intermediates: deps.verify.intermediates,
    at: at.time,
  });
  const statuses = await statusOf(cert, chain.path, deps.verify, at);
  const issuing = chain.path[1];

  // How the identity was reviewed: the certificate application's approval, the signer's enrolment (a
  // server-held key: an operator enrolled the signer and the CA issued at once), the issuance record.
  const application = await deps.identity?.applicationOf(record.caId, record.certSerial);
  const ownCert = signer !== undefined && signer.certSerial === record.certSerial;
  const enrolment = ownCert ? (await deps.auditLog.byTarget(signer.id, 'signer.enrol'))[0] : undefined;
  const issuance = (await deps.auditLog.byTarget(`${record.caId}/${record.certSerial}`, 'cert.issue'))[0];
  let review: Evidence['identity']['review'];
  const approved = application?.reviewedBy !== undefined && application.state === 'issued';
  const app = application && {
    id: application.id,
    profile: application.profile,
    state: application.state,
    submittedBy: application.submittedBy,
    submittedAt: application.submittedAt.toISOString(),
    ...(application.reviewedBy ? { reviewedBy: application.reviewedBy } : {}),
    ...(application.reviewedAt ? { reviewedAt: application.reviewedAt.toISOString() } : {}),
  };
  const refs = {
    ...(app ? { application: app } : {}),
    ...(enrolment ? { enrolment: eventRef(enrolment) } : {}),
    ...(issuance ? { issuance: eventRef(issuance) } : {}),
  };
  if (approved)
    review = {
      ok: true,
      method: 'certificate-application',
      summary: `certificate application ${application.id} submitted by ${application.submittedBy}, approved by ${application.reviewedBy}${application.reviewedAt ? ` at ${application.reviewedAt.toISOString()}` : ''}`,
      ...refs,
    };
  else if (enrolment)
    review = {
      ok: true,
      method: 'signer-enrolment',
      summary: `signer enrolled by ${enrolment.actor} at ${enrolment.time} (server-held key; audit event ${enrolment.seq})`,
      ...refs,
    };
  else if (issuance)
    review = {
      ok: true,
      method: 'issuance-record',
      summary: `certificate issued by ${issuance.actor} at ${issuance.time} (audit event ${issuance.seq})`,
      ...refs,
    };
  else review = { ok: false, method: 'none', summary: 'no record of how the identity was reviewed', ...refs };

  const ok = chain.valid && statuses.atSigning.ok && signer !== undefined && review.ok;
  return {
    statement: '真实身份',
    label: 'Real identity',
    ok,
    signer: signer
      ? { name: signer.name, employeeNo: signer.employeeNo, departmentCode: signer.departmentCode }
      : null,
    certificate: describe(cert),
    chain: {
      ok: chain.valid,
      at: at.time.toISOString(),
      path: chain.path.map((c) => ({ subject: c.subjectText, serial: c.serialNumber })),
      root: chain.path.at(-1)?.subjectText ?? null,
      ...(chain.valid ? {} : { detail: chain.errors.join('; ') }),
    },
    issuingCa: { id: record.caId, subject: issuing?.subjectText ?? null },
    review,
    statusAtSigning: statuses.atSigning,
    statusNow: statuses.now,
  };
}

async function intentStatement(
  record: SignatureRecord,
  app: AppRecord | undefined,
  deps: EvidenceDeps,
  summary = false,
): Promise<Evidence['intent']> {
  const events = await deps.auditLog.byTarget(record.id, 'sign.signature');
  const event = record.audit ? events.find((e) => e.seq === record.audit!.seq) : events[0];
  const position = record.audit ?? (event ? { seq: event.seq, hash: event.hash } : undefined);
  const matches =
    event !== undefined &&
    position !== undefined &&
    event.hash === position.hash &&
    event.target === record.id &&
    event.detail.digest === record.digest;
  let chainVerified = false;
  let checked = 0;
  let detail: string | undefined;
  if (position && summary) detail = 'the audit chain is not checked in a summary';
  else if (position) {
    const v = await deps.auditLog.verifyUpTo(position.seq);
    chainVerified = v.ok && v.checked >= position.seq;
    checked = v.checked;
    if (!v.ok) detail = `the audit chain breaks: ${v.firstBreak ?? 'unknown'}`;
  } else detail = 'no audit event of this record';
  if (position && !event) detail = `audit event ${position.seq} is missing`;
  else if (event && !matches) detail = 'the audit event does not match the record';

  const intent = intentOf(record, event);
  let authorisation: Evidence['intent']['authorisation'];
  let intentDetail: string | undefined;
  if (intent?.method === 'authorisation') {
    // Facts captured at signing time; for older records, the authorisation as stored now.
    const stored = intent.grantedAt ? undefined : await deps.store.getAuthorisation(intent.authorisationId);
    const grantedAt = intent.grantedAt ?? stored?.createdAt.toISOString();
    const expiresAt = intent.expiresAt ?? stored?.expiresAt.toISOString();
    const t = record.createdAt.toISOString();
    const inForce = grantedAt && expiresAt ? grantedAt <= t && t <= expiresAt : null;
    const grantEvent = (await deps.auditLog.byTarget(intent.authorisationId, 'signer.authorise'))[0];
    const revokeEvent = (
      await deps.auditLog.byTarget(intent.authorisationId, 'signer.authorisation-revoke')
    )[0];
    authorisation = {
      id: intent.authorisationId,
      ...(grantedAt ? { grantedAt } : {}),
      ...(expiresAt ? { expiresAt } : {}),
      ...(intent.apps ? { apps: intent.apps } : stored ? { apps: stored.appIds } : {}),
      ...(intent.grantedVia
        ? { grantedVia: intent.grantedVia }
        : stored
          ? { grantedVia: stored.grantedVia }
          : {}),
      inForce,
      ...(grantEvent ? { grantEvent: eventRef(grantEvent) } : {}),
      ...(revokeEvent ? { revokeEvent: eventRef(revokeEvent) } : {}),
    };
    if (inForce === false) intentDetail = 'signed outside the authorisation’s time';
  }
  if (!intent) intentDetail = 'the intent was not recorded';
  let job: Evidence['intent']['job'];
  if (intent && 'job' in intent && intent.job) {
    const authorised = (await deps.auditLog.byTarget(intent.job, 'sign.job-authorise'))[0];
    job = { id: intent.job, ...(authorised ? { authoriseEvent: eventRef(authorised) } : {}) };
  }
  const auditOk = matches && chainVerified;
  return {
    statement: '真实意愿',
    label: 'Real intent',
    ok: intent !== null && auditOk && authorisation?.inForce !== false,
    method: intent?.method ?? null,
    time: record.createdAt.toISOString(),
    ...(authorisation ? { authorisation } : {}),
    ...(job ? { job } : {}),
    application: { id: record.appId, name: app?.name ?? null, systemType: app?.systemType ?? null },
    clientIp: record.clientIp ?? null,
    audit: {
      ok: auditOk,
      seq: position?.seq ?? null,
      hash: position?.hash ?? null,
      ...(event ? { event: eventRef(event) } : {}),
      matches,
      chainVerified,
      checked,
      ...(detail ? { detail } : {}),
    },
    ...(intentDetail ? { detail: intentDetail } : {}),
  };
}

function originalStatement(
  record: SignatureRecord,
  signedDigest: string,
  original: { data: Uint8Array; source: 'supplied' | 'stored' | 'embedded' } | undefined,
): Evidence['originalIntact'] {
  const base = {
    statement: '原文未改',
    label: 'Original unaltered',
    digestAlgorithm: record.digestAlgorithm,
    signedDigest,
  } as const;
  if (!original)
    return {
      ...base,
      ok: null,
      source: null,
      detail: 'not checked: no original is stored, and none was supplied',
    };
  const digest = bytesToHex(hashData(record.digestAlgorithm, original.data));
  const ok = digest === signedDigest && signedDigest === record.digest;
  return {
    ...base,
    ok,
    source: original.source,
    size: original.data.length,
    digest,
    sm3: bytesToHex(hashData('sm3', original.data)),
    sha256: bytesToHex(hashData('sha256', original.data)),
    ...(ok
      ? {}
      : {
          detail:
            signedDigest !== record.digest
              ? 'the signature covers another digest than the record'
              : `the ${original.source} original's ${record.digestAlgorithm} digest is not the signed digest`,
        }),
  };
}
