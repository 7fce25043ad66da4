// `medsign ts query|verify|export-trust` against a real `medsign start` process, `medsign verify` on
// tokens and responses, offline verification from the exported bundle only, and tokens made by others:
// `openssl ts -reply` (RSA, ECDSA) and the Bouncy Castle peer's SM2 fixture.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildTimeStampReq, parseTimeStampResp } from '@medsign/pki';
import { initDataDir } from '@medsign/server/init';
import {
  makeBcFixtures,
  makeHierarchy,
  requirePeer,
  runMedsignCli,
  runMedsignCliText as medsign,
  runOpenssl,
  startMedsignServer,
  tempDir,
  type MedsignServerProcess,
} from '@medsign/testkit';
import { queryTimeStamp, verifyTimeStamp } from '@medsign/tsa';

const tmp = tempDir('medsign-cli-ts-');
const DOC = tmp.file('rx.txt', '处方 Rx-2026-0007: 阿莫西林 500 mg\n');
const data = () => new Uint8Array(readFileSync(DOC));
let server: MedsignServerProcess;

before(async () => {
  await initDataDir({ dataDir: tmp.file('data'), algorithms: ['ecdsa'] });
  server = await startMedsignServer(['--data', tmp.file('data'), '--port', '0'], 'ts cli server');
});
after(async () => {
  await server?.stop();
  tmp.cleanup();
});

describe('medsign ts', () => {
  test('query (sm3, default unit) → verify with the exported trust bundle only; tampering → exit 1', () => {
    const q = medsign(['ts', 'query', DOC, '--url', `${server.url}/tsa`, '--out', tmp.file('rx.tsr')]);
    assert.equal(q.code, 0, q.stderr);
    assert.match(q.stderr, /time-stamp granted: genTime \d{14}(\.\d+)?Z, serial [0-9a-f]+/);
    const x = medsign(['ts', 'export-trust', '--out', tmp.file('trust'), '--data', tmp.file('data')]);
    assert.equal(x.code, 0, x.stderr);
    const files = readdirSync(tmp.file('trust')).sort();
    for (const f of ['README.md', 'sm2-root.pem', 'tsa-sm2-chain.pem', 'sm2-issuing.crl', 'ecdsa-root.pem'])
      assert.ok(files.includes(f), `${f} in ${files.join(', ')}`);
    assert.match(readFileSync(join(tmp.file('trust'), 'README.md'), 'utf8'), /medsign ts verify/);
    const root = join(tmp.file('trust'), 'sm2-root.pem');
    const v = medsign(['ts', 'verify', tmp.file('rx.tsr'), '--data', DOC, '--ca', root]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /时间戳响应 Time-stamp response/);
    assert.match(v.stdout, /结果 Result: 有效 VALID/);
    const other = tmp.file('other.txt', '处方 Rx-2026-0008');
    assert.equal(medsign(['ts', 'verify', tmp.file('rx.tsr'), '--data', other, '--ca', root]).code, 1);
    // no trust anchor: not proven valid
    assert.equal(medsign(['ts', 'verify', tmp.file('rx.tsr'), '--data', DOC]).code, 1);
    // the universal verifier knows responses too
    const u = medsign(['verify', tmp.file('rx.tsr'), '--data', DOC, '--ca', root, '--json']);
    assert.equal(u.code, 0, u.stdout);
    assert.equal(JSON.parse(u.stdout).kind, 'timestamp-response');
  });

  test('query --hash sha256 --token on the ECDSA unit: bare token; openssl and medsign verify it', () => {
    const q = runMedsignCli([
      'ts',
      'query',
      DOC,
      '--url',
      `${server.url}/tsa/ecdsa`,
      '--hash',
      'sha256',
      '--token',
      '--out',
      tmp.file('rx.tst'),
    ]);
    assert.equal(q.code, 0, q.stderr);
    const root = join(tmp.file('trust'), 'ecdsa-root.pem');
    const v = medsign(['ts', 'verify', tmp.file('rx.tst'), '--data', DOC, '--ca', root, '--json']);
    assert.equal(v.code, 0, v.stdout);
    assert.equal(JSON.parse(v.stdout).kind, 'timestamp-token');
    const o = runOpenssl([
      'ts',
      '-verify',
      '-data',
      DOC,
      '-in',
      tmp.file('rx.tst'),
      '-token_in',
      '-CAfile',
      join(tmp.file('trust'), 'tsa-ecdsa-chain.pem'),
    ]);
    assert.equal(o.code, 0, o.stdout + o.stderr);
    const u = medsign(['verify', tmp.file('rx.tst'), '--data', DOC, '--ca', root]);
    assert.equal(u.code, 0, u.stdout);
    assert.match(u.stdout, /时间戳 Time-stamp token/);
  });

  test('a refusal is exit 1 with the failInfo; usage and unreadable input are exit 2', () => {
    const r = medsign(['ts', 'query', DOC, '--url', `${server.url}/tsa`, '--policy', '1.2.3.4']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unacceptedPolicy/);
    for (const args of [
      ['ts', 'query', DOC, '--url', `${server.url}/tsa`, '--hash', 'md5'],
      ['ts', 'query', DOC, '--url', 'http://127.0.0.1:1/tsa'],
      ['ts', 'verify', tmp.file('missing.tsr'), '--data', DOC],
      ['ts', 'verify', join(tmp.file('trust'), 'sm2-root.pem'), '--data', DOC],
    ]) {
      const x = medsign(args);
      assert.equal(x.code, 2, `${args.join(' ')}: ${x.stderr}`);
      assert.equal(x.stderr.trim().split('\n').length, 1, x.stderr);
    }
  });

  test('the TypeScript API: queryTimeStamp checks nonce and imprint; verifyTimeStamp offline', async () => {
    const r = await queryTimeStamp(`${server.url}/tsa/sm2`, data(), { hash: 'sha512' });
    assert.equal(r.granted, true, r.errors.join('; '));
    assert.ok(r.verification!.nonce !== undefined);
    const { loadCertificates } = await import('@medsign/pki');
    const anchors = loadCertificates(readFileSync(join(tmp.file('trust'), 'sm2-root.pem')));
    assert.equal(verifyTimeStamp(r.token!, data(), { anchors }).valid, true);
    assert.equal(verifyTimeStamp(r.token!, new Uint8Array([1]), { anchors }).valid, false);
    const refused = await queryTimeStamp(`${server.url}/tsa`, data(), { policy: '1.2.3' });
    assert.equal(refused.granted, false);
    assert.match(refused.errors[0]!, /unacceptedPolicy/);
    assert.equal(refused.parsed.statusName, 'rejection');
    await assert.rejects(queryTimeStamp(`${server.url}/tsa/rsa`, data()), /HTTP 404/);
  });
});

