// Storage contract for the accounts migration (users, sessions) and the CRL number counter, on SQLite and
// PostgreSQL: the same behaviour on both, including concurrent CRL numbers and lockout counting.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { openStore, StoreError, type Store } from '../src/index.js';
import { dialects, type TestDatabase } from './helpers/databases.js';

const t0 = new Date('2026-01-15T08:00:00.000Z');
const hex32 = () => randomBytes(32).toString('hex');

for (const dialect of dialects) {
  describe(`accounts and CRL numbers on ${dialect.name}`, { skip: dialect.skip }, () => {
    let tdb: TestDatabase;
    let store: Store;
    before(async () => {
      tdb = await dialect.create();
      store = await openStore(tdb.url);
      await store.cas.insert({
        id: 'ca-1',
        name: 'CA 1',
        algorithm: 'sm2',
        certificate: new Uint8Array(randomBytes(100)),
        keyRef: 'k1',
        parentId: null,
        status: 'active',
        createdAt: t0,
      });
    });
    after(async () => {
      await store?.close();
      await tdb?.drop();
    });

    test('users: insert, find, duplicate username is a conflict, password change', async () => {
      assert.equal(await store.users.count(), 0);
      const u = await store.users.insert({
        username: 'admin',
        passwordHash: 'scrypt$x',
        roles: ['admin'],
        mustChangePassword: true,
        now: t0,
      });
      assert.equal(await store.users.count(), 1);
      const got = await store.users.findByUsername('admin');
      assert.deepEqual(got, u);
      assert.equal(got!.mustChangePassword, true);
      assert.deepEqual(got!.roles, ['admin']);
      await assert.rejects(
        store.users.insert({ username: 'admin', passwordHash: 'h', roles: [], mustChangePassword: false }),
        (e: unknown) => e instanceof StoreError && e.code === 'conflict',
      );
      await store.users.setPassword(u.id, 'scrypt$y', false);
      const changed = await store.users.get(u.id);
      assert.equal(changed!.passwordHash, 'scrypt$y');
      assert.equal(changed!.mustChangePassword, false);
      await assert.rejects(
        store.users.setPassword('nobody', 'h', false),
        (e: unknown) => e instanceof StoreError && e.code === 'not-found',
      );
      assert.equal(await store.users.findByUsername('nobody'), undefined);
    });

    test('users: failures count up, lock at the limit, reset on success', async () => {
      const u = await store.users.insert({
        username: 'locky',
        passwordHash: 'h',
        roles: [],
        mustChangePassword: false,
      });
      const until = new Date(t0.getTime() + 15 * 60_000);
      for (let i = 1; i <= 4; i++) {
        const r = await store.users.recordFailedLogin(u.id, 5, until);
        assert.equal(r!.failedLogins, i);
        assert.equal(r!.lockedUntil, null);
      }
      const locked = await store.users.recordFailedLogin(u.id, 5, until);
      assert.equal(locked!.failedLogins, 0);
      assert.deepEqual(locked!.lockedUntil, until);
      await store.users.recordSuccessfulLogin(u.id);
      const ok = await store.users.get(u.id);
      assert.equal(ok!.lockedUntil, null);
      assert.equal(ok!.failedLogins, 0);
    });

    test('sessions: insert, find, delete, expiry sweep, cascade with the user', async () => {
      const u = await store.users.insert({
        username: 'sess',
        passwordHash: 'h',
        roles: [],
        mustChangePassword: false,
      });
      const live = {
        tokenHash: hex32(),
        userId: u.id,
        remote: '127.0.0.1',
        createdAt: t0,
        expiresAt: new Date(t0.getTime() + 3_600_000),
      };
      const old = { ...live, tokenHash: hex32(), expiresAt: new Date(t0.getTime() - 1000) };
      await store.sessions.insert(live);
      await store.sessions.insert(old);
      assert.deepEqual(await store.sessions.find(live.tokenHash), live);
      assert.equal(await store.sessions.deleteExpired(t0), 1);
      assert.equal(await store.sessions.find(old.tokenHash), undefined);
      assert.equal(await store.sessions.delete(live.tokenHash), true);
      assert.equal(await store.sessions.delete(live.tokenHash), false);
      await store.sessions.insert({ ...live, tokenHash: hex32() });
      await store.sessions.insert({ ...live, tokenHash: hex32() });
      const keep = hex32();
      await store.sessions.insert({ ...live, tokenHash: keep });
      assert.equal(await store.sessions.deleteForUser(u.id, keep), 2);
      assert.ok(await store.sessions.find(keep));
      await assert.rejects(store.sessions.insert({ ...live, tokenHash: 'short' }), RangeError);
      await assert.rejects(store.sessions.insert({ ...live, tokenHash: hex32(), userId: 'no-such-user' }));
    });

    test('CRL numbers: 1, 2, 3 … per CA, unique under concurrency, CA must exist', async () => {
      assert.equal(await store.crlNumbers.current('ca-1'), undefined);
      assert.equal(await store.crlNumbers.next('ca-1'), 1n);
      assert.equal(await store.crlNumbers.next('ca-1'), 2n);
      const other = await openStore(tdb.url);
      try {
        const got = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 ? store : other).crlNumbers.next('ca-1')),
        );
        assert.equal(new Set(got.map(String)).size, 20);
        assert.deepEqual(
          got.map(Number).sort((a, b) => a - b),
          Array.from({ length: 20 }, (_, i) => i + 3),
        );
      } finally {
        await other.close();
      }
      assert.equal(await store.crlNumbers.current('ca-1'), 22n);
      await assert.rejects(store.crlNumbers.next('no-such-ca'));
    });
  });
}
