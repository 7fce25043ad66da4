// Operator CLI on a data directory: init → cert issue (SM2 CSR) → cert list → cert revoke → crl (BC
// crl-verify) → audit verify; then a tampered audit row makes audit verify exit 1 with the broken seq.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodePem } from '@medsign/gm';
import { buildCsr, ParsedCertificate, ParsedCrl, PrivateKey } from '@medsign/pki';
import { runBcPeer, runMedsignCli, runMedsignCliText, tempDir, type TempDir } from '@medsign/testkit';
import BetterSqlite3 from 'better-sqlite3';

function peerOk(args: string[]) {
  const r = runBcPeer(args);
  if (r.code === 3 && process.env.CI !== 'true') return;
  assert.equal(r.code, 0, JSON.stringify(r.json));
}

describe('medsign init / cert / crl / audit', () => {
  let dir: TempDir;
  let data: string;
  let serial: string;
  before(() => {
    dir = tempDir('medsign-cli-ca-');
    data = join(dir.path, 'data');
  });
  after(() => dir.cleanup());

  test('init prints the one-time password once; a second init changes nothing', () => {
    const r = runMedsignCliText(['init', '--data', data, '--organization', '测试医院']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /created root CA sm2-root/);
    assert.match(r.stdout, /username: admin\n\s+password: \S{20,}/);
    const again = runMedsignCliText(['init', '--data', data]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already initialised; nothing changed/);
    assert.doesNotMatch(again.stdout, /password/);
  });

  test('cert issue with an SM2 CSR prints a PEM certificate that chains to the SM2 root (BC)', async () => {
    const key = PrivateKey.generate('sm2');
    const csr = await buildCsr({
      subject: [
        ['C', 'CN'],
        ['O', '测试医院'],
        ['CN', '李四'],
      ],
      signer: key.signer(),
    });
    const csrFile = dir.file('req.pem', encodePem('CERTIFICATE REQUEST', csr));
    const r = runMedsignCliText([
      'cert',
      'issue',
      '--data',
      data,
      '--csr',
      csrFile,
      '--profile',
      'doctor',
      '--employee-no',
      'E2001',
      '--department',
      '心内科',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const cert = ParsedCertificate.parse(r.stdout);
    serial = cert.serialNumber;
    assert.match(cert.subjectText, /李四/);
    assert.match(r.stderr, new RegExp(`issued ${serial} under sm2-issuing`));
    const leaf = dir.file('leaf.pem', r.stdout);
    // the chain from the CLI's own view of the CAs
    const show = runMedsignCliText(['cert', 'show', leaf]);
    assert.equal(show.code, 0, show.stderr);
    const { openServices } = await import('@medsign/server/services');
    const { loadConfig } = await import('@medsign/server/config');
    const s = await openServices(loadConfig({ dataDir: data, env: {} }));
    try {
      const ca = s.ca.cas.find((c) => c.id === 'sm2-issuing')!;
      peerOk(['cert-verify', leaf, dir.file('chain.pem', ca.certificate.toPem() + ca.chain[0]!.toPem())]);
      dir.file('issuing.pem', ca.certificate.toPem());
    } finally {
      await s.close();
    }
    const bad = runMedsignCliText([
      'cert',
      'issue',
      '--data',
      data,
      '--csr',
      dir.file('bad.pem', 'nonsense'),
      '--profile',
      'doctor',
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /CA_CSR_INVALID/);
    const unknown = runMedsignCliText([
      'cert',
      'issue',
      '--data',
      data,
      '--csr',
      csrFile,
      '--profile',
      'surgeon',
    ]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /CA_PROFILE_NOT_FOUND/);
  });

  test('cert list shows it (text and JSON, with filters)', () => {
    const text = runMedsignCliText(['cert', 'list', '--data', data, '--profile', 'doctor']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^${serial}  sm2-issuing  doctor  good`, 'm'));
    const json = runMedsignCliText(['cert', 'list', '--data', data, '--json']);
    const list = JSON.parse(json.stdout) as { total: number; items: { serial: string; status: string }[] };
    assert.equal(list.total, 5); // TSA, OCSP signer, seal maker, report signer, the doctor
    assert.ok(list.items.some((i) => i.serial === serial && i.status === 'good'));
  });

  test('cert revoke, then the CRL lists it and verifies (BC crl-verify)', () => {
    const r = runMedsignCliText([
      'cert',
      'revoke',
      '--data',
      data,
      '--serial',
      serial.toUpperCase(),
      '--reason',
      'keyCompromise',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /revoked .* of sm2-issuing \(keyCompromise\)/);
    const again = runMedsignCliText([
      'cert',
      'revoke',
      '--data',
      data,
      '--serial',
      serial,
      '--reason',
      'keyCompromise',
    ]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /CA_ALREADY_REVOKED/);
    const unknown = runMedsignCliText([
      'cert',
      'revoke',
      '--data',
      data,
      '--serial',
      'abcdef',
      '--reason',
      'keyCompromise',
    ]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /CA_CERT_NOT_FOUND/);
    const revoked = JSON.parse(
      runMedsignCliText(['cert', 'list', '--data', data, '--json', '--status', 'revoked']).stdout,
    );
    assert.equal(revoked.total, 1);

    const out = join(dir.path, 'sm2.crl');
    const c = runMedsignCli(['crl', '--data', data, '--ca', 'sm2-issuing', '--out', out]);
    assert.equal(c.code, 0, c.stderr);
    const pemRun = runMedsignCliText(['crl', '--data', data]);
    const crl = ParsedCrl.parse(pemRun.stdout);
    const entry = crl.entries.find((e) => e.serialNumber === serial);
    assert.equal(entry?.reason, 'keyCompromise');
    peerOk(['crl-verify', out, join(dir.path, 'issuing.pem')]);
    // The delta over the CRL just published lists the revocation too; both are stored, so servers serve them.
    const delta = join(dir.path, 'sm2-delta.crl');
    const d = runMedsignCli(['crl', '--data', data, '--delta', '--out', delta]);
    assert.equal(d.code, 0, d.stderr);
    const parsedDelta = ParsedCrl.parse(new Uint8Array(readFileSync(delta)));
    assert.ok(parsedDelta.baseCrlNumber !== undefined, 'a delta CRL');
    assert.ok(parsedDelta.entries.some((e) => e.serialNumber === serial));
    peerOk(['crl-verify', delta, join(dir.path, 'issuing.pem')]);
  });

  test('audit verify: exit 0 on the intact chain, 1 naming the first broken seq after a row is edited', () => {
    const ok = runMedsignCliText(['audit', 'verify', '--data', data]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /audit log OK: \d+ event/);
    const db = new BetterSqlite3(join(data, 'medsign.db'));
    try {
      db.exec('drop trigger audit_events_no_update');
      db.prepare("update audit_events set actor = 'mallory' where seq = 3").run();
    } finally {
      db.close();
    }
    const broken = runMedsignCliText(['audit', 'verify', '--data', data]);
    assert.equal(broken.code, 1, broken.stdout + broken.stderr);
    assert.match(broken.stdout, /BROKEN at seq 3/);
  });

  test('usage errors: uninitialised directory, bad flags', () => {
    const r = runMedsignCliText(['cert', 'list', '--data', join(dir.path, 'nothing-here')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /SERVER_NOT_INITIALIZED/);
    assert.equal(runMedsignCliText(['cert', 'revoke', '--data', data]).code, 2);
    assert.equal(runMedsignCliText(['init', '--data', data, '--algorithms', 'dsa']).code, 2);
  });
});
