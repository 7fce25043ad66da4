import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  buildCsr,
  buildOcspRequest,
  ParsedCrl,
  ParsedOcspResponse,
  PrivateKey,
  readCrlDistributionPoints,
  verifyCrl,
  verifyOcspResponse,
} from '@medsign/pki';
import { peerOrSkip, tempDir } from '@medsign/testkit';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { makeFakeServices, type FakeServices } from './helpers/fake-services.js';

/** Runs a command without blocking the event loop; exit code and output. */
async function run(cmd: string, args: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)(cmd, args, { encoding: 'utf8', timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === 'number' ? err.code : 1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? String(e),
    };
  }
}

const applicant = { name: '李四', employeeNo: 'E2002', department: '检验科' };
const tmp = tempDir('medsign-server-pki-');
after(() => tmp.cleanup());

describe('CRL and OCSP endpoints', () => {
  let fake: FakeServices;
  let app: FastifyInstance;
  let token: string;
  const auth = () => ({ authorization: `Bearer ${token}` });

  async function issue(type: 'sm2' | 'rsa-2048'): Promise<{ serial: string; caId: string }> {
    const key = PrivateKey.generate(type);
    const der = await buildCsr({ subject: [['CN', 'x']], signer: key.signer() });
    const csr = `-----BEGIN CERTIFICATE REQUEST-----\n${Buffer.from(der).toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    const r = await app.inject({
      method: 'POST',
      url: '/api/v1/certificates',
      headers: auth(),
      payload: { profile: 'doctor', csr, applicant },
    });
    assert.equal(r.statusCode, 201, r.body);
    return r.json();
  }

  async function revoke(c: { caId: string; serial: string }, reason = 'keyCompromise') {
    const r = await app.inject({
      method: 'POST',
      url: `/api/v1/certificates/${c.caId}/${c.serial}/revoke`,
      headers: auth(),
      payload: { reason },
    });
    assert.equal(r.statusCode, 200, r.body);
  }

  async function ocspPost(body: Uint8Array) {
    const r = await app.inject({
      method: 'POST',
      url: '/pki/ocsp',
      headers: { 'content-type': 'application/ocsp-request' },
      payload: Buffer.from(body),
    });
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-type'], 'application/ocsp-response');
    return new Uint8Array(r.rawPayload);
  }

  before(async () => {
    fake = await makeFakeServices();
    app = await buildApp(fake.services, { logger: false });
    const r = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'operator', password: 'operator-pass' },
    });
    token = r.json<{ token: string }>().token;
  });
  after(() => app.close());

  for (const type of ['sm2', 'rsa-2048'] as const) {
    test(`${type}: issue → revoke → the next full and delta CRLs list it; caching headers; BC and openssl read both`, async (t) => {
      const revoked = await issue(type);
      const good = await issue(type);
      const caId = revoked.caId;
      const ca = fake.services.ca.cas.find((c) => c.id === caId)!.certificate;
      const caPem = tmp.file(`${caId}-ca.pem`, ca.toPem());

      let r = await app.inject(`/pki/crl/${caId}.crl`);
      assert.equal(r.statusCode, 200);
      assert.equal(r.headers['content-type'], 'application/pkix-crl');
      const first = ParsedCrl.parse(new Uint8Array(r.rawPayload));
      assert.equal(first.isRevoked(revoked.serial), undefined);
      const etag = r.headers.etag as string;
      assert.equal(etag, `"${caId}-${first.crlNumber}"`);
      assert.equal(r.headers['last-modified'], first.thisUpdate.toUTCString());
      assert.equal(r.headers.expires, first.nextUpdate!.toUTCString());
      const maxAge = Number(/max-age=(\d+)/.exec(r.headers['cache-control'] as string)![1]);
      assert.ok(maxAge > 0 && maxAge <= 3600, `max-age ${maxAge} up to the next scheduled full CRL`);
      // The same CRL until something changes: conditional requests get 304.
      r = await app.inject({ url: `/pki/crl/${caId}.crl`, headers: { 'if-none-match': etag } });
      assert.equal(r.statusCode, 304);
      r = await app.inject({
        url: `/pki/crl/${caId}.crl`,
        headers: { 'if-modified-since': first.thisUpdate.toUTCString() },
      });
      assert.equal(r.statusCode, 304);

      await revoke(revoked);
      r = await app.inject({ url: `/pki/crl/${caId}.crl`, headers: { 'if-none-match': etag } });
      assert.equal(r.statusCode, 200, 'a revocation publishes a new CRL at once');
      const der = new Uint8Array(r.rawPayload);
      const crl = ParsedCrl.parse(der);
      assert.ok(crl.crlNumber! > first.crlNumber!);
      assert.equal(crl.isRevoked(revoked.serial)?.reason, 'keyCompromise');
      assert.equal(crl.isRevoked(good.serial), undefined);
      assert.equal(verifyCrl(crl, ca).valid, true);
      const freshest = crl.extensions.find((e) => e.oid === '2.5.29.46');
      assert.ok(freshest && !freshest.critical, 'the full CRL names its delta (Freshest CRL)');
      assert.deepEqual(readCrlDistributionPoints(freshest.value), [
        `http://127.0.0.1:8080/pki/crl/${caId}-delta.crl`,
      ]);

      r = await app.inject(`/pki/crl/${caId}-delta.crl`);
      assert.equal(r.statusCode, 200);
      assert.equal(r.headers['content-type'], 'application/pkix-crl');
      const deltaDer = new Uint8Array(r.rawPayload);
      const delta = ParsedCrl.parse(deltaDer);
      assert.equal(delta.baseCrlNumber, crl.crlNumber, 'the delta is over the newest full CRL');
      assert.ok(delta.crlNumber! > crl.crlNumber!);
      assert.equal(delta.isRevoked(revoked.serial)?.reason, 'keyCompromise');
      assert.equal(verifyCrl(delta, ca).valid, true);
      assert.equal(r.headers.etag, `"${caId}-${delta.crlNumber}"`);
      assert.match(r.headers['cache-control'] as string, /max-age=\d+/);

      for (const [name, bytes] of [
        ['full', der],
        ['delta', deltaDer],
      ] as const) {
        const file = tmp.file(`${caId}-${name}.crl`, bytes);
        const p = peerOrSkip(t, ['crl-verify', file, caPem]);
        if (p) assert.equal(p.code, 0, `${name}: ${JSON.stringify(p.json)}`);
        const o = await run('openssl', ['crl', '-inform', 'DER', '-in', file, '-noout', '-text']);
        assert.equal(o.code, 0, o.stderr);
        assert.match(o.stdout, new RegExp(revoked.serial.slice(-8), 'i'));
        if (name === 'delta') assert.match(o.stdout, /Delta CRL Indicator: critical\s+\d+/);
        else assert.match(o.stdout, new RegExp(`Freshest CRL:[\\s\\S]*${caId}-delta\\.crl`));
      }

      r = await app.inject(`/pki/crl/${caId}.pem`);
      assert.match(r.body, /^-----BEGIN X509 CRL-----\n/);
      assert.equal(r.headers.etag, `"${caId}-${crl.crlNumber}-pem"`);
      r = await app.inject(`/pki/crl/${caId}-delta.pem`);
      assert.match(r.body, /^-----BEGIN X509 CRL-----\n/);
      assert.equal((await app.inject('/pki/crl/nope.crl')).statusCode, 404);
      assert.equal((await app.inject('/pki/crl/nope-delta.crl')).statusCode, 404);
    });

    test(`${type}: OCSP POST says revoked/good/unknown with the nonce, BC verifies it, the GET form agrees`, async (t) => {
      const revoked = await issue(type);
      const good = await issue(type);
      await revoke(revoked, 'superseded');
      const ca = fake.services.ca.cas.find((c) => c.id === revoked.caId)!.certificate;
      const nonce = new Uint8Array(16).fill(7);
      const request = buildOcspRequest({
        issuer: ca,
        serials: [revoked.serial, good.serial, 'abcdef'],
        nonce,
      });
      const der = await ocspPost(request);
      const resp = ParsedOcspResponse.parse(der);
      assert.equal(resp.responseFor(revoked.serial)?.status, 'revoked');
      assert.equal(resp.responseFor(good.serial)?.status, 'good');
      assert.equal(resp.responseFor('abcdef')?.status, 'unknown');
      const v = verifyOcspResponse(resp, ca, { nonce });
      assert.equal(v.valid, true, v.errors.join('; '));
      const p = peerOrSkip(t, [
        'ocsp-verify',
        tmp.file(`${type}-ocsp.der`, der),
        tmp.file(`${type}-ocsp-ca.pem`, ca.toPem()),
      ]);
      if (p) assert.equal(p.code, 0, JSON.stringify(p.json));

      const single = buildOcspRequest({ issuer: ca, serials: [revoked.serial] });
      const b64 = Buffer.from(single).toString('base64');
      const r = await app.inject(`/pki/ocsp/${encodeURIComponent(b64)}`);
      assert.equal(r.statusCode, 200);
      assert.equal(r.headers['content-type'], 'application/ocsp-response');
      const viaGet = ParsedOcspResponse.parse(new Uint8Array(r.rawPayload));
      assert.equal(viaGet.responseFor(revoked.serial)?.status, 'revoked');
      assert.equal(viaGet.responseFor(revoked.serial)?.reason, 'superseded');
    });
  }

  test('malformed OCSP requests get malformedRequest with HTTP 200 — POST, empty POST and GET', async () => {
    for (const body of [new Uint8Array([0x30, 0x03, 1, 2, 3]), new Uint8Array([0xff]), new Uint8Array()]) {
      assert.equal(ParsedOcspResponse.parse(await ocspPost(body)).status, 'malformedRequest');
    }
    for (const path of ['/pki/ocsp/%%%', '/pki/ocsp/AAAA', '/pki/ocsp/not*base64']) {
      const r = await app.inject(path);
      assert.equal(r.statusCode, 200, path);
      assert.equal(ParsedOcspResponse.parse(new Uint8Array(r.rawPayload)).status, 'malformedRequest', path);
    }
    const m = await app.inject('/metrics');
    assert.match(m.body, /medsign_ocsp_responses_total\{status="malformedRequest"\} [1-9]/);
    assert.match(m.body, /medsign_ocsp_responses_total\{status="revoked"\} [1-9]/);
    assert.match(m.body, /medsign_crls_generated_total\{ca="sm2",kind="full"\} [1-9]/);
  });
});

