// The storage contract: every repository behaves the same on SQLite and on PostgreSQL.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sm3 } from '@medsign/gm';
import {
  CRLS_KEPT,
  openDatabase,
  openStore,
  StoreError,
  type CaRecord,
  type NewCertificate,
  type Store,
  type TsaTokenRecord,
} from '../src/index.js';
import { dialects, type TestDatabase } from './helpers/databases.js';

const day = 86_400_000;
const t0 = new Date('2026-01-15T08:00:00.000Z');

function ca(id: string, parentId: string | null = null): CaRecord {
  return {
    id,
    name: `CA ${id}`,
    algorithm: 'sm2',
    certificate: new Uint8Array(randomBytes(300)),
    keyRef: `key-${id}`,
    parentId,
    status: 'active',
    createdAt: t0,
  };
}

function cert(caId: string, serial: string, over: Partial<NewCertificate> = {}): NewCertificate {
  return {
    caId,
    serial,
    subject: `CN=Doctor ${serial},O=Example Hospital`,
    subjectDer: new Uint8Array(randomBytes(40)),
    profile: 'doctor',
    notBefore: t0,
    notAfter: new Date(t0.getTime() + 365 * day),
    der: new Uint8Array(randomBytes(500)),
    createdAt: t0,
    ...over,
  };
}

function isStoreError(code: StoreError['code']) {
  return (e: unknown) => e instanceof StoreError && e.code === code;
}

