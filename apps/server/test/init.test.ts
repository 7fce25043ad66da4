// medsign init: creates the data directory, config, database, keystore, CA hierarchies, service
// certificates and the first administrator; a second run changes nothing. Certificates are checked by
// the Bouncy Castle peer.
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { oids, ParsedCertificate, verifyCertificateChain } from '@medsign/pki';
import { runBcPeer, tempDir, type TempDir } from '@medsign/testkit';
import { loadConfig } from '../src/config.js';
import { FIRST_ADMIN, initDataDir, type InitResult } from '../src/init.js';
import { openServices } from '../src/services.js';

function peerOk(args: string[]) {
  const r = runBcPeer(args);
  if (r.code === 3 && process.env.CI !== 'true') return;
  assert.equal(r.code, 0, JSON.stringify(r.json));
}

describe('medsign init (SQLite, SM2 + ECDSA)', () => {
  let dir: TempDir;
  let dataDir: string;
  let first: InitResult;
  before(async () => {
    dir = tempDir('medsign-init-');
    dataDir = join(dir.path, 'data');
    first = await initDataDir({ dataDir, algorithms: ['ecdsa'], organization: '测试医院', env: {} });
  });
  after(() => dir.cleanup());

  test('creates the data directory (0700), config, key file (0600) and reports it', () => {
    assert.equal(first.created, true);
    assert.equal(statSync(dataDir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dataDir, 'keystore.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dataDir, 'medsign.yaml')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dataDir, 'medsign.db')).mode & 0o777, 0o600);
    assert.ok(statSync(join(dataDir, 'medsign.db')).isFile());
    assert.ok(first.steps.some((s) => s.includes('sm2-root')));
    assert.ok(first.steps.some((s) => s.includes('ecdsa-issuing')));
    assert.equal(first.admin?.username, FIRST_ADMIN);
    assert.ok(first.admin!.password.length >= 20);
  });

  test('CAs, service certificates (BC chain-verified, TSA EKU critical), admin, audit without secrets', async () => {
    const s = await openServices(first.config);
    try {
      const cas = await s.store.cas.list();
      assert.deepEqual(cas.map((c) => c.id).sort(), [
        'ecdsa-issuing',
        'ecdsa-root',
        'sm2-issuing',
        'sm2-root',
      ]);
      assert.deepEqual(s.ca.cas.map((c) => c.id).sort(), ['ecdsa-issuing', 'sm2-issuing']);
      for (const ca of s.ca.cas) {
        assert.equal(ca.certificate.basicConstraints?.pathLength, 0);
        assert.equal(ca.chain.length, 1);
        assert.ok(ca.chain[0]!.isSelfIssued);
        const years =
          (ca.chain[0]!.notAfter.getTime() - ca.chain[0]!.notBefore.getTime()) / (365 * 86_400_000);
        assert.ok(years >= 20 && years < 20.1, `root validity ${years}`);
      }
      const certs = await s.store.certificates.search({ limit: 100 });
      const profiles = certs.items.map((c) => `${c.caId}/${c.profile}`).sort();
      assert.deepEqual(profiles, [
        'ecdsa-issuing/department', // the report-signing certificate (reports.ts)
        'ecdsa-issuing/ocsp-signer',
        'ecdsa-issuing/tsa',
        'sm2-issuing/ocsp-signer',
        'sm2-issuing/seal-maker',
        'sm2-issuing/tsa',
      ]);
      for (const rec of certs.items) {
        const cert = ParsedCertificate.parse(rec.der);
        const ca = s.ca.cas.find((c) => c.id === rec.caId)!;
        const chain = verifyCertificateChain(cert, {
          anchors: [ca.chain[0]!],
          intermediates: [ca.certificate],
        });
        assert.equal(chain.valid, true, chain.errors.join('; '));
        if (rec.profile === 'tsa') {
          const eku = cert.extensions.find((e) => e.oid === oids.id_ce_extKeyUsage);
          assert.equal(eku?.critical, true);
          assert.deepEqual(cert.extKeyUsage, [oids.id_kp_timeStamping]);
        }
        const leaf = dir.file(`${rec.caId}-${rec.profile}.pem`, cert.toPem());
        const chainPem = dir.file(`${rec.caId}-chain.pem`, ca.certificate.toPem() + ca.chain[0]!.toPem());
        peerOk(['cert-verify', leaf, chainPem]);
      }
      const admin = await s.store.users.findByUsername(FIRST_ADMIN);
      assert.equal(admin?.mustChangePassword, true);
      assert.doesNotMatch(admin!.passwordHash, new RegExp(first.admin!.password));
      const events = await s.store.audit.list({ limit: 1000 });
      const actions = new Set(events.map((e) => e.action));
      for (const a of [
        'key.generate',
        'key.sign',
        'ca.create',
        'cert.issue',
        'admin.create',
        'init.complete',
      ])
        assert.ok(actions.has(a), `audit has ${a}`);
      assert.doesNotMatch(JSON.stringify(events), new RegExp(first.admin!.password));
      assert.equal((await s.store.audit.verify()).ok, true);
      const health = await s.health();
      assert.equal(health.status, 'ok', JSON.stringify(health));
    } finally {
      await s.close();
    }
  });

  test('a second run changes nothing and says so', async () => {
    const s = await openServices(first.config);
    const before = (await s.store.audit.verify()).checked;
    await s.close();
    const again = await initDataDir({ dataDir, algorithms: ['ecdsa'], env: {} });
    assert.equal(again.created, false);
    assert.deepEqual(again.steps, []);
    assert.equal(again.admin, undefined);
    const s2 = await openServices(again.config);
    try {
      assert.equal((await s2.store.audit.verify()).checked, before);
      assert.equal((await s2.store.certificates.search({ limit: 100 })).total, 6);
      assert.equal((await s2.keystore.list()).length, 4 + 6);
    } finally {
      await s2.close();
    }
  });

  test('a changed --db for an existing directory is refused with the key named', async () => {
    await assert.rejects(
      initDataDir({ dataDir, db: join(dir.path, 'other.db'), env: {} }),
      /CONFIG_INVALID: db: this data directory is configured for/,
    );
  });

  test('MEDSIGN_PUBLIC_URL at init goes into the certificates and stays in the config file', async () => {
    const other = join(dir.path, 'public-url');
    const url = 'https://medsign.hospital.local:8443';
    const r = await initDataDir({ dataDir: other, env: { MEDSIGN_PUBLIC_URL: `${url}/` } });
    assert.equal(r.config.publicBaseUrl, url);
    assert.match(
      readFileSync(join(other, 'medsign.yaml'), 'utf8'),
      /^publicBaseUrl: "https:\/\/medsign\.hospital\.local:8443"$/m,
    );
    // A later start without the variable still uses it.
    const s = await openServices(loadConfig({ dataDir: other, env: {} }));
    try {
      assert.equal(s.config.publicBaseUrl, url);
      const issuing = s.ca.cas.find((c) => c.id === 'sm2-issuing')!.certificate;
      assert.deepEqual(issuing.authorityInfoAccess.caIssuers, [`${url}/pki/ca/sm2-root.cer`]);
    } finally {
      await s.close();
    }
  });

  test('a wrong key file does not open the keystore', async () => {
    const bad = dir.file('bad.key');
    writeFileSync(bad, Buffer.alloc(32, 7), { mode: 0o600 });
    await assert.rejects(
      openServices({ ...first.config, keystore: { kind: 'key-file', path: bad } }),
      /KEYSTORE_WRONG_KEK|does not hold this keystore/,
    );
  });
});
