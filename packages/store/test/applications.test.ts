// The applications contract (0005) on SQLite and PostgreSQL: insert/get/search, the one-open-application
// rule, conditional transitions, and issuance = certificate + application in one transaction.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  openStore,
  StoreError,
  type ApplicationRecord,
  type NewCertificate,
  type Store,
} from '../src/index.js';
import { dialects, type TestDatabase } from './helpers/databases.js';

const t0 = new Date('2026-03-01T08:00:00.000Z');
const bytes = (n: number) => new Uint8Array(randomBytes(n));

function application(
  id: string,
  over: Partial<ApplicationRecord> = {},
): Omit<ApplicationRecord, 'updatedAt'> {
  return {
    id,
    profile: 'doctor',
    state: 'pending',
    name: `张医生 ${id}`,
    employeeNo: `E-${id}`,
    department: '心内科',
    personal: {
      fields: { organization: '测试医院', country: 'CN' },
      idNumberSealed: bytes(40),
      idNumberIndex: `hmac-${id}`,
      phoneSealed: bytes(30),
    },
    key: { kind: 'csr', csr: bytes(200) },
    caId: null,
    validityDays: null,
    submittedBy: 'ra1',
    submittedAt: t0,
    review: null,
    certificate: null,
    ...over,
  };
}

function cert(serial: string): NewCertificate {
  return {
    caId: 'sm2-issuing',
    serial,
    subject: `CN=Doctor ${serial}`,
    subjectDer: bytes(30),
    profile: 'doctor',
    notBefore: t0,
    notAfter: new Date(t0.getTime() + 86_400_000),
    der: bytes(400),
    applicant: {
      fields: { name: 'x' },
      idNumberSealed: bytes(40),
      idNumberIndex: 'hmac-c',
      phoneSealed: null,
    },
    replaces: { caId: 'sm2-issuing', serial: '0A0B' },
  };
}

const storeError = (code: StoreError['code']) => (e: unknown) => e instanceof StoreError && e.code === code;

for (const dialect of dialects) {
  describe(`applications on ${dialect.name}`, { skip: dialect.skip }, () => {
    let tdb: TestDatabase;
    let store: Store;
    before(async () => {
      tdb = await dialect.create();
      store = await openStore(tdb.url, { now: () => t0 });
      await store.cas.insert({
        id: 'sm2-issuing',
        name: 'SM2 issuing',
        algorithm: 'sm2',
        certificate: bytes(300),
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

    test('insert → get round-trips every column; sealed fields come back as bytes', async () => {
      const a = application('a1');
      await store.applications.insert(a);
      const got = (await store.applications.get('a1'))!;
      assert.deepEqual({ ...got, updatedAt: undefined }, { ...a, updatedAt: undefined });
      const server = application('a2', {
        employeeNo: null,
        key: { kind: 'server-key', keyId: 'key-1', publicKeyInfo: bytes(91) },
        personal: { fields: {}, idNumberSealed: null, idNumberIndex: null, phoneSealed: null },
        caId: 'sm2-issuing',
        validityDays: 30,
      });
      await store.applications.insert(server);
      assert.deepEqual((await store.applications.get('a2'))!.key, server.key);
      assert.equal(await store.applications.get('nope'), undefined);
    });

    test('one open application per employee number and profile; closed ones and null numbers do not count', async () => {
      await assert.rejects(
        store.applications.insert(application('a3', { employeeNo: 'E-a1' })),
        storeError('conflict'),
      );
      await store.applications.insert(application('a4', { employeeNo: 'E-a1', profile: 'nurse' }));
      await store.applications.insert(application('a5', { employeeNo: null }));
      assert.equal(
        await store.applications.transition('a1', 'pending', 'rejected', { by: 'sec', at: t0, reason: 'no' }),
        true,
      );
      await store.applications.insert(application('a6', { employeeNo: 'E-a1' }));
      // approved is still open
      assert.equal(
        await store.applications.transition('a6', 'pending', 'approved', { by: 'sec', at: t0 }),
        true,
      );
      await assert.rejects(
        store.applications.insert(application('a7', { employeeNo: 'E-a1' })),
        storeError('conflict'),
      );
      const a1 = (await store.applications.get('a1'))!;
      assert.deepEqual(a1.review, { by: 'sec', at: t0, reason: 'no' });
      assert.equal(await store.applications.findOpen('E-a1', 'doctor'), 'a6');
      assert.equal(await store.applications.findOpen('E-a1', 'tsa'), undefined);
    });

    test('transitions are conditional on the current state', async () => {
      assert.equal(
        await store.applications.transition('a1', 'pending', 'approved', null),
        false,
        'a1 is rejected',
      );
      assert.equal(await store.applications.transition('nope', 'pending', 'approved', null), false);
      assert.equal(await store.applications.transition('a6', 'approved', 'pending', null), true);
      assert.equal((await store.applications.get('a6'))!.review, null);
      assert.equal(
        await store.applications.transition('a6', 'pending', 'approved', { by: 's', at: t0 }),
        true,
      );
    });

    test('issue: the certificate and the issued state in one transaction, or neither', async () => {
      await store.applications.issue('a6', cert('1234'));
      const a6 = (await store.applications.get('a6'))!;
      assert.equal(a6.state, 'issued');
      assert.deepEqual(a6.certificate, { caId: 'sm2-issuing', serial: '1234' });
      const c = (await store.certificates.findBySerial('sm2-issuing', '1234'))!;
      assert.equal(c.applicationId, 'a6');
      assert.deepEqual(c.replaces, { caId: 'sm2-issuing', serial: 'a0b' });
      assert.equal(c.applicant?.idNumberIndex, 'hmac-c');
      assert.equal(c.applicant?.phoneSealed, null);
      // Not approved: nothing stored.
      await assert.rejects(store.applications.issue('a4', cert('5678')), storeError('invalid-state'));
      assert.equal(await store.certificates.findBySerial('sm2-issuing', '5678'), undefined);
      assert.equal((await store.applications.get('a4'))!.state, 'pending');
      // A duplicate certificate rolls the application change back.
      assert.equal(
        await store.applications.transition('a4', 'pending', 'approved', { by: 's', at: t0 }),
        true,
      );
      await assert.rejects(store.applications.issue('a4', cert('1234')), storeError('conflict'));
      assert.equal((await store.applications.get('a4'))!.state, 'approved');
      // Search by the keyed ID-number hash on certificates.
      const found = await store.certificates.search({ idNumberIndex: 'hmac-c', limit: 10 });
      assert.deepEqual(
        found.items.map((x) => x.serial),
        ['1234'],
      );
    });

    test('search: filters, name substring, keyed ID-number hash, paging', async () => {
      let page = await store.applications.search({ state: 'pending', limit: 50 });
      assert.deepEqual(page.items.map((a) => a.id).sort(), ['a2', 'a5']);
      page = await store.applications.search({ idNumberIndex: 'hmac-a1', limit: 50 });
      assert.deepEqual(
        page.items.map((a) => a.id),
        ['a1'],
      );
      page = await store.applications.search({ name: '医生 A', profile: 'nurse', limit: 50 });
      assert.deepEqual(
        page.items.map((a) => a.id),
        ['a4'],
      );
      page = await store.applications.search({ name: '%', limit: 50 });
      assert.equal(page.total, 0, 'LIKE wildcards are literal');
      page = await store.applications.search({ employeeNo: 'E-a1', limit: 1, offset: 1 });
      assert.equal(page.total, 3);
      assert.equal(page.items.length, 1);
      await assert.rejects(store.applications.search({ limit: 0 }), RangeError);
    });
  });
}
