// The sign-job core on memory ports: validation before anything (even the PIN), intent once for the job,
// each document through signDocument (its record, key and audit event), idempotent re-runs, expiry, and the
// webhook's retries, back-off and final outcome on a scripted transport.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DomainError, type ErrorCode } from '@medsign/errors';
import {
  authoriseSignJob,
  cancelSignJob,
  checkWebhook,
  createApp,
  createSignJob,
  DEFAULT_SIGN_JOB_LIMITS,
  deliverSignJobWebhook,
  enrolSigner,
  expireSignJobs,
  grantAuthorisation,
  jobDocumentKey,
  runSignJob,
  type AuditEvent,
  type SignJobDeps,
  type SignJobDocumentRecord,
  type SignJobPatch,
  type SignJobRecord,
  type SignJobState,
  type SignJobStore,
  type WebhookAttempt,
} from '../src/index.js';
import { makeWorld, type MemoryWorld } from './helpers/memory.js';

class MemorySignJobStore implements SignJobStore {
  jobs = new Map<string, SignJobRecord>();
  docs = new Map<string, SignJobDocumentRecord[]>();
  attempts: WebhookAttempt[] = [];
  constructor(private readonly events: AuditEvent[]) {}

  async insertJob(job: SignJobRecord, documents: SignJobDocumentRecord[], events: AuditEvent[]) {
    if (
      job.idempotencyKey &&
      [...this.jobs.values()].some((j) => j.appId === job.appId && j.idempotencyKey === job.idempotencyKey)
    )
      return false;
    this.jobs.set(job.id, { ...job });
    this.docs.set(
      job.id,
      documents.map((d) => ({ ...d })),
    );
    this.events.push(...events);
    return true;
  }
  async getJob(id: string) {
    const j = this.jobs.get(id);
    return j && { ...j };
  }
  async findJobByIdempotencyKey(appId: string, key: string) {
    return [...this.jobs.values()].find((j) => j.appId === appId && j.idempotencyKey === key);
  }
  async updateJob(id: string, from: readonly SignJobState[], patch: SignJobPatch, events: AuditEvent[]) {
    const j = this.jobs.get(id);
    if (!j || !from.includes(j.state)) return false;
    Object.assign(j, patch);
    this.events.push(...events);
    return true;
  }
  async jobIdsInState(
    state: SignJobState,
    limit: number,
    f: { expiresBefore?: Date; updatedBefore?: Date } = {},
  ) {
    return [...this.jobs.values()]
      .filter((j) => j.state === state)
      .filter((j) => !f.expiresBefore || j.expiresAt <= f.expiresBefore)
      .filter((j) => !f.updatedBefore || j.updatedAt < f.updatedBefore)
      .slice(0, limit)
      .map((j) => j.id);
  }
  async pendingDocuments(jobId: string, limit: number) {
    return (this.docs.get(jobId) ?? [])
      .filter((d) => d.state === 'pending')
      .slice(0, limit)
      .map((d) => ({ ...d }));
  }
  async finishDocument(
    jobId: string,
    seq: number,
    outcome: Parameters<SignJobStore['finishDocument']>[2],
    now: Date,
  ) {
    const d = this.docs.get(jobId)?.[seq];
    if (!d || d.state !== 'pending') return false;
    Object.assign(d, {
      state: outcome.state,
      payload: null,
      signatureId: outcome.state === 'signed' ? outcome.signatureId : null,
      errorCode: outcome.state === 'failed' ? outcome.errorCode : null,
      errorDetail: outcome.state === 'failed' ? outcome.errorDetail : null,
      updatedAt: now,
    });
    return true;
  }
  async dropPayloads(jobId: string) {
    for (const d of this.docs.get(jobId) ?? []) d.payload = null;
  }
  async countDocuments(jobId: string) {
    const out = { pending: 0, signed: 0, failed: 0 };
    for (const d of this.docs.get(jobId) ?? []) out[d.state]++;
    return out;
  }
  async listDocuments(jobId: string, page: { offset: number; limit: number; state?: string }) {
    const all = (this.docs.get(jobId) ?? []).filter((d) => !page.state || d.state === page.state);
    return {
      total: all.length,
      items: all.slice(page.offset, page.offset + page.limit).map((d) => ({ ...d, payload: null })),
    };
  }
  async dueWebhooks(now: Date) {
    return [...this.jobs.values()]
      .filter((j) => j.webhookState === 'pending' && j.webhookNextAt && j.webhookNextAt <= now)
      .map((j) => j.id);
  }
  async claimWebhook(jobId: string, attempts: number, now: Date, leaseUntil: Date) {
    const j = this.jobs.get(jobId)!;
    if (
      j.webhookState !== 'pending' ||
      j.webhookAttempts !== attempts ||
      !j.webhookNextAt ||
      j.webhookNextAt > now
    )
      return false;
    j.webhookNextAt = leaseUntil;
    return true;
  }
  async recordWebhookAttempt(a: WebhookAttempt, patch: Partial<SignJobPatch>, events: AuditEvent[]) {
    this.attempts.push(a);
    Object.assign(this.jobs.get(a.jobId)!, patch);
    this.events.push(...events);
  }
  async listWebhookAttempts(jobId: string) {
    return this.attempts.filter((a) => a.jobId === jobId);
  }
}

