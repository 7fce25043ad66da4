/**
 * Sign jobs (批量签名任务): many documents, keyed by the hospital system's business ids, signed for one signer
 * under one authorisation — the PIN in the request, a live time-boxed signing authorisation, or a later
 * `authorise` with the PIN. Every document is checked before anything is stored or signed (a malformed one
 * rejects the whole job, naming its index and business id), then each is signed through `signDocument` —
 * the same checks, record and audit event as a single signature — with the job's intent, checked once.
 *
 * States: awaiting-authorisation → signing → completed | completed-with-errors; awaiting-authorisation →
 * expired (after `limits.expiryMinutes`) | cancelled. A document that fails (certificate revoked mid-job,
 * key locked, TSA down) is recorded with its error code and the others go on. Each document's signature
 * carries the Idempotency-Key `job:<job id>:<business id>` and a hash of its request, so running a job
 * again (after a restart, or by a second process) answers the records already made instead of signing twice.
 *
 * The documents' data waits sealed (SecretBox, bound to the job and document) and is dropped as soon as the
 * document is signed or failed, or the job ends otherwise. On reaching a terminal state a job with a
 * callback URL gets a webhook (webhook.ts signs it) delivered with bounded exponential back-off; each
 * attempt is recorded, the final outcome audited.
 */

import { randomUUID } from 'node:crypto';
import { DomainError } from '@medsign/errors';
import { bytesToHex, sm3 } from '@medsign/gm';
import { ParsedCertificate } from '@medsign/pki';
import { usableAuthorisation } from './authorisations.js';
import {
  SIGNATURE_FORMATS,
  type AuditEvent,
  type DigestAlgorithm,
  type SecretBox,
  type SignatureFormat,
  type SignatureMetadata,
} from './ports.js';
import { checkSignerPin, findSigner } from './signers.js';
import { checkSignRequest, signDocument, type SigningDeps, type SignRequest } from './signing.js';
import { signWebhook, WEBHOOK_HEADERS } from './webhook.js';

export const SIGN_JOB_STATES = [
  'awaiting-authorisation',
  'signing',
  'completed',
  'completed-with-errors',
  'expired',
  'cancelled',
] as const;
export type SignJobState = (typeof SIGN_JOB_STATES)[number];
/** States a job never leaves. */
export const TERMINAL_JOB_STATES: readonly SignJobState[] = [
  'completed',
  'completed-with-errors',
  'expired',
  'cancelled',
];

export type SignJobDocumentState = 'pending' | 'signed' | 'failed';
export type WebhookState = 'none' | 'pending' | 'delivered' | 'failed';

/** The configurable limits and timings (`sign:` in the server configuration). */
export type SignJobLimits = {
  /** Documents per job. */
  maxDocuments: number;
  /** Total bytes to sign per job (decoded data; a digest counts its own length). */
  maxBytes: number;
  /** How long a job waits for its authorisation before it expires, minutes. */
  expiryMinutes: number;
  /** Webhook delivery attempts in all (the first and the retries). */
  webhookMaxAttempts: number;
  /** Wait before the first retry, seconds; doubled for each further retry (capped at an hour). */
  webhookRetrySeconds: number;
  /** Timeout of one delivery attempt, seconds. */
  webhookTimeoutSeconds: number;
};

export const DEFAULT_SIGN_JOB_LIMITS: SignJobLimits = {
  maxDocuments: 1000,
  maxBytes: 64 * 1024 * 1024,
  expiryMinutes: 60,
  webhookMaxAttempts: 6,
  webhookRetrySeconds: 30,
  webhookTimeoutSeconds: 10,
};

/** One document of a job request: a business id, the data (base64) or its digest, and its own metadata. */
export type SignJobDocumentInput = {
  businessId: string;
  data?: string;
  digest?: string;
  digestAlgorithm?: DigestAlgorithm;
} & SignatureMetadata;

/** A job as the API receives it. */
export type SignJobRequest = {
  /** The signer's employee number. */
  signer: string;
  /** Signs at once when given (checked and counted like any PIN). */
  pin?: string;
  format?: SignatureFormat;
  oids?: 'rfc5652' | 'gm';
  timestamp?: boolean;
  /** Metadata common to every document (a document's own fields take precedence). */
  metadata?: SignatureMetadata;
  documents: SignJobDocumentInput[];
  /** http(s) URL that gets a webhook when the job ends. */
  callbackUrl?: string;
};

