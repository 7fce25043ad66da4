// The signing tables on SQLite and PostgreSQL: applications, nonces (replays), signers (PIN counter and
// lock in single statements), append-only signature records with idempotency keys and search.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  openStore,
  type SignAppRecord,
  type SignatureRow,
  type SignerRow,
  type Store,
} from '../src/index.js';
import { dialects, type TestDatabase } from './helpers/databases.js';

const t0 = new Date('2026-03-01T08:00:00.000Z');

const app = (id: string): SignAppRecord => ({
  id,
  name: 'HIS',
  systemType: 'HIS',
  ownerDepartment: '信息科',
  operations: ['sign', 'verify'],
  ipRanges: ['10.0.0.0/8'],
  rateLimit: 100,
  sealedSecret: new Uint8Array(randomBytes(60)),
  status: 'active',
  createdAt: t0,
});

const signer = (employeeNo: string): SignerRow => ({
  id: randomUUID(),
  employeeNo,
  name: '张三',
  departmentCode: '0101',
  profile: 'doctor',
  keyId: randomUUID(),
  caId: 'sm2',
  certSerial: 'abc123',
  certificate: new Uint8Array(randomBytes(400)),
  pinHash: 'scrypt$…',
  failedPins: 0,
  locked: false,
  createdAt: t0,
  updatedAt: t0,
});

const signature = (appId: string, s: SignerRow, over: Partial<SignatureRow> = {}): SignatureRow => ({
  id: randomUUID(),
  appId,
  signerId: s.id,
  employeeNo: s.employeeNo,
  caId: s.caId,
  certSerial: s.certSerial,
  format: 'p7-detached',
  digestAlgorithm: 'sm3',
  digest: 'ab'.repeat(32),
  signature: new Uint8Array(randomBytes(700)),
  token: null,
  metadata: { system: 'HIS', docType: 'prescription', docId: 'RX1', departmentCode: '0101', visitRef: 'V1' },
  idempotencyKey: null,
  requestHash: null,
  createdAt: t0,
  ...over,
});

