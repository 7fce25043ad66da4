// openServices: config loading, admin authentication (lockout), health, and the CA on PostgreSQL.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateCrl, issueCertificate, revokeCertificate } from '@medsign/ca';
import { buildCsr, ParsedCrl, PrivateKey } from '@medsign/pki';
import { tempDir, type TempDir } from '@medsign/testkit';
import pg from 'pg';
import { loadConfig, redactConfig } from '../src/config.js';
import { initDataDir, type InitResult } from '../src/init.js';
import { openServices } from '../src/services.js';

const applicant = {
  name: '张三',
  employeeNo: 'E1001',
  department: '心内科',
  organization: '测试医院',
  country: 'CN',
};

describe('config', () => {
  let dir: TempDir;
  before(() => (dir = tempDir('medsign-config-')));
  after(() => dir.cleanup());

  test('safe defaults without a file', () => {
    const c = loadConfig({ dataDir: dir.path, env: {} });
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 8080);
    assert.equal(c.publicBaseUrl, 'http://127.0.0.1:8080');
    assert.equal(c.db, `sqlite:${join(dir.path, 'medsign.db')}`);
    assert.deepEqual(c.roles, ['ca', 'ocsp', 'crl', 'tsa', 'sign', 'seal', 'admin']);
    assert.equal(c.logLevel, 'info');
    assert.deepEqual(c.keystore, { kind: 'key-file', path: join(dir.path, 'keystore.key') });
  });

  test('YAML and JSON files, environment over file, command line over both', () => {
    const yaml = dir.file(
      'a.yaml',
      'port: 9000\nroles: {tsa: false, sign: false}\nlogLevel: warn\ndb: x.db\nsignerThreads: 0\n',
    );
    const c = loadConfig({ dataDir: dir.path, configFile: yaml, env: { MEDSIGN_HOST: '10.0.0.5' } });
    assert.equal(c.port, 9000);
    assert.equal(c.signerThreads, 0);
    assert.deepEqual(c.crl, {
      fullIntervalMinutes: 60,
      validityHours: 24,
      deltaIntervalMinutes: 15,
      deltaValidityMinutes: 60,
    });
    const e = loadConfig({
      dataDir: dir.path,
      env: { MEDSIGN_CRL_FULL_INTERVAL_MINUTES: '240', MEDSIGN_CRL_DELTA_INTERVAL_MINUTES: '5' },
    });
    assert.equal(e.crl.fullIntervalMinutes, 240);
    assert.equal(e.crl.deltaIntervalMinutes, 5);
    assert.equal(c.host, '10.0.0.5');
    assert.equal(c.publicBaseUrl, 'http://10.0.0.5:9000');
    assert.deepEqual(c.roles, ['ca', 'ocsp', 'crl', 'seal', 'admin']);
    assert.equal(c.db, `sqlite:${join(dir.path, 'x.db')}`);
    const json = dir.file(
      'b.json',
      JSON.stringify({ port: 9001, publicBaseUrl: 'https://ca.hospital.local/' }),
    );
    const d = loadConfig({
      dataDir: dir.path,
      configFile: json,
      env: {
        MEDSIGN_PORT: '9002',
        MEDSIGN_ROLES: 'ca,ocsp',
        MEDSIGN_KEYSTORE_PASSPHRASE: 'correct horse battery',
      },
      overrides: { port: '9003' },
    });
    assert.equal(d.port, 9003);
    assert.equal(d.publicBaseUrl, 'https://ca.hospital.local');
    assert.deepEqual(d.roles, ['ca', 'ocsp']);
    assert.equal(d.keystore.kind, 'passphrase');
    assert.doesNotMatch(JSON.stringify(redactConfig(d)), /horse/);
  });

  test('invalid values: one-line errors naming the key and the source', () => {
    const cases: [Record<string, string>, string | undefined, RegExp][] = [
      [
        { MEDSIGN_PORT: '70000' },
        undefined,
        /CONFIG_INVALID: port: must be an integer 0–65535 \(from MEDSIGN_PORT\)/,
      ],
      [{ MEDSIGN_ROLES: 'ca,bogus' }, undefined, /roles: unknown role "bogus"/],
      [{ MEDSIGN_LOG_LEVEL: 'loud' }, undefined, /logLevel: must be one of/],
      [{ MEDSIGN_PUBLIC_URL: 'ftp://x' }, undefined, /publicBaseUrl: must be an http/],
      [{ MEDSIGN_DB: 'mysql://x' }, undefined, /db: must be sqlite:PATH/],
      [{ MEDSIGN_KEYSTORE_PASSPHRASE: 'short' }, undefined, /at least 12 characters/],
      [{ MEDSIGN_SIGNER_THREADS: 'many' }, undefined, /signerThreads: must be an integer 0–64/],
      [
        { MEDSIGN_CRL_DELTA_INTERVAL_MINUTES: '0' },
        undefined,
        /crl.deltaIntervalMinutes: must be an integer 1–1440/,
      ],
      [
        {},
        'crl:\n  fullIntervalMinutes: 30\n  deltaIntervalMinutes: 45\n',
        /crl.deltaIntervalMinutes: must not exceed/,
      ],
      [
        { MEDSIGN_CRL_VALIDITY_HOURS: '1' },
        'crl: {fullIntervalMinutes: 60}\n',
        /crl.validityHours: must be longer.*MEDSIGN_CRL_VALIDITY_HOURS/,
      ],
      [{}, 'crl: {deltaValidityMinutes: 10}\n', /crl.deltaValidityMinutes: must be longer/],
      [{}, 'crl: {every: 5}\n', /crl.every: unknown key/],
      [{}, 'prot: 1\n', /prot: unknown key/],
      [{}, 'keystore:\n  passphrase: x\n', /keystore.passphrase: secrets do not belong/],
      [{}, 'port: [1\n', /not valid YAML/],
      [{}, 'port: "eighty"\n', /port: must be an integer.*a\.yaml/],
    ];
    for (const [env, file, re] of cases) {
      const configFile = file === undefined ? undefined : dir.file('a.yaml', file);
      assert.throws(
        () => loadConfig({ dataDir: dir.path, env, ...(configFile ? { configFile } : {}) }),
        (e: Error) => {
          assert.match(e.message, re);
          assert.doesNotMatch(e.message, /\n/);
          return true;
        },
      );
    }
  });
});