/** A stored job. */
export type SignJobRecord = {
  id: string;
  appId: string;
  signerId: string;
  employeeNo: string;
  state: SignJobState;
  format: SignatureFormat;
  oids: 'rfc5652' | 'gm';
  timestamp: boolean;
  metadata: SignatureMetadata;
  callbackUrl: string | null;
  /** How the signer's intent was shown: `pin`, `authorisation:<id>`; null while awaiting it. */
  intent: string | null;
  /** The address of the request that showed the intent (create or authorise); each record carries it. */
  clientIp: string | null;
  documentCount: number;
  totalBytes: number;
  idempotencyKey: string | null;
  requestHash: string | null;
  createdAt: Date;
  updatedAt: Date;
  /** The deadline for the authorisation. */
  expiresAt: Date;
  authorisedAt: Date | null;
  completedAt: Date | null;
  webhookState: WebhookState;
  /** One id per delivery (the same on every retry), set when the job ends. */
  webhookDeliveryId: string | null;
  webhookAttempts: number;
  /** When the next attempt is due (while pending). */
  webhookNextAt: Date | null;
};

/** A stored document of a job. */
export type SignJobDocumentRecord = {
  jobId: string;
  /** Position in the request (0-based). */
  seq: number;
  businessId: string;
  /** The sealed request of this document; null once it is signed or failed. */
  payload: Uint8Array | null;
  state: SignJobDocumentState;
  signatureId: string | null;
  errorCode: string | null;
  errorDetail: string | null;
  updatedAt: Date;
};

export type SignJobCounts = { pending: number; signed: number; failed: number };

/** Fields a state change may set. */
export type SignJobPatch = Partial<
  Pick<
    SignJobRecord,
    | 'state'
    | 'intent'
    | 'clientIp'
    | 'authorisedAt'
    | 'completedAt'
    | 'webhookState'
    | 'webhookDeliveryId'
    | 'webhookAttempts'
    | 'webhookNextAt'
  >
> & { updatedAt: Date };

/** One webhook delivery attempt. */
export type WebhookAttempt = {
  jobId: string;
  attempt: number;
  deliveryId: string;
  at: Date;
  /** The HTTP status answered, or null when there was no answer (`error` says why). */
  status: number | null;
  error: string | null;
  durationMs: number;
};

/** What sign jobs need from storage. */
export interface SignJobStore {
  /**
   * Writes the job, its documents and the audit events in one transaction: all or nothing. False when
   * (appId, idempotencyKey) is taken; nothing is written then.
   */
  insertJob(job: SignJobRecord, documents: SignJobDocumentRecord[], events: AuditEvent[]): Promise<boolean>;
  getJob(id: string): Promise<SignJobRecord | undefined>;
  findJobByIdempotencyKey(appId: string, key: string): Promise<SignJobRecord | undefined>;
  /**
   * Applies `patch` if the job is in one of `from`, with the events, in one transaction; false (and nothing
   * written) when it is not — so of two processes changing the same job, exactly one wins.
   */
  updateJob(
    id: string,
    from: readonly SignJobState[],
    patch: SignJobPatch,
    events: AuditEvent[],
  ): Promise<boolean>;
  /**
   * Ids of jobs in `state`, oldest first; `expiresBefore`: only those whose `expiresAt` is at or before it;
   * `updatedBefore`: only those not updated since (a job being signed is touched after every round).
   */
  jobIdsInState(
    state: SignJobState,
    limit: number,
    filter?: { expiresBefore?: Date; updatedBefore?: Date },
  ): Promise<string[]>;
  /** Pending documents in order, with their payloads. */
  pendingDocuments(jobId: string, limit: number): Promise<SignJobDocumentRecord[]>;
  /** Records a pending document's outcome and drops its payload; false when it was no longer pending. */
  finishDocument(
    jobId: string,
    seq: number,
    outcome:
      { state: 'signed'; signatureId: string } | { state: 'failed'; errorCode: string; errorDetail: string },
    now: Date,
  ): Promise<boolean>;
  /** Drops the payloads of a job's pending documents (the job ended without signing them). */
  dropPayloads(jobId: string): Promise<void>;
  countDocuments(jobId: string): Promise<SignJobCounts>;
  /** Documents in order without payloads; `state` filters. */
  listDocuments(
    jobId: string,
    page: { offset: number; limit: number; state?: SignJobDocumentState },
  ): Promise<{ total: number; items: SignJobDocumentRecord[] }>;
  /** Ids of jobs whose webhook is pending and due at `now`. */
  dueWebhooks(now: Date, limit: number): Promise<string[]>;
  /**
   * Takes a pending, due (`webhookNextAt` ≤ `now`) delivery for one attempt: moves `webhookNextAt` to
   * `leaseUntil` if the attempts are still `attempts` — false when another process took it first.
   */
  claimWebhook(jobId: string, attempts: number, now: Date, leaseUntil: Date): Promise<boolean>;
  /** Records an attempt and the webhook's new state (and the events) in one transaction. */
  recordWebhookAttempt(
    attempt: WebhookAttempt,
    patch: Pick<SignJobPatch, 'webhookState' | 'webhookAttempts' | 'webhookNextAt' | 'updatedAt'>,
    events: AuditEvent[],
  ): Promise<void>;
  listWebhookAttempts(jobId: string): Promise<WebhookAttempt[]>;
}

