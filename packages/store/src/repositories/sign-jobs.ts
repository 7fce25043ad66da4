import { fromDbBytes, fromIso, toDbBytes, toIso } from '../codec.js';
import type { AuditEventInput, AuditLog } from '../audit.js';
import { isUniqueViolation, type Database } from '../database.js';
import type { SignJobDocumentsTable, SignJobsTable, SignJobWebhookAttemptsTable } from '../schema.js';

/** A batch signing job (the states and enumerations are the signing core's, CHECK-constrained here). */
export interface SignJobRow {
  id: string;
  appId: string;
  signerId: string;
  employeeNo: string;
  state: string;
  format: string;
  oids: string;
  timestamp: boolean;
  metadata: Record<string, string>;
  callbackUrl: string | null;
  intent: string | null;
  clientIp: string | null;
  documentCount: number;
  totalBytes: number;
  idempotencyKey: string | null;
  requestHash: string | null;
  createdAt: Date;
  updatedAt: Date;
  expiresAt: Date;
  authorisedAt: Date | null;
  completedAt: Date | null;
  webhookState: string;
  webhookDeliveryId: string | null;
  webhookAttempts: number;
  webhookNextAt: Date | null;
}

/** One document of a job; `payload` is its sealed request until it is signed or failed. */
export interface SignJobDocumentRow {
  jobId: string;
  seq: number;
  businessId: string;
  payload: Uint8Array | null;
  state: string;
  signatureId: string | null;
  errorCode: string | null;
  errorDetail: string | null;
  updatedAt: Date;
}

/** One webhook delivery attempt. */
export interface SignJobWebhookAttemptRow {
  jobId: string;
  attempt: number;
  deliveryId: string;
  at: Date;
  status: number | null;
  error: string | null;
  durationMs: number;
}

/** Fields a job update may set. */
export type SignJobUpdate = Partial<
  Pick<
    SignJobRow,
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

const DOCUMENT_CHUNK = 500;
const dateOrNull = (d: Date | null | undefined) => (d ? toIso(d) : null);

/**
 * Sign jobs, their documents and webhook attempts. State changes are single conditional UPDATEs (`where
 * state in (…)`), so of two server processes acting on one job exactly one wins; every change that is
 * audited commits with its audit events in one group transaction.
 */
export class SignJobRepository {
  readonly #database: Database;
  readonly #audit: AuditLog;

  constructor(database: Database, audit: AuditLog) {
    this.#database = database;
    this.#audit = audit;
  }