describe('medsign ts verify on tokens made by others', () => {
  for (const type of ['rsa-2048', 'ec-p256'] as const) {
    test(`openssl ts -reply (${type}) response and token`, async () => {
      const dir = tempDir('medsign-openssl-tsa-');
      try {
        const h = await makeHierarchy(type);
        dir.file('tsa.pem', h.tsa.cert.toPem());
        dir.file('tsa.key', h.tsa.key.toPem());
        dir.file('inter.pem', h.intermediate.cert.toPem());
        dir.file('root.pem', h.root.cert.toPem());
        dir.file('serial', '01\n');
        const cfg = dir.file(
          'tsa.cnf',
          [
            '[ tsa ]',
            'default_tsa = tsa1',
            '[ tsa1 ]',
            `dir = ${dir.path}`,
            'serial = $dir/serial',
            'crypto_device = builtin',
            'signer_cert = $dir/tsa.pem',
            'certs = $dir/inter.pem',
            'signer_key = $dir/tsa.key',
            'signer_digest = sha256',
            'default_policy = 1.2.3.4.1',
            'digests = sha256, sha384, sha512',
            'accuracy = secs:1',
            'ess_cert_id_alg = sha256',
            '',
          ].join('\n'),
        );
        const q = dir.file(
          'q.tsq',
          buildTimeStampReq({ hash: 'sha256', data: data(), certReq: true, nonce: 5n }),
        );
        for (const tokenOut of [false, true]) {
          const out = dir.file(tokenOut ? 'r.tst' : 'r.tsr');
          const r = runOpenssl([
            'ts',
            '-reply',
            '-config',
            cfg,
            '-queryfile',
            q,
            ...(tokenOut ? ['-token_out'] : []),
            '-out',
            out,
          ]);
          assert.equal(r.code, 0, r.stderr);
          if (!tokenOut) assert.equal(parseTimeStampResp(readFileSync(out)).statusName, 'granted');
          const v = verifyTimeStamp(readFileSync(out), data(), { anchors: [h.root.cert] });
          assert.equal(v.valid, true, v.errors.join('; '));
          assert.equal(v.nonce, 5n);
          // the CLI once per key type (each spawn costs a second)
          if (tokenOut) {
            const cli = medsign(['ts', 'verify', out, '--data', DOC, '--ca', dir.file('root.pem')]);
            assert.equal(cli.code, 0, cli.stdout + cli.stderr);
          }
        }
      } finally {
        dir.cleanup();
      }
    });
  }

  test('the Bouncy Castle peer’s SM2 token and response', async (t) => {
    const fx = makeBcFixtures(tmp.file('bc'));
    if (!fx || !requirePeer(t)) return;
    const { loadCertificates } = await import('@medsign/pki');
    const anchors = loadCertificates(readFileSync(join(fx, 'sm2-root.pem')));
    const fxData = new Uint8Array(readFileSync(join(fx, 'data.txt')));
    const tsr = verifyTimeStamp(readFileSync(join(fx, 'sm2-tsr.der')), fxData, { anchors });
    assert.equal(tsr.valid, true, tsr.errors.join('; '));
    const v = medsign([
      'ts',
      'verify',
      join(fx, 'sm2-tst.der'),
      '--data',
      join(fx, 'data.txt'),
      '--ca',
      join(fx, 'sm2-root.pem'),
    ]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const bad = medsign([
      'ts',
      'verify',
      join(fx, 'sm2-tst.der'),
      '--data',
      DOC,
      '--ca',
      join(fx, 'sm2-root.pem'),
    ]);
    assert.equal(bad.code, 1);
  });
});