/** Posts a webhook; resolves with the HTTP status, rejects when there is no answer (refused, timeout). */
export interface WebhookTransport {
  post(
    url: string,
    headers: Record<string, string>,
    body: string,
    timeoutMs: number,
  ): Promise<{ status: number }>;
}

export type SignJobDeps = SigningDeps & {
  jobs: SignJobStore;
  /** Seals the documents' data while they wait (context: `<job id>/<seq>`). */
  payloads: SecretBox;
  limits: SignJobLimits;
  /** The secret webhooks to this application are signed with (its API secret). */
  webhookSecret(appId: string): Promise<string>;
  webhooks?: WebhookTransport;
  /** Told about unexpected (non-domain) errors, for the log; never given to clients. */
  onUnexpectedError?: (error: unknown, context: { jobId: string; businessId?: string }) => void;
};

const jobInvalid = (detail: string) => new DomainError('SIGN_JOB_INVALID', detail);
const utf8 = new TextEncoder();
const MAX_CALLBACK_URL = 2048;

/** The Idempotency-Key of the signature record a job makes for one document. */
export function jobDocumentKey(jobId: string, businessId: string): string {
  return `job:${jobId}:${businessId}`;
}

/** Checks a callback URL: absolute http/https, no credentials, at most 2048 characters. */
export function checkCallbackUrl(text: unknown): string {
  if (typeof text !== 'string' || text.length > MAX_CALLBACK_URL)
    throw jobInvalid(`callbackUrl must be an http or https URL of at most ${MAX_CALLBACK_URL} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw jobInvalid('callbackUrl is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw jobInvalid('callbackUrl must be http or https');
  if (url.username || url.password) throw jobInvalid('callbackUrl must not carry credentials');
  return url.toString();
}

const METADATA_KEYS = ['system', 'docType', 'docId', 'departmentCode', 'visitRef'] as const;

/** The document's own request (what is sealed while it waits); key order fixed, so its hash is stable. */
type DocumentPayload = {
  data?: string;
  digest?: string;
  digestAlgorithm?: DigestAlgorithm;
  metadata: SignatureMetadata;
};

function payloadOf(doc: SignJobDocumentInput, common: SignatureMetadata | undefined): DocumentPayload {
  const metadata: SignatureMetadata = {};
  for (const k of METADATA_KEYS) {
    const v = doc[k] ?? common?.[k];
    if (v !== undefined) metadata[k] = v;
  }
  return {
    ...(doc.data !== undefined ? { data: doc.data } : {}),
    ...(doc.digest !== undefined ? { digest: doc.digest } : {}),
    ...(doc.digestAlgorithm !== undefined ? { digestAlgorithm: doc.digestAlgorithm } : {}),
    metadata,
  };
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function checkBusinessId(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= 128 && !CONTROL.test(value);
}

function replayJob(prior: SignJobRecord, requestHash: string): { job: SignJobRecord; replayed: true } {
  if (prior.requestHash !== requestHash)
    throw new DomainError(
      'SIGN_IDEMPOTENCY_CONFLICT',
      'this Idempotency-Key was used with another request body',
    );
  return { job: prior, replayed: true };
}

function webhookFields(
  job: SignJobRecord,
  now: Date,
): Pick<SignJobPatch, 'webhookState' | 'webhookDeliveryId' | 'webhookNextAt'> {
  return job.callbackUrl
    ? { webhookState: 'pending', webhookDeliveryId: randomUUID(), webhookNextAt: now }
    : {};
}

/**
 * Creates a job (see the module comment). With a PIN (checked now, counted toward the lockout) or a live
 * signing authorisation for `appId` the job is `signing` at once — the caller then runs it — else it
 * awaits authorisation until `expiresAt`. Audited `sign.job-create` (and `sign.job-authorise`).
 */
export async function createSignJob(
  req: SignJobRequest,
  ctx: { appId: string; idempotency?: { key: string; requestHash: string }; clientIp?: string },
  deps: SignJobDeps,
): Promise<{ job: SignJobRecord; replayed: boolean }> {
  if (ctx.idempotency) {
    const prior = await deps.jobs.findJobByIdempotencyKey(ctx.appId, ctx.idempotency.key);
    if (prior) return replayJob(prior, ctx.idempotency.requestHash);
  }
  const limits = deps.limits;
  const documents = req.documents;
  if (!Array.isArray(documents) || documents.length === 0) throw jobInvalid('give at least one document');
  if (documents.length > limits.maxDocuments)
    throw new DomainError(
      'SIGN_JOB_TOO_LARGE',
      `${documents.length} documents: a job holds at most ${limits.maxDocuments} (sign.maxJobDocuments)`,
    );
  const format = req.format ?? 'p7-detached';
  const oids = req.oids ?? 'rfc5652';
  const timestamp = req.timestamp === true;
  if (!(SIGNATURE_FORMATS as readonly string[]).includes(format))
    throw new DomainError('SIGN_DATA_INVALID', `format must be one of ${SIGNATURE_FORMATS.join(', ')}`);
  if (oids !== 'rfc5652' && oids !== 'gm')
    throw new DomainError('SIGN_DATA_INVALID', 'oids must be rfc5652 or gm');
  if (oids === 'gm' && format === 'p1')
    throw new DomainError('SIGN_DATA_INVALID', 'oids apply to p7 formats only');
  const callbackUrl = req.callbackUrl === undefined ? null : checkCallbackUrl(req.callbackUrl);

  // Every document is checked before anything is stored, PIN-checked or signed.
  const seen = new Set<string>();
  const payloads: { businessId: string; payload: DocumentPayload }[] = [];
  let totalBytes = 0;
  for (let i = 0; i < documents.length; i++) {
    const d = documents[i] as unknown;
    const bid = (d as { businessId?: unknown } | null)?.businessId;
    const where = `documents[${i}]${checkBusinessId(bid) ? ` (businessId ${bid})` : ''}`;
    if (typeof d !== 'object' || d === null || Array.isArray(d)) throw jobInvalid(`${where}: not an object`);
    if (!checkBusinessId(bid))
      throw jobInvalid(`${where}: businessId must be 1–128 characters without control characters`);
    if (seen.has(bid)) throw jobInvalid(`${where}: businessId ${bid} appears more than once in the job`);
    seen.add(bid);
    const payload = payloadOf(d as SignJobDocumentInput, req.metadata);
    try {
      totalBytes += checkSignRequest({ signer: req.signer, format, oids, timestamp, ...payload }, deps).bytes;
    } catch (e) {
      if (e instanceof DomainError) throw new DomainError(e.code, `${where}: ${e.detail}`, { cause: e });
      throw e;
    }
    if (totalBytes > limits.maxBytes)
      throw new DomainError(
        'SIGN_JOB_TOO_LARGE',
        `the documents' data exceeds ${limits.maxBytes} bytes (sign.maxJobBytes) at ${where}`,
      );
    payloads.push({ businessId: bid, payload });
  }
  if (timestamp && !deps.timeStamper)
    throw new DomainError('SIGN_TIMESTAMP_UNAVAILABLE', 'no time-stamp authority is configured for signing');

  const signer = await findSigner(req.signer, deps.store);
  if (signer.locked) throw new DomainError('SIGN_SIGNER_LOCKED');
  const family = ParsedCertificate.parse(signer.certificate).publicKey.family;
  const hash: DigestAlgorithm = family === 'sm2' ? 'sm3' : 'sha256';
  if (oids === 'gm' && family !== 'sm2')
    throw new DomainError('SIGN_DATA_INVALID', 'GM/T 0010 object identifiers need an SM2 signer');
  payloads.forEach(({ businessId, payload }, i) => {
    if (payload.digest !== undefined && (payload.digestAlgorithm ?? 'sm3') !== hash)
      throw new DomainError(
        'SIGN_DATA_INVALID',
        `documents[${i}] (businessId ${businessId}): this signer's ${family} key signs ${hash} digests`,
      );
  });

  const actor = `app:${ctx.appId}`;
  let intent: string | null = null;
  if (req.pin !== undefined) {
    await checkSignerPin(signer, req.pin, actor, deps);
    intent = 'pin';
  } else {
    try {
      intent = `authorisation:${(await usableAuthorisation(signer, ctx.appId, deps)).id}`;
    } catch (e) {
      if (
        !(e instanceof DomainError) ||
        (e.code !== 'SIGN_INTENT_REQUIRED' && e.code !== 'SIGN_AUTHORISATION_EXPIRED')
      )
        throw e;
    }
  }

  const now = deps.clock.now();
  const id = randomUUID();
  const job: SignJobRecord = {
    id,
    appId: ctx.appId,
    signerId: signer.id,
    employeeNo: signer.employeeNo,
    state: intent ? 'signing' : 'awaiting-authorisation',
    format,
    oids,
    timestamp,
    metadata: req.metadata ?? {},
    callbackUrl,
    intent,
    clientIp: intent ? (ctx.clientIp ?? null) : null,
    documentCount: payloads.length,
    totalBytes,
    idempotencyKey: ctx.idempotency?.key ?? null,
    requestHash: ctx.idempotency?.requestHash ?? null,
    createdAt: now,
    updatedAt: now,
    expiresAt: new Date(now.getTime() + limits.expiryMinutes * 60_000),
    authorisedAt: intent ? now : null,
    completedAt: null,
    webhookState: 'none',
    webhookDeliveryId: null,
    webhookAttempts: 0,
    webhookNextAt: null,
  };
  const docs: SignJobDocumentRecord[] = [];
  for (const [seq, { businessId, payload }] of payloads.entries())
    docs.push({
      jobId: id,
      seq,
      businessId,
      payload: await deps.payloads.seal(utf8.encode(JSON.stringify(payload)), `${id}/${seq}`),
      state: 'pending',
      signatureId: null,
      errorCode: null,
      errorDetail: null,
      updatedAt: now,
    });
  const events: AuditEvent[] = [
    {
      actor,
      action: 'sign.job-create',
      target: id,
      detail: {
        employeeNo: signer.employeeNo,
        documents: docs.length,
        bytes: totalBytes,
        format,
        state: job.state,
        callback: callbackUrl !== null,
      },
    },
  ];
  if (intent) events.push(authoriseEvent(actor, job, intent));
  if (!(await deps.jobs.insertJob(job, docs, events))) {
    const prior = await deps.jobs.findJobByIdempotencyKey(ctx.appId, ctx.idempotency!.key);
    if (prior) return replayJob(prior, ctx.idempotency!.requestHash);
    throw new DomainError('SIGN_IDEMPOTENCY_CONFLICT');
  }
  return { job, replayed: false };
}