  /** Job, documents and events in one transaction; false when (appId, idempotencyKey) is taken. */
  async insertJob(
    job: SignJobRow,
    documents: SignJobDocumentRow[],
    events: AuditEventInput[],
  ): Promise<boolean> {
    try {
      await this.#database.groupWrite(async (trx, scope) => {
        await trx
          .insertInto('sign_jobs')
          .values({
            id: job.id,
            app_id: job.appId,
            signer_id: job.signerId,
            employee_no: job.employeeNo,
            state: job.state,
            format: job.format,
            oids: job.oids,
            timestamped: job.timestamp ? 1 : 0,
            metadata: JSON.stringify(job.metadata),
            callback_url: job.callbackUrl,
            intent: job.intent,
            client_ip: job.clientIp,
            document_count: job.documentCount,
            total_bytes: job.totalBytes,
            idempotency_key: job.idempotencyKey,
            request_hash: job.requestHash,
            created_at: toIso(job.createdAt),
            updated_at: toIso(job.updatedAt),
            expires_at: toIso(job.expiresAt),
            authorised_at: dateOrNull(job.authorisedAt),
            completed_at: dateOrNull(job.completedAt),
            webhook_state: job.webhookState,
            webhook_delivery_id: job.webhookDeliveryId,
            webhook_attempts: job.webhookAttempts,
            webhook_next_at: dateOrNull(job.webhookNextAt),
          })
          .execute();
        for (let i = 0; i < documents.length; i += DOCUMENT_CHUNK) {
          await trx
            .insertInto('sign_job_documents')
            .values(
              documents.slice(i, i + DOCUMENT_CHUNK).map((d) => ({
                job_id: d.jobId,
                seq: d.seq,
                business_id: d.businessId,
                payload: d.payload ? toDbBytes(d.payload) : null,
                state: d.state,
                signature_id: d.signatureId,
                error_code: d.errorCode,
                error_detail: d.errorDetail,
                updated_at: toIso(d.updatedAt),
              })),
            )
            .execute();
        }
        for (const e of events) await this.#audit.appendIn(trx, scope, e);
      });
      return true;
    } catch (error) {
      if (isUniqueViolation(error) && job.idempotencyKey !== null) return false;
      throw error;
    }
  }

  async getJob(id: string): Promise<SignJobRow | undefined> {
    const row = await this.#database.db
      .selectFrom('sign_jobs')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toJob(row);
  }

  async findJobByIdempotencyKey(appId: string, key: string): Promise<SignJobRow | undefined> {
    const row = await this.#database.db
      .selectFrom('sign_jobs')
      .selectAll()
      .where('app_id', '=', appId)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
    return row && toJob(row);
  }

  /** Applies `patch` if the job is in one of `from` (with the events); false, nothing written, otherwise. */
  async updateJob(
    id: string,
    from: readonly string[],
    patch: SignJobUpdate,
    events: AuditEventInput[],
  ): Promise<boolean> {
    return this.#database.groupWrite(async (trx, scope) => {
      const r = await trx
        .updateTable('sign_jobs')
        .set({
          updated_at: toIso(patch.updatedAt),
          ...(patch.state !== undefined ? { state: patch.state } : {}),
          ...(patch.intent !== undefined ? { intent: patch.intent } : {}),
          ...(patch.clientIp !== undefined ? { client_ip: patch.clientIp } : {}),
          ...(patch.authorisedAt !== undefined ? { authorised_at: dateOrNull(patch.authorisedAt) } : {}),
          ...(patch.completedAt !== undefined ? { completed_at: dateOrNull(patch.completedAt) } : {}),
          ...webhookColumns(patch),
        })
        .where('id', '=', id)
        .where('state', 'in', [...from])
        .executeTakeFirst();
      if (r.numUpdatedRows === 0n) return false;
      for (const e of events) await this.#audit.appendIn(trx, scope, e);
      return true;
    });
  }

  /**
   * Ids of jobs in `state`, oldest first; `expiresBefore`: whose deadline is at or before it;
   * `updatedBefore`: not updated since.
   */
  async jobIdsInState(
    state: string,
    limit: number,
    filter: { expiresBefore?: Date; updatedBefore?: Date } = {},
  ): Promise<string[]> {
    let q = this.#database.db.selectFrom('sign_jobs').select('id').where('state', '=', state);
    if (filter.expiresBefore) q = q.where('expires_at', '<=', toIso(filter.expiresBefore));
    if (filter.updatedBefore) q = q.where('updated_at', '<', toIso(filter.updatedBefore));
    const rows = await q.orderBy('created_at').limit(limit).execute();
    return rows.map((r) => r.id);
  }

  async pendingDocuments(jobId: string, limit: number): Promise<SignJobDocumentRow[]> {
    const rows = await this.#database.db
      .selectFrom('sign_job_documents')
      .selectAll()
      .where('job_id', '=', jobId)
      .where('state', '=', 'pending')
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map(toDocument);
  }

  /** A pending document's outcome (its payload dropped); false when it was no longer pending. */
  async finishDocument(
    jobId: string,
    seq: number,
    outcome:
      { state: 'signed'; signatureId: string } | { state: 'failed'; errorCode: string; errorDetail: string },
    now: Date,
  ): Promise<boolean> {
    const r = await this.#database.groupWrite((trx) =>
      trx
        .updateTable('sign_job_documents')
        .set({
          state: outcome.state,
          payload: null,
          signature_id: outcome.state === 'signed' ? outcome.signatureId : null,
          error_code: outcome.state === 'failed' ? outcome.errorCode : null,
          error_detail: outcome.state === 'failed' ? outcome.errorDetail.slice(0, 500) : null,
          updated_at: toIso(now),
        })
        .where('job_id', '=', jobId)
        .where('seq', '=', seq)
        .where('state', '=', 'pending')
        .executeTakeFirst(),
    );
    return r.numUpdatedRows > 0n;
  }

  async dropPayloads(jobId: string): Promise<void> {
    await this.#database.groupWrite((trx) =>
      trx.updateTable('sign_job_documents').set({ payload: null }).where('job_id', '=', jobId).execute(),
    );
  }

  async countDocuments(jobId: string): Promise<{ pending: number; signed: number; failed: number }> {
    const rows = await this.#database.db
      .selectFrom('sign_job_documents')
      .select(['state', (eb) => eb.fn.countAll().as('n')])
      .where('job_id', '=', jobId)
      .groupBy('state')
      .execute();
    const out = { pending: 0, signed: 0, failed: 0 };
    for (const r of rows) if (r.state in out) out[r.state as keyof typeof out] = Number(r.n);
    return out;
  }

  /** Documents in order (without payloads); `state` filters; `total` counts the matches. */
  async listDocuments(
    jobId: string,
    page: { offset: number; limit: number; state?: string },
  ): Promise<{ total: number; items: SignJobDocumentRow[] }> {
    let q = this.#database.db.selectFrom('sign_job_documents').where('job_id', '=', jobId);
    if (page.state !== undefined) q = q.where('state', '=', page.state);
    const count = await q.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    const rows = await q
      .select([
        'job_id',
        'seq',
        'business_id',
        'state',
        'signature_id',
        'error_code',
        'error_detail',
        'updated_at',
      ])
      .orderBy('seq')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    return { total: Number(count.n), items: rows.map((r) => toDocument({ ...r, payload: null })) };
  }

  async dueWebhooks(now: Date, limit: number): Promise<string[]> {
    const rows = await this.#database.db
      .selectFrom('sign_jobs')
      .select('id')
      .where('webhook_state', '=', 'pending')
      .where('webhook_next_at', '<=', toIso(now))
      .orderBy('webhook_next_at')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  /** Leases a pending delivery for one attempt; false when another process took it first. */
  async claimWebhook(jobId: string, attempts: number, now: Date, leaseUntil: Date): Promise<boolean> {
    const r = await this.#database.groupWrite((trx) =>
      trx
        .updateTable('sign_jobs')
        .set({ webhook_next_at: toIso(leaseUntil) })
        .where('id', '=', jobId)
        .where('webhook_state', '=', 'pending')
        .where('webhook_attempts', '=', attempts)
        .where('webhook_next_at', '<=', toIso(now))
        .executeTakeFirst(),
    );
    return r.numUpdatedRows > 0n;
  }

  async recordWebhookAttempt(
    a: SignJobWebhookAttemptRow,
    patch: Pick<SignJobUpdate, 'webhookState' | 'webhookAttempts' | 'webhookNextAt' | 'updatedAt'>,
    events: AuditEventInput[],
  ): Promise<void> {
    await this.#database.groupWrite(async (trx, scope) => {
      await trx
        .insertInto('sign_job_webhook_attempts')
        .values({
          job_id: a.jobId,
          attempt: a.attempt,
          delivery_id: a.deliveryId,
          at: toIso(a.at),
          status: a.status,
          error: a.error,
          duration_ms: Math.round(a.durationMs),
        })
        .execute();
      await trx
        .updateTable('sign_jobs')
        .set({ updated_at: toIso(patch.updatedAt), ...webhookColumns(patch) })
        .where('id', '=', a.jobId)
        .execute();
      for (const e of events) await this.#audit.appendIn(trx, scope, e);
    });
  }

  async listWebhookAttempts(jobId: string): Promise<SignJobWebhookAttemptRow[]> {
    const rows = await this.#database.db
      .selectFrom('sign_job_webhook_attempts')
      .selectAll()
      .where('job_id', '=', jobId)
      .orderBy('attempt')
      .execute();
    return rows.map(toAttempt);
  }
}

