// The TSA of a real `medsign start` process, proven by others (issue 5): OpenSSL's `ts` client and
// verifier on the RSA and ECDSA units, the Bouncy Castle peer on the SM2 unit (responses and bare
// tokens); the archive and the keystore session audit in the database afterwards.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { buildTimeStampReq, parseTimeStampResp, verifyTimeStampToken } from '@medsign/pki';
import { openStore } from '@medsign/store';
import {
  peerOrSkip,
  runOpenssl,
  startMedsignServer,
  tempDir,
  type MedsignServerProcess,
} from '@medsign/testkit';
import { initDataDir } from '../src/init.js';

const tmp = tempDir('medsign-tsa-interop-');
const DATA = tmp.file('report.txt', '检验报告 LIS-2026-0042: 血常规正常\n');
let server: MedsignServerProcess;
let db: string;

async function post(path: string, body: Uint8Array): Promise<Uint8Array> {
  const r = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/timestamp-query' },
    body,
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/timestamp-reply');
  return new Uint8Array(await r.arrayBuffer());
}

before(async () => {
  const init = await initDataDir({ dataDir: tmp.file('data'), algorithms: ['rsa', 'ecdsa'] });
  db = init.config.db;
  server = await startMedsignServer(['--data', tmp.file('data'), '--port', '0'], 'tsa server');
});
after(async () => {
  await server?.stop();
  tmp.cleanup();
});

describe('TSA over HTTP, verified by OpenSSL and Bouncy Castle', () => {
  for (const unit of ['rsa', 'ecdsa'] as const) {
    test(`${unit}: openssl ts -query → POST /tsa/${unit} → openssl ts -verify and -reply -text`, async () => {
      const q = tmp.file(`${unit}.tsq`);
      const made = runOpenssl(['ts', '-query', '-data', DATA, '-sha256', '-cert', '-out', q]);
      assert.equal(made.code, 0, made.stderr);
      const r = tmp.file(`${unit}.tsr`, await post(`/tsa/${unit}`, new Uint8Array(readFileSync(q))));
      const chain = await (await fetch(`${server.url}/pki/ca/${unit}-issuing/chain.pem`)).text();
      const v = runOpenssl([
        'ts',
        '-verify',
        '-data',
        DATA,
        '-in',
        r,
        '-CAfile',
        tmp.file(`${unit}-chain.pem`, chain),
      ]);
      assert.equal(v.code, 0, v.stdout + v.stderr);
      assert.match(v.stdout, /Verification: OK/);
      // openssl checks the nonce too when it is given the query
      const vq = runOpenssl([
        'ts',
        '-verify',
        '-queryfile',
        q,
        '-in',
        r,
        '-CAfile',
        tmp.file(`${unit}-chain.pem`),
      ]);
      assert.equal(vq.code, 0, vq.stdout + vq.stderr);
      const text = runOpenssl(['ts', '-reply', '-in', r, '-text']);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /Status: Granted/);
      assert.match(text.stdout, /Policy OID: 2\.25\.\d+/);
      assert.match(text.stdout, /Accuracy: 0x01 seconds/);
      assert.match(text.stdout, /Ordering: no/);
      assert.match(text.stdout, /Nonce: 0x/);
      assert.match(text.stdout, /Time stamp: \w+ +\d+ \d\d:\d\d:\d\d(\.\d+)? \d{4} GMT/);
      const bad = runOpenssl([
        'ts',
        '-verify',
        '-data',
        tmp.file('other.txt', 'x'),
        '-in',
        r,
        '-CAfile',
        tmp.file(`${unit}-chain.pem`),
      ]);
      assert.notEqual(bad.code, 0);
    });
  }

  test('sm2: BC tsp-verify accepts the response and the bare token from POST /tsa', async (t) => {
    const data = new Uint8Array(readFileSync(DATA));
    const resp = await post('/tsa', buildTimeStampReq({ hash: 'sm3', data, nonce: 7n, certReq: true }));
    const parsed = parseTimeStampResp(resp);
    assert.equal(parsed.statusName, 'granted');
    const root = await (await fetch(`${server.url}/pki/ca/sm2-root.pem`)).text();
    const rootFile = tmp.file('sm2-root.pem', root);
    for (const [name, bytes] of [
      ['sm2.tsr', resp],
      ['sm2.tst', parsed.token!],
    ] as const) {
      const r = peerOrSkip(t, ['tsp-verify', tmp.file(name, bytes), DATA, '--ca', rootFile]);
      if (!r) return;
      assert.equal(r.code, 0, JSON.stringify(r.json));
    }
    const bad = peerOrSkip(t, ['tsp-verify', tmp.file('sm2.tsr'), tmp.file('other.txt', 'x')]);
    if (bad) assert.equal(bad.code, 1);
    // and ours agrees, from the root alone
    const { ParsedCertificate } = await import('@medsign/pki');
    const v = verifyTimeStampToken(resp, { data, anchors: [ParsedCertificate.parse(root)] });
    assert.equal(v.valid, true, v.errors.join('; '));
  });

  test('every granted token is in the archive; the keystore audited one session per unit, not each token', async () => {
    const store = await openStore(db);
    try {
      const counts = await store.tsaTokens.countByUnit();
      assert.deepEqual(counts, [
        { unit: 'ecdsa', count: 1 },
        { unit: 'rsa', count: 1 },
        { unit: 'sm2', count: 1 },
      ]);
      const events = await store.audit.list({ limit: 1000 });
      const sessions = events.filter((e) => e.action === 'key.session-open');
      assert.deepEqual(sessions.map((e) => e.detail.label).sort(), [
        'service:tsa:ecdsa',
        'service:tsa:rsa',
        'service:tsa:sm2',
      ]);
      const tsaKeys = new Set(sessions.map((e) => e.target));
      assert.equal(events.filter((e) => e.action === 'key.sign' && tsaKeys.has(e.target)).length, 0);
      assert.equal(await store.audit.verify().then((v) => v.ok), true);
    } finally {
      await store.close();
    }
  });
});