function authoriseEvent(actor: string, job: SignJobRecord, intent: string): AuditEvent {
  const [method, authorisation] = intent.split(':');
  return {
    actor,
    action: 'sign.job-authorise',
    target: job.id,
    detail: {
      employeeNo: job.employeeNo,
      method: method!,
      ...(authorisation ? { authorisation } : {}),
      documents: job.documentCount,
    },
  };
}

/** The job if it belongs to `appId` (SIGN_JOB_NOT_FOUND otherwise), expired first if its time is up. */
export async function getSignJob(id: string, appId: string, deps: SignJobDeps): Promise<SignJobRecord> {
  const job = typeof id === 'string' && id.length <= 64 ? await deps.jobs.getJob(id) : undefined;
  if (!job || job.appId !== appId) throw new DomainError('SIGN_JOB_NOT_FOUND', `no sign job ${id}`);
  if (job.state === 'awaiting-authorisation' && deps.clock.now() >= job.expiresAt) {
    await expireSignJob(job, deps);
    return (await deps.jobs.getJob(id))!;
  }
  return job;
}

async function expireSignJob(job: SignJobRecord, deps: SignJobDeps): Promise<boolean> {
  const now = deps.clock.now();
  const done = await deps.jobs.updateJob(
    job.id,
    ['awaiting-authorisation'],
    { state: 'expired', completedAt: now, updatedAt: now, ...webhookFields(job, now) },
    [
      {
        actor: 'system:sign-jobs',
        action: 'sign.job-expire',
        target: job.id,
        detail: { employeeNo: job.employeeNo, documents: job.documentCount },
      },
    ],
  );
  if (done) await deps.jobs.dropPayloads(job.id);
  return done;
}

