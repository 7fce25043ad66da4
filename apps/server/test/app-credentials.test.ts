// Application credentials end to end: secret rotation with a grace period (both secrets verify during it,
// only the new one after it — driven by the test clock), and mTLS — a real HTTPS server on loopback with
// client certificates from our ECDSA CA: a bound certificate signs without HMAC headers; no certificate, an
// unbound one, a foreign one and a revoked one are refused with problem+json; HMAC still works over TLS.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MedsignApiError } from '@medsign/sdk';
import { MedsignClient, tlsFetch } from '@medsign/sdk';
import { AUTH_HEADERS, createApp, enrolSigner } from '@medsign/sign';
import { runOpenssl, tempDir, type TempDir } from '@medsign/testkit';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { initDataDir } from '../src/init.js';
import { openServices, type Services } from '../src/services.js';
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/start.js';
import { tlsServerOptions } from '../src/tls-server.js';

const rx = '处方 Rx-0001: amoxicillin 500 mg';

describe('application credentials: secret rotation and mTLS', () => {
  let dir: TempDir;
  let services: Services;
  let app: FastifyInstance;
  let base: string;
  let token: string;
  let clock = Date.now();
  const now = () => clock;
  let rootPem: string;

  const count = async () => (await services.store.signing.searchSignatures({ limit: 1 })).total;
  const admin = async (method: string, path: string, body?: unknown, f: typeof fetch = fetch) => {
    const r = await f(base + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return {
      status: r.status,
      body: (r.status === 204 ? {} : await r.json()) as Record<string, unknown>,
    };
  };

  /** A fresh EC P-256 key and a certificate from our ECDSA issuing CA with `profileId`. */
  async function issue(profileId: string, name: string) {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const r = await services.backend.issue({
      profileId,
      publicKeyInfo: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
      applicant: { name, organization: 'Test Hospital', country: 'CN' },
      caId: 'ecdsa-issuing',
      actor: 'test',
    });
    return {
      cert: r.certificate.toPem(),
      key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      serial: r.serial,
    };
  }

  before(async () => {
    dir = tempDir('medsign-app-credentials-');
    const init = await initDataDir({ dataDir: dir.path, algorithms: ['ecdsa'], env: {} });
    services = await openServices(init.config, { now: () => new Date(clock) });
    await enrolSigner(
      { name: '张三', employeeNo: 'D001', departmentCode: '0101', pin: '123456' },
      'test',
      services.sign.deps,
    );
    const server = await issue('tls-server', 'localhost');
    writeFileSync(join(dir.path, 'server.pem'), server.cert);
    writeFileSync(join(dir.path, 'server.key'), server.key, { mode: 0o600 });
    rootPem = services.ca.cas
      .find((c) => c.id === 'ecdsa-issuing')!
      .chain.at(-1)!
      .toPem();
    app = await buildApp(services, {
      logger: false,
      https: tlsServerOptions(
        { certFile: join(dir.path, 'server.pem'), keyFile: join(dir.path, 'server.key') },
        services.ca.cas,
      ),
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

    // An administrator session (first login changes the one-time password).
    const plain = await tlsFetch({ ca: rootPem, servername: 'localhost' });
    const post = async (path: string, body: unknown, bearer?: string) =>
      (await (
        await plain(base + path, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
          },
          body: JSON.stringify(body),
        })
      ).json()) as Record<string, string>;
    let login = await post('/api/v1/auth/login', init.admin);
    const password = 'a much longer admin password';
    await plain(base + '/api/v1/auth/password', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${login.token}` },
      body: JSON.stringify({ oldPassword: init.admin!.password, newPassword: password }),
    });
    login = await post('/api/v1/auth/login', { username: init.admin!.username, password });
    token = login.token!;
  });
  after(async () => {
    await app?.close();
    await services?.close();
    dir?.cleanup();
  });

  test('rotation: both secrets verify during the grace, only the new one after it; grace 0 revokes at once', async () => {
    const created = await createApp({ name: 'HIS', systemType: 'HIS' }, 'test', services.sign.deps);
    const tls = { ca: rootPem, servername: 'localhost' };
    const clientWith = (secret: string) =>
      new MedsignClient({ url: base, appId: created.app.id, appSecret: secret, tls, now, retries: 0 });
    const old = clientWith(created.secret);
    assert.equal((await old.signatures()).total, 0, 'HMAC over TLS works');

    const f = await tlsFetch(tls);
    assert.equal((await admin('POST', '/api/v1/apps/app_nobody/secret', {}, f)).status, 404);
    assert.equal(
      (await admin('POST', `/api/v1/apps/${created.app.id}/secret`, { graceSeconds: -1 }, f)).status,
      400,
    );
    const r = await admin('POST', `/api/v1/apps/${created.app.id}/secret`, { graceSeconds: 3600 }, f);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const secret2 = r.body.secret as string;
    assert.match(secret2, /^\S{43}$/);
    assert.notEqual(secret2, created.secret);
    assert.equal(new Date(r.body.previousValidUntil as string).getTime(), clock + 3600_000);
    const fresh = clientWith(secret2);
    // Both at once, during the grace.
    await Promise.all([old.signatures(), fresh.signatures(), old.signatures()]);
    await fresh.sign({ signer: 'D001', pin: '123456', data: rx });

    clock += 3601_000;
    await assert.rejects(
      old.signatures(),
      (e: MedsignApiError) => e.status === 401 && e.code === 'APP_AUTH_FAILED',
    );
    assert.equal((await fresh.signatures()).total, 1);

    // Rotating again with the default grace (24 h), then with 0: the previous secret stops at once.
    const third = await admin('POST', `/api/v1/apps/${created.app.id}/secret`, undefined, f);
    assert.equal(third.status, 201, JSON.stringify(third.body));
    assert.equal(new Date(third.body.previousValidUntil as string).getTime(), clock + 86_400_000);
    assert.ok((await fresh.signatures()).total >= 0, 'the previous secret works during the default grace');
    const fourth = await admin('POST', `/api/v1/apps/${created.app.id}/secret`, { graceSeconds: 0 }, f);
    assert.equal(fourth.body.previousValidUntil, null);
    const current = clientWith(fourth.body.secret as string);
    await current.signatures();
    for (const stale of [fresh, clientWith(third.body.secret as string)])
      await assert.rejects(stale.signatures(), (e: MedsignApiError) => e.code === 'APP_AUTH_FAILED');

    const events = (await services.store.audit.list({ limit: 10_000 })).filter(
      (e) => e.action === 'app.secret-rotate',
    );
    assert.equal(events.length, 3);
    assert.equal(events[0]!.target, created.app.id);
    const log = JSON.stringify(await services.store.audit.list({ limit: 10_000 }));
    for (const s of [created.secret, secret2, third.body.secret, fourth.body.secret])
      assert.ok(!log.includes(s as string), 'no secret in the audit log');
    // Sealed at rest: neither the current nor the retired secret is stored in clear.
    const rows = await services.store.database.db.selectFrom('sign_app_credentials').selectAll().execute();
    assert.ok(!JSON.stringify(rows).includes(secret2));
  });

  test('mTLS: a bound client certificate signs without HMAC headers; refusals are problem+json and write nothing', async () => {
    // Node's TLS checks validity against the real clock: certificates are issued at real time here.
    clock = Date.now();
    const his = await createApp(
      { name: 'HIS mTLS', systemType: 'HIS', ipRanges: ['127.0.0.0/8'] },
      'test',
      services.sign.deps,
    );
    const bound = await issue('tls-client', 'HIS client');
    const f = await tlsFetch({ ca: rootPem, servername: 'localhost' });
    // Binding through the admin API: not an SM2 certificate, not a foreign one, only once.
    const sm2Signer = (await services.store.signing.getSignerByEmployeeNo('D001'))!;
    const sm2 = await admin(
      'POST',
      `/api/v1/apps/${his.app.id}/certificates`,
      { certificate: Buffer.from(sm2Signer.certificate).toString('base64') },
      f,
    );
    assert.equal(sm2.status, 400);
    assert.equal(sm2.body.code, 'APP_CERT_INVALID');
    const b = await admin('POST', `/api/v1/apps/${his.app.id}/certificates`, { certificate: bound.cert }, f);
    assert.equal(b.status, 201, JSON.stringify(b.body));
    assert.equal(b.body.caId, 'ecdsa-issuing');
    const again = await admin(
      'POST',
      `/api/v1/apps/${his.app.id}/certificates`,
      { certificate: bound.cert },
      f,
    );
    assert.equal(again.body.code, 'APP_CERT_BOUND');
    const listed = await admin('GET', `/api/v1/apps/${his.app.id}/certificates`, undefined, f);
    assert.equal((listed.body as unknown as unknown[]).length, 1);

    const mtls = new MedsignClient({
      url: base,
      tls: { cert: bound.cert, key: bound.key, ca: rootPem, servername: 'localhost' },
      now,
      retries: 0,
    });
    const n = await count();
    const signed = await mtls.sign({
      signer: 'D001',
      pin: '123456',
      data: rx,
      metadata: { docType: 'prescription', docId: 'MTLS-1' },
    });
    assert.equal((await mtls.signature(signed.id)).appId, his.app.id);
    assert.ok((await mtls.verify({ data: rx, signature: signed.signature })).valid);
    assert.equal(await count(), n + 1);

    const refused = async (
      tls: Parameters<typeof tlsFetch>[0],
      status: number,
      code: string,
      headers = {},
    ) => {
      const r = await (
        await tlsFetch({ ca: rootPem, servername: 'localhost', ...tls })
      )(`${base}/api/v1/sign`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ signer: 'D001', pin: '123456', data: Buffer.from(rx).toString('base64') }),
      });
      assert.equal(r.status, status);
      assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal(((await r.json()) as { code: string }).code, code);
    };
    // No certificate and no HMAC headers.
    await refused({}, 401, 'APP_AUTH_REQUIRED');
    // A certificate of our CA that is not bound to an application.
    const unbound = await issue('tls-client', 'LIS client');
    await refused({ cert: unbound.cert, key: unbound.key }, 401, 'APP_CERT_NOT_ACCEPTED');
    // A certificate of somebody else's CA (self-signed): the handshake cannot verify it.
    const selfKey = join(dir.path, 'self.key');
    const selfCert = join(dir.path, 'self.pem');
    const o = runOpenssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      selfKey,
      '-out',
      selfCert,
      '-days',
      '2',
      '-subj',
      '/CN=HIS client',
    ]);
    assert.equal(o.code, 0, o.stderr);
    await refused(
      { cert: readFileSync(selfCert, 'utf8'), key: readFileSync(selfKey, 'utf8') },
      401,
      'APP_CERT_NOT_ACCEPTED',
    );
    // A replayed nonce is refused under mTLS too.
    const nonce = 'mtls-replayed-nonce-01';
    const headers = {
      [AUTH_HEADERS.timestamp]: String(Math.floor(clock / 1000)),
      [AUTH_HEADERS.nonce]: nonce,
    };
    const once = await (
      await tlsFetch({ cert: bound.cert, key: bound.key, ca: rootPem, servername: 'localhost' })
    )(`${base}/api/v1/signatures?limit=1`, { headers });
    assert.equal(once.status, 200);
    await once.body?.cancel();
    await refused({ cert: bound.cert, key: bound.key }, 401, 'APP_REQUEST_REPLAYED', headers);
    // Revoked at our CA: refused at once.
    await services.backend.revoke({
      caId: 'ecdsa-issuing',
      serial: bound.serial,
      reason: 'keyCompromise',
      actor: 'test',
    });
    await refused({ cert: bound.cert, key: bound.key }, 403, 'APP_CERT_REVOKED');
    assert.equal(await count(), n + 1, 'nothing written by the refused requests');

    // Unbinding (audited) ends it as well.
    const other = await issue('tls-client', 'PACS client');
    const ob = await admin('POST', `/api/v1/apps/${his.app.id}/certificates`, { certificate: other.cert }, f);
    const pacs = new MedsignClient({
      url: base,
      tls: { cert: other.cert, key: other.key, ca: rootPem, servername: 'localhost' },
      now,
      retries: 0,
    });
    assert.ok((await pacs.signatures({ limit: 1 })).total >= 1);
    const del = await admin(
      'DELETE',
      `/api/v1/apps/${his.app.id}/certificates/${ob.body.fingerprint as string}`,
      undefined,
      f,
    );
    assert.equal(del.status, 204);
    await refused({ cert: other.cert, key: other.key }, 401, 'APP_CERT_NOT_ACCEPTED');
    const actions = (await services.store.audit.list({ limit: 10_000 })).map((e) => e.action);
    for (const a of ['app.cert-bind', 'app.cert-unbind']) assert.ok(actions.includes(a), a);
    assert.ok((await services.store.audit.verify()).ok);
  });

  test('tls configuration: both files or neither; medsign start serves HTTPS with them', async () => {
    // Another installation (SM2 only) serving the certificate made above: the file carries the chain.
    const cert = join(dir.path, 'server-chain.pem');
    const issuing = services.ca.cas.find((c) => c.id === 'ecdsa-issuing')!.certificate.toPem();
    writeFileSync(cert, readFileSync(join(dir.path, 'server.pem'), 'utf8') + issuing);
    const key = join(dir.path, 'server.key');
    const other = join(dir.path, 'other');
    assert.equal(loadConfig({ dataDir: other, env: {} }).tls, undefined);
    assert.throws(
      () => loadConfig({ dataDir: other, env: { MEDSIGN_TLS_CERT_FILE: cert } }),
      /^DomainError|CONFIG_INVALID: tls: needs both certFile and keyFile/,
    );
    assert.throws(
      () =>
        loadConfig({
          dataDir: other,
          env: { MEDSIGN_TLS_CERT_FILE: cert, MEDSIGN_TLS_KEY_FILE: join(dir.path, 'nope.key') },
        }),
      /CONFIG_INVALID: tls\.keyFile: .* does not exist \(from MEDSIGN_TLS_KEY_FILE\)/,
    );
    const server = await startServer({
      dataDir: other,
      env: { MEDSIGN_TLS_CERT_FILE: cert, MEDSIGN_TLS_KEY_FILE: key },
      overrides: { port: 0 },
      print: () => undefined,
      logger: false,
      handleSignals: false,
    });
    try {
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const f = await tlsFetch({ ca: rootPem, servername: 'localhost' });
      const health = (await (await f(`${server.url}/healthz`)).json()) as { status: string };
      assert.ok(['ok', 'degraded'].includes(health.status));
    } finally {
      await server.stop();
    }
  });
});
