// The signing API end to end over real HTTP on loopback: a medsign data directory (SQLite, SM2 + RSA + ECDSA
// CAs), registered applications, signers with server-held keys, the SDK signing and verifying, records,
// idempotency, every refusal as problem+json with nothing written, and RSA/ECDSA P7 checked by OpenSSL.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bytesToHex, sm3 } from '@medsign/gm';
import type { MedsignApiError } from '@medsign/sdk';
import { MedsignClient } from '@medsign/sdk';
import { AUTH_HEADERS, bodyDigest, createApp, enrolSigner, signRequest } from '@medsign/sign';
import { peerOrSkip, runOpenssl, tempDir, type TempDir } from '@medsign/testkit';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { initDataDir } from '../src/init.js';
import { openServices, type Services } from '../src/services.js';

const rx = '处方 Rx-0001: amoxicillin 500 mg';

describe('signing API over HTTP', () => {
  let dir: TempDir;
  let services: Services;
  let app: FastifyInstance;
  let base: string;
  let his: { id: string; secret: string };
  let client: MedsignClient;
  let admin: { username: string; password: string };

  const count = async () => (await services.store.signing.searchSignatures({ limit: 1 })).total;

  /** A raw signed request (for the refusals the SDK would never send). */
  async function raw(
    path: string,
    body: string | undefined,
    over: {
      secret?: string;
      timestamp?: number;
      nonce?: string;
      headers?: Record<string, string>;
      method?: string;
      appId?: string;
    } = {},
  ) {
    const method = over.method ?? (body === undefined ? 'GET' : 'POST');
    const timestamp = over.timestamp ?? Math.floor(Date.now() / 1000);
    const nonce = over.nonce ?? `n${Math.random().toString(36).slice(2)}${Date.now()}`.padEnd(20, 'x');
    const appId = over.appId ?? his.id;
    const signature = signRequest(over.secret ?? his.secret, {
      method,
      path,
      bodyDigest: bodyDigest(body),
      timestamp,
      nonce,
      appId,
    });
    const r = await fetch(base + path, {
      method,
      headers: {
        [AUTH_HEADERS.appId]: appId,
        [AUTH_HEADERS.timestamp]: String(timestamp),
        [AUTH_HEADERS.nonce]: nonce,
        [AUTH_HEADERS.signature]: signature,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...over.headers,
      },
      ...(body !== undefined ? { body } : {}),
    });
    return {
      status: r.status,
      type: r.headers.get('content-type') ?? '',
      headers: r.headers,
      json: (await r.json()) as Record<string, unknown>,
    };
  }

  const signBody = (over: Record<string, unknown> = {}) =>
    JSON.stringify({
      signer: 'D001',
      pin: '123456',
      data: Buffer.from(rx).toString('base64'),
      metadata: { docType: 'prescription', docId: 'RX1' },
      ...over,
    });

  before(async () => {
    dir = tempDir('medsign-sign-api-');
    const init = await initDataDir({ dataDir: dir.path, algorithms: ['rsa', 'ecdsa'], env: {} });
    admin = init.admin!;
    services = await openServices({
      ...init.config,
      sign: { ...init.config.sign, maxDataBytes: 4096, maxPinFailures: 3 },
    });
    app = await buildApp(services, { logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const created = await createApp(
      { name: 'HIS', systemType: 'HIS', ipRanges: ['127.0.0.0/8'] },
      'test',
      services.sign.deps,
    );
    his = { id: created.app.id, secret: created.secret };
    client = new MedsignClient({ url: base, appId: his.id, appSecret: his.secret, maxBackoffMs: 50 });
    for (const [employeeNo, keyType] of [
      ['D001', 'sm2'],
      ['R001', 'rsa-2048'],
      ['E001', 'ec-p256'],
      ['E002', 'ec-p256'],
    ] as const)
      await enrolSigner(
        { name: '张三', employeeNo, departmentCode: '0101', pin: '123456', keyType },
        'test',
        services.sign.deps,
      );
  });
  after(async () => {
    await app?.close();
    await services?.close();
    dir?.cleanup();
  });

  test('the routes are in the OpenAPI document with the HMAC security schemes', async () => {
    const doc = (await (await fetch(`${base}/api/docs/json`)).json()) as {
      paths: Record<string, Record<string, { security?: unknown[] }>>;
      components: { securitySchemes: Record<string, unknown> };
    };
    for (const p of ['/api/v1/sign', '/api/v1/verify', '/api/v1/signatures', '/api/v1/signatures/{id}'])
      assert.ok(doc.paths[p], `${p} missing`);
    assert.ok(doc.components.securitySchemes.medsignSignature);
    assert.ok(doc.paths['/api/v1/sign']!.post!.security);
  });

  test('SDK: sign P1/P7 with the SM2 signer, verify through the API, read the records', async () => {
    const p7 = await client.sign({
      signer: 'D001',
      pin: '123456',
      data: rx,
      format: 'p7-detached',
      metadata: { docType: 'prescription', docId: 'RX1', visitRef: 'V42' },
    });
    assert.equal(p7.digest, bytesToHex(sm3(rx)));
    assert.match(p7.certificate, /BEGIN CERTIFICATE/);
    let v = await client.verify({ data: rx, signature: p7.signature });
    assert.ok(v.valid, v.errors.join('; '));
    assert.ok(v.chain.ok && v.certificateStatus.ok && v.dataIntegrity.ok);
    assert.equal(v.certificateStatus.status, 'good');
    v = await client.verify({ data: 'another text', signature: p7.signature });
    assert.equal(v.valid, false);
    assert.equal(v.dataIntegrity.ok, false);

    const p1 = await client.sign({
      signer: 'D001',
      pin: '123456',
      data: rx,
      format: 'p1',
      metadata: { docType: 'prescription', docId: 'RX2' },
    });
    v = await client.verify({ data: rx, signature: p1.signature, certificate: p1.certificate });
    assert.ok(v.valid, v.errors.join('; '));
    assert.equal(v.format, 'p1');

    const gm = await client.sign({
      signer: 'D001',
      pin: '123456',
      data: rx,
      format: 'p7-attached',
      oids: 'gm',
    });
    assert.ok((await client.verify({ signature: gm.signature })).valid);

    const rec = await client.signature(p7.id);
    assert.equal(rec.signer, 'D001');
    assert.equal(rec.appId, his.id);
    assert.deepEqual(rec.metadata, {
      departmentCode: '0101',
      docType: 'prescription',
      docId: 'RX1',
      visitRef: 'V42',
    });
    assert.equal(rec.signature, p7.signature);
    const found = await client.signatures({ docId: 'RX1', signer: 'D001' });
    assert.equal(found.total, 1);
    assert.equal(found.items[0]!.id, p7.id);
    assert.ok((await client.signatures({ docType: 'prescription', department: '0101' })).total >= 2);
    assert.equal((await client.signatures({ from: new Date(Date.now() + 60_000).toISOString() })).total, 0);
    // Fuzzy text: part of the visit reference, the signer's name, the document id (case-insensitive).
    assert.ok((await client.signatures({ q: 'v4' })).items.some((r) => r.id === p7.id));
    assert.ok((await client.signatures({ q: '张' })).total >= 2);
    assert.equal((await client.signatures({ q: 'no-such-text' })).total, 0);
    await assert.rejects(client.signatures({ q: 'x'.repeat(65) }), (e: MedsignApiError) => e.status === 400);
    await assert.rejects(
      client.signature('nope'),
      (e: MedsignApiError) => e.status === 404 && e.code === 'SIGN_SIGNATURE_NOT_FOUND',
    );
  });

  test('CSV export: streamed, filtered, spreadsheet-safe', async () => {
    await client.sign({
      signer: 'D001',
      pin: '123456',
      data: rx,
      metadata: { docType: 'lab-report', docId: '=HYPERLINK("x")' },
    });
    const r = await client.exportSignatures({ docType: 'lab-report', q: 'hyperlink' });
    assert.match(r.headers.get('content-type') ?? '', /^text\/csv/);
    const bytes = Buffer.from(await r.arrayBuffer());
    assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM (Excel)');
    const lines = bytes.subarray(3).toString('utf8').split('\r\n').filter(Boolean);
    assert.ok(lines[0]!.startsWith('id,created_at,app_id,signer,department_code'));
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, /,"'=HYPERLINK\(""x""\)",/);
    const all = (await (await client.exportSignatures()).text()).split('\r\n').filter(Boolean);
    assert.equal(all.length - 1, (await client.signatures({ limit: 1 })).total);
  });

  test('Idempotency-Key: a retry answers the first signature; another body with the key is a conflict', async () => {
    const n = await count();
    const a = await client.sign({ signer: 'D001', pin: '123456', data: rx }, { idempotencyKey: 'RX7-try' });
    const b = await client.sign({ signer: 'D001', pin: '123456', data: rx }, { idempotencyKey: 'RX7-try' });
    assert.equal(b.id, a.id);
    assert.equal(b.signature, a.signature);
    assert.equal(await count(), n + 1);
    await assert.rejects(
      client.sign({ signer: 'D001', pin: '123456', data: 'other' }, { idempotencyKey: 'RX7-try' }),
      (e: MedsignApiError) => e.status === 409 && e.code === 'SIGN_IDEMPOTENCY_CONFLICT',
    );
  });

  test('the SDK retries a lost answer with the same Idempotency-Key: one signature', async () => {
    const n = await count();
    let calls = 0;
    const flaky: typeof fetch = async (input, init) => {
      const r = await fetch(input, init);
      if (++calls === 1) {
        await r.body?.cancel();
        throw new TypeError('fetch failed (connection reset)');
      }
      return r;
    };
    const c = new MedsignClient({
      url: base,
      appId: his.id,
      appSecret: his.secret,
      fetch: flaky,
      maxBackoffMs: 20,
    });
    const r = await c.sign({ signer: 'D001', pin: '123456', data: rx });
    assert.equal(calls, 2);
    assert.equal(await count(), n + 1);
    assert.equal((await client.signature(r.id)).id, r.id);
  });

  test('refusals are problem+json with their codes, and write nothing', async () => {
    const n = await count();
    const expect = async (p: ReturnType<typeof raw>, status: number, code: string) => {
      const r = await p;
      assert.equal(r.status, status, JSON.stringify(r.json));
      assert.match(r.type, /^application\/problem\+json/);
      assert.equal(r.json.code, code);
      return r;
    };
    // authentication
    let r = await fetch(`${base}/api/v1/sign`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: signBody(),
    });
    assert.equal(r.status, 401);
    assert.equal(((await r.json()) as { code: string }).code, 'APP_AUTH_REQUIRED');
    await expect(raw('/api/v1/sign', signBody(), { secret: 'wrong' }), 401, 'APP_AUTH_FAILED');
    await expect(raw('/api/v1/sign', signBody(), { appId: 'app_nobody' }), 401, 'APP_AUTH_FAILED');
    await expect(
      raw('/api/v1/sign', signBody(), { timestamp: Math.floor(Date.now() / 1000) - 3600 }),
      401,
      'APP_REQUEST_STALE',
    );
    const nonce = 'replayed-nonce-000001';
    assert.equal((await raw('/api/v1/sign', signBody({ metadata: { docId: 'R' } }), { nonce })).status, 200);
    await expect(
      raw('/api/v1/sign', signBody({ metadata: { docId: 'R' } }), { nonce }),
      401,
      'APP_REQUEST_REPLAYED',
    );
    // A body changed after signing (the signature covers its SM3 digest).
    const timestamp = Math.floor(Date.now() / 1000);
    const sig = signRequest(his.secret, {
      method: 'POST',
      path: '/api/v1/sign',
      bodyDigest: bodyDigest(signBody()),
      timestamp,
      nonce: 'tampered-body-000001',
      appId: his.id,
    });
    r = await fetch(`${base}/api/v1/sign`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [AUTH_HEADERS.appId]: his.id,
        [AUTH_HEADERS.timestamp]: String(timestamp),
        [AUTH_HEADERS.nonce]: 'tampered-body-000001',
        [AUTH_HEADERS.signature]: sig,
      },
      body: signBody({ signer: 'R001' }),
    });
    assert.equal(r.status, 401);
    const afterAuth = await count();
    assert.equal(afterAuth, n + 1, 'only the one good request signed');

    // input
    await expect(raw('/api/v1/sign', signBody({ signer: 'NOBODY' })), 404, 'SIGN_SIGNER_NOT_FOUND');
    await expect(raw('/api/v1/sign', signBody({ data: 'not*base64' })), 400, 'SIGN_DATA_INVALID');
    await expect(
      raw('/api/v1/sign', signBody({ metadata: { docType: 'poem' } })),
      400,
      'SIGN_DOC_TYPE_UNKNOWN',
    );
    await expect(
      raw('/api/v1/sign', signBody({ data: Buffer.alloc(5000).toString('base64') })),
      413,
      'SIGN_PAYLOAD_TOO_LARGE',
    );
    await expect(
      raw('/api/v1/sign', signBody({ data: Buffer.alloc(100_000).toString('base64') })),
      413,
      'REQUEST_INVALID',
    );
    await expect(raw('/api/v1/sign', '{"signer":'), 400, 'REQUEST_INVALID');
    await expect(raw('/api/v1/sign', signBody({ extra: 1 })), 400, 'REQUEST_INVALID');
    await expect(raw('/api/v1/verify', JSON.stringify({ signature: 'QUJD' })), 400, 'SIGN_SIGNATURE_INVALID');
    await expect(raw('/api/v1/verify', JSON.stringify({ signature: '***' })), 400, 'SIGN_SIGNATURE_INVALID');
    await expect(raw('/api/v1/signatures?from=yesterday', undefined), 400, 'REQUEST_INVALID');
    assert.equal(await count(), afterAuth, 'nothing written');
  });

  test('wrong PINs lock the key (audited); a revoked certificate cannot sign', async () => {
    await enrolSigner(
      { name: '李四', employeeNo: 'D009', departmentCode: '0102', pin: '246810' },
      'test',
      services.sign.deps,
    );
    const bad = { signer: 'D009', pin: '000000', data: rx };
    for (let i = 0; i < 2; i++)
      await assert.rejects(
        client.sign(bad),
        (e: MedsignApiError) => e.status === 403 && e.code === 'SIGN_PIN_WRONG',
      );
    await assert.rejects(client.sign(bad), (e: MedsignApiError) => e.code === 'SIGN_SIGNER_LOCKED');
    await assert.rejects(
      client.sign({ ...bad, pin: '246810' }),
      (e: MedsignApiError) => e.code === 'SIGN_SIGNER_LOCKED',
    );

    const signer = (await services.store.signing.getSignerByEmployeeNo('E001'))!;
    await services.backend.revoke({
      caId: signer.caId,
      serial: signer.certSerial,
      reason: 'keyCompromise',
      actor: 'test',
    });
    await assert.rejects(
      client.sign({ signer: 'E001', pin: '123456', data: rx }),
      (e: MedsignApiError) => e.status === 403 && e.code === 'SIGN_CERT_REVOKED',
    );
  });

  test('signing authorisation over HTTP: grant, sign without PIN, revoke', async () => {
    await assert.rejects(
      client.sign({ signer: 'D001', data: rx }),
      (e: MedsignApiError) => e.status === 403 && e.code === 'SIGN_INTENT_REQUIRED',
    );
    await assert.rejects(
      client.authorise({ signer: 'D001', pin: '123456', durationMinutes: 10 }),
      (e: MedsignApiError) => e.status === 400 && e.code === 'SIGN_AUTHORISATION_INVALID',
    );
    const a = await client.authorise({ signer: 'D001', pin: '123456', durationMinutes: 480 });
    assert.deepEqual(a.apps, [his.id]);
    assert.ok(new Date(a.expiresAt).getTime() - Date.now() > 7 * 3_600_000);
    const r = await client.sign({ signer: 'D001', data: rx, metadata: { docType: 'nursing-record' } });
    assert.ok((await client.verify({ data: rx, signature: r.signature })).valid);
    const revoked = await client.revokeAuthorisation(a.id);
    assert.ok(revoked.revokedAt);
    await assert.rejects(
      client.sign({ signer: 'D001', data: rx }),
      (e: MedsignApiError) => e.status === 403 && e.code === 'SIGN_AUTHORISATION_EXPIRED',
    );
    assert.ok((await services.store.audit.verify()).ok);
    const actions = (await services.store.audit.list({ limit: 10_000 })).map((e) => e.action);
    for (const a of [
      'app.create',
      'signer.enrol',
      'signer.pin-wrong',
      'signer.locked',
      'signer.authorise',
      'signer.authorisation-revoke',
      'sign.signature',
      'key.sign',
    ])
      assert.ok(actions.includes(a), `audit has ${a}`);
    assert.doesNotMatch(JSON.stringify(await services.store.audit.list({ limit: 10_000 })), /123456|246810/);
  });

  test('admin API: register an application, enrol a signer, unlock a locked key (bearer, role admin)', async () => {
    const json = async (path: string, body: unknown, token?: string) => {
      const r = await fetch(base + path, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      });
      return { status: r.status, body: (await r.json().catch(() => ({}))) as Record<string, unknown> };
    };
    let login = await json('/api/v1/auth/login', admin);
    const newPassword = 'a much longer admin password';
    assert.equal(
      (
        await json(
          '/api/v1/auth/password',
          { oldPassword: admin.password, newPassword },
          login.body.token as string,
        )
      ).status,
      204,
    );
    login = await json('/api/v1/auth/login', { username: admin.username, password: newPassword });
    const token = login.body.token as string;
    assert.equal((await json('/api/v1/apps', { name: 'X', systemType: 'HIS' })).status, 401);
    const created = await json(
      '/api/v1/apps',
      { name: 'RIS', systemType: 'RIS', operations: ['sign'] },
      token,
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(created.body.secret as string, /^\S{43}$/);
    const enrolled = await json(
      '/api/v1/signers',
      { name: '周七', employeeNo: 'D077', departmentCode: '0301', pin: '112233', profile: 'nurse' },
      token,
    );
    assert.equal(enrolled.status, 201, JSON.stringify(enrolled.body));
    assert.match(enrolled.body.certificate as string, /BEGIN CERTIFICATE/);
    assert.equal((await json('/api/v1/signers/D077/unlock', {}, token)).body.code, 'SIGN_SIGNER_NOT_LOCKED');
    const ris = new MedsignClient({
      url: base,
      appId: created.body.id as string,
      appSecret: created.body.secret as string,
    });
    for (let i = 0; i < 3; i++) await assert.rejects(ris.sign({ signer: 'D077', pin: '000000', data: rx }));
    await assert.rejects(
      ris.sign({ signer: 'D077', pin: '112233', data: rx }),
      (e: MedsignApiError) => e.code === 'SIGN_SIGNER_LOCKED',
    );
    const unlocked = await json('/api/v1/signers/D077/unlock', {}, token);
    assert.equal(unlocked.status, 200, JSON.stringify(unlocked.body));
    assert.equal(unlocked.body.locked, false);
    assert.ok((await ris.sign({ signer: 'D077', pin: '112233', data: rx })).id);
    const last = (await services.store.audit.list({ limit: 10_000 }))
      .filter((e) => e.action === 'signer.unlock')
      .at(-1);
    assert.equal(last?.actor, admin.username);
  });

  test('IP range, operation and rate limit of an application', async () => {
    const far = await createApp(
      { name: 'PACS', systemType: 'PACS', ipRanges: ['10.0.0.0/8'] },
      'test',
      services.sign.deps,
    );
    await assert.rejects(
      new MedsignClient({ url: base, appId: far.app.id, appSecret: far.secret }).sign({
        signer: 'D001',
        pin: '123456',
        data: rx,
      }),
      (e: MedsignApiError) => e.status === 403 && e.code === 'APP_IP_FORBIDDEN',
    );
    const verifier = await createApp(
      { name: 'EMR', systemType: 'EMR', operations: ['verify'], rateLimit: 2 },
      'test',
      services.sign.deps,
    );
    const c = new MedsignClient({
      url: base,
      appId: verifier.app.id,
      appSecret: verifier.secret,
      retries: 0,
    });
    await assert.rejects(
      c.sign({ signer: 'D001', pin: '123456', data: rx }),
      (e: MedsignApiError) => e.code === 'APP_OPERATION_FORBIDDEN',
    );
    const p7 = await client.sign({ signer: 'D001', pin: '123456', data: rx, format: 'p7-attached' });
    await c.verify({ signature: p7.signature });
    await c.verify({ signature: p7.signature });
    await assert.rejects(
      c.verify({ signature: p7.signature }),
      (e: MedsignApiError) => e.status === 429 && e.code === 'APP_RATE_LIMITED',
    );
    const limited = await raw('/api/v1/verify', JSON.stringify({ signature: p7.signature }), {
      appId: verifier.app.id,
      secret: verifier.secret,
    });
    assert.equal(limited.status, 429);
    assert.match(limited.headers.get('retry-after') ?? '', /^\d+$/);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(
      metrics,
      new RegExp(
        `medsign_sign_requests_total\\{app="${verifier.app.id}",operation="verify",outcome="APP_RATE_LIMITED"\\} 2`,
      ),
    );
    assert.match(
      metrics,
      new RegExp(
        `medsign_sign_requests_total\\{app="${verifier.app.id}",operation="sign",outcome="APP_OPERATION_FORBIDDEN"\\} 1`,
      ),
    );
  });

  test('SM2 signatures made through the keystore, time-stamped by our TSA, pass the Bouncy Castle peer (cms-verify, sig-verify)', async (t) => {
    const tmp = tempDir('medsign-sign-bc-');
    try {
      const data = join(tmp.path, 'rx.txt');
      writeFileSync(data, rx);
      // Only the roots: the P7 signatures carry the issuing CA certificate themselves.
      const ca = join(tmp.path, 'ca.pem');
      writeFileSync(
        ca,
        services.ca.cas
          .map((c) => c.chain.at(-1)!)
          .map((c) => c.toPem())
          .join(''),
      );
      for (const oids of ['rfc5652', 'gm'] as const) {
        // With the installation's own time-stamp (in-process TSA) as the RFC 3161 unsigned attribute.
        const r = await client.sign({
          signer: 'D001',
          pin: '123456',
          data: rx,
          format: 'p7-detached',
          oids,
          timestamp: true,
        });
        assert.ok(r.token, 'a time-stamp token is returned');
        const file = join(tmp.path, `${oids}.p7s`);
        writeFileSync(file, Buffer.from(r.signature, 'base64'));
        const res = peerOrSkip(t, ['cms-verify', file, data, '--ca', ca]);
        if (!res) return;
        assert.equal(res.code, 0, res.stdout);
      }
      const p1 = await client.sign({ signer: 'D001', pin: '123456', data: rx, format: 'p1' });
      const cert = join(tmp.path, 'd001.pem');
      writeFileSync(cert, p1.certificate);
      const sig = join(tmp.path, 'p1.sig');
      writeFileSync(sig, Buffer.from(p1.signature, 'base64'));
      const res = peerOrSkip(t, ['sig-verify', cert, data, sig]);
      if (!res) return;
      assert.equal(res.code, 0, res.stdout);
    } finally {
      tmp.cleanup();
    }
  });

  test('RSA and ECDSA signers: P7 verifies with openssl cms -verify, P1 with openssl dgst', async () => {
    const tmp = tempDir('medsign-sign-openssl-');
    try {
      const data = join(tmp.path, 'rx.txt');
      writeFileSync(data, rx);
      const chain = join(tmp.path, 'chain.pem');
      writeFileSync(
        chain,
        services.ca.cas
          .flatMap((c) => [c.certificate, ...c.chain])
          .map((c) => c.toPem())
          .join(''),
      );
      for (const signer of ['R001', 'E002']) {
        for (const format of ['p7-detached', 'p7-attached'] as const) {
          const r = await client.sign({ signer, pin: '123456', data: rx, format });
          const file = join(tmp.path, `${signer}-${format}.p7s`);
          writeFileSync(file, Buffer.from(r.signature, 'base64'));
          const o = runOpenssl([
            'cms',
            '-verify',
            '-binary',
            '-inform',
            'DER',
            '-in',
            file,
            ...(format === 'p7-detached' ? ['-content', data] : []),
            '-CAfile',
            chain,
            '-purpose',
            'any',
            '-out',
            '/dev/null',
          ]);
          assert.equal(o.code, 0, `${signer} ${format}: ${o.stderr}`);
          assert.ok((await client.verify({ data: rx, signature: r.signature })).valid);
        }
        const p1 = await client.sign({ signer, pin: '123456', data: rx, format: 'p1' });
        const cert = join(tmp.path, `${signer}.pem`);
        writeFileSync(cert, p1.certificate);
        const sig = join(tmp.path, `${signer}.sig`);
        writeFileSync(sig, Buffer.from(p1.signature, 'base64'));
        const pub = runOpenssl(['x509', '-in', cert, '-pubkey', '-noout']);
        const pubFile = join(tmp.path, `${signer}.pub`);
        writeFileSync(pubFile, pub.stdout);
        const o = runOpenssl(['dgst', '-sha256', '-verify', pubFile, '-signature', sig, data]);
        assert.equal(o.code, 0, o.stderr + o.stdout);
      }
    } finally {
      tmp.cleanup();
    }
  });
});