/** Expires the jobs whose authorisation deadline has passed; returns their ids (for their webhooks). */
export async function expireSignJobs(deps: SignJobDeps, limit = 100): Promise<string[]> {
  const ids = await deps.jobs.jobIdsInState('awaiting-authorisation', limit, {
    expiresBefore: deps.clock.now(),
  });
  const out: string[] = [];
  for (const id of ids) {
    const job = await deps.jobs.getJob(id);
    if (job && (await expireSignJob(job, deps))) out.push(id);
  }
  return out;
}

/**
 * Authorises a job awaiting it: with the signer's PIN (a wrong one counts toward the lockout like any PIN
 * check), or without one under a live signing authorisation for this application. Then the job is
 * `signing` and the caller runs it. Audited `sign.job-authorise` with the method.
 */
export async function authoriseSignJob(
  id: string,
  pin: string | undefined,
  appId: string,
  deps: SignJobDeps,
  clientIp?: string,
): Promise<SignJobRecord> {
  const job = await getSignJob(id, appId, deps);
  if (job.state === 'expired') throw new DomainError('SIGN_JOB_EXPIRED');
  if (job.state !== 'awaiting-authorisation')
    throw new DomainError('SIGN_JOB_STATE', `the job is ${job.state}, not awaiting authorisation`);
  const signer = await deps.store.getSigner(job.signerId);
  if (!signer) throw new DomainError('SIGN_SIGNER_NOT_FOUND');
  const actor = `app:${appId}`;
  let intent: string;
  if (pin !== undefined) {
    await checkSignerPin(signer, pin, actor, deps);
    intent = 'pin';
  } else {
    if (signer.locked) throw new DomainError('SIGN_SIGNER_LOCKED');
    intent = `authorisation:${(await usableAuthorisation(signer, appId, deps)).id}`;
  }
  const now = deps.clock.now();
  const ok = await deps.jobs.updateJob(
    id,
    ['awaiting-authorisation'],
    { state: 'signing', intent, authorisedAt: now, updatedAt: now, clientIp: clientIp ?? null },
    [authoriseEvent(actor, job, intent)],
  );
  const after = (await deps.jobs.getJob(id))!;
  if (!ok) throw new DomainError('SIGN_JOB_STATE', `the job is ${after.state}, not awaiting authorisation`);
  return after;
}