function webhookColumns(
  p: Pick<SignJobUpdate, 'webhookState' | 'webhookDeliveryId' | 'webhookAttempts' | 'webhookNextAt'>,
) {
  return {
    ...(p.webhookState !== undefined ? { webhook_state: p.webhookState } : {}),
    ...(p.webhookDeliveryId !== undefined ? { webhook_delivery_id: p.webhookDeliveryId } : {}),
    ...(p.webhookAttempts !== undefined ? { webhook_attempts: p.webhookAttempts } : {}),
    ...(p.webhookNextAt !== undefined ? { webhook_next_at: dateOrNull(p.webhookNextAt) } : {}),
  };
}

const dateOf = (text: string | null) => (text === null ? null : fromIso(text));

function toJob(row: SignJobsTable): SignJobRow {
  return {
    id: row.id,
    appId: row.app_id,
    signerId: row.signer_id,
    employeeNo: row.employee_no,
    state: row.state,
    format: row.format,
    oids: row.oids,
    timestamp: Number(row.timestamped) === 1,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    callbackUrl: row.callback_url,
    intent: row.intent,
    clientIp: row.client_ip,
    documentCount: Number(row.document_count),
    totalBytes: Number(row.total_bytes),
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    createdAt: fromIso(row.created_at),
    updatedAt: fromIso(row.updated_at),
    expiresAt: fromIso(row.expires_at),
    authorisedAt: dateOf(row.authorised_at),
    completedAt: dateOf(row.completed_at),
    webhookState: row.webhook_state,
    webhookDeliveryId: row.webhook_delivery_id,
    webhookAttempts: Number(row.webhook_attempts),
    webhookNextAt: dateOf(row.webhook_next_at),
  };
}

function toDocument(row: SignJobDocumentsTable): SignJobDocumentRow {
  return {
    jobId: row.job_id,
    seq: Number(row.seq),
    businessId: row.business_id,
    payload: row.payload === null ? null : fromDbBytes(row.payload),
    state: row.state,
    signatureId: row.signature_id,
    errorCode: row.error_code,
    errorDetail: row.error_detail,
    updatedAt: fromIso(row.updated_at),
  };
}

function toAttempt(row: SignJobWebhookAttemptsTable): SignJobWebhookAttemptRow {
  return {
    jobId: row.job_id,
    attempt: Number(row.attempt),
    deliveryId: row.delivery_id,
    at: fromIso(row.at),
    status: row.status === null ? null : Number(row.status),
    error: row.error,
    durationMs: Number(row.duration_ms),
  };
}
