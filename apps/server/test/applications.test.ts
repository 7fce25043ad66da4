// The certificate lifecycle over the HTTP API on real services (SQLite data directory from initDataDir):
// apply → review → issue → renew, role and self-review checks, bad input as problem+json, personal data
// sealed at rest (raw database bytes), masked in responses and the audit log; BC verifies a renewal.
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { buildCsr, ParsedCertificate, PrivateKey } from '@medsign/pki';
import { peerOrSkip, tempDir, type TempDir } from '@medsign/testkit';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { hashPassword } from '../src/adapters/admin-auth.js';
import { initDataDir } from '../src/init.js';
import { recoverInterruptedApprovals } from '../src/recovery.js';
import { openServices, type Services } from '../src/services.js';

const ID = '11010519491231002X';
const PHONE = '13800138000';
const applicant = {
  name: '钱七',
  employeeNo: 'E8008',
  department: '放射科',
  organization: '测试医院',
  country: 'CN',
  idNumber: ID,
  phone: PHONE,
};

async function csrPem(type: 'sm2' | 'rsa-2048' = 'sm2', key = PrivateKey.generate(type)): Promise<string> {
  const der = await buildCsr({ subject: [['CN', 'ignored']], signer: key.signer() });
  return `-----BEGIN CERTIFICATE REQUEST-----\n${Buffer.from(der).toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
}

describe('certificate lifecycle API on real services', () => {
  let dir: TempDir;
  let services: Services;
  let app: FastifyInstance;
  const tokens: Record<string, string> = {};
  const as = (user: string) => ({ authorization: `Bearer ${tokens[user]}` });

  async function call(user: string, method: 'GET' | 'POST', url: string, payload?: object) {
    const r = await app.inject({
      method,
      url: `/api/v1${url}`,
      headers: as(user),
      ...(payload ? { payload } : {}),
    });
    return {
      status: r.statusCode,
      body: r.json<Record<string, unknown>>(),
      raw: r.body,
      type: r.headers['content-type'],
    };
  }
  async function problem(
    user: string,
    method: 'GET' | 'POST',
    url: string,
    payload: object | undefined,
    status: number,
    code: string,
  ) {
    const r = await call(user, method, url, payload);
    assert.equal(r.status, status, r.raw);
    assert.match(String(r.type), /application\/problem\+json/);
    assert.equal(r.body.code, code, r.raw);
  }

  before(async () => {
    dir = tempDir('medsign-applications-');
    const init = await initDataDir({ dataDir: dir.path });
    services = await openServices(init.config);
    for (const [username, roles] of [
      ['ra1', ['ra']],
      ['sec1', ['security-admin']],
      ['sys1', ['admin']],
    ] as const) {
      await services.store.users.insert({
        username,
        passwordHash: await hashPassword(`${username}-password-1`),
        roles: [...roles],
        mustChangePassword: false,
      });
    }
    app = await buildApp(services, { logger: false });
    for (const u of ['ra1', 'sec1', 'sys1']) {
      const r = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: u, password: `${u}-password-1` },
      });
      assert.equal(r.statusCode, 200, r.body);
      tokens[u] = r.json<{ token: string }>().token;
    }
  });
  after(async () => {
    await app?.close();
    await services?.close();
    dir?.cleanup();
  });

  let issued: { caId: string; serial: string; certificate: string };

  test('the OpenAPI document lists the lifecycle routes with their schemas', async () => {
    const doc = (await app.inject('/api/docs/json')).json<{
      paths: Record<string, Record<string, unknown>>;
    }>();
    for (const [path, method] of [
      ['/api/v1/applications', 'post'],
      ['/api/v1/applications', 'get'],
      ['/api/v1/applications/{id}', 'get'],
      ['/api/v1/applications/{id}/approve', 'post'],
      ['/api/v1/applications/{id}/reject', 'post'],
      ['/api/v1/certificates/{caId}/{serial}/renew', 'post'],
    ] as const)
      assert.ok(doc.paths[path]?.[method], `${method} ${path}`);
  });

  test('apply (masked) → list/search → self-review refused → system admin lacks the role → approve issues', async () => {
    const r = await call('ra1', 'POST', '/applications', {
      profile: 'doctor',
      csr: await csrPem(),
      applicant,
    });
    assert.equal(r.status, 201, r.raw);
    const id = r.body.id as string;
    assert.equal(r.body.state, 'pending');
    assert.deepEqual(r.body.applicant, {
      ...applicant,
      idNumber: '110105********002X',
      phone: '138****8000',
    });
    assert.doesNotMatch(r.raw, new RegExp(`${ID}|${PHONE}`));

    let list = await call('sec1', 'GET', '/applications?state=pending');
    assert.equal(list.body.total, 1);
    list = await call('sec1', 'GET', `/applications?idNumber=${ID.toLowerCase()}`);
    assert.equal(list.body.total, 1, 'exact search by ID number (keyed hash, case of the final X ignored)');
    list = await call('sec1', 'GET', '/applications?idNumber=110105194912310021');
    assert.equal(list.body.total, 0);
    assert.equal((await call('sec1', 'GET', `/applications/${id}`)).body.id, id);
    await problem('sec1', 'GET', '/applications/nope', undefined, 404, 'CA_APPLICATION_NOT_FOUND');

    await problem('ra1', 'POST', `/applications/${id}/approve`, {}, 403, 'CA_APPLICATION_SELF_REVIEW');
    await problem('sys1', 'POST', `/applications/${id}/approve`, {}, 403, 'AUTH_FORBIDDEN');
    const ok = await call('sec1', 'POST', `/applications/${id}/approve`, { reason: '资料齐全' });
    assert.equal(ok.status, 200, ok.raw);
    const application = ok.body.application as Record<string, unknown>;
    issued = ok.body.certificate as typeof issued;
    assert.equal(application.state, 'issued');
    assert.deepEqual(application.certificate, { caId: issued.caId, serial: issued.serial });
    assert.deepEqual((application.review as Record<string, unknown>).by, 'sec1');
    const cert = ParsedCertificate.parse(issued.certificate);
    assert.equal(cert.serialNumber, issued.serial);
    const bySearch = await call('sec1', 'GET', `/certificates?idNumber=${ID}`);
    assert.deepEqual(
      (bySearch.body.items as { serial: string }[]).map((c) => c.serial),
      [issued.serial],
      'certificates found by the keyed hash of the ID number',
    );

    // Reviewing it again: a state conflict; so is rejecting it.
    await problem('sec1', 'POST', `/applications/${id}/approve`, {}, 409, 'CA_APPLICATION_STATE');
    await problem(
      'sec1',
      'POST',
      `/applications/${id}/reject`,
      { reason: 'late' },
      409,
      'CA_APPLICATION_STATE',
    );
  });

  test('bad input: duplicate pending, malformed CSR, unknown profile, missing fields, no reason, rejected then approved', async () => {
    const a = { ...applicant, employeeNo: 'E9009' };
    const first = await call('ra1', 'POST', '/applications', {
      profile: 'nurse',
      csr: await csrPem(),
      applicant: a,
    });
    assert.equal(first.status, 201);
    await problem(
      'ra1',
      'POST',
      '/applications',
      { profile: 'nurse', csr: await csrPem(), applicant: a },
      409,
      'CA_APPLICATION_DUPLICATE',
    );
    await problem(
      'ra1',
      'POST',
      '/applications',
      {
        profile: 'nurse',
        csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n',
        applicant: { ...a, employeeNo: 'E1' },
      },
      400,
      'CA_CSR_INVALID',
    );
    await problem(
      'ra1',
      'POST',
      '/applications',
      { profile: 'surgeon', csr: await csrPem(), applicant: a },
      404,
      'CA_PROFILE_NOT_FOUND',
    );
    await problem(
      'ra1',
      'POST',
      '/applications',
      { profile: 'doctor', csr: await csrPem(), applicant: { name: '孙八' } },
      400,
      'CA_SUBJECT_INVALID',
    );
    await problem(
      'ra1',
      'POST',
      '/applications',
      { profile: 'doctor', applicant: a },
      400,
      'CA_APPLICATION_INVALID',
    );
    await problem(
      'ra1',
      'POST',
      '/applications',
      { profile: 'doctor', applicant: a, serverKeyType: 'dsa' },
      400,
      'REQUEST_INVALID',
    );
    const id = first.body.id as string;
    await problem('sec1', 'POST', `/applications/${id}/reject`, {}, 400, 'REQUEST_INVALID');
    await problem(
      'sec1',
      'POST',
      `/applications/${id}/reject`,
      { reason: '   ' },
      400,
      'CA_APPLICATION_INVALID',
    );
    const rejected = await call('sec1', 'POST', `/applications/${id}/reject`, { reason: '工号不符' });
    assert.equal(rejected.status, 200, rejected.raw);
    assert.equal(rejected.body.state, 'rejected');
    await problem('sec1', 'POST', `/applications/${id}/approve`, {}, 409, 'CA_APPLICATION_STATE');
    // Nothing half-written: the refused submissions left no rows.
    const all = await services.store.applications.search({ employeeNo: 'E1', limit: 10 });
    assert.equal(all.total, 0);
  });

  test('server-side key: the keystore generates and keeps the key; approval certifies it', async () => {
    const r = await call('ra1', 'POST', '/applications', {
      profile: 'pharmacist',
      serverKeyType: 'sm2',
      applicant: { ...applicant, employeeNo: 'E1010' },
    });
    assert.equal(r.status, 201, r.raw);
    const key = r.body.key as { kind: string; keyId: string };
    assert.equal(key.kind, 'server-key');
    const handle = (await services.keystore.get(key.keyId))!;
    const ok = await call('sec1', 'POST', `/applications/${r.body.id as string}/approve`, {});
    assert.equal(ok.status, 200, ok.raw);
    const cert = ParsedCertificate.parse((ok.body.certificate as { certificate: string }).certificate);
    assert.deepEqual(cert.publicKeyInfo, handle.publicKeyInfo);
  });

  test('renew: same key + supersede (BC verifies the new certificate), new CSR; revoked and unknown refused', async (t) => {
    const url = `/certificates/${issued.caId}/${issued.serial}/renew`;
    await problem('ra1', 'POST', '/certificates/sm2-issuing/abcdef/renew', {}, 404, 'CA_CERT_NOT_FOUND');
    const r = await call('sec1', 'POST', url, { supersede: true });
    assert.equal(r.status, 201, r.raw);
    assert.deepEqual(r.body.replaces, { caId: issued.caId, serial: issued.serial });
    assert.equal(r.body.superseded, true);
    const renewed = ParsedCertificate.parse(r.body.certificate as string);
    const old = ParsedCertificate.parse(issued.certificate);
    assert.deepEqual(renewed.publicKeyInfo, old.publicKeyInfo);
    assert.equal(renewed.subjectText, old.subjectText);
    const oldRecord = (await services.store.certificates.findBySerial(issued.caId, issued.serial))!;
    assert.equal(oldRecord.status, 'revoked');
    assert.equal(oldRecord.revocationReason, 'superseded');
    const newRecord = (await services.store.certificates.findBySerial(
      r.body.caId as string,
      r.body.serial as string,
    ))!;
    assert.deepEqual(newRecord.replaces, { caId: issued.caId, serial: issued.serial });
    await problem('sec1', 'POST', url, {}, 409, 'CA_RENEW_NOT_ALLOWED');

    const again = await call('sec1', 'POST', `/certificates/${newRecord.caId}/${newRecord.serial}/renew`, {
      csr: await csrPem(),
    });
    assert.equal(again.status, 201, again.raw);
    assert.equal(again.body.superseded, false);
    assert.notDeepEqual(
      ParsedCertificate.parse(again.body.certificate as string).publicKeyInfo,
      old.publicKeyInfo,
    );

    const ca = services.ca.cas.find((c) => c.id === newRecord.caId)!;
    const leaf = dir.file('renewed.pem', renewed.toPem());
    const chain = dir.file('chain.pem', ca.certificate.toPem() + ca.chain.map((c) => c.toPem()).join(''));
    const bc = peerOrSkip(t, ['cert-verify', leaf, chain]);
    if (bc) assert.equal(bc.code, 0, bc.stdout + bc.stderr);
  });

  test('recovery: an application a crash left approved goes back to pending after the grace period (audited)', async () => {
    const r = await call('ra1', 'POST', '/applications', {
      profile: 'doctor',
      csr: await csrPem(),
      applicant: { ...applicant, employeeNo: 'E1111' },
    });
    const id = r.body.id as string;
    // The crash: approved, then the process died before the certificate was stored.
    assert.ok(
      await services.store.applications.transition(id, 'pending', 'approved', { by: 'sec1', at: new Date() }),
    );
    assert.deepEqual(await recoverInterruptedApprovals(services.store), [], 'young approvals are left alone');
    const later = () => new Date(Date.now() + 10 * 60_000);
    assert.deepEqual(await recoverInterruptedApprovals(services.store, { now: later }), [id]);
    assert.equal((await services.applications.get(id))!.state, 'pending');
    const ok = await call('sec1', 'POST', `/applications/${id}/approve`, {});
    assert.equal(ok.status, 200, ok.raw);
  });

  test('at rest: no clear phone anywhere in the database files, no clear ID number outside certificate DER; audit masked', async () => {
    await services.store.audit.verify();
    const dbFile = services.config.db.replace(/^sqlite:/, '');
    const bytes = Buffer.concat(
      [dbFile, `${dbFile}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)),
    );
    assert.equal(bytes.includes(Buffer.from(PHONE)), false, 'phone in clear in the database files');
    // The GM/T 0015 identity extension of the personal profiles puts the ID number into the certificate
    // itself (public by design); every other column holds it sealed.
    const raw = new BetterSqlite3(dbFile, { readonly: true });
    try {
      const ident = /^[a-z_]+$/;
      const tables = raw
        .prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'")
        .all() as { name: string }[];
      let cells = 0;
      for (const { name } of tables) {
        assert.match(name, ident);
        for (const row of raw.prepare(`select * from ${name}`).all() as Record<string, unknown>[]) {
          for (const [column, value] of Object.entries(row)) {
            if (value === null || (name === 'certificates' && column === 'der')) continue;
            cells++;
            const text = Buffer.isBuffer(value) ? value : Buffer.from(String(value));
            assert.equal(text.includes(Buffer.from(ID)), false, `${name}.${column} holds the ID number`);
            assert.equal(text.includes(Buffer.from(PHONE)), false, `${name}.${column} holds the phone`);
          }
        }
      }
      assert.ok(cells > 100);
      const sealed = raw
        .prepare(
          'select count(*) as n from applications where id_number_enc is not null and phone_enc is not null',
        )
        .get() as { n: number };
      assert.ok(sealed.n >= 3);
      const certs = raw
        .prepare(
          "select count(*) as n from certificates where id_number_enc is not null and profile = 'doctor'",
        )
        .get() as { n: number };
      assert.ok(certs.n >= 3, 'certificates keep the sealed ID number too');
    } finally {
      raw.close();
    }
    const actions = (await services.store.audit.verify()).checked;
    assert.ok(actions > 0);
  });
});