/** Cancels a job before signing starts (awaiting authorisation); audited `sign.job-cancel`. */
export async function cancelSignJob(id: string, appId: string, deps: SignJobDeps): Promise<SignJobRecord> {
  const job = await getSignJob(id, appId, deps);
  if (job.state === 'cancelled') return job;
  const now = deps.clock.now();
  const ok =
    job.state === 'awaiting-authorisation' &&
    (await deps.jobs.updateJob(
      id,
      ['awaiting-authorisation'],
      { state: 'cancelled', completedAt: now, updatedAt: now, ...webhookFields(job, now) },
      [
        {
          actor: `app:${appId}`,
          action: 'sign.job-cancel',
          target: id,
          detail: { employeeNo: job.employeeNo, documents: job.documentCount },
        },
      ],
    ));
  const after = (await deps.jobs.getJob(id))!;
  if (!ok)
    throw new DomainError(
      'SIGN_JOB_STATE',
      `the job is ${after.state}: only a job awaiting authorisation can be cancelled`,
    );
  await deps.jobs.dropPayloads(id);
  return after;
}

/**
 * A job in `signing` that no server has touched for this long is resumed by any server's sweep (its server
 * stopped or died); runSignJob touches a job after every round of documents.
 */
export const SIGN_JOB_STALE_MS = 120_000;

/** Ids of `signing` jobs nobody has worked on for {@link SIGN_JOB_STALE_MS}. */
export async function staleSignJobs(deps: SignJobDeps, limit = 100): Promise<string[]> {
  return deps.jobs.jobIdsInState('signing', limit, {
    updatedBefore: new Date(deps.clock.now().getTime() - SIGN_JOB_STALE_MS),
  });
}

