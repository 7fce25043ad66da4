// Sign jobs end to end over real HTTP on loopback: a medsign data directory (SQLite; PostgreSQL too with
// MEDSIGN_TEST_PG_URL), the SDK creating, authorising, polling and cancelling jobs, a loopback webhook
// receiver that checks the HMAC-SM3 signature (and answers 500 once, to see the retry), expiry on a clock
// moved forward, every refusal with nothing written, a document failing mid-job while the others go on, a
// restart that resumes a job without signing anything twice, and a job's P7 passing Bouncy Castle.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bytesToHex, sm3 } from '@medsign/gm';
import { MedsignClient, verifyWebhook, type MedsignApiError, type SignJob } from '@medsign/sdk';
import {
  createApp,
  enrolSigner,
  grantAuthorisation,
  jobDocumentKey,
  runSignJob,
  signWebhook,
  WEBHOOK_HEADERS,
} from '@medsign/sign';
import { peerOrSkip, tempDir, type TempDir } from '@medsign/testkit';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { initDataDir } from '../src/init.js';
import { signJobScheduler } from '../src/routes/sign-jobs.js';
import { openServices, type Services } from '../src/services.js';
import { buildSignJobDeps, SignJobScheduler } from '../src/sign-jobs.js';

const note = (i: number) => `护理记录 N-${i}: T 36.${i}℃ P 7${i}`;

