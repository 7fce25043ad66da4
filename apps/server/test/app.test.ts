import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildCsr, PrivateKey } from '@medsign/pki';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { decodeOcspGetPath } from '../src/routes/ocsp.js';
import { maskApplicant, maskPersonal } from '../src/routes/certificates.js';
import { makeFakeServices, type FakeServices } from './helpers/fake-services.js';

const applicant = {
  name: '张三',
  employeeNo: 'E1001',
  department: '心内科',
  idNumber: '110101199003071234',
  phone: '13812345678',
};

async function csrPem(type: 'sm2' | 'rsa-2048' = 'sm2'): Promise<string> {
  const key = PrivateKey.generate(type);
  const der = await buildCsr({ subject: [['CN', 'ignored']], signer: key.signer() });
  return `-----BEGIN CERTIFICATE REQUEST-----\n${Buffer.from(der).toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
}

describe('buildApp over fake services', () => {
  let fake: FakeServices;
  let app: FastifyInstance;
  let token: string;
  const auth = () => ({ authorization: `Bearer ${token}` });

  before(async () => {
    fake = await makeFakeServices();
    app = await buildApp(fake.services, { logger: false });
    const r = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'operator', password: 'operator-pass' },
    });
    assert.equal(r.statusCode, 200, r.body);
    token = r.json<{ token: string }>().token;
  });
  after(() => app.close());

  test('healthz: 200 with the report when ok or degraded, 503 when down, 503 when the check throws', async () => {
    let r = await app.inject('/healthz');
    assert.equal(r.statusCode, 200);
    assert.equal(r.json<{ status: string }>().status, 'ok');
    fake.setHealth({
      status: 'degraded',
      checks: [{ name: 'ca-expiry', ok: false, detail: 'CA sm2 expires in 12 days' }],
    });
    r = await app.inject('/healthz');
    assert.equal(r.statusCode, 200);
    fake.setHealth({
      status: 'down',
      checks: [{ name: 'database', ok: false, detail: 'SQLITE_CANTOPEN: /data/medsign.db' }],
    });
    r = await app.inject('/healthz');
    assert.equal(r.statusCode, 503);
    assert.deepEqual(r.json(), {
      status: 'down',
      checks: [{ name: 'database', ok: false, detail: 'SQLITE_CANTOPEN: /data/medsign.db' }],
    });
    fake.setHealth(async () => {
      throw new Error('boom');
    });
    r = await app.inject('/healthz');
    assert.equal(r.statusCode, 503);
    assert.equal(r.json<{ status: string }>().status, 'down');
    assert.doesNotMatch(r.body, /boom/);
    fake.setHealth({ status: 'ok', checks: [] });
  });

  test('OpenAPI 3 JSON lists the routes; the reference page and its assets are served locally', async () => {
    const r = await app.inject('/api/docs/json');
    assert.equal(r.statusCode, 200);
    const doc = r.json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>();
    assert.match(doc.openapi, /^3\./);
    for (const path of [
      '/api/v1/certificates',
      '/api/v1/certificates/{caId}/{serial}',
      '/api/v1/certificates/{caId}/{serial}/revoke',
      '/api/v1/auth/login',
      '/pki/ocsp',
      '/healthz',
      '/metrics',
    ])
      assert.ok(doc.paths[path], `${path} in ${Object.keys(doc.paths).join(', ')}`);
    assert.ok(doc.paths['/api/v1/certificates']!.post);
    const ops = doc.paths as Record<
      string,
      Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>
    >;
    assert.ok(ops['/pki/ocsp']!.post!.responses['200']!.content!['application/ocsp-response']);
    assert.ok(ops['/pki/crl/{caId}.crl']!.get!.responses['200']!.content!['application/pkix-crl']);
    const conflict = ops['/api/v1/certificates/{caId}/{serial}/revoke']!.post!.responses['409']!;
    assert.deepEqual(Object.keys(conflict.content!), ['application/problem+json']);
    const page = await app.inject('/api/docs');
    assert.equal(page.statusCode, 200);
    assert.match(page.headers['content-type'] as string, /^text\/html/);
    assert.match(page.body, /\/api\/docs\/static\/swagger-ui\.css/);
    assert.doesNotMatch(page.body, /https?:\/\//, 'no CDN: the page works on an offline intranet');
    const init = await app.inject('/api/docs/static/swagger-initializer.js');
    assert.match(init.body, /validatorUrl: null/);
    const js = await app.inject('/api/docs/static/swagger-ui-bundle.js');
    assert.equal(js.statusCode, 200);
    assert.ok(js.body.length > 100_000);
  });

  test('problem+json: unknown profile 404, malformed CSR 400, bad JSON 400, schema 400, no/bad token 401, 404 route', async () => {
    let r = await app.inject({
      method: 'POST',
      url: '/api/v1/certificates',
      headers: auth(),
      payload: { profile: 'surgeon-general', csr: await csrPem(), applicant },
    });
    assert.equal(r.statusCode, 404);
    assert.match(r.headers['content-type'] as string, /^application\/problem\+json/);
    const p = r.json<Record<string, unknown>>();
    assert.equal(p.code, 'CA_PROFILE_NOT_FOUND');
    assert.equal(p.status, 404);
    assert.equal(p.instance, r.headers['x-request-id']);
    assert.equal(p.type, 'urn:medsign:error:CA_PROFILE_NOT_FOUND');

    r = await app.inject({
      method: 'POST',
      url: '/api/v1/certificates',
      headers: auth(),
      payload: { profile: 'doctor', csr: 'not a csr', applicant },
    });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json<{ code: string }>().code, 'CA_CSR_INVALID');

    r = await app.inject({
      method: 'POST',
      url: '/api/v1/certificates',
      headers: { ...auth(), 'content-type': 'application/json' },
      payload: '{"profile": "doctor",',
    });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json<{ code: string }>().code, 'REQUEST_INVALID');
    assert.match(r.headers['content-type'] as string, /^application\/problem\+json/);

    r = await app.inject({
      method: 'POST',
      url: '/api/v1/certificates',
      headers: auth(),
      payload: { profile: 'doctor', csr: 'x', applicant: { employeeNo: '1' }, extra: true },
    });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json<{ code: string }>().code, 'REQUEST_INVALID');

    r = await app.inject({ method: 'GET', url: '/api/v1/certificates' });
    assert.equal(r.statusCode, 401);
    assert.equal(r.json<{ code: string }>().code, 'AUTH_REQUIRED');
    assert.match(r.headers['www-authenticate'] as string, /^Bearer/);
    r = await app.inject({ url: '/api/v1/certificates', headers: { authorization: 'Bearer nope' } });
    assert.equal(r.statusCode, 401);
    assert.equal(r.json<{ code: string }>().code, 'AUTH_FAILED');
    r = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'operator', password: 'wrong' },
    });
    assert.equal(r.statusCode, 401);
    assert.equal(r.json<{ code: string }>().code, 'AUTH_FAILED');

    r = await app.inject({ url: '/api/v1/audit/verify', headers: auth() });
    assert.equal(r.statusCode, 403);
    assert.equal(r.json<{ code: string }>().code, 'AUTH_FORBIDDEN');

    r = await app.inject('/no/such/route');
    assert.equal(r.statusCode, 404);
    assert.match(r.headers['content-type'] as string, /^application\/problem\+json/);

    r = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { 'content-type': 'application/json' },
      payload: '{"username":"' + 'x'.repeat(2 * 1024 * 1024) + '"}',
    });
    assert.equal(r.statusCode, 413);
    assert.equal(r.json<{ code: string }>().code, 'REQUEST_INVALID');
  });

  test('an unexpected error is a 500 naming only the request id', async () => {
    const original = fake.store.search;
    fake.store.search = async () => {
      throw new Error('secret database detail at /var/lib/x');
    };
    try {
      const r = await app.inject({
        url: '/api/v1/certificates',
        headers: { ...auth(), 'x-request-id': 'req-42' },
      });
      assert.equal(r.statusCode, 500);
      const p = r.json<Record<string, unknown>>();
      assert.equal(p.instance, 'req-42');
      assert.doesNotMatch(r.body, /secret|\/var\/lib|at /);
      assert.equal(p.code, undefined);
    } finally {
      fake.store.search = original;
    }
  });

  test('issue → get → list → stats → hold → resume → revoke, with masking and metrics', async () => {
    let r = await app.inject({
      method: 'POST',
      url: '/api/v1/certificates',
      headers: auth(),
      payload: { profile: 'doctor', csr: await csrPem(), applicant, validityDays: 365 },
    });
    assert.equal(r.statusCode, 201, r.body);
    const issued = r.json<{
      serial: string;
      caId: string;
      certificate: string;
      notAfter: string;
      applicant: Record<string, string>;
    }>();
    assert.equal(issued.caId, 'sm2');
    assert.match(issued.certificate, /^-----BEGIN CERTIFICATE-----/);
    assert.equal(issued.applicant.idNumber, '110101********1234');
    assert.equal(issued.applicant.phone, '138****5678');
    assert.doesNotMatch(r.body, /110101199003071234|13812345678/);
    assert.equal(fake.audit.find((e) => e.action === 'cert.issue')?.actor, 'operator');

    r = await app.inject({ url: `/api/v1/certificates/sm2/${issued.serial.toUpperCase()}`, headers: auth() });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json<{ serial: string }>().serial, issued.serial);
    assert.equal(r.json<{ certificate: string }>().certificate, issued.certificate);

    r = await app.inject({ url: '/api/v1/certificates?department=心内科&limit=10', headers: auth() });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json<{ total: number }>().total, 1);
    r = await app.inject({ url: `/api/v1/certificates?serial=0x${issued.serial}`, headers: auth() });
    assert.equal(r.json<{ items: { serial: string }[] }>().items[0]?.serial, issued.serial);
    r = await app.inject({ url: '/api/v1/certificates?limit=0', headers: auth() });
    assert.equal(r.statusCode, 400);

    r = await app.inject({ url: '/api/v1/certificates/stats?by=profile', headers: auth() });
    assert.deepEqual(r.json(), { by: 'profile', counts: [{ key: 'doctor', count: 1 }] });

    const path = `/api/v1/certificates/sm2/${issued.serial}`;
    r = await app.inject({
      method: 'POST',
      url: `${path}/revoke`,
      headers: auth(),
      payload: { reason: 'certificateHold' },
    });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json<{ status: string }>().status, 'hold');
    r = await app.inject({ method: 'POST', url: `${path}/resume`, headers: auth() });
    assert.equal(r.json<{ status: string }>().status, 'good');
    r = await app.inject({ method: 'POST', url: `${path}/resume`, headers: auth() });
    assert.equal(r.statusCode, 409);
    assert.equal(r.json<{ code: string }>().code, 'CA_NOT_ON_HOLD');
    r = await app.inject({
      method: 'POST',
      url: `${path}/revoke`,
      headers: auth(),
      payload: { reason: 'bored' },
    });
    assert.equal(r.json<{ code: string }>().code, 'CA_REASON_INVALID');
    r = await app.inject({
      method: 'POST',
      url: `${path}/revoke`,
      headers: auth(),
      payload: { reason: 'keyCompromise' },
    });
    assert.equal(r.json<{ status: string }>().status, 'revoked');
    r = await app.inject({
      method: 'POST',
      url: `${path}/revoke`,
      headers: auth(),
      payload: { reason: 'keyCompromise' },
    });
    assert.equal(r.statusCode, 409);
    r = await app.inject({ url: '/api/v1/certificates/sm2/zzz', headers: auth() });
    assert.equal(r.statusCode, 404);
    assert.equal(r.json<{ code: string }>().code, 'CA_CERT_NOT_FOUND');

    r = await app.inject('/metrics');
    assert.equal(r.statusCode, 200);
    assert.match(r.headers['content-type'] as string, /^text\/plain/);
    assert.match(r.body, /medsign_certificates_issued_total\{ca="sm2",profile="doctor"\} 1/);
    assert.match(r.body, /medsign_certificates_revoked_total\{ca="sm2",reason="keyCompromise"\} 1/);
    assert.match(
      r.body,
      /medsign_http_requests_total\{method="POST",route="\/api\/v1\/certificates",status="201"\}/,
    );
    assert.match(r.body, /medsign_http_request_duration_seconds_bucket/);
  });

  test('catalogue, password change, logout, admin audit verify', async () => {
    let r = await app.inject({ url: '/api/v1/profiles', headers: auth() });
    assert.ok(r.json<{ id: string }[]>().some((p) => p.id === 'doctor'));
    r = await app.inject({ url: '/api/v1/cas', headers: auth() });
    const cas = r.json<{ id: string; keyAlgorithm: string; crl: string }[]>();
    assert.deepEqual(
      cas.map((c) => [c.id, c.keyAlgorithm]),
      [
        ['sm2', 'sm2'],
        ['rsa', 'rsa-2048'],
      ],
    );
    assert.equal(cas[0]!.crl, 'http://127.0.0.1:8080/pki/crl/sm2.crl');

    const login = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'admin', password: 'admin-pass' },
    });
    const admin = { authorization: `Bearer ${login.json<{ token: string }>().token}` };
    r = await app.inject({ url: '/api/v1/audit/verify', headers: admin });
    assert.equal(r.statusCode, 200);
    assert.equal(r.json<{ ok: boolean }>().ok, true);
    r = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/password',
      headers: admin,
      payload: { oldPassword: 'wrong', newPassword: 'a-much-longer-one' },
    });
    assert.equal(r.statusCode, 401);
    r = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/password',
      headers: admin,
      payload: { oldPassword: 'admin-pass', newPassword: 'a-much-longer-one' },
    });
    assert.equal(r.statusCode, 204);
    r = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: admin });
    assert.equal(r.statusCode, 204);
    r = await app.inject({ url: '/api/v1/audit/verify', headers: admin });
    assert.equal(r.statusCode, 401);
    fake.auth.users.get('admin')!.password = 'admin-pass';
  });

  test('an account on its one-time password can only change it (or log out) until it has', async () => {
    const login = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'fresh', password: 'fresh-pass' },
    });
    assert.equal(login.json<{ mustChangePassword: boolean }>().mustChangePassword, true);
    const fresh = { authorization: `Bearer ${login.json<{ token: string }>().token}` };
    let r = await app.inject({ url: '/api/v1/certificates', headers: fresh });
    assert.equal(r.statusCode, 403);
    assert.equal(r.json<{ code: string }>().code, 'AUTH_PASSWORD_CHANGE_REQUIRED');
    r = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/password',
      headers: fresh,
      payload: { oldPassword: 'fresh-pass', newPassword: 'a-new-long-password' },
    });
    assert.equal(r.statusCode, 204);
    r = await app.inject({ url: '/api/v1/certificates', headers: fresh });
    assert.equal(r.statusCode, 200);
  });

  test('CA certificates: DER, PEM and chain', async () => {
    let r = await app.inject('/pki/ca/rsa.cer');
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-type'], 'application/pkix-cert');
    assert.deepEqual(new Uint8Array(r.rawPayload), fake.rsa.intermediate.cert.der);
    r = await app.inject('/pki/ca/rsa.pem');
    assert.equal(r.body, fake.rsa.intermediate.cert.toPem());
    r = await app.inject('/pki/ca/sm2/chain.pem');
    assert.equal(r.body, fake.sm2.intermediate.cert.toPem() + fake.sm2.root.cert.toPem());
    r = await app.inject('/pki/ca/nope.cer');
    assert.equal(r.statusCode, 404);
    assert.equal(r.json<{ code: string }>().code, 'CA_NOT_FOUND');
    // The issuing CA's caIssuers URL names its root: that URL must answer too (a client walks AIA to the root).
    r = await app.inject('/pki/ca/sm2-root.cer');
    assert.equal(r.statusCode, 200);
    assert.deepEqual(new Uint8Array(r.rawPayload), fake.sm2.root.cert.der);
    r = await app.inject('/pki/ca/rsa-root.pem');
    assert.equal(r.body, fake.rsa.root.cert.toPem());
    r = await app.inject('/pki/ca/sm2-root/chain.pem');
    assert.equal(r.body, fake.sm2.root.cert.toPem());
  });
});

describe('roles', () => {
  test('an app with roles [ocsp] has no certificate API and no CRLs, but OCSP and CA certificates', async () => {
    const fake = await makeFakeServices(['ocsp']);
    const app = await buildApp(fake.services, { logger: false });
    try {
      assert.equal((await app.inject('/api/v1/certificates')).statusCode, 404);
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/login' })).statusCode, 404);
      assert.equal((await app.inject('/pki/crl/sm2.crl')).statusCode, 404);
      assert.equal((await app.inject('/pki/ca/sm2.cer')).statusCode, 200);
      assert.equal((await app.inject('/healthz')).statusCode, 200);
      const r = await app.inject({
        method: 'POST',
        url: '/pki/ocsp',
        headers: { 'content-type': 'application/ocsp-request' },
        payload: Buffer.from([0x30, 0x03, 1, 2, 3]),
      });
      assert.equal(r.statusCode, 200);
    } finally {
      await app.close();
    }
  });
});

describe('helpers', () => {
  test('masking keeps only the edges', () => {
    assert.equal(maskPersonal('110101199003071234', 6, 4), '110101********1234');
    assert.equal(maskPersonal('123', 3, 4), '***');
    assert.equal(maskPersonal('张三', 1, 0), '张*', 'keepEnd 0 keeps no tail');
    assert.equal(maskPersonal('𠮷野家', 1, 1), '𠮷*家', 'code points, not UTF-16 units');
    assert.deepEqual(maskApplicant({ name: 'a', phone: '13812345678' }), { name: 'a', phone: '138****5678' });
  });

  test('the OCSP GET path decodes URL-encoded, plain and URL-safe base64', () => {
    const der = new Uint8Array([0x30, 0xfb, 0xff, 0x3e]);
    const b64 = Buffer.from(der).toString('base64');
    assert.deepEqual(decodeOcspGetPath(encodeURIComponent(b64)), der);
    assert.deepEqual(decodeOcspGetPath(b64), der);
    assert.deepEqual(decodeOcspGetPath(Buffer.from(der).toString('base64url')), der);
    assert.equal(decodeOcspGetPath('%%%'), undefined);
    assert.equal(decodeOcspGetPath(''), undefined);
    assert.equal(decodeOcspGetPath('a b*'), undefined);
  });
});

describe('logs', () => {
  test('JSON lines with request ids; no bodies, tokens, passwords or personal data; causes of 500s', async () => {
    const lines: string[] = [];
    const stream = { write: (s: string) => void lines.push(s) };
    const fake = await makeFakeServices();
    const app = await buildApp(fake.services, { logger: { level: 'info', stream } });
    try {
      const login = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: 'operator', password: 'operator-pass' },
      });
      const token = login.json<{ token: string }>().token;
      const r = await app.inject({
        method: 'POST',
        url: '/api/v1/certificates',
        headers: { authorization: `Bearer ${token}`, 'x-request-id': 'trace-1' },
        payload: { profile: 'doctor', csr: await csrPem(), applicant },
      });
      assert.equal(r.statusCode, 201);
      await app.inject({
        url: `/api/v1/certificates?subject=${encodeURIComponent('张三')}`,
        headers: { authorization: `Bearer ${token}` },
      });
      await app.inject({ url: '/api/v1/certificates', headers: { authorization: 'Bearer stolen-token' } });
      fake.store.search = async () => {
        throw new Error('disk on fire');
      };
      await app.inject({ url: '/api/v1/certificates', headers: { authorization: `Bearer ${token}` } });
    } finally {
      await app.close();
    }
    const all = lines.join('');
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(records.some((l) => l.reqId === 'trace-1' && l.msg === 'issued'));
    assert.ok(records.filter((l) => l.msg === 'request completed').every((l) => typeof l.reqId === 'string'));
    assert.ok(
      records.some((l) => l.msg === 'unexpected error' && /disk on fire/.test(JSON.stringify(l.err))),
    );
    for (const secret of [
      'operator-pass',
      'stolen-token',
      applicant.idNumber,
      applicant.phone,
      '张三',
      'BEGIN CERTIFICATE',
    ])
      assert.ok(!all.includes(secret), `log contains ${secret}`);
  });
});