/** How `runSignJob` shares the signing capacity with everything else. */
export type SignJobRunOptions = {
  /** Runs one document's signature when capacity allows (a semaphore shared by every job). */
  limit<T>(fn: () => Promise<T>): Promise<T>;
  /** True when the server is stopping: the job stops between documents and stays `signing`. */
  stopping?(): boolean;
  /** Documents read per round (default 32). */
  batch?: number;
};

/**
 * Signs a `signing` job's pending documents and ends it (completed / completed-with-errors, audited
 * `sign.job-complete`, webhook scheduled). Safe to run again or concurrently: see the module comment.
 * Returns the job as it is afterwards.
 */
export async function runSignJob(
  id: string,
  deps: SignJobDeps,
  opts: SignJobRunOptions,
): Promise<SignJobRecord | undefined> {
  const job = await deps.jobs.getJob(id);
  if (!job || job.state !== 'signing' || !job.intent) return job;
  for (;;) {
    if (opts.stopping?.()) return job;
    const pending = await deps.jobs.pendingDocuments(id, opts.batch ?? 32);
    if (pending.length === 0) break;
    await Promise.all(
      pending.map((d) => opts.limit(async () => (opts.stopping?.() ? undefined : signOne(job, d, deps)))),
    );
    // A heartbeat: a job not touched for a while is taken over by another server (see SIGN_JOB_STALE_MS).
    const now = deps.clock.now();
    await deps.jobs.updateJob(id, ['signing'], { updatedAt: now }, []);
  }
  const counts = await deps.jobs.countDocuments(id);
  if (counts.pending > 0) return deps.jobs.getJob(id);
  const now = deps.clock.now();
  const state: SignJobState = counts.failed > 0 ? 'completed-with-errors' : 'completed';
  await deps.jobs.updateJob(
    id,
    ['signing'],
    { state, completedAt: now, updatedAt: now, ...webhookFields(job, now) },
    [
      {
        actor: 'system:sign-jobs',
        action: 'sign.job-complete',
        target: id,
        detail: { employeeNo: job.employeeNo, state, signed: counts.signed, failed: counts.failed },
      },
    ],
  );
  return deps.jobs.getJob(id);
}

async function signOne(job: SignJobRecord, d: SignJobDocumentRecord, deps: SignJobDeps): Promise<void> {
  let outcome: Parameters<SignJobStore['finishDocument']>[2];
  try {
    if (!d.payload) throw new DomainError('SIGN_JOB_DOCUMENT_FAILED', 'the document data is gone');
    const text = new TextDecoder().decode(await deps.payloads.open(d.payload, `${job.id}/${d.seq}`));
    const payload = JSON.parse(text) as DocumentPayload;
    const req: SignRequest = {
      signer: job.employeeNo,
      format: job.format,
      oids: job.oids,
      timestamp: job.timestamp,
      ...payload,
    };
    // The hash covers everything that decides the signature: the same job document always hashes alike.
    const requestHash = bytesToHex(
      sm3(JSON.stringify([job.employeeNo, job.format, job.oids, job.timestamp, text])),
    );
    const r = await signDocument(
      req,
      {
        appId: job.appId,
        idempotency: { key: jobDocumentKey(job.id, d.businessId), requestHash },
        authorised: { intent: `job:${job.id}/${job.intent}` },
        job: { id: job.id, businessId: d.businessId },
        ...(job.clientIp ? { clientIp: job.clientIp } : {}),
      },
      deps,
    );
    outcome = { state: 'signed', signatureId: r.record.id };
  } catch (e) {
    if (e instanceof DomainError) outcome = { state: 'failed', errorCode: e.code, errorDetail: e.detail };
    else {
      deps.onUnexpectedError?.(e, { jobId: job.id, businessId: d.businessId });
      const code = 'SIGN_JOB_DOCUMENT_FAILED';
      outcome = { state: 'failed', errorCode: code, errorDetail: new DomainError(code).detail };
    }
  }
  await deps.jobs.finishDocument(job.id, d.seq, outcome, deps.clock.now());
}

/** The JSON body of a job's webhook. */
export type SignJobWebhookBody = {
  type: 'sign-job.finished';
  deliveryId: string;
  job: {
    id: string;
    state: SignJobState;
    signer: string;
    documents: number;
    signed: number;
    failed: number;
    createdAt: string;
    completedAt: string | null;
  };
};