for (const dialect of dialects) {
  describe(`store contract on ${dialect.name}`, { skip: dialect.skip }, () => {
    let tdb: TestDatabase;
    let store: Store;
    before(async () => {
      tdb = await dialect.create();
      store = await openStore(tdb.url);
    });
    after(async () => {
      await store?.close();
      await tdb?.drop();
    });

    test('opening again finds the schema migrated and applies nothing', async () => {
      const again = await openDatabase(tdb.url);
      try {
        assert.equal(again.dialect, dialect.name);
        const { migrateToLatest } = await import('../src/index.js');
        assert.deepEqual(await migrateToLatest(again), []);
      } finally {
        await again.close();
      }
    });

    test('CAs: insert, get, list; duplicate id is a conflict; parent must exist', async () => {
      const root = ca('ca-root');
      await store.cas.insert(root);
      await store.cas.insert(ca('ca-issuing', 'ca-root'));
      const got = await store.cas.get('ca-root');
      assert.deepEqual(got, root);
      assert.ok(got!.certificate.constructor === Uint8Array, 'bytes come back as a plain Uint8Array');
      assert.equal(await store.cas.get('nope'), undefined);
      assert.deepEqual(
        (await store.cas.list()).map((c) => c.id),
        ['ca-issuing', 'ca-root'],
      );
      await assert.rejects(store.cas.insert(root), isStoreError('conflict'));
      await assert.rejects(store.cas.insert(ca('orphan', 'no-such-ca')), (e) => !(e instanceof StoreError));
    });

    test('certificates: insert, findBySerial in any spelling, duplicates refused', async () => {
      await store.cas.insert(ca('ca-c1'));
      const stored = await store.certificates.insert(
        cert('ca-c1', '0A1B2C', { department: 'ICU', employeeNo: 'E001' }),
      );
      assert.equal(stored.serial, 'a1b2c');
      assert.equal(stored.status, 'good');
      assert.equal(stored.fingerprint, Buffer.from(sm3(stored.der)).toString('hex'));
      for (const spelling of ['a1b2c', '0A:1B:2C', '0x0a1b2c', 0xa1b2cn]) {
        const found = await store.certificates.findBySerial('ca-c1', spelling);
        assert.deepEqual(found, stored, `serial spelled ${String(spelling)}`);
      }
      assert.equal(await store.certificates.findBySerial('ca-c1', 'ffff'), undefined);
      await assert.rejects(store.certificates.insert(cert('ca-c1', 'a1b2c')), isStoreError('conflict'));
      // Same der twice (different serial) collides on the fingerprint.
      await assert.rejects(
        store.certificates.insert(cert('ca-c1', 'beef', { der: stored.der })),
        isStoreError('conflict'),
      );
      // The same serial under another CA is a different certificate.
      await store.cas.insert(ca('ca-c2'));
      await store.certificates.insert(cert('ca-c2', 'a1b2c'));
      assert.equal((await store.certificates.findBySerial('ca-c2', 'a1b2c'))!.caId, 'ca-c2');
      await assert.rejects(store.certificates.insert(cert('no-such-ca', '01')));
    });

    test('certificates: search by subject, serial, department, profile, status, expiry; paging', async () => {
      await store.cas.insert(ca('ca-s'));
      const c = store.certificates;
      await c.insert(
        cert('ca-s', '01', {
          subject: 'CN=张三,OU=心内科,O=某医院',
          department: 'cardio',
          createdAt: new Date(t0.getTime() + 1),
        }),
      );
      await c.insert(
        cert('ca-s', '02', {
          subject: 'CN=Li Si,O=Hospital',
          department: 'cardio',
          profile: 'nurse',
          createdAt: new Date(t0.getTime() + 2),
        }),
      );
      await c.insert(
        cert('ca-s', '03', {
          subject: 'CN=100% Wang_Wu,O=Hospital',
          department: 'icu',
          notAfter: new Date(t0.getTime() + 20 * day),
          createdAt: new Date(t0.getTime() + 3),
        }),
      );
      await c.insert(
        cert('ca-s', '04', {
          subject: 'CN=Zhao Liu,O=Hospital',
          department: null,
          createdAt: new Date(t0.getTime() + 4),
        }),
      );
      const serials = async (q: Parameters<typeof c.search>[0]) =>
        (await c.search({ caId: 'ca-s', ...q })).items.map((x) => x.serial);

      assert.deepEqual(await serials({ limit: 10 }), ['4', '3', '2', '1']);
      assert.deepEqual(await serials({ subject: '张三', limit: 10 }), ['1']);
      assert.deepEqual(await serials({ subject: 'li si', limit: 10 }), ['2'], 'case-insensitive');
      assert.deepEqual(await serials({ subject: 'hospital', limit: 10 }), ['4', '3', '2']);
      // LIKE wildcards in the user's text are literals.
      assert.deepEqual(await serials({ subject: '100%', limit: 10 }), ['3']);
      assert.deepEqual(await serials({ subject: '%', limit: 10 }), ['3']);
      assert.deepEqual(await serials({ subject: 'g_w', limit: 10 }), ['3']);
      assert.deepEqual(await serials({ subject: 'n_W', limit: 10 }), []);
      assert.deepEqual(await serials({ serial: '0x03', limit: 10 }), ['3']);
      assert.deepEqual(await serials({ department: 'cardio', limit: 10 }), ['2', '1']);
      assert.deepEqual(await serials({ profile: 'nurse', limit: 10 }), ['2']);
      assert.deepEqual(await serials({ department: 'cardio', profile: 'doctor', limit: 10 }), ['1']);
      // Expiring in the next 30 days from t0.
      assert.deepEqual(
        await serials({ expiringAfter: t0, expiringBefore: new Date(t0.getTime() + 30 * day), limit: 10 }),
        ['3'],
      );
      assert.deepEqual(await serials({ order: 'expiry', limit: 2 }), ['3', '1']);
      const page = await c.search({ caId: 'ca-s', limit: 2, offset: 1 });
      assert.equal(page.total, 4);
      assert.deepEqual(
        page.items.map((x) => x.serial),
        ['3', '2'],
      );
      await c.setStatus('ca-s', '02', { status: 'revoked', revokedAt: t0, reason: 'keyCompromise' });
      assert.deepEqual(await serials({ status: 'revoked', limit: 10 }), ['2']);
      assert.deepEqual(await serials({ status: 'good', limit: 10 }), ['4', '3', '1']);
      await assert.rejects(c.search({ limit: 0 }), RangeError);
    });

    test('certificates: counts by department, profile, status and month', async () => {
      await store.cas.insert(ca('ca-n'));
      const c = store.certificates;
      const jan = new Date('2026-01-31T23:59:59.999Z');
      const feb = new Date('2026-02-01T00:00:00.000Z');
      await c.insert(cert('ca-n', '11', { department: 'icu', createdAt: jan }));
      await c.insert(cert('ca-n', '12', { department: 'icu', profile: 'nurse', createdAt: feb }));
      await c.insert(cert('ca-n', '13', { department: 'er', createdAt: feb }));
      await c.insert(cert('ca-n', '14', { createdAt: feb }));
      await c.setStatus('ca-n', '13', { status: 'hold', revokedAt: feb });
      const counts = (d: Parameters<typeof c.countsBy>[0]) => c.countsBy(d, { caId: 'ca-n' });
      assert.deepEqual(await counts('department'), [
        { key: null, count: 1 },
        { key: 'er', count: 1 },
        { key: 'icu', count: 2 },
      ]);
      assert.deepEqual(await counts('profile'), [
        { key: 'doctor', count: 3 },
        { key: 'nurse', count: 1 },
      ]);
      assert.deepEqual(await counts('status'), [
        { key: 'good', count: 3 },
        { key: 'hold', count: 1 },
      ]);
      assert.deepEqual(await counts('month'), [
        { key: '2026-01', count: 1 },
        { key: '2026-02', count: 3 },
      ]);
    });

    test('certificates: hold, resume, revoke; revocation is final; CRL listing', async () => {
      await store.cas.insert(ca('ca-r'));
      const c = store.certificates;
      await c.insert(cert('ca-r', 'aa'));
      await c.insert(cert('ca-r', 'bb'));
      const at = new Date('2026-03-01T10:00:00.000Z');
      await assert.rejects(
        c.setStatus('ca-r', 'aa', { status: 'good' }),
        isStoreError('invalid-state'),
        'resume needs hold',
      );
      await c.setStatus('ca-r', 'aa', { status: 'hold', revokedAt: at });
      assert.deepEqual(await c.listRevoked('ca-r'), [
        { serial: 'aa', status: 'hold', revokedAt: at, reason: 'certificateHold' },
      ]);
      await c.setStatus('ca-r', 'aa', { status: 'good' });
      const resumed = await c.findBySerial('ca-r', 'aa');
      assert.equal(resumed!.status, 'good');
      assert.equal(resumed!.revokedAt, null);
      assert.equal(resumed!.revocationReason, null);
      await c.setStatus('ca-r', 'aa', { status: 'revoked', revokedAt: at, reason: 'affiliationChanged' });
      await c.setStatus('ca-r', 'bb', { status: 'hold', revokedAt: at });
      await c.setStatus('ca-r', 'bb', { status: 'revoked', revokedAt: at, reason: 'keyCompromise' });
      await assert.rejects(c.setStatus('ca-r', 'aa', { status: 'good' }), isStoreError('invalid-state'));
      await assert.rejects(
        c.setStatus('ca-r', 'aa', { status: 'revoked', revokedAt: at, reason: 'keyCompromise' }),
        isStoreError('invalid-state'),
      );
      await assert.rejects(
        c.setStatus('ca-r', 'cc', { status: 'hold', revokedAt: at }),
        isStoreError('not-found'),
      );
      assert.deepEqual(await c.listRevoked('ca-r'), [
        { serial: 'aa', status: 'revoked', revokedAt: at, reason: 'affiliationChanged' },
        { serial: 'bb', status: 'revoked', revokedAt: at, reason: 'keyCompromise' },
      ]);
    });

    test('serials: reserveUniqueSerial retries on forced collisions and never on other errors', async () => {
      await store.cas.insert(ca('ca-x'));
      const s = store.serials;
      assert.equal(await s.reserveUniqueSerial('ca-x', () => 'ABC'), 'abc');
      // Three collisions (the same serial in three spellings), then a fresh one.
      const queue = ['abc', '0x0ABC', 0xabcn, 'def'];
      let calls = 0;
      const got = await s.reserveUniqueSerial('ca-x', () => {
        calls++;
        return queue.shift()!;
      });
      assert.equal(got, 'def');
      assert.equal(calls, 4);
      assert.ok(await s.isReserved('ca-x', 'DEF'));
      // Always colliding: gives up after maxAttempts.
      calls = 0;
      await assert.rejects(
        s.reserveUniqueSerial('ca-x', () => (calls++, 'abc'), { maxAttempts: 5 }),
        isStoreError('exhausted'),
      );
      assert.equal(calls, 5);
      // A serial is per CA: another CA may use it.
      await store.cas.insert(ca('ca-y'));
      assert.equal(await s.reserveUniqueSerial('ca-y', () => 'abc'), 'abc');
      // A foreign-key failure is not a collision: thrown at once.
      calls = 0;
      await assert.rejects(
        s.reserveUniqueSerial('no-such-ca', () => (calls++, '01')),
        (e) => !(e instanceof StoreError),
      );
      assert.equal(calls, 1);
      // The default generator: random, positive, ≥128 bits, normalised.
      const serials = new Set<string>();
      for (let i = 0; i < 20; i++) serials.add(await s.reserveUniqueSerial('ca-y'));
      assert.equal(serials.size, 20);
      for (const serial of serials) assert.match(serial, /^[1-9a-f][0-9a-f]{25,33}$/);
    });

    test('serials: concurrent reservations with colliding generators all end unique', async () => {
      await store.cas.insert(ca('ca-z'));
      // 30 reservations drawing from only 40 possible serials: collisions are certain, duplicates never.
      let n = 0;
      const generate = () => ((n++ * 7) % 40) + 1;
      const got = await Promise.all(
        Array.from({ length: 30 }, () =>
          store.serials.reserveUniqueSerial('ca-z', () => BigInt(generate()), { maxAttempts: 50 }),
        ),
      );
      assert.equal(new Set(got).size, 30);
    });

    test('intents: record → signed → stored; failures; listUnfinished; one intent per serial', async () => {
      await store.cas.insert(ca('ca-i'));
      const i = store.intents;
      const hash = sm3('tbs-1');
      const a = await i.record({ caId: 'ca-i', serial: '0x10', tbsHash: hash, now: t0 });
      assert.equal(a.state, 'pending');
      assert.equal(a.serial, '10');
      assert.equal(a.tbsHash, Buffer.from(hash).toString('hex'));
      const b = await i.record({
        caId: 'ca-i',
        serial: '11',
        tbsHash: sm3('tbs-2'),
        now: new Date(t0.getTime() + 1),
      });
      const c = await i.record({
        caId: 'ca-i',
        serial: '12',
        tbsHash: sm3('tbs-3'),
        now: new Date(t0.getTime() + 2),
      });
      await assert.rejects(i.record({ caId: 'ca-i', serial: '10', tbsHash: hash }), isStoreError('conflict'));
      assert.deepEqual(
        (await i.listUnfinished()).map((x) => x.id),
        [a.id, b.id, c.id],
      );

      const later = new Date(t0.getTime() + 1000);
      await i.markSigned(a.id, later);
      await i.markStored(a.id, later);
      await i.markSigned(b.id);
      await i.markFailed(c.id, 'lint: subject too long');
      const unfinished = await i.listUnfinished();
      assert.deepEqual(
        unfinished.map((x) => [x.id, x.state]),
        [[b.id, 'signed']],
      );
      const storedA = await i.get(a.id);
      assert.equal(storedA!.state, 'stored');
      assert.deepEqual(storedA!.updatedAt, later);
      assert.equal((await i.get(c.id))!.error, 'lint: subject too long');

      await assert.rejects(i.markSigned(a.id), isStoreError('invalid-state'), 'stored is final');
      await assert.rejects(i.markFailed(a.id, 'x'), isStoreError('invalid-state'));
      await assert.rejects(i.markStored(c.id), isStoreError('invalid-state'), 'failed is final');
      await assert.rejects(i.markSigned(b.id), isStoreError('invalid-state'), 'signed twice');
      await assert.rejects(i.markSigned('no-such-intent'), isStoreError('not-found'));
    });

    test('group commit: concurrent writes share a transaction, a failing one alone is rolled back', async () => {
      await store.cas.insert(ca('ca-group'));
      await store.certificates.insert(cert('ca-group', '10'));
      const before = await store.audit.verify();
      // Queued in one turn: five certificates, a duplicate (fails), three audit events.
      const results = await Promise.allSettled([
        ...['11', '12', '13', '14', '15'].map((s) => store.certificates.insert(cert('ca-group', s))),
        store.certificates.insert(cert('ca-group', '10')),
        ...[1, 2, 3].map((i) => store.audit.append({ actor: 'group', action: 'test.group', detail: { i } })),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        [
          'fulfilled',
          'fulfilled',
          'fulfilled',
          'fulfilled',
          'fulfilled',
          'rejected',
          'fulfilled',
          'fulfilled',
          'fulfilled',
        ],
      );
      assert.ok(isStoreError('conflict')((results[5] as PromiseRejectedResult).reason));
      for (const s of ['11', '12', '13', '14', '15'])
        assert.ok(await store.certificates.findBySerial('ca-group', s), `certificate ${s} stored`);
      const after = await store.audit.verify();
      assert.ok(after.ok);
      assert.equal(after.checked, before.checked + 3);
      const events = await store.audit.list({ fromSeq: before.checked + 1 });
      assert.deepEqual(
        events.map((e) => e.detail.i),
        [1, 2, 3],
      );
    });

    test('crls: newest full and delta per CA, numbers stored once, old ones pruned', async () => {
      await store.cas.insert(ca('ca-crl'));
      assert.equal(await store.crls.latestInfo('ca-crl', 'full'), undefined);
      const crl = (n: number, kind: 'full' | 'delta', base: number | null = null) => ({
        caId: 'ca-crl',
        crlNumber: BigInt(n),
        kind,
        baseNumber: base === null ? null : BigInt(base),
        thisUpdate: new Date(t0.getTime() + n * 60_000),
        nextUpdate: new Date(t0.getTime() + n * 60_000 + day),
        entries: n,
        der: new Uint8Array(randomBytes(64)),
      });
      const first = crl(1, 'full');
      await store.crls.insert(first);
      await store.crls.insert(crl(2, 'delta', 1));
      await assert.rejects(store.crls.insert(crl(2, 'delta', 1)), isStoreError('conflict'));
      await assert.rejects(store.crls.insert(crl(3, 'delta', null)), RangeError);
      const info = await store.crls.latestInfo('ca-crl', 'full');
      assert.equal(info?.crlNumber, 1n);
      assert.deepEqual(info?.thisUpdate, first.thisUpdate);
      assert.equal((await store.crls.latestInfo('ca-crl', 'delta'))?.baseNumber, 1n);
      assert.deepEqual((await store.crls.get('ca-crl', 1n))?.der, first.der);
      for (let n = 3; n < 3 + CRLS_KEPT + 2; n++) await store.crls.insert(crl(n, 'full'));
      assert.equal((await store.crls.latestInfo('ca-crl', 'full'))?.crlNumber, BigInt(2 + CRLS_KEPT + 2));
      assert.equal(await store.crls.get('ca-crl', 1n), undefined, 'pruned');
      assert.ok(await store.crls.get('ca-crl', 2n), 'the delta is kept: pruning is per kind');
    });

    test('key records: put, get, list; an existing id is never overwritten', async () => {
      const k = store.keys;
      const rec = {
        id: 'key-1',
        label: 'SM2 issuing CA 2026',
        algorithm: 'sm2',
        publicKeyInfo: new Uint8Array(randomBytes(91)),
        encrypted: new Uint8Array(randomBytes(150)),
        createdAt: t0,
        metadata: { kek: 'scrypt-v1', 用途: 'CA 签发' },
      };
      await k.put(rec);
      await k.put({ ...rec, id: 'key-0', createdAt: new Date(t0.getTime() - 1), metadata: {} });
      assert.deepEqual(await k.get('key-1'), rec);
      assert.equal(await k.get('nope'), undefined);
      await assert.rejects(k.put({ ...rec, encrypted: new Uint8Array(10) }), isStoreError('conflict'));
      assert.deepEqual((await k.get('key-1'))!.encrypted, rec.encrypted, 'original kept');
      assert.deepEqual(
        (await k.list()).map((r) => r.id),
        ['key-0', 'key-1'],
      );
    });

    test('tsa tokens: group-committed archive; duplicates within a group, across groups and across connections', async () => {
      const tok = (serial: bigint, unit = 'sm2', at = t0): TsaTokenRecord => ({
        serial,
        unit,
        hashAlgorithm: 'sm3',
        hashedMessage: sm3(new TextEncoder().encode(`doc ${serial}`)),
        genTime: at,
        policy: '2.25.1',
        requester: unit === 'sm2' ? '127.0.0.1' : null,
        nonce: serial % 2n === 0n,
        tokenHash: sm3(new TextEncoder().encode(`token ${serial}`)),
      });
      const base = 0x7f000000000000000000000000000000n;
      // 600 at once (more than one group of 500), serial base+5 twice in the same group
      const results = await Promise.all([
        ...Array.from({ length: 600 }, (_, i) => store.tsaTokens.archive(tok(base + BigInt(i)))),
        store.tsaTokens.archive(tok(base + 5n)),
      ]);
      assert.equal(results.filter((r) => r === 'stored').length, 600);
      assert.equal(results.at(-1), 'duplicate');
      assert.equal(await store.tsaTokens.archive(tok(base + 7n, 'ecdsa')), 'duplicate', 'already archived');
      const got = await store.tsaTokens.get(base + 2n);
      assert.deepEqual(got, tok(base + 2n));
      assert.equal(await store.tsaTokens.get(1n), undefined);
      assert.deepEqual(await store.tsaTokens.findByImprint(tok(base + 9n).hashedMessage), [tok(base + 9n)]);
      await store.tsaTokens.archive(tok(base + 1000n, 'ecdsa', new Date(t0.getTime() + day)));
      assert.deepEqual(await store.tsaTokens.countByUnit(), [
        { unit: 'ecdsa', count: 1 },
        { unit: 'sm2', count: 600 },
      ]);
      assert.deepEqual(await store.tsaTokens.countByUnit(new Date(t0.getTime() + 1)), [
        { unit: 'ecdsa', count: 1 },
      ]);
      // a second connection (another server process) racing on the same serials: each stored exactly once
      const other = await openStore(tdb.url);
      try {
        const race = await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            (i % 2 ? other : store).tsaTokens.archive(tok(base + 2000n + BigInt(i >> 1))),
          ),
        );
        assert.equal(race.filter((r) => r === 'stored').length, 20);
      } finally {
        await other.close();
      }
      await assert.rejects(store.tsaTokens.archive(tok(0n)), RangeError);
      // SQLite files write on a worker thread; an in-memory database through Kysely on its one connection
      if (dialect.name === 'sqlite') {
        const mem = await openStore('sqlite::memory:');
        try {
          assert.deepEqual(
            await Promise.all([mem.tsaTokens.archive(tok(9n)), mem.tsaTokens.archive(tok(9n))]),
            ['stored', 'duplicate'],
          );
          assert.deepEqual(await mem.tsaTokens.get(9n), tok(9n));
        } finally {
          await mem.close();
        }
      }
    });
  });
}