describe('over real HTTP on loopback', () => {
  let fake: FakeServices;
  let app: FastifyInstance;
  let base: string;

  before(async () => {
    fake = await makeFakeServices();
    app = await buildApp(fake.services, { logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  after(() => app.close());

  test('fetch: login, issue, revoke, CRL and OCSP GET over the wire', async () => {
    const login = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'operator', password: 'operator-pass' }),
    });
    assert.equal(login.status, 200);
    const { token } = (await login.json()) as { token: string };
    const key = PrivateKey.generate('ec-p256');
    const spki = Buffer.from(key.publicKeyInfo).toString('base64');
    let r = await fetch(`${base}/api/v1/certificates`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ profile: 'nurse', publicKeyInfo: spki, applicant, caId: 'rsa' }),
    });
    const issued = (await r.json()) as { serial: string; caId: string };
    assert.equal(r.status, 201, JSON.stringify(issued));
    r = await fetch(`${base}/api/v1/certificates/rsa/${issued.serial}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ reason: 'affiliationChanged' }),
    });
    assert.equal(r.status, 200);
    r = await fetch(`${base}/pki/crl/rsa.crl`);
    assert.equal(r.headers.get('content-type'), 'application/pkix-crl');
    const crl = ParsedCrl.parse(new Uint8Array(await r.arrayBuffer()));
    assert.equal(crl.isRevoked(issued.serial)?.reason, 'affiliationChanged');
    const req = buildOcspRequest({ issuer: fake.rsa.intermediate.cert, serials: [issued.serial] });
    r = await fetch(`${base}/pki/ocsp/${encodeURIComponent(Buffer.from(req).toString('base64'))}`);
    const resp = ParsedOcspResponse.parse(new Uint8Array(await r.arrayBuffer()));
    assert.equal(resp.responseFor(issued.serial)?.status, 'revoked');
    r = await fetch(`${base}/healthz`);
    assert.equal(r.status, 200);
    assert.ok(r.headers.get('x-request-id'));
  });

  test('openssl ocsp against the listener (RSA CA) reports good and revoked and verifies the response', async (t) => {
    if (spawnSync('openssl', ['version']).status !== 0) return t.skip('openssl not installed');
    const login = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'operator', password: 'operator-pass' }),
    });
    const { token } = (await login.json()) as { token: string };
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    const serials: string[] = [];
    for (let i = 0; i < 2; i++) {
      const spki = Buffer.from(PrivateKey.generate('rsa-2048').publicKeyInfo).toString('base64');
      const r = await fetch(`${base}/api/v1/certificates`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ profile: 'doctor', publicKeyInfo: spki, applicant }),
      });
      assert.equal(r.status, 201);
      serials.push(((await r.json()) as { serial: string }).serial);
    }
    const [good, revoked] = serials as [string, string];
    await fetch(`${base}/api/v1/certificates/rsa/${revoked}/revoke`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ reason: 'keyCompromise' }),
    });
    const caPem = tmp.file('rsa-issuer.pem', await (await fetch(`${base}/pki/ca/rsa.pem`)).text());
    const chain = tmp.file('rsa-chain.pem', await (await fetch(`${base}/pki/ca/rsa/chain.pem`)).text());
    for (const [serial, status] of [
      [good, 'good'],
      [revoked, 'revoked'],
    ] as const) {
      // Asynchronously: the server answering openssl runs in this very process.
      const o = await run('openssl', [
        'ocsp',
        '-issuer',
        caPem,
        '-serial',
        `0x${serial}`,
        '-url',
        `${base}/pki/ocsp`,
        '-no_nonce',
        '-CAfile',
        chain,
        '-resp_text',
      ]);
      assert.equal(o.code, 0, o.stderr);
      assert.match(o.stderr + o.stdout, /Response verify OK/);
      assert.match(o.stdout, new RegExp(`0x${serial}: ${status}`, 'i'));
      if (status === 'revoked') assert.match(o.stdout, /Reason: keyCompromise/);
    }
  });
});

describe('CRL schedule', () => {
  test('full and delta CRLs on a fake clock: due runs only, deltas over the newest full, one number sequence', async () => {
    const fake = await makeFakeServices(['crl']);
    let now = Date.parse('2030-03-01T08:00:00Z');
    fake.services.ca.clock = { now: () => new Date(now) };
    const crls = fake.services.crls;
    const minute = 60_000;
    const stored = (caId: string) =>
      fake.crlArchive.crls
        .filter((c) => c.caId === caId)
        .map((c) => `${c.kind}#${c.crlNumber}${c.baseNumber === null ? '' : `/${c.baseNumber}`}`);

    await crls.runDue();
    assert.deepEqual(stored('sm2'), ['full#1', 'delta#2/1']);
    assert.deepEqual(stored('rsa'), ['full#1', 'delta#2/1']);
    now += 10 * minute;
    await crls.runDue();
    assert.deepEqual(stored('sm2'), ['full#1', 'delta#2/1'], 'nothing due after 10 minutes');
    now += 5 * minute;
    await crls.runDue();
    assert.deepEqual(stored('sm2'), ['full#1', 'delta#2/1', 'delta#3/1'], 'a delta every 15 minutes');
    now += 45 * minute;
    await crls.runDue();
    assert.deepEqual(stored('sm2').slice(3), ['full#4', 'delta#5/4'], 'a full CRL (and its delta) hourly');
    const full = fake.crlArchive.crls.find((c) => c.caId === 'sm2' && c.crlNumber === 4n)!;
    assert.equal(full.nextUpdate.getTime() - full.thisUpdate.getTime(), 24 * 60 * minute);
    const delta = fake.crlArchive.crls.find((c) => c.caId === 'sm2' && c.crlNumber === 5n)!;
    assert.equal(delta.nextUpdate.getTime() - delta.thisUpdate.getTime(), 60 * minute);

    // Calls during a publication share the next one; the served CRL waits for it.
    const before = stored('sm2').length;
    await Promise.all([
      crls.publish('sm2', 'delta'),
      crls.publish('sm2', 'full'),
      crls.publish('sm2', 'delta'),
    ]);
    assert.deepEqual(stored('sm2').slice(before), ['full#6', 'delta#7/6']);
    crls.changed('sm2');
    assert.equal((await crls.current('sm2', 'full')).crlNumber, 8n);

    assert.deepEqual(await crls.overdue(), []);
    now += 2 * 60 * minute; // no run for two hours: the deltas (valid 1 hour) are overdue
    assert.deepEqual(
      (await crls.overdue()).map((l) => l.split(' ').slice(0, 2).join(' ')),
      ['sm2 delta', 'rsa delta'],
    );
    await assert.rejects(crls.current('nope', 'full'), /CA_NOT_FOUND/);

    // A failing signature stores nothing; the next run catches up.
    const keys = fake.services.ca.keys;
    fake.services.ca.keys = {
      signer: async () => {
        throw new Error('keystore locked');
      },
    };
    const count = fake.crlArchive.crls.length;
    await assert.rejects(crls.publish('rsa', 'full'), /keystore locked/);
    assert.equal(fake.crlArchive.crls.length, count);
    fake.services.ca.keys = keys;
    await crls.runDue();
    assert.deepEqual(await crls.overdue(), []);
  });
});