/** Wait before retry `attempt` (1 = the first retry): retrySeconds × 2^(attempt−1), at most an hour. */
export function webhookBackoffMs(attempt: number, retrySeconds: number): number {
  return Math.min(3_600_000, retrySeconds * 1000 * 2 ** Math.max(0, attempt - 1));
}

/**
 * Makes one delivery attempt of a job's pending, due webhook: signed (webhook.ts) with the app's secret,
 * recorded; on a 2xx it is delivered, after `webhookMaxAttempts` failures it has failed (both audited
 * `sign.job-webhook`), else the next attempt is scheduled with exponential back-off. Redirects are not
 * followed (the transport's business). Returns the webhook's state afterwards.
 */
export async function deliverSignJobWebhook(id: string, deps: SignJobDeps): Promise<WebhookState> {
  const job = await deps.jobs.getJob(id);
  if (!job || job.webhookState !== 'pending' || !job.callbackUrl || !job.webhookDeliveryId || !deps.webhooks)
    return job?.webhookState ?? 'none';
  const now = deps.clock.now();
  if (job.webhookNextAt && job.webhookNextAt > now) return 'pending';
  const timeoutMs = deps.limits.webhookTimeoutSeconds * 1000;
  if (
    !(await deps.jobs.claimWebhook(
      id,
      job.webhookAttempts,
      now,
      new Date(now.getTime() + timeoutMs + 60_000),
    ))
  )
    return 'pending';
  const counts = await deps.jobs.countDocuments(id);
  const body: SignJobWebhookBody = {
    type: 'sign-job.finished',
    deliveryId: job.webhookDeliveryId,
    job: {
      id: job.id,
      state: job.state,
      signer: job.employeeNo,
      documents: job.documentCount,
      signed: counts.signed,
      failed: counts.failed,
      createdAt: job.createdAt.toISOString(),
      completedAt: job.completedAt?.toISOString() ?? null,
    },
  };
  const text = JSON.stringify(body);
  const attempt = job.webhookAttempts + 1;
  const timestamp = Math.floor(now.getTime() / 1000);
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'medsign-webhook/1',
    [WEBHOOK_HEADERS.id]: job.webhookDeliveryId,
    [WEBHOOK_HEADERS.timestamp]: String(timestamp),
    [WEBHOOK_HEADERS.signature]: signWebhook(
      await deps.webhookSecret(job.appId),
      timestamp,
      job.webhookDeliveryId,
      text,
    ),
    [WEBHOOK_HEADERS.attempt]: String(attempt),
  };
  let status: number | null = null;
  let error: string | null = null;
  try {
    status = (await deps.webhooks.post(job.callbackUrl, headers, text, timeoutMs)).status;
  } catch (e) {
    // Coarse on purpose: the attempts are shown to the application, and socket errors would map the
    // server's network for it (which ports answer where).
    const name = (e as Error)?.name;
    error = name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'no answer';
  }
  const at = deps.clock.now();
  const delivered = status !== null && status >= 200 && status < 300;
  const state: WebhookState = delivered
    ? 'delivered'
    : attempt >= deps.limits.webhookMaxAttempts
      ? 'failed'
      : 'pending';
  const events: AuditEvent[] =
    state === 'pending'
      ? []
      : [
          {
            actor: 'system:sign-jobs',
            action: 'sign.job-webhook',
            target: id,
            detail: {
              outcome: state,
              attempts: attempt,
              deliveryId: job.webhookDeliveryId,
              ...(status !== null ? { status } : {}),
            },
          },
        ];
  await deps.jobs.recordWebhookAttempt(
    {
      jobId: id,
      attempt,
      deliveryId: job.webhookDeliveryId,
      at: now,
      status,
      error: delivered
        ? null
        : (error ??
          (status! >= 300 && status! < 400
            ? `HTTP ${status} (redirects are not followed)`
            : `HTTP ${status}`)),
      durationMs: Math.max(0, at.getTime() - now.getTime()),
    },
    {
      webhookState: state,
      webhookAttempts: attempt,
      webhookNextAt:
        state === 'pending'
          ? new Date(at.getTime() + webhookBackoffMs(attempt, deps.limits.webhookRetrySeconds))
          : null,
      updatedAt: at,
    },
    events,
  );
  return state;
}