for (const dialect of dialects) {
  describe(`signing tables on ${dialect.name}`, { skip: dialect.skip }, () => {
    let tdb: TestDatabase;
    let store: Store;
    /** Inserts a record with its audit event, as the signing service does. */
    const insert = (r: SignatureRow) =>
      store.signing.insertSignature(r, { actor: `app:${r.appId}`, action: 'sign.signature', target: r.id });
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
    });
    after(async () => {
      await store?.close();
      await tdb?.drop();
    });

    test('applications round-trip; nonces refuse replays and expire', async () => {
      const a = app('app_1');
      await store.signing.insertApp(a);
      assert.deepEqual(await store.signing.getApp('app_1'), a);
      assert.equal(await store.signing.getApp('nope'), undefined);
      const exp = new Date(t0.getTime() + 600_000);
      assert.equal(await store.signing.useNonce('app_1', 'n-000000000000001', exp, t0), true);
      assert.equal(await store.signing.useNonce('app_1', 'n-000000000000001', exp, t0), false);
      // After expiry the row is dropped (the timestamp check refuses such old requests anyway).
      assert.equal(await store.signing.useNonce('app_1', 'n-000000000000001', exp, exp), true);
    });

    test('group commit: concurrent nonces and idempotency keys each have exactly one winner', async () => {
      await store.signing.insertApp(app('app_g'));
      const s = signer('D00G');
      await store.signing.insertSigner(s);
      const exp = new Date(t0.getTime() + 600_000);
      // Issued in one turn, so they share group transactions: the replays must not win nor fail the others.
      const nonces = await Promise.all(
        ['n-g1', 'n-g2', 'n-g1', 'n-g3', 'n-g1', 'n-g2'].map((n) =>
          store.signing.useNonce('app_g', n, exp, t0),
        ),
      );
      assert.deepEqual(nonces, [true, true, false, true, false, false]);
      const records = ['k1', 'k2', 'k1', null, 'k1'].map((key) =>
        signature('app_g', s, { idempotencyKey: key, requestHash: key && 'h' }),
      );
      const inserted = await Promise.all(records.map((r) => insert(r)));
      assert.deepEqual(inserted, [true, true, false, true, false]);
      assert.equal((await store.signing.findSignatureByIdempotencyKey('app_g', 'k1'))?.id, records[0]!.id);
      assert.equal((await store.signing.searchSignatures({ appId: 'app_g', limit: 10 })).total, 3);
      // Each record came with its audit event, the losers' with none; the chain stayed one chain.
      const targets = (await store.audit.list({ limit: 1000 }))
        .filter((e) => e.action === 'sign.signature')
        .map((e) => e.target);
      for (const [i, r] of records.entries()) assert.equal(targets.includes(r.id), inserted[i]);
      assert.equal((await store.audit.verify()).ok, true);
    });

    test('signers: unique employee number, wrong-PIN counter locks, unlock', async () => {
      const s = signer('D001');
      assert.equal(await store.signing.insertSigner(s), true);
      assert.equal(await store.signing.insertSigner({ ...signer('D001') }), false);
      assert.deepEqual(await store.signing.getSignerByEmployeeNo('D001'), s);
      for (let i = 1; i <= 2; i++)
        assert.equal((await store.signing.recordWrongPin(s.id, 3, t0)).failedPins, i);
      const locked = await store.signing.recordWrongPin(s.id, 3, t0);
      assert.equal(locked.locked, true);
      assert.equal(await store.signing.unlockSigner(s.id, t0), true);
      assert.equal(await store.signing.unlockSigner(s.id, t0), false);
      const after = await store.signing.getSigner(s.id);
      assert.equal(after?.locked, false);
      assert.equal(after?.failedPins, 0);
    });

    test('authorisations: list newest expiry first, revoke once', async () => {
      const s = signer('D003');
      await store.signing.insertSigner(s);
      const mk = (id: string, hours: number) => ({
        id,
        signerId: s.id,
        appIds: ['app_1'],
        grantedVia: 'app_1',
        createdAt: t0,
        expiresAt: new Date(t0.getTime() + hours * 3_600_000),
        revokedAt: null,
      });
      await store.signing.insertAuthorisation(mk('a1', 1));
      await store.signing.insertAuthorisation(mk('a2', 8));
      assert.deepEqual((await store.signing.getAuthorisation('a1'))?.appIds, ['app_1']);
      assert.deepEqual(
        (await store.signing.listAuthorisations(s.id, 10)).map((a) => a.id),
        ['a2', 'a1'],
      );
      assert.equal(await store.signing.revokeAuthorisation('a2', t0), true);
      assert.equal(await store.signing.revokeAuthorisation('a2', t0), false);
      assert.deepEqual((await store.signing.getAuthorisation('a2'))?.revokedAt, t0);
    });

    test('signatures: idempotency key unique per app, search, append-only', async () => {
      await store.signing.insertApp(app('app_2'));
      const s = signer('D002');
      await store.signing.insertSigner(s);
      const first = signature('app_2', s, {
        idempotencyKey: 'k1',
        requestHash: 'h',
        token: new Uint8Array([1, 2]),
      });
      assert.equal(await insert(first), true);
      assert.equal(await insert(signature('app_2', s, { idempotencyKey: 'k1' })), false);
      // Read back, a record carries its audit event's position in the chain (written with it).
      const stored = await store.signing.getSignature(first.id);
      const event = (await store.audit.byTarget(first.id))[0]!;
      assert.deepEqual(stored, { ...first, audit: { seq: event.seq, hash: event.hash } });
      assert.deepEqual(await store.signing.findSignatureByIdempotencyKey('app_2', 'k1'), stored);
      for (let i = 0; i < 3; i++)
        await insert(
          signature('app_2', s, {
            createdAt: new Date(t0.getTime() + (i + 1) * 86_400_000),
            metadata: { docType: i === 0 ? 'lab-report' : 'prescription', docId: `RX${i + 2}` },
          }),
        );
      let r = await store.signing.searchSignatures({ appId: 'app_2', limit: 10 });
      assert.equal(r.total, 4);
      assert.ok(r.items[0]!.createdAt > r.items[3]!.createdAt, 'newest first');
      r = await store.signing.searchSignatures({ docType: 'prescription', employeeNo: 'D002', limit: 1 });
      assert.equal(r.total, 3);
      assert.equal(r.items.length, 1);
      r = await store.signing.searchSignatures({
        from: new Date(t0.getTime() + 86_400_000),
        to: new Date(t0.getTime() + 2 * 86_400_000),
        limit: 10,
      });
      assert.equal(r.total, 1);
      assert.equal(r.items[0]!.metadata.docType, 'lab-report');
      const all = [];
      for await (const row of store.signing.iterateSignatures({ appId: 'app_2' }, 2)) all.push(row.id);
      assert.deepEqual(
        all,
        (await store.signing.searchSignatures({ appId: 'app_2', limit: 10 })).items.map((x) => x.id),
      );
      await assert.rejects(tdb.raw(`update signatures set digest = 'x'`), /append-only/);
      await assert.rejects(tdb.raw(`delete from signatures`), /append-only/);
    });

    test('signatures: fuzzy text search on employee number, signer name, document id/type, visit ref', async () => {
      await store.signing.insertApp(app('app_q'));
      const wang = { ...signer('QX-77'), name: '王晓明' };
      const lee = { ...signer('QY-88'), name: 'Lee Ann' };
      await store.signing.insertSigner(wang);
      await store.signing.insertSigner(lee);
      const a = signature('app_q', wang, {
        metadata: { docType: 'nursing-note', docId: 'NN-2026_001', visitRef: 'VISIT-Alpha' },
      });
      const b = signature('app_q', lee, { metadata: { docType: 'prescription', docId: 'RX%9' } });
      await insert(a);
      await insert(b);
      const ids = async (text: string) =>
        (await store.signing.searchSignatures({ appId: 'app_q', text, limit: 10 })).items
          .map((r) => r.id)
          .sort();
      assert.deepEqual(await ids('晓明'), [a.id], 'signer name (Chinese)');
      assert.deepEqual(await ids('lee a'), [b.id], 'signer name, case-insensitive');
      assert.deepEqual(await ids('qx-7'), [a.id], 'employee number, case-insensitive');
      assert.deepEqual(await ids('2026_0'), [a.id], 'document id with an underscore taken literally');
      assert.deepEqual(await ids('NN-2026%'), [], 'a percent sign is not a wildcard');
      assert.deepEqual(await ids('rx%9'), [b.id], 'a literal percent sign matches');
      assert.deepEqual(await ids('alpha'), [a.id], 'visit reference');
      assert.deepEqual(await ids('NURSING'), [a.id], 'document type');
      assert.deepEqual(await ids(b.id.slice(0, 13)), [b.id], 'record id');
      assert.deepEqual(await ids('nobody'), []);
      const streamed = [];
      for await (const row of store.signing.iterateSignatures({ appId: 'app_q', text: 'lee' }))
        streamed.push(row.id);
      assert.deepEqual(streamed, [b.id], 'exports take the same filter');
    });

    test('evidence: client IP, intent and audit position; sealed originals in the same transaction', async () => {
      await store.signing.insertApp(app('app_e'));
      const s = signer('D00E');
      await store.signing.insertSigner(s);
      const intent = {
        method: 'authorisation',
        authorisationId: 'a-1',
        grantedAt: t0.toISOString(),
        expiresAt: t0.toISOString(),
        apps: ['app_e'],
        grantedVia: 'app_e',
      };
      const records = [0, 1, 2].map(() => signature('app_e', s, { clientIp: '10.1.2.3', intent }));
      const sealed = new Uint8Array(randomBytes(64));
      // One group transaction for all three; each record gets its own event's seq and hash.
      await Promise.all(
        records.map((r, i) =>
          store.signing.insertSignature(
            r,
            { actor: 'app:app_e', action: 'sign.signature', target: r.id },
            i === 1 ? { size: 48, sealed } : undefined,
          ),
        ),
      );
      const seqs = new Set<number>();
      for (const r of records) {
        const got = (await store.signing.getSignature(r.id))!;
        assert.equal(got.clientIp, '10.1.2.3');
        assert.deepEqual(got.intent, intent);
        const [event] = await store.audit.byTarget(r.id, { action: 'sign.signature' });
        assert.deepEqual(got.audit, { seq: event!.seq, hash: event!.hash });
        seqs.add(got.audit!.seq);
        const upTo = await store.audit.verify({ upTo: got.audit!.seq });
        assert.equal(upTo.ok, true);
        assert.deepEqual(upTo.head, got.audit);
      }
      assert.equal(seqs.size, 3);
      const original = await store.signing.getOriginal(records[1]!.id);
      assert.equal(original?.size, 48);
      assert.deepEqual(original?.sealed, sealed);
      assert.equal(await store.signing.getOriginal(records[0]!.id), undefined);
      // A duplicate idempotency key writes neither record, event nor original.
      const dup = signature('app_e', s, { idempotencyKey: 'e1' });
      assert.equal(await insert(dup), true);
      const again = signature('app_e', s, { idempotencyKey: 'e1' });
      assert.equal(
        await store.signing.insertSignature(
          again,
          { actor: 'app:app_e', action: 'sign.signature', target: again.id },
          { size: 1, sealed },
        ),
        false,
      );
      assert.equal(await store.signing.getOriginal(again.id), undefined);
      assert.deepEqual(await store.audit.byTarget(again.id), []);
      await assert.rejects(tdb.raw(`update signature_originals set size = 1`), /append-only/);
      await assert.rejects(tdb.raw(`delete from signature_originals`), /append-only/);
    });
  });
}
