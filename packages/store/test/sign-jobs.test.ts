// The sign-job tables (migration 0008) on SQLite and PostgreSQL: a job and its documents written with their
// audit events all or nothing, idempotency keys, conditional state changes with one winner, documents
// finished once (their data dropped), paging, webhook claims and attempts.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { openStore, type SignJobDocumentRow, type SignJobRow, type Store } from '../src/index.js';
import { dialects, type TestDatabase } from './helpers/databases.js';

const t0 = new Date('2026-03-01T08:00:00.000Z');
const later = (ms: number) => new Date(t0.getTime() + ms);

const job = (appId: string, signerId: string, over: Partial<SignJobRow> = {}): SignJobRow => ({
  id: randomUUID(),
  appId,
  signerId,
  employeeNo: 'N001',
  state: 'awaiting-authorisation',
  format: 'p1',
  oids: 'rfc5652',
  timestamp: false,
  metadata: { system: 'nursing' },
  callbackUrl: 'https://his.local/hook',
  intent: null,
  clientIp: null,
  documentCount: 3,
  totalBytes: 300,
  idempotencyKey: null,
  requestHash: null,
  createdAt: t0,
  updatedAt: t0,
  expiresAt: later(3_600_000),
  authorisedAt: null,
  completedAt: null,
  webhookState: 'none',
  webhookDeliveryId: null,
  webhookAttempts: 0,
  webhookNextAt: null,
  ...over,
});

const docs = (jobId: string, n: number): SignJobDocumentRow[] =>
  Array.from({ length: n }, (_, seq) => ({
    jobId,
    seq,
    businessId: `B-${seq}`,
    payload: new Uint8Array(randomBytes(40)),
    state: 'pending',
    signatureId: null,
    errorCode: null,
    errorDetail: null,
    updatedAt: t0,
  }));