describe('services on SQLite: auth and health', () => {
  let dir: TempDir;
  let init: InitResult;
  let clock = Date.now();
  const now = () => new Date(clock);
  before(async () => {
    dir = tempDir('medsign-services-');
    init = await initDataDir({ dataDir: dir.path, env: {} });
  });
  after(() => dir.cleanup());

  test('login, authenticate, change password, logout; wrong password → undefined', async () => {
    const s = await openServices(init.config, { now });
    try {
      const { username, password } = init.admin!;
      assert.equal(await s.auth.login(username, 'wrong password!', '127.0.0.1'), undefined);
      assert.equal(await s.auth.login('nobody', password, '127.0.0.1'), undefined);
      const session = await s.auth.login(username, password, '127.0.0.1');
      assert.ok(session);
      assert.equal(session.mustChangePassword, true);
      assert.ok(session.token.length >= 43);
      assert.ok(session.expiresAt.getTime() > clock);
      assert.deepEqual(await s.auth.authenticate(session.token), {
        actor: 'admin',
        roles: ['admin'],
        mustChangePassword: true,
      });
      assert.equal(await s.auth.authenticate('not-a-token'), undefined);
      assert.equal(await s.auth.changePassword('admin', 'wrong', 'a new long password'), false);
      await assert.rejects(s.auth.changePassword('admin', password, 'short'), /AUTH_PASSWORD_POLICY/);
      assert.equal(await s.auth.changePassword('admin', password, 'a new long password'), true);
      const again = await s.auth.login('admin', 'a new long password', '127.0.0.1');
      assert.equal(again?.mustChangePassword, false);
      assert.equal((await s.auth.authenticate(session.token))?.mustChangePassword, false);
      await s.auth.logout(session.token);
      assert.equal(await s.auth.authenticate(session.token), undefined);
      // sessions expire
      clock += 481 * 60_000;
      assert.equal(await s.auth.authenticate(again!.token), undefined);
      const audit = await s.store.audit.list({ limit: 1000 });
      const actions = audit.map((e) => e.action);
      for (const a of ['auth.login', 'auth.login-failed', 'auth.password-change', 'auth.logout'])
        assert.ok(actions.includes(a), a);
      const text = JSON.stringify(audit);
      assert.doesNotMatch(text, new RegExp(password));
      assert.doesNotMatch(text, /a new long password/);
      assert.doesNotMatch(text, new RegExp(session.token));
    } finally {
      await s.close();
    }
  });

  test('five failed logins lock the account for 15 minutes, even for the right password', async () => {
    const s = await openServices(init.config, { now });
    try {
      for (let i = 0; i < 5; i++)
        assert.equal(await s.auth.login('admin', `bad ${i}`, '10.1.1.1'), undefined);
      assert.equal(await s.auth.login('admin', 'a new long password', '10.1.1.1'), undefined);
      const audit = await s.store.audit.list({ limit: 1000 });
      assert.ok(audit.some((e) => e.action === 'auth.locked'));
      assert.ok(audit.some((e) => e.action === 'auth.login-refused'));
      clock += 14 * 60_000;
      assert.equal(await s.auth.login('admin', 'a new long password', '10.1.1.1'), undefined);
      clock += 2 * 60_000;
      assert.ok(await s.auth.login('admin', 'a new long password', '10.1.1.1'));
    } finally {
      await s.close();
    }
  });

  test('health: ok; CA expiring within 30 days → degraded; expired → down', async () => {
    const s = await openServices(init.config, { now });
    try {
      const h = await s.health();
      assert.equal(h.status, 'ok', JSON.stringify(h));
      assert.deepEqual(
        h.checks.map((c) => c.name),
        ['database', 'keystore', 'ca-expiry', 'issuance-intents', 'crl', 'time-source'],
      );
      // CRLs published and then not renewed: past the delta's nextUpdate (1 hour) health is degraded.
      await s.crls.runDue();
      assert.equal((await s.health()).status, 'ok');
      const published = clock;
      clock = published + 61 * 60_000;
      const stale = await s.health();
      assert.equal(stale.status, 'degraded');
      assert.match(stale.checks.find((c) => c.name === 'crl')!.detail, /sm2-issuing delta CRL \d+ expired/);
      await s.crls.runDue();
      assert.equal((await s.health()).status, 'ok', 'the next run renews them');
      clock = published;
      const issuingEnd = s.ca.cas[0]!.certificate.notAfter.getTime();
      clock = issuingEnd - 10 * 86_400_000;
      const soon = await s.health();
      assert.equal(soon.status, 'degraded');
      assert.match(soon.checks.find((c) => c.name === 'ca-expiry')!.detail, /sm2-issuing expires/);
      clock = issuingEnd + 1000;
      assert.equal((await s.health()).status, 'down');
    } finally {
      clock = Date.now();
      await s.close();
    }
  });

  test('an uninitialised directory is SERVER_NOT_INITIALIZED', async () => {
    const empty = tempDir('medsign-empty-');
    try {
      await assert.rejects(
        openServices(loadConfig({ dataDir: empty.path, env: {} })),
        /SERVER_NOT_INITIALIZED/,
      );
    } finally {
      empty.cleanup();
    }
  });
});

