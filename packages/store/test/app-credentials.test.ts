// Application credentials (migration 0010) on SQLite and PostgreSQL: secret rotation keeps one retired
// secret until its grace ends (written with its audit event), client-certificate bindings are unique and
// unbinding ends them; the TSA archive's grouped insert (the signing service's time-stamps) refuses
// duplicate serials; the (filter, created_at) indexes replaced the single-column ones.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { openStore, type AppCertificateBinding, type SignAppRecord, type Store } from '../src/index.js';
import { dialects, type TestDatabase } from './helpers/databases.js';

const t0 = new Date('2026-03-01T08:00:00.000Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);

const app = (id: string): SignAppRecord => ({
  id,
  name: 'HIS',
  systemType: 'HIS',
  ownerDepartment: null,
  operations: ['sign'],
  ipRanges: [],
  rateLimit: 100,
  sealedSecret: new Uint8Array(randomBytes(60)),
  status: 'active',
  createdAt: t0,
});

for (const dialect of dialects) {
  describe(`application credentials on ${dialect.name}`, { skip: dialect.skip }, () => {
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

    test('rotation: the current secret becomes the retired one until the grace ends; at most one retired', async () => {
      const a = app('app_r');
      await store.signing.insertApp(a);
      const event = {
        actor: 'admin',
        action: 'app.secret-rotate',
        target: 'app_r',
        detail: { graceSeconds: 60 },
      };
      const second = new Uint8Array(randomBytes(60));
      assert.equal(
        await store.appCredentials.rotateSecret('app_r', second, t0, at(60), randomUUID(), event),
        true,
      );
      assert.deepEqual((await store.signing.getApp('app_r'))!.sealedSecret, second);
      let retired = await store.appCredentials.retiredSecrets('app_r', at(59));
      assert.equal(retired.length, 1);
      assert.deepEqual(retired[0]!.sealedSecret, a.sealedSecret);
      assert.deepEqual(await store.appCredentials.retiredSecrets('app_r', at(60)), []);

      // Rotating again drops the earlier retired secret; grace null retires nothing.
      const third = new Uint8Array(randomBytes(60));
      await store.appCredentials.rotateSecret('app_r', third, at(10), at(100), randomUUID(), event);
      retired = await store.appCredentials.retiredSecrets('app_r', at(11));
      assert.equal(retired.length, 1);
      assert.deepEqual(retired[0]!.sealedSecret, second);
      await store.appCredentials.rotateSecret('app_r', new Uint8Array(8), at(20), null, randomUUID(), event);
      assert.deepEqual(await store.appCredentials.retiredSecrets('app_r', at(21)), []);

      assert.equal(
        await store.appCredentials.rotateSecret('app_none', second, t0, null, randomUUID(), event),
        false,
      );
      const events = (await store.audit.list({ limit: 100 })).filter((e) => e.action === 'app.secret-rotate');
      assert.equal(events.length, 3, 'one audit event per rotation, none for the unknown app');
      assert.ok((await store.audit.verify()).ok);
    });

    test('certificate bindings: unique per certificate, found while bound, unbinding ends them', async () => {
      await store.signing.insertApp(app('app_c'));
      await store.signing.insertApp(app('app_d'));
      const b: AppCertificateBinding = {
        id: randomUUID(),
        appId: 'app_c',
        fingerprint: 'ab'.repeat(32),
        caId: 'ecdsa-issuing',
        serial: '0a1b',
        subject: 'CN=HIS client',
        createdAt: t0,
        revokedAt: null,
      };
      const event = { actor: 'admin', action: 'app.cert-bind', target: 'app_c' };
      assert.equal(await store.appCredentials.bindCertificate(b, event), true);
      assert.equal(
        await store.appCredentials.bindCertificate({ ...b, id: randomUUID(), appId: 'app_d' }, event),
        false,
      );
      assert.deepEqual(await store.appCredentials.findCertificate(b.fingerprint), b);
      assert.equal((await store.appCredentials.listCertificates('app_c')).length, 1);
      const unbind = { actor: 'admin', action: 'app.cert-unbind', target: 'app_c' };
      assert.equal(
        await store.appCredentials.unbindCertificate('app_d', b.fingerprint, at(5), unbind),
        false,
      );
      assert.equal(await store.appCredentials.unbindCertificate('app_c', b.fingerprint, at(5), unbind), true);
      assert.equal(
        await store.appCredentials.unbindCertificate('app_c', b.fingerprint, at(6), unbind),
        false,
      );
      assert.equal(await store.appCredentials.findCertificate(b.fingerprint), undefined);
      assert.deepEqual((await store.appCredentials.listCertificates('app_c'))[0]!.revokedAt, at(5));
    });

    test('the TSA archive in the shared group transaction: stored once, then duplicate', async () => {
      const token = {
        serial: 0x1234n,
        unit: 'sm2',
        hashAlgorithm: 'sm3',
        hashedMessage: new Uint8Array(32),
        genTime: t0,
        policy: '1.2.3',
        requester: 'sign-service',
        nonce: true,
        tokenHash: new Uint8Array(32),
      };
      const [a, b] = await Promise.all([
        store.tsaTokens.archiveInGroup(token),
        store.tsaTokens.archiveInGroup(token),
      ]);
      assert.deepEqual([a, b].sort(), ['duplicate', 'stored']);
      assert.equal((await store.tsaTokens.get(0x1234n))?.requester, 'sign-service');
    });
  });
}