for (const dialect of dialects) {
  describe(`sign-job tables on ${dialect.name}`, { skip: dialect.skip }, () => {
    let tdb: TestDatabase;
    let store: Store;
    const signerId = randomUUID();
    const appId = 'app_jobs';
    const event = (action: string, target: string) => ({ actor: `app:${appId}`, action, target });
    before(async () => {
      tdb = await dialect.create();
      store = await openStore(tdb.url);
      await store.cas.insert({
        id: 'sm2',
        name: 'CA',
        algorithm: 'sm2',
        certificate: new Uint8Array(10),
        keyRef: 'k',
        parentId: null,
        status: 'active',
        createdAt: t0,
      });
      await store.signing.insertApp({
        id: appId,
        name: 'Nursing',
        systemType: 'nursing',
        ownerDepartment: null,
        operations: ['sign'],
        ipRanges: [],
        rateLimit: 100,
        sealedSecret: new Uint8Array(40),
        status: 'active',
        createdAt: t0,
      });
      await store.signing.insertSigner({
        id: signerId,
        employeeNo: 'N001',
        name: '李护士',
        departmentCode: '0301',
        profile: 'nurse',
        keyId: 'k1',
        caId: 'sm2',
        certSerial: 'ab',
        certificate: new Uint8Array(10),
        pinHash: 'x',
        failedPins: 0,
        locked: false,
        createdAt: t0,
        updatedAt: t0,
      });
    });
    after(async () => {
      await store?.close();
      await tdb?.drop();
    });

    test('insert round-trips with its audit events; an idempotency key is taken once, nothing half-written', async () => {
      const j = job(appId, signerId, { idempotencyKey: 'k-1', requestHash: 'h1' });
      const before = (await store.audit.list({ limit: 100_000 })).length;
      assert.equal(await store.signJobs.insertJob(j, docs(j.id, 3), [event('sign.job-create', j.id)]), true);
      assert.deepEqual(await store.signJobs.getJob(j.id), j);
      assert.deepEqual(await store.signJobs.findJobByIdempotencyKey(appId, 'k-1'), j);
      const again = job(appId, signerId, { idempotencyKey: 'k-1' });
      assert.equal(
        await store.signJobs.insertJob(again, docs(again.id, 2), [event('sign.job-create', again.id)]),
        false,
      );
      assert.equal(await store.signJobs.getJob(again.id), undefined);
      assert.equal((await store.signJobs.listDocuments(again.id, { offset: 0, limit: 10 })).total, 0);
      const events = await store.audit.list({ limit: 100_000 });
      assert.equal(events.length, before + 1);
      assert.ok((await store.audit.verify()).ok);
      // Duplicate business ids in one job are refused by the database too.
      const dup = job(appId, signerId);
      const rows = docs(dup.id, 2);
      rows[1]!.businessId = rows[0]!.businessId;
      await assert.rejects(store.signJobs.insertJob(dup, rows, []));
      assert.equal(await store.signJobs.getJob(dup.id), undefined);
    });

    test('state changes: one winner, events only with the change; documents finish once', async () => {
      const j = job(appId, signerId);
      await store.signJobs.insertJob(j, docs(j.id, 3), []);
      const patch = { state: 'signing', intent: 'pin', authorisedAt: later(1000), updatedAt: later(1000) };
      const results = await Promise.all([
        store.signJobs.updateJob(j.id, ['awaiting-authorisation'], patch, [
          event('sign.job-authorise', j.id),
        ]),
        store.signJobs.updateJob(j.id, ['awaiting-authorisation'], patch, [
          event('sign.job-authorise', j.id),
        ]),
      ]);
      assert.deepEqual(results.sort(), [false, true]);
      const authorised = (await store.audit.list({ limit: 100_000 })).filter(
        (e) => e.target === j.id && e.action === 'sign.job-authorise',
      );
      assert.equal(authorised.length, 1);
      const got = (await store.signJobs.getJob(j.id))!;
      assert.deepEqual([got.state, got.intent, got.authorisedAt], ['signing', 'pin', later(1000)]);
      assert.deepEqual(await store.signJobs.jobIdsInState('signing', 100), [j.id]);
      assert.deepEqual(
        await store.signJobs.jobIdsInState('signing', 100, { updatedBefore: later(1000) }),
        [],
      );
      assert.deepEqual(await store.signJobs.jobIdsInState('signing', 100, { updatedBefore: later(1001) }), [
        j.id,
      ]);

      const pending = await store.signJobs.pendingDocuments(j.id, 2);
      assert.deepEqual(
        pending.map((d) => [d.seq, d.payload?.length]),
        [
          [0, 40],
          [1, 40],
        ],
      );
      const signatureId = randomUUID();
      await store.signing.insertSignature(
        {
          id: signatureId,
          appId,
          signerId,
          employeeNo: 'N001',
          caId: 'sm2',
          certSerial: 'ab',
          format: 'p1',
          digestAlgorithm: 'sm3',
          digest: 'ab'.repeat(32),
          signature: new Uint8Array(70),
          token: null,
          metadata: {},
          idempotencyKey: `job:${j.id}:B-0`,
          requestHash: 'h',
          createdAt: t0,
        },
        event('sign.signature', signatureId),
      );
      assert.equal(await store.signJobs.finishDocument(j.id, 0, { state: 'signed', signatureId }, t0), true);
      assert.equal(
        await store.signJobs.finishDocument(
          j.id,
          1,
          { state: 'failed', errorCode: 'SIGN_CERT_REVOKED', errorDetail: 'revoked' },
          t0,
        ),
        true,
      );
      assert.equal(
        await store.signJobs.finishDocument(
          j.id,
          1,
          { state: 'failed', errorCode: 'X', errorDetail: 'again' },
          t0,
        ),
        false,
      );
      assert.deepEqual(await store.signJobs.countDocuments(j.id), { pending: 1, signed: 1, failed: 1 });
      const failed = await store.signJobs.listDocuments(j.id, { offset: 0, limit: 10, state: 'failed' });
      assert.deepEqual(
        failed.items.map((d) => [d.businessId, d.errorCode, d.payload]),
        [['B-1', 'SIGN_CERT_REVOKED', null]],
      );
      const page = await store.signJobs.listDocuments(j.id, { offset: 1, limit: 1 });
      assert.deepEqual([page.total, page.items[0]!.businessId], [3, 'B-1']);
      await store.signJobs.dropPayloads(j.id);
      assert.equal((await store.signJobs.pendingDocuments(j.id, 10))[0]!.payload, null);
    });

    test('expiry candidates, webhook claims (one winner) and attempts', async () => {
      const j = job(appId, signerId, { expiresAt: later(60_000) });
      await store.signJobs.insertJob(j, docs(j.id, 1), []);
      assert.ok(
        !(
          await store.signJobs.jobIdsInState('awaiting-authorisation', 100, { expiresBefore: later(59_000) })
        ).includes(j.id),
      );
      assert.ok(
        (
          await store.signJobs.jobIdsInState('awaiting-authorisation', 100, { expiresBefore: later(60_000) })
        ).includes(j.id),
      );
      const delivery = randomUUID();
      assert.equal(
        await store.signJobs.updateJob(
          j.id,
          ['awaiting-authorisation'],
          {
            state: 'expired',
            completedAt: later(60_000),
            updatedAt: later(60_000),
            webhookState: 'pending',
            webhookDeliveryId: delivery,
            webhookNextAt: later(60_000),
          },
          [],
        ),
        true,
      );
      assert.deepEqual(await store.signJobs.dueWebhooks(later(59_999), 10), []);
      assert.deepEqual(await store.signJobs.dueWebhooks(later(60_000), 10), [j.id]);
      const claims = await Promise.all([
        store.signJobs.claimWebhook(j.id, 0, later(60_000), later(120_000)),
        store.signJobs.claimWebhook(j.id, 0, later(60_001), later(120_001)),
      ]);
      assert.deepEqual(claims.sort(), [false, true]);
      assert.deepEqual(await store.signJobs.dueWebhooks(later(60_000), 10), []);
      await store.signJobs.recordWebhookAttempt(
        {
          jobId: j.id,
          attempt: 1,
          deliveryId: delivery,
          at: later(60_000),
          status: 500,
          error: 'HTTP 500',
          durationMs: 12,
        },
        {
          webhookState: 'pending',
          webhookAttempts: 1,
          webhookNextAt: later(90_000),
          updatedAt: later(60_000),
        },
        [],
      );
      await store.signJobs.recordWebhookAttempt(
        {
          jobId: j.id,
          attempt: 2,
          deliveryId: delivery,
          at: later(90_000),
          status: null,
          error: 'timeout',
          durationMs: 2000,
        },
        { webhookState: 'delivered', webhookAttempts: 2, webhookNextAt: null, updatedAt: later(90_000) },
        [event('sign.job-webhook', j.id)],
      );
      const attempts = await store.signJobs.listWebhookAttempts(j.id);
      assert.deepEqual(
        attempts.map((a) => [a.attempt, a.status, a.error]),
        [
          [1, 500, 'HTTP 500'],
          [2, null, 'timeout'],
        ],
      );
      const got = (await store.signJobs.getJob(j.id))!;
      assert.deepEqual([got.webhookState, got.webhookAttempts, got.webhookNextAt], ['delivered', 2, null]);
    });
  });
}