const pgUrl = process.env.MEDSIGN_TEST_PG_URL;
if (!pgUrl && process.env.CI === 'true') throw new Error('MEDSIGN_TEST_PG_URL must be set in CI');

async function admin(sql: string) {
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

describe(
  'services on PostgreSQL (passphrase keystore)',
  { skip: pgUrl ? false : 'MEDSIGN_TEST_PG_URL not set' },
  () => {
    let dir: TempDir;
    const name = `medsign_server_${process.pid}_${randomBytes(4).toString('hex')}`;
    let url: string;
    const env = { MEDSIGN_KEYSTORE_PASSPHRASE: 'a long test passphrase' };
    before(async () => {
      dir = tempDir('medsign-pg-');
      await admin(`create database "${name}"`);
      const u = new URL(pgUrl!);
      u.pathname = `/${name}`;
      url = u.toString();
    });
    after(async () => {
      dir?.cleanup();
      await admin(`drop database if exists "${name}" with (force)`);
    });

    test('init, issue a doctor certificate from a CSR, revoke it, CRL lists it', async () => {
      const init = await initDataDir({ dataDir: dir.path, db: url, env });
      assert.equal(init.created, true);
      assert.equal(init.config.keystore.kind, 'passphrase');
      assert.equal((await initDataDir({ dataDir: dir.path, env })).created, false);
      const s = await openServices(loadConfig({ dataDir: dir.path, env }));
      try {
        assert.equal(s.store.database.dialect, 'postgres');
        const key = PrivateKey.generate('sm2');
        const csr = await buildCsr({ subject: [['CN', '张三']], signer: key.signer() });
        const r = await issueCertificate({ profileId: 'doctor', csr, applicant, actor: 'test' }, s.ca);
        assert.equal(r.caId, 'sm2-issuing');
        const stored = await s.store.certificates.findBySerial('sm2-issuing', r.serial);
        assert.equal(stored?.department, '心内科');
        await revokeCertificate(
          { caId: r.caId, serial: r.serial, reason: 'keyCompromise', actor: 'test' },
          s.ca,
        );
        const crl = ParsedCrl.parse(await generateCrl({ caId: r.caId, actor: 'test' }, s.ca));
        assert.ok(crl.entries.some((e) => e.serialNumber === r.serial));
        // The lifecycle on PostgreSQL: apply (sealed personal fields) → approve (certificate and
        // application in one transaction) → renew with supersede.
        const app = await s.lifecycle.apply({
          profileId: 'nurse',
          csr,
          applicant: { ...applicant, idNumber: '110101199003071234', phone: '13812345678' },
          actor: 'ra1',
        });
        await assert.rejects(
          s.lifecycle.apply({ profileId: 'nurse', csr, applicant, actor: 'ra2' }),
          /CA_APPLICATION_DUPLICATE/,
        );
        const { issued } = await s.lifecycle.approve({ id: app.id, actor: 'sec1' });
        assert.equal((await s.applications.get(app.id))?.state, 'issued');
        assert.equal((await s.applications.get(app.id))?.applicant.phone, '13812345678');
        const renewed = await s.lifecycle.renew({
          caId: issued.caId,
          serial: issued.serial,
          supersede: true,
          actor: 'sec1',
        });
        assert.deepEqual(renewed.replaces, { caId: issued.caId, serial: issued.serial });
        assert.equal(
          (await s.ca.store.getApplicant(renewed.caId, renewed.serial))?.idNumber,
          '110101199003071234',
        );
        assert.equal((await s.store.audit.verify()).ok, true);
        assert.equal((await s.health()).status, 'ok');
      } finally {
        await s.close();
      }
      await assert.rejects(
        openServices(
          loadConfig({ dataDir: dir.path, env: { MEDSIGN_KEYSTORE_PASSPHRASE: 'the wrong passphrase' } }),
        ),
        /KEYSTORE_WRONG_PASSPHRASE|wrong passphrase/,
      );
      writeFileSync(join(dir.path, 'unused'), '');
    });
  },
);
