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
  verifyCrl,
  verifyOcspResponse,
} from '@medsign/pki';
import { peerOrSkip, tempDir } from '@medsign/testkit';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { CRL_CACHE_MS, CrlCache } from '../src/routes/crl.js';
import { createMetrics } from '../src/routes/observability.js';
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
    test(`${type}: issue → revoke → the CRL lists it (cached until the next revocation) and BC verifies it`, async (t) => {
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
      r = await app.inject(`/pki/crl/${caId}.crl`);
      assert.equal(
        ParsedCrl.parse(new Uint8Array(r.rawPayload)).crlNumber,
        first.crlNumber,
        'served from cache',
      );

      await revoke(revoked);
      r = await app.inject(`/pki/crl/${caId}.crl`);
      const der = new Uint8Array(r.rawPayload);
      const crl = ParsedCrl.parse(der);
      assert.ok(crl.crlNumber! > first.crlNumber!, 'a revocation invalidates the cached CRL');
      assert.equal(crl.isRevoked(revoked.serial)?.reason, 'keyCompromise');
      assert.equal(crl.isRevoked(good.serial), undefined);
      assert.equal(verifyCrl(crl, ca).valid, true);
      const p = peerOrSkip(t, ['crl-verify', tmp.file(`${caId}.crl`, der), caPem]);
      if (p) assert.equal(p.code, 0, JSON.stringify(p.json));

      r = await app.inject(`/pki/crl/${caId}.pem`);
      assert.match(r.body, /^-----BEGIN X509 CRL-----\n/);
      assert.equal((await app.inject('/pki/crl/nope.crl')).statusCode, 404);
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
    assert.match(m.body, /medsign_crls_generated_total\{ca="sm2"\} [1-9]/);
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

describe('CRL cache', () => {
  test('serves one CRL until it is 5 minutes old; concurrent misses share one generation; failures are not cached', async () => {
    const fake = await makeFakeServices(['crl']);
    let now = Date.now();
    fake.services.ca.clock = { now: () => new Date(now) };
    const metrics = createMetrics();
    const cache = new CrlCache(fake.services, metrics);
    const [a, b] = await Promise.all([cache.get('sm2'), cache.get('sm2')]);
    assert.equal(a.der, b.der);
    assert.equal(a.maxAgeS, CRL_CACHE_MS / 1000);
    now += CRL_CACHE_MS - 1000;
    assert.equal((await cache.get('sm2')).der, a.der);
    now += 1000;
    const c = await cache.get('sm2');
    assert.notEqual(c.der, a.der);
    assert.equal(ParsedCrl.parse(c.der).crlNumber, 2n);
    await assert.rejects(cache.get('nope'), /CA_NOT_FOUND/);
    const keys = fake.services.ca.keys;
    fake.services.ca.keys = {
      signer: async () => {
        throw new Error('keystore locked');
      },
    };
    await assert.rejects(cache.get('rsa'), /keystore locked/);
    fake.services.ca.keys = keys;
    assert.ok(ParsedCrl.parse((await cache.get('rsa')).der), 'the failure was not cached');
  });
});