/** A loopback webhook receiver: records each delivery; answers 500 to the first delivery when asked to. */
class Receiver {
  readonly deliveries: { headers: Record<string, string>; body: string }[] = [];
  failFirst = false;
  #server: Server;
  url = '';
  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
        this.deliveries.push({ headers, body: Buffer.concat(chunks).toString('utf8') });
        const fail = this.failFirst && this.deliveries.length === 1;
        res.writeHead(fail ? 500 : 204).end();
      });
    });
  }
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/medsign-hook`;
  }
  forJob(id: string) {
    return this.deliveries.filter((d) => (JSON.parse(d.body) as { job: { id: string } }).job.id === id);
  }
  async close(): Promise<void> {
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

type Env = {
  dir: TempDir;
  services: Services;
  app: FastifyInstance;
  base: string;
  his: { id: string; secret: string };
  client: MedsignClient;
};

/** A data directory, services (clock `skew` ms ahead, movable), the app on loopback, an app and signers. */
async function startServer(
  o: { db?: string; dir?: TempDir; skew?: { ms: number }; existing?: Env['his'] } = {},
) {
  const dir = o.dir ?? tempDir('medsign-sign-jobs-');
  const skew = o.skew ?? { ms: 0 };
  const init = await initDataDir({ dataDir: dir.path, env: {}, ...(o.db ? { db: o.db } : {}) });
  const services = await openServices(
    {
      ...init.config,
      sign: {
        ...init.config.sign,
        maxPinFailures: 5,
        maxJobDocuments: 5,
        maxJobBytes: 4096,
        jobExpiryMinutes: 1,
        webhookRetrySeconds: 1,
        webhookMaxAttempts: 3,
        webhookTimeoutSeconds: 2,
      },
    },
    { now: () => new Date(Date.now() + skew.ms) },
  );
  const app = await buildApp(services, { logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  let his = o.existing;
  if (!his) {
    const created = await createApp(
      { name: 'Nursing', systemType: 'nursing', rateLimit: 100_000 },
      'test',
      services.sign.deps,
    );
    his = { id: created.app.id, secret: created.secret };
    for (const employeeNo of ['N001', 'N002', 'N003', 'N004'])
      await enrolSigner(
        { name: '李护士', employeeNo, departmentCode: '0301', pin: '123456', profile: 'nurse' },
        'test',
        services.sign.deps,
      );
  }
  const client = new MedsignClient({ url: base, appId: his.id, appSecret: his.secret, maxBackoffMs: 50 });
  return { dir, services, app, base, his, client, skew };
}

const documents = (n: number, prefix = 'BID') =>
  Array.from({ length: n }, (_, i) => ({
    businessId: `${prefix}-${i}`,
    data: note(i),
    docType: 'nursing-record',
    docId: `NR-${i}`,
  }));

describe('sign jobs over HTTP (SQLite)', () => {
  let env: Env & { skew: { ms: number } };
  let receiver: Receiver;
  const jobCount = async () =>
    Number(
      (
        await env.services.store.database.db
          .selectFrom('sign_jobs')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const signatureCount = async () => (await env.services.store.signing.searchSignatures({ limit: 1 })).total;

  before(async () => {
    receiver = new Receiver();
    await receiver.start();
    env = await startServer();
  });
  after(async () => {
    await env?.app.close();
    await env?.services.close();
    env?.dir.cleanup();
    await receiver?.close();
  });

  test('the routes are in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${env.base}/api/docs/json`)).json()) as {
      paths: Record<string, object>;
    };
    for (const p of [
      '/api/v1/sign-jobs',
      '/api/v1/sign-jobs/{id}',
      '/api/v1/sign-jobs/{id}/results',
      '/api/v1/sign-jobs/{id}/authorise',
    ])
      assert.ok(doc.paths[p], `${p} missing`);
  });

  test('with the PIN: signed in the background, results per business id, webhook retried after a 500 and verified', async (t) => {
    receiver.failFirst = true;
    const rx = note(9);
    const created = await env.client.createSignJob(
      {
        signer: 'N001',
        pin: '123456',
        format: 'p7-detached',
        timestamp: true,
        metadata: { system: 'nursing', departmentCode: 'W12' },
        documents: [
          ...documents(2),
          { businessId: 'BID-digest', digest: bytesToHex(sm3(rx)), digestAlgorithm: 'sm3', docId: 'NR-d' },
        ],
        callbackUrl: receiver.url,
      },
      { idempotencyKey: 'shift-1' },
    );
    assert.equal(created.authorisation, 'pin');
    assert.ok(['signing', 'completed'].includes(created.state));
    const job = await env.client.waitForSignJob(created.id, { intervalMs: 50 });
    assert.equal(job.state, 'completed');
    assert.deepEqual([job.documents, job.signed, job.failed, job.pending], [3, 3, 0, 0]);
    assert.deepEqual(
      job.results.map((r) => [r.businessId, r.state, r.errorCode]),
      [
        ['BID-0', 'signed', null],
        ['BID-1', 'signed', null],
        ['BID-digest', 'signed', null],
      ],
    );
    // The retry with the same Idempotency-Key answers the same job.
    const again = await env.client.createSignJob(
      {
        signer: 'N001',
        pin: '123456',
        format: 'p7-detached',
        timestamp: true,
        metadata: { system: 'nursing', departmentCode: 'W12' },
        documents: [
          ...documents(2),
          { businessId: 'BID-digest', digest: bytesToHex(sm3(rx)), digestAlgorithm: 'sm3', docId: 'NR-d' },
        ],
        callbackUrl: receiver.url,
      },
      { idempotencyKey: 'shift-1' },
    );
    assert.equal(again.id, job.id);

    // Every document is a normal record, with the job's key and metadata, and it verifies.
    const page = await env.client.signJobResults(job.id, { include: 'signature' });
    assert.equal(page.total, 3);
    for (const [i, r] of page.items.entries()) {
      const rec = await env.client.signature(r.signatureId!);
      assert.equal(rec.signer, 'N001');
      assert.equal(rec.metadata.system, 'nursing');
      assert.equal(rec.metadata.departmentCode, 'W12');
      assert.ok(rec.token, 'time-stamped');
      const stored = await env.services.store.signing.findSignatureByIdempotencyKey(
        env.his.id,
        jobDocumentKey(job.id, r.businessId),
      );
      assert.equal(stored?.id, r.signatureId);
      if (i < 2) {
        assert.equal(rec.metadata.docId, `NR-${i}`);
        const v = await env.client.verify({ data: note(i), signature: r.signature! });
        assert.ok(v.valid, v.errors.join('; '));
      } else assert.equal(r.digest, bytesToHex(sm3(rx)));
    }

    // The webhook: a 500 first, then delivered; both attempts signed with the app secret over the body.
    await until('the webhook retry', () => receiver.forJob(job.id).length >= 2);
    const [first, second] = receiver.forJob(job.id);
    for (const d of [first!, second!]) {
      assert.ok(verifyWebhook(d.headers, d.body, env.his.secret), 'the webhook verifies');
      assert.equal(verifyWebhook(d.headers, d.body + ' ', env.his.secret), false);
      assert.equal(verifyWebhook(d.headers, d.body, 'another secret'), false);
      const body = JSON.parse(d.body) as { type: string; job: { state: string; signed: number } };
      assert.deepEqual([body.type, body.job.state, body.job.signed], ['sign-job.finished', 'completed', 3]);
    }
    assert.equal(first!.headers[WEBHOOK_HEADERS.id], second!.headers[WEBHOOK_HEADERS.id]);
    assert.deepEqual(
      [first!.headers[WEBHOOK_HEADERS.attempt], second!.headers[WEBHOOK_HEADERS.attempt]],
      ['1', '2'],
    );
    // A stale timestamp is refused even with a matching signature.
    const stale: Record<string, string> = {
      ...first!.headers,
      [WEBHOOK_HEADERS.timestamp]: String(Math.floor(Date.now() / 1000) - 3600),
    };
    stale[WEBHOOK_HEADERS.signature] = signWebhook(
      env.his.secret,
      Number(stale[WEBHOOK_HEADERS.timestamp]),
      stale[WEBHOOK_HEADERS.id]!,
      first!.body,
    );
    assert.equal(verifyWebhook(stale, first!.body, env.his.secret), false);
    const seen = await until('the delivery recorded', async () => {
      const j = await env.client.getSignJob(job.id);
      return j.webhook?.state === 'delivered' ? j : undefined;
    });
    assert.deepEqual(
      seen.webhook!.attempts.map((a) => a.status),
      [500, 204],
    );

    // Audited: created, authorised (pin), completed, webhook delivered.
    const events = (await env.services.store.audit.list({ limit: 10_000 })).filter(
      (e) => e.target === job.id,
    );
    const actions = events.map((e) => e.action);
    for (const a of ['sign.job-create', 'sign.job-authorise', 'sign.job-complete', 'sign.job-webhook'])
      assert.ok(actions.includes(a), `${a} audited`);
    const authorise = events.find((e) => e.action === 'sign.job-authorise')!;
    assert.equal((authorise.detail as { method: string }).method, 'pin');
    receiver.failFirst = false;

    // A job's P7 passes Bouncy Castle's cms-verify with the root alone.
    const tmp = tempDir('medsign-sign-jobs-bc-');
    try {
      const data = join(tmp.path, 'note.txt');
      writeFileSync(data, note(0));
      const ca = join(tmp.path, 'ca.pem');
      writeFileSync(ca, env.services.ca.cas.map((c) => c.chain.at(-1)!.toPem()).join(''));
      const file = join(tmp.path, 'n0.p7s');
      writeFileSync(file, Buffer.from(page.items[0]!.signature!, 'base64'));
      const res = peerOrSkip(t, ['cms-verify', file, data, '--ca', ca]);
      if (res) assert.equal(res.code, 0, res.stdout);
    } finally {
      tmp.cleanup();
    }
  });

  test('without a PIN: awaits authorisation; a wrong PIN counts; the right one signs', async () => {
    const job = await env.client.createSignJob({ signer: 'N002', format: 'p1', documents: documents(2) });
    assert.equal(job.state, 'awaiting-authorisation');
    assert.equal(job.authorisation, null);
    assert.equal((await env.client.getSignJob(job.id)).pending, 2);
    await assert.rejects(
      env.client.authoriseSignJob(job.id, '000000'),
      (e: MedsignApiError) => e.status === 403 && e.code === 'SIGN_PIN_WRONG',
    );
    assert.equal((await env.services.store.signing.getSignerByEmployeeNo('N002'))?.failedPins, 1);
    assert.equal((await env.client.getSignJob(job.id)).state, 'awaiting-authorisation');
    const authorised = await env.client.authoriseSignJob(job.id, '123456');
    assert.equal(authorised.authorisation, 'pin');
    const done = await env.client.waitForSignJob(job.id, { intervalMs: 50 });
    assert.equal(done.state, 'completed');
    assert.equal((await env.services.store.signing.getSignerByEmployeeNo('N002'))?.failedPins, 0);
    // P1 verifies with the certificate the job answer carries.
    const r = await env.client.signJobResults(job.id, { include: 'signature', limit: 1 });
    const v = await env.client.verify({
      data: note(0),
      signature: r.items[0]!.signature!,
      certificate: done.certificate!,
    });
    assert.ok(v.valid, v.errors.join('; '));
    const record = await env.services.store.signing.getSignature(r.items[0]!.signatureId!);
    assert.equal(record?.clientIp, '127.0.0.1', 'the authorise request’s address is on each record');
    await assert.rejects(
      env.client.authoriseSignJob(job.id, '123456'),
      (e: MedsignApiError) => e.status === 409 && e.code === 'SIGN_JOB_STATE',
    );
  });

  test('without a PIN under a live signing authorisation: signs at once', async () => {
    const grant = await grantAuthorisation(
      { signer: 'N003', pin: '123456', durationMinutes: 60 },
      env.his.id,
      env.services.sign.deps,
    );
    const job = await env.client.createSignJob({ signer: 'N003', documents: documents(2) });
    assert.equal(job.authorisation, 'authorisation');
    assert.equal((await env.client.waitForSignJob(job.id, { intervalMs: 50 })).state, 'completed');
    const events = (await env.services.store.audit.list({ limit: 10_000 })).filter(
      (e) => e.target === job.id && e.action === 'sign.job-authorise',
    );
    assert.equal((events[0]!.detail as { authorisation: string }).authorisation, grant.id);
  });

  test('cancel before signing; not after; other applications do not see the job', async () => {
    const job = await env.client.createSignJob({
      signer: 'N004',
      documents: documents(1),
      callbackUrl: receiver.url,
    });
    const cancelled = await env.client.cancelSignJob(job.id);
    assert.equal(cancelled.state, 'cancelled');
    assert.equal((await env.client.cancelSignJob(job.id)).state, 'cancelled');
    await assert.rejects(
      env.client.authoriseSignJob(job.id, '123456'),
      (e: MedsignApiError) => e.code === 'SIGN_JOB_STATE',
    );
    const payloads = await env.services.store.database.db
      .selectFrom('sign_job_documents')
      .select('payload')
      .where('job_id', '=', job.id)
      .execute();
    assert.ok(
      payloads.every((p) => p.payload === null),
      'the data is dropped',
    );
    await until('the cancellation webhook', () => receiver.forJob(job.id).length === 1);
    assert.equal(
      (JSON.parse(receiver.forJob(job.id)[0]!.body) as { job: { state: string } }).job.state,
      'cancelled',
    );

    const signing = await env.client.createSignJob({
      signer: 'N004',
      pin: '123456',
      documents: documents(1),
    });
    await env.client.waitForSignJob(signing.id, { intervalMs: 50 });
    await assert.rejects(
      env.client.cancelSignJob(signing.id),
      (e: MedsignApiError) => e.status === 409 && e.code === 'SIGN_JOB_STATE',
    );

    const other = await createApp({ name: 'LIS', systemType: 'LIS' }, 'test', env.services.sign.deps);
    const lis = new MedsignClient({ url: env.base, appId: other.app.id, appSecret: other.secret });
    for (const call of [
      () => lis.getSignJob(job.id),
      () => lis.cancelSignJob(signing.id),
      () => lis.signJobResults(signing.id),
      () => lis.getSignJob('no-such-job'),
    ])
      await assert.rejects(
        call(),
        (e: MedsignApiError) => e.status === 404 && e.code === 'SIGN_JOB_NOT_FOUND',
      );
  });

  test('expiry: a job not authorised in time expires (on read and by the sweep), with its webhook', async () => {
    const a = await env.client.createSignJob({
      signer: 'N004',
      documents: documents(1),
      callbackUrl: receiver.url,
    });
    const b = await env.client.createSignJob({ signer: 'N004', documents: documents(1) });
    env.skew.ms = 61_000;
    try {
      const expired = await env.client.getSignJob(a.id);
      assert.equal(expired.state, 'expired');
      await assert.rejects(
        env.client.authoriseSignJob(a.id, '123456'),
        (e: MedsignApiError) => e.status === 409 && e.code === 'SIGN_JOB_EXPIRED',
      );
      await signJobScheduler(env.services)!.sweep();
      const row = await env.services.store.signJobs.getJob(b.id);
      assert.equal(row?.state, 'expired');
      await until('the expiry webhook', () => receiver.forJob(a.id).length === 1);
      const d = receiver.forJob(a.id)[0]!;
      assert.ok(verifyWebhook(d.headers, d.body, env.his.secret, { now: () => Date.now() + 61_000 }));
    } finally {
      env.skew.ms = 0;
    }
  });

  test('bad jobs are refused with the index and business id, nothing written', async () => {
    const jobs = await jobCount();
    const sigs = await signatureCount();
    const refused = async (
      body: Parameters<MedsignClient['createSignJob']>[0],
      status: number,
      code: string,
      detail?: RegExp,
    ) =>
      assert.rejects(env.client.createSignJob(body), (e: MedsignApiError) => {
        assert.equal(e.status, status, e.message);
        assert.equal(e.code, code, e.message);
        if (detail) assert.match(e.detail ?? '', detail);
        return true;
      });
    await refused(
      { signer: 'N001', pin: '123456', documents: [...documents(2), { businessId: 'BID-0', data: 'x' }] },
      400,
      'SIGN_JOB_INVALID',
      /documents\[2\] \(businessId BID-0\).*more than once/,
    );
    const good = documents(3);
    await assert.rejects(
      env.client.createSignJob({
        signer: 'N001',
        pin: '123456',
        documents: [good[0]!, { businessId: 'B-bad', digest: 'zz' }, good[2]!],
      }),
      (e: MedsignApiError) =>
        e.code === 'SIGN_DATA_INVALID' && /documents\[1\] \(businessId B-bad\)/.test(e.detail ?? ''),
    );
    await refused(
      { signer: 'N001', pin: '123456', documents: [{ businessId: 'X', data: 'x', docType: 'recipe' }] },
      400,
      'SIGN_DOC_TYPE_UNKNOWN',
      /documents\[0\] \(businessId X\)/,
    );
    await refused(
      { signer: 'N001', pin: '123456', documents: documents(6) },
      413,
      'SIGN_JOB_TOO_LARGE',
      /at most 5/,
    );
    await refused(
      {
        signer: 'N001',
        pin: '123456',
        documents: [0, 1, 2].map((i) => ({ businessId: `L${i}`, data: 'x'.repeat(1500) })),
      },
      413,
      'SIGN_JOB_TOO_LARGE',
      /4096 bytes.*documents\[2\]/,
    );
    await refused(
      { signer: 'N001', pin: '123456', documents: documents(1), callbackUrl: 'ftp://his.local/hook' },
      400,
      'SIGN_JOB_INVALID',
      /http or https/,
    );
    await refused({ signer: 'N001', pin: '123456', documents: [] }, 400, 'REQUEST_INVALID');
    await refused({ signer: 'NOBODY', pin: '123456', documents: documents(1) }, 404, 'SIGN_SIGNER_NOT_FOUND');
    await assert.rejects(
      env.client.createSignJob(
        { signer: 'N001', pin: '123456', documents: documents(2) },
        { idempotencyKey: 'shift-1' },
      ),
      (e: MedsignApiError) => e.status === 409 && e.code === 'SIGN_IDEMPOTENCY_CONFLICT',
    );
    const before = (await env.services.store.signing.getSignerByEmployeeNo('N001'))!.failedPins;
    await refused({ signer: 'N001', pin: '999999', documents: documents(1) }, 403, 'SIGN_PIN_WRONG');
    assert.equal((await env.services.store.signing.getSignerByEmployeeNo('N001'))!.failedPins, before + 1);
    assert.equal(await jobCount(), jobs);
    assert.equal(await signatureCount(), sigs);
    await env.client
      .createSignJob({ signer: 'N001', pin: '123456', documents: documents(1) })
      .then((j) => env.client.waitForSignJob(j.id, { intervalMs: 50 }));
  });

  test('a webhook nobody answers: retried with back-off, then failed (recorded and audited)', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/gone`;
    await new Promise((resolve) => closed.close(resolve));
    const created = await env.client.createSignJob({
      signer: 'N003',
      documents: documents(1),
      callbackUrl: url,
    });
    const job = await until(
      'the webhook to fail',
      async () => {
        const j = await env.client.getSignJob(created.id);
        return j.webhook?.state === 'failed' ? j : undefined;
      },
      20_000,
    );
    const attempts = job.webhook!.attempts;
    assert.equal(attempts.length, 3);
    assert.ok(attempts.every((a) => a.status === null && a.error === 'no answer'));
    // 1 s, then 2 s between the attempts (the sweep runs once a second).
    const gaps = attempts.slice(1).map((a, i) => Date.parse(a.at) - Date.parse(attempts[i]!.at));
    assert.ok(gaps[0]! >= 1000 && gaps[1]! >= 2000, `back-off ${gaps.join(', ')} ms`);
    const audited = (await env.services.store.audit.list({ limit: 100_000 })).filter(
      (e) => e.target === created.id && e.action === 'sign.job-webhook',
    );
    assert.deepEqual(
      audited.map((e) => (e.detail as { outcome: string; attempts: number }).outcome),
      ['failed'],
    );
  });

  test('a document failing mid-job (certificate revoked) is recorded; the others are signed', async () => {
    const status = env.services.sign.deps.status;
    const original = status.status.bind(status);
    let calls = 0;
    status.status = async (caId, serial) => (++calls > 1 ? 'revoked' : original(caId, serial));
    let job: SignJob;
    try {
      const created = await env.client.createSignJob({
        signer: 'N001',
        pin: '123456',
        documents: documents(3),
      });
      job = await env.client.waitForSignJob(created.id, { intervalMs: 50 });
    } finally {
      status.status = original;
    }
    assert.equal(job.state, 'completed-with-errors');
    assert.deepEqual([job.signed, job.failed], [1, 2]);
    const failed = await env.client.signJobResults(job.id, { state: 'failed' });
    assert.equal(failed.total, 2);
    for (const r of failed.items) {
      assert.equal(r.errorCode, 'SIGN_CERT_REVOKED');
      assert.equal(r.signatureId, null);
    }
  });
});

describe('sign jobs: a restart resumes a job without signing twice; a stalled job is taken over (SQLite)', () => {
  test('interrupted after one document, with a record made but not yet noted: resumed on start; then a stalled job is taken over by another scheduler', async () => {
    let env = await startServer();
    try {
      const scheduler = signJobScheduler(env.services)!;
      await scheduler.stop(); // nothing runs in the background: the test drives the job
      const job = await env.client.createSignJob({ signer: 'N001', pin: '123456', documents: documents(4) });
      assert.equal(job.state, 'signing');
      // Sign the first document, then "crash": the document is put back to pending with its sealed data, as
      // if the process died between writing the signature record and noting it on the job.
      const sealed = (await env.services.store.signJobs.pendingDocuments(job.id, 1))[0]!.payload!;
      let signedOne = false;
      await runSignJob(job.id, buildSignJobDeps(env.services), {
        limit: async (fn) => {
          const r = await fn();
          signedOne = true;
          return r;
        },
        stopping: () => signedOne,
        batch: 1,
      });
      const first = (await env.services.store.signJobs.listDocuments(job.id, { offset: 0, limit: 1 }))
        .items[0]!;
      assert.equal(first.state, 'signed');
      await env.services.store.database.db
        .updateTable('sign_job_documents')
        .set({ state: 'pending', signature_id: null, payload: Buffer.from(sealed) })
        .where('job_id', '=', job.id)
        .where('seq', '=', 0)
        .execute();
      const his = env.his;
      const dir = env.dir;
      await env.app.close();
      await env.services.close();
      env = await startServer({ dir, existing: his });
      const done = await env.client.waitForSignJob(job.id, { intervalMs: 50 });
      assert.equal(done.state, 'completed');
      assert.equal(done.signed, 4);
      assert.equal(
        done.results[0]!.signatureId,
        first.signatureId,
        'the first record was replayed, not re-signed',
      );
      const records = await env.services.store.signing.searchSignatures({ limit: 100 });
      assert.equal(records.total, 4);

      // Another server takes over a job whose server stopped working on it (no restart).
      await signJobScheduler(env.services)!.stop();
      const stalled = await env.client.createSignJob({
        signer: 'N001',
        pin: '123456',
        documents: documents(2),
      });
      const quiet = { info: () => {}, error: () => {} };
      const other = new SignJobScheduler(buildSignJobDeps(env.services), { concurrency: 2, log: quiet });
      await other.sweep();
      assert.equal(other.isRunning(stalled.id), false, 'a fresh job is left to its server');
      env.skew.ms = 121_000;
      await other.sweep();
      assert.equal(other.isRunning(stalled.id), true);
      const taken = await until('the taken-over job', async () => {
        const j = await env.services.store.signJobs.getJob(stalled.id);
        return j?.state === 'completed' ? j : undefined;
      });
      assert.equal(taken.state, 'completed');
      await other.stop();
    } finally {
      await env.app.close();
      await env.services.close();
      env.dir.cleanup();
    }
  });
});

const pgUrl = process.env.MEDSIGN_TEST_PG_URL;

async function pgAdmin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

describe('sign jobs on PostgreSQL', { skip: pgUrl ? false : 'MEDSIGN_TEST_PG_URL not set' }, () => {
  const name = `medsign_jobs_${process.pid}_${randomBytes(4).toString('hex')}`;
  let env: Awaited<ReturnType<typeof startServer>> | undefined;
  before(async () => {
    await pgAdmin(`create database "${name}"`);
  });
  after(async () => {
    await env?.app.close();
    await env?.services.close();
    env?.dir.cleanup();
    await pgAdmin(`drop database if exists "${name}" with (force)`);
  });

  test('create with PIN, await + authorise, cancel, duplicate business ids, results', async () => {
    const u = new URL(pgUrl!);
    u.pathname = `/${name}`;
    env = await startServer({ db: u.toString() });
    const a = await env.client.createSignJob(
      { signer: 'N001', pin: '123456', documents: documents(3) },
      { idempotencyKey: 'pg-job' },
    );
    const done = await env.client.waitForSignJob(a.id, { intervalMs: 50 });
    assert.deepEqual([done.state, done.signed], ['completed', 3]);
    assert.equal(
      (
        await env.client.createSignJob(
          { signer: 'N001', pin: '123456', documents: documents(3) },
          { idempotencyKey: 'pg-job' },
        )
      ).id,
      a.id,
    );
    const page = await env.client.signJobResults(a.id, { offset: 1, limit: 1, include: 'signature' });
    assert.deepEqual([page.total, page.items[0]!.businessId], [3, 'BID-1']);
    assert.ok((await env.client.verify({ data: note(1), signature: page.items[0]!.signature! })).valid);

    const b = await env.client.createSignJob({ signer: 'N002', documents: documents(2) });
    assert.equal(b.state, 'awaiting-authorisation');
    await assert.rejects(
      env.client.authoriseSignJob(b.id, '111111'),
      (e: MedsignApiError) => e.code === 'SIGN_PIN_WRONG',
    );
    await env.client.authoriseSignJob(b.id, '123456');
    assert.equal((await env.client.waitForSignJob(b.id, { intervalMs: 50 })).state, 'completed');

    const c = await env.client.createSignJob({ signer: 'N003', documents: documents(1) });
    assert.equal((await env.client.cancelSignJob(c.id)).state, 'cancelled');
    await assert.rejects(
      env.client.createSignJob({
        signer: 'N001',
        pin: '123456',
        documents: [...documents(1), ...documents(1)],
      }),
      (e: MedsignApiError) => e.code === 'SIGN_JOB_INVALID',
    );
  });
});