async function rejects(p: Promise<unknown>, code: ErrorCode, detail?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DomainError, String(e));
    assert.equal(e.code, code, e.message);
    if (detail) assert.match(e.detail, detail);
    return true;
  });
}

const data = (i: number) => Buffer.from(`nursing record ${i}`).toString('base64');
const docs = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ businessId: `B${i}`, data: data(i), docType: 'nursing-record' }));

describe('sign jobs (core, memory ports)', () => {
  let w: MemoryWorld;
  let deps: SignJobDeps & { jobs: MemorySignJobStore };
  let appId: string;
  const posts: { url: string; headers: Record<string, string>; body: string }[] = [];
  let answers: (number | Error)[] = [];
  const run = (id: string) => runSignJob(id, deps, { limit: (fn) => fn() });

  test('setup', async () => {
    w = await makeWorld();
    const created = await createApp({ name: 'Nursing', systemType: 'nursing' }, 'op', w.deps);
    appId = created.app.id;
    for (const no of ['N001', 'N002'])
      await enrolSigner({ name: '李', employeeNo: no, departmentCode: '03', pin: '123456' }, 'op', w.deps);
    deps = {
      ...w.deps,
      jobs: new MemorySignJobStore(w.events),
      payloads: w.deps.secrets,
      limits: { ...DEFAULT_SIGN_JOB_LIMITS, maxDocuments: 4, maxBytes: 200 },
      webhookSecret: async () => created.secret,
      webhooks: {
        async post(url, headers, body) {
          posts.push({ url, headers, body });
          const a = answers.shift() ?? 204;
          if (a instanceof Error) throw a;
          return { status: a };
        },
      },
    };
  });

  test('every document is checked before the PIN: a bad job with a wrong PIN costs no PIN try', async () => {
    await rejects(
      createSignJob(
        { signer: 'N001', pin: '000000', documents: [...docs(1), { businessId: 'X', data: 'not base64!' }] },
        { appId },
        deps,
      ),
      'SIGN_DATA_INVALID',
      /^documents\[1\] \(businessId X\): /,
    );
    await rejects(
      createSignJob({ signer: 'N001', documents: docs(5) }, { appId }, deps),
      'SIGN_JOB_TOO_LARGE',
    );
    await rejects(
      createSignJob(
        { signer: 'N001', documents: [{ businessId: 'big', data: Buffer.alloc(201).toString('base64') }] },
        { appId },
        deps,
      ),
      'SIGN_JOB_TOO_LARGE',
    );
    await rejects(
      createSignJob(
        {
          signer: 'N001',
          documents: [{ businessId: 'd', digest: 'ab'.repeat(32), digestAlgorithm: 'sha256' }],
        },
        { appId },
        deps,
      ),
      'SIGN_DATA_INVALID',
      /sm3 digests/,
    );
    await rejects(
      createSignJob(
        { signer: 'N001', documents: [{ businessId: 'a\u0001b', data: data(1) }] },
        { appId },
        deps,
      ),
      'SIGN_JOB_INVALID',
    );
    await rejects(
      createSignJob({ signer: 'N001', format: 'p1', oids: 'gm', documents: docs(1) }, { appId }, deps),
      'SIGN_DATA_INVALID',
      /^oids apply/,
    );
    await rejects(
      createSignJob({ signer: 'N001', timestamp: true, documents: docs(1) }, { appId }, {
        ...deps,
        timeStamper: undefined,
      } as SignJobDeps),
      'SIGN_TIMESTAMP_UNAVAILABLE',
    );
    assert.equal((await w.deps.store.getSignerByEmployeeNo('N001'))!.failedPins, 0);
    assert.equal(deps.jobs.jobs.size, 0);
  });

  test('with the PIN: intent once, each document an ordinary record under the job key; re-running signs nothing again', async () => {
    const { job } = await createSignJob(
      {
        signer: 'N001',
        pin: '123456',
        format: 'p1',
        metadata: { system: 'nursing' },
        documents: docs(3),
        callbackUrl: 'https://his.local/cb',
      },
      { appId },
      deps,
    );
    assert.deepEqual([job.state, job.intent], ['signing', 'pin']);
    const done = (await run(job.id))!;
    assert.equal(done.state, 'completed');
    assert.equal(done.webhookState, 'pending');
    const records = w.deps.store.signatures.filter((r) => r.idempotencyKey?.startsWith(`job:${job.id}:`));
    assert.deepEqual(
      records.map((r) => [r.idempotencyKey, r.metadata.system, r.metadata.docType]).sort(),
      [0, 1, 2].map((i) => [jobDocumentKey(job.id, `B${i}`), 'nursing', 'nursing-record']),
    );
    const signEvents = w.events.filter((e) => e.action === 'sign.signature' && e.detail?.job === job.id);
    assert.equal(signEvents.length, 3);
    assert.ok(signEvents.every((e) => e.detail!.intent === `job:${job.id}/pin`));
    // Replayed: a document put back to pending with its data answers the record it already has.
    const d0 = deps.jobs.docs.get(job.id)![0]!;
    const sealed = await deps.payloads.seal(
      new TextEncoder().encode(
        JSON.stringify({ data: data(0), metadata: { system: 'nursing', docType: 'nursing-record' } }),
      ),
      `${job.id}/0`,
    );
    const before = d0.signatureId;
    Object.assign(d0, { state: 'pending', signatureId: null, payload: sealed });
    deps.jobs.jobs.get(job.id)!.state = 'signing';
    await run(job.id);
    assert.equal(deps.jobs.docs.get(job.id)![0]!.signatureId, before);
    assert.equal(
      w.deps.store.signatures.filter((r) => r.idempotencyKey?.startsWith(`job:${job.id}:`)).length,
      3,
    );
  });

  test('webhook: a 500 and a refused connection are retried with back-off; then delivered, signed and audited', async () => {
    const id = [...deps.jobs.jobs.values()].find((j) => j.webhookState === 'pending')!.id;
    answers = [500, new Error('ECONNREFUSED 10.0.0.1:443'), 204];
    const t0 = w.deps.clock.now();
    assert.equal(await deliverSignJobWebhook(id, deps), 'pending');
    assert.equal(await deliverSignJobWebhook(id, deps), 'pending', 'not due yet: nothing sent');
    assert.equal(posts.length, 1);
    w.setNow(new Date(t0.getTime() + 30_000));
    assert.equal(await deliverSignJobWebhook(id, deps), 'pending');
    w.setNow(new Date(t0.getTime() + 30_000 + 59_000));
    assert.equal(await deliverSignJobWebhook(id, deps), 'pending', 'the second retry waits twice as long');
    w.setNow(new Date(t0.getTime() + 30_000 + 60_000));
    assert.equal(await deliverSignJobWebhook(id, deps), 'delivered');
    assert.deepEqual(
      deps.jobs.attempts.filter((a) => a.jobId === id).map((a) => [a.attempt, a.status, a.error]),
      [
        [1, 500, 'HTTP 500'],
        [2, null, 'no answer'],
        [3, 204, null],
      ],
    );
    const secret = await deps.webhookSecret(appId);
    for (const p of posts)
      assert.ok(
        checkWebhook(p.headers, p.body, secret, {
          nowSeconds: Number(p.headers['x-medsign-webhook-timestamp']),
        }).ok,
      );
    assert.equal(new Set(posts.map((p) => p.headers['x-medsign-webhook-id'])).size, 1);
    const audited = w.events.filter((e) => e.action === 'sign.job-webhook' && e.target === id);
    assert.deepEqual(
      audited.map((e) => e.detail!.outcome),
      ['delivered'],
    );
    assert.equal(await deliverSignJobWebhook(id, deps), 'delivered');
    assert.equal(posts.length, 3);
  });

  test('awaiting: authorised under a live authorisation; cancelled; expired', async () => {
    const a = (await createSignJob({ signer: 'N002', documents: docs(1) }, { appId }, deps)).job;
    assert.equal(a.state, 'awaiting-authorisation');
    await rejects(authoriseSignJob(a.id, undefined, appId, deps), 'SIGN_INTENT_REQUIRED');
    await rejects(authoriseSignJob(a.id, '123456', 'app_other', deps), 'SIGN_JOB_NOT_FOUND');
    const grant = await grantAuthorisation(
      { signer: 'N002', pin: '123456', durationMinutes: 60 },
      appId,
      w.deps,
    );
    const authorised = await authoriseSignJob(a.id, undefined, appId, deps);
    assert.deepEqual([authorised.state, authorised.intent], ['signing', `authorisation:${grant.id}`]);
    assert.equal((await run(a.id))!.state, 'completed');

    await w.deps.store.revokeAuthorisation(grant.id, w.deps.clock.now());
    const b = (await createSignJob({ signer: 'N002', documents: docs(1) }, { appId }, deps)).job;
    assert.equal(b.state, 'awaiting-authorisation', 'a revoked authorisation does not authorise');
    assert.equal((await cancelSignJob(b.id, appId, deps)).state, 'cancelled');
    assert.equal(deps.jobs.docs.get(b.id)![0]!.payload, null);
    assert.equal((await run(b.id))!.state, 'cancelled', 'a cancelled job is never signed');

    const c = (await createSignJob({ signer: 'N002', documents: docs(1) }, { appId }, deps)).job;
    w.setNow(new Date(c.expiresAt.getTime() - 1));
    assert.deepEqual(await expireSignJobs(deps), []);
    w.setNow(c.expiresAt);
    assert.deepEqual(await expireSignJobs(deps), [c.id]);
    await rejects(authoriseSignJob(c.id, '123456', appId, deps), 'SIGN_JOB_EXPIRED');
    await rejects(cancelSignJob(c.id, appId, deps), 'SIGN_JOB_STATE');
    assert.ok(w.events.some((e) => e.action === 'sign.job-expire' && e.target === c.id));
  });
});