const pgUrl = process.env.MEDSIGN_TEST_PG_URL;

async function pgAdmin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

describe('signing API on PostgreSQL', { skip: pgUrl ? false : 'MEDSIGN_TEST_PG_URL not set' }, () => {
  const name = `medsign_sign_${process.pid}_${randomBytes(4).toString('hex')}`;
  let dir: TempDir;
  let services: Services | undefined;
  let app: FastifyInstance | undefined;
  before(async () => {
    dir = tempDir('medsign-sign-pg-');
    await pgAdmin(`create database "${name}"`);
  });
  after(async () => {
    await app?.close();
    await services?.close();
    dir?.cleanup();
    await pgAdmin(`drop database if exists "${name}" with (force)`);
  });

  test('sign (idempotent), verify, record, wrong-PIN counter', async () => {
    const u = new URL(pgUrl!);
    u.pathname = `/${name}`;
    const init = await initDataDir({ dataDir: dir.path, db: u.toString(), env: {} });
    services = await openServices(init.config);
    app = await buildApp(services, { logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const { app: his, secret } = await createApp(
      { name: 'HIS', systemType: 'HIS' },
      'test',
      services.sign.deps,
    );
    await enrolSigner(
      { name: '张三', employeeNo: 'D001', departmentCode: '0101', pin: '123456' },
      'test',
      services.sign.deps,
    );
    const client = new MedsignClient({ url: base, appId: his.id, appSecret: secret });
    const a = await client.sign({ signer: 'D001', pin: '123456', data: rx }, { idempotencyKey: 'pg-1' });
    const b = await client.sign({ signer: 'D001', pin: '123456', data: rx }, { idempotencyKey: 'pg-1' });
    assert.equal(a.id, b.id);
    assert.ok((await client.verify({ data: rx, signature: a.signature })).valid);
    assert.equal((await client.signatures({ signer: 'D001' })).total, 1);
    await assert.rejects(
      client.sign({ signer: 'D001', pin: '654321', data: rx }),
      (e: MedsignApiError) => e.code === 'SIGN_PIN_WRONG',
    );
    assert.equal((await services.store.signing.getSignerByEmployeeNo('D001'))?.failedPins, 1);
  });
});

describe('sign: configuration', () => {
  test('defaults, file values, environment overrides, one-line errors', () => {
    const dir = tempDir('medsign-sign-config-');
    try {
      assert.deepEqual(loadConfig({ dataDir: dir.path, env: {} }).sign, {
        maxPinFailures: 5,
        replayWindowSeconds: 300,
        maxDataBytes: 4 * 1024 * 1024,
        maxJobDocuments: 1000,
        maxJobBytes: 64 * 1024 * 1024,
        jobExpiryMinutes: 60,
        jobConcurrency: 2,
        webhookMaxAttempts: 6,
        webhookRetrySeconds: 30,
        webhookTimeoutSeconds: 10,
        corsOrigins: [],
      });
      const file = dir.file(
        'c.yaml',
        'sign:\n  maxPinFailures: 3\n  documentTypes: [prescription, lab-report]\n',
      );
      const c = loadConfig({
        dataDir: dir.path,
        configFile: file,
        env: { MEDSIGN_SIGN_REPLAY_WINDOW_SECONDS: '120' },
      });
      assert.equal(c.sign.maxPinFailures, 3);
      assert.equal(c.sign.replayWindowSeconds, 120);
      assert.deepEqual(c.sign.documentTypes, ['prescription', 'lab-report']);
      const bad = (yaml: string, env: Record<string, string> = {}) =>
        assert.throws(
          () => loadConfig({ dataDir: dir.path, configFile: dir.file('bad.yaml', yaml), env }),
          (e: Error) => /^CONFIG_INVALID: sign\./.test(e.message),
        );
      bad('sign:\n  maxPinFailures: 0\n');
      bad('sign:\n  pinTries: 3\n');
      bad('sign:\n  documentTypes: []\n');
      bad('{}', { MEDSIGN_SIGN_MAX_DATA_BYTES: '12' });
      // CORS origins: exact http(s) origins from the file, or the environment variable (which wins).
      const cors = (yaml: string, env: Record<string, string> = {}) =>
        loadConfig({ dataDir: dir.path, configFile: dir.file('cors.yaml', yaml), env }).sign.corsOrigins;
      assert.deepEqual(
        cors(
          'sign:\n  corsOrigins: [https://his.hospital.local, "http://10.1.2.3:8080/", https://his.hospital.local]\n',
        ),
        ['https://his.hospital.local', 'http://10.1.2.3:8080'],
      );
      assert.deepEqual(
        cors('sign:\n  corsOrigins: [https://a.test]\n', {
          MEDSIGN_SIGN_CORS_ORIGINS: 'https://b.test, http://localhost:5173',
        }),
        ['https://b.test', 'http://localhost:5173'],
      );
      bad('sign:\n  corsOrigins: "*"\n');
      bad('sign:\n  corsOrigins: ["*"]\n');
      bad('sign:\n  corsOrigins: [https://his.hospital.local/app]\n');
      bad('sign:\n  corsOrigins: [his.hospital.local]\n');
      bad('sign:\n  corsOrigins: [ftp://his.hospital.local]\n');
      bad('sign:\n  corsOrigins: [42]\n');
      bad('{}', { MEDSIGN_SIGN_CORS_ORIGINS: 'https://ok.test,null' });
    } finally {
      dir.cleanup();
    }
  });
});
