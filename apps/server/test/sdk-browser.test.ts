// @medsign/sdk in a real browser: the SDK is bundled for the browser with esbuild (no node: built-in, the pure
// SM3 of @medsign/gm), a page from one loopback origin drives Debian's Chromium against a real server on
// another: it signs through the page's backend signing hook and once with the secret, verifies, reads the
// record; a page from an origin not in sign.corsOrigins is stopped by the browser (CORS) before any request.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type * as MedsignSdk from '@medsign/sdk';
import { signRequestParts, type SignableRequest } from '@medsign/sdk';
import { bodyDigest, createApp, enrolSigner } from '@medsign/sign';
import { tempDir, type TempDir } from '@medsign/testkit';
import { build } from 'esbuild';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { buildApp } from '../src/app.js';
import { initDataDir } from '../src/init.js';
import { openServices, type Services } from '../src/services.js';

const CHROMIUM = '/usr/bin/chromium';
const skip =
  !existsSync(CHROMIUM) && !process.env.CI
    ? `${CHROMIUM} is absent (apt-get install chromium); CI always runs this test`
    : false;

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** The SDK as a browser ES module, and the source files esbuild put in it. */
async function bundleSdk(): Promise<{ code: string; inputs: string[] }> {
  const out = await build({
    stdin: { contents: "export * from '@medsign/sdk';", resolveDir: root, loader: 'ts' },
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    target: 'chrome110',
    conditions: ['medsign-source'],
    metafile: true,
    logLevel: 'silent',
  });
  return { code: out.outputFiles[0]!.text, inputs: Object.keys(out.metafile.inputs) };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/**
 * The HIS page's host name, which the browser maps to 127.0.0.1: a plain-http intranet page, as hospitals have
 * them — not a secure context (no crypto.randomUUID, no crypto.subtle), unlike http://127.0.0.1.
 */
const HIS_HOST = 'his.test';

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const PAGE =
  '<!doctype html><meta charset="utf-8"><title>HIS</title>' +
  '<script type="module">import * as sdk from "/sdk.js"; window.sdk = sdk;</script>';

describe('@medsign/sdk in Chromium', { skip }, () => {
  let dir: TempDir;
  let services: Services;
  let app: FastifyInstance;
  let api: string;
  let his: { id: string; secret: string };
  let sdk: { code: string; inputs: string[] };
  let page: Server;
  let other: Server;
  let pageOrigin: string;
  let otherOrigin: string;
  let browser: Browser;
  /** The requests the page's backend signed (what a real backend would check before signing). */
  const backendSigned: SignableRequest[] = [];

  /** The hospital system's own web server: the page, the SDK bundle, and its request-signing endpoint. */
  const pageServer = () =>
    createServer(async (req, res) => {
      if (req.method === 'GET' && req.url === '/')
        return res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
      if (req.method === 'GET' && req.url === '/sdk.js')
        return res.writeHead(200, { 'content-type': 'text/javascript' }).end(sdk.code);
      if (req.method === 'POST' && req.url === '/sign-request') {
        const request = JSON.parse(await readBody(req)) as SignableRequest;
        // The backend's own rules come first: this application, and only the calls this page makes.
        const allowed = /^\/api\/v1\/(sign|verify|signatures\/[\w-]+)$/.test(request.path);
        if (request.appId !== his.id || !allowed) return res.writeHead(403).end();
        backendSigned.push(request);
        const signature = signRequestParts(his.secret, request);
        return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ signature }));
      }
      res.writeHead(404).end();
    });

  before(async () => {
    sdk = await bundleSdk();
    page = pageServer();
    other = pageServer();
    pageOrigin = `http://${HIS_HOST}:${await listen(page)}`;
    otherOrigin = `http://127.0.0.1:${await listen(other)}`;
    dir = tempDir('medsign-sdk-browser-');
    const init = await initDataDir({ dataDir: dir.path, env: {} });
    services = await openServices({
      ...init.config,
      sign: { ...init.config.sign, corsOrigins: [pageOrigin] },
    });
    app = await buildApp(services, { logger: false, crlSchedule: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    api = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const created = await createApp(
      { name: 'HIS web', systemType: 'HIS', ipRanges: ['127.0.0.0/8'] },
      'test',
      services.sign.deps,
    );
    his = { id: created.app.id, secret: created.secret };
    await enrolSigner(
      { name: '张三', employeeNo: 'D001', departmentCode: '0101', pin: '123456', keyType: 'sm2' },
      'test',
      services.sign.deps,
    );
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is required in CI (.ci/run installs the chromium package)`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--host-resolver-rules=MAP ${HIS_HOST} 127.0.0.1`,
      ],
    });
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await services?.close();
    page?.close();
    other?.close();
    dir?.cleanup();
  });

  test('the browser bundle has the pure SM3 and no node: built-in', () => {
    assert.ok(
      sdk.inputs.some((i) => i.endsWith('packages/gm/src/sm3-browser.ts')),
      sdk.inputs.join(', '),
    );
    for (const i of sdk.inputs) {
      assert.doesNotMatch(i, /^node:|packages\/gm\/src\/sm3\.ts$|packages\/sdk\/src\/node-tls\.ts$/);
    }
    assert.doesNotMatch(sdk.code, /["']node:/);
  });

  test('a page signs through its backend (and with the secret), verifies and reads the record', async () => {
    const tab = await browser.newPage();
    const problems: string[] = [];
    tab.on('pageerror', (e) => problems.push(e.message));
    await tab.goto(`${pageOrigin}/`);
    await tab.waitForFunction('window.sdk !== undefined');
    const r = await tab.evaluate(
      async ({ api, appId, secret }) => {
        type Sdk = typeof MedsignSdk;
        const m = (globalThis as unknown as { sdk: Sdk }).sdk;
        const data = '处方 Rx-WEB-1: amoxicillin 500 mg';
        const client = new m.MedsignClient({ url: api, appId, sign: m.backendSigner('/sign-request') });
        const signed = await client.sign({
          signer: 'D001',
          pin: '123456',
          data,
          format: 'p1',
          metadata: { docType: 'prescription', docId: 'RX-WEB-1' },
        });
        const verified = await client.verify({
          data,
          signature: signed.signature,
          certificate: signed.certificate,
        });
        const record = await client.signature(signed.id);
        // The secret in the page works too (for a kiosk or a test page only: docs/integration).
        const direct = new m.MedsignClient({ url: api, appId, appSecret: secret });
        const p7 = await direct.sign({ signer: 'D001', pin: '123456', data, format: 'p7-attached' });
        const p7verified = await direct.verify({ signature: p7.signature });
        let refused = '';
        try {
          await client.sign({ signer: 'D001', pin: '000000', data });
        } catch (e) {
          refused = `${(e as Error).name} ${(e as { code?: string }).code}`;
        }
        return {
          signedId: signed.id,
          valid: verified.valid,
          record: { id: record.id, docId: record.metadata.docId, signer: record.signer },
          p7valid: p7verified.valid,
          refused,
          digest: m.bodyDigest('abc'),
          secureContext: (globalThis as unknown as { isSecureContext: boolean }).isSecureContext,
          errors: verified.errors,
        };
      },
      { api, appId: his.id, secret: his.secret },
    );
    assert.deepEqual(problems, []);
    assert.equal(r.valid, true, r.errors.join('; '));
    // Idempotency keys and nonces came from getRandomValues: randomUUID is absent on a plain-http page.
    assert.equal(r.secureContext, false);
    assert.deepEqual(r.record, { id: r.signedId, docId: 'RX-WEB-1', signer: 'D001' });
    assert.equal(r.p7valid, true);
    assert.equal(r.refused, 'MedsignApiError SIGN_PIN_WRONG');
    assert.equal(r.digest, bodyDigest('abc'));
    // The backend signed the page's sign, verify, read and refused-sign requests — nothing else.
    assert.deepEqual(
      backendSigned.map((b) => `${b.method} ${b.path}`),
      [
        'POST /api/v1/sign',
        'POST /api/v1/verify',
        `GET /api/v1/signatures/${r.signedId}`,
        'POST /api/v1/sign',
      ],
    );
    assert.equal((await services.store.signing.searchSignatures({ limit: 1 })).total, 2);
    await tab.close();
  });

  test('a page of an origin not listed is stopped by the browser before anything is signed', async () => {
    const before = (await services.store.signing.searchSignatures({ limit: 1 })).total;
    const tab = await browser.newPage();
    await tab.goto(`${otherOrigin}/`);
    await tab.waitForFunction('window.sdk !== undefined');
    const r = await tab.evaluate(
      async ({ api, appId, secret }) => {
        const m = (globalThis as unknown as { sdk: typeof MedsignSdk }).sdk;
        const client = new m.MedsignClient({ url: api, appId, appSecret: secret, retries: 0 });
        try {
          await client.sign({ signer: 'D001', pin: '123456', data: 'x' });
          return 'signed';
        } catch (e) {
          return `${(e as Error).name}: ${(e as Error).message}`;
        }
      },
      { api, appId: his.id, secret: his.secret },
    );
    assert.match(r, /^TypeError: Failed to fetch/);
    assert.equal((await services.store.signing.searchSignatures({ limit: 1 })).total, before);
    await tab.close();
  });

  test('CORS headers: listed origin on signing-API routes only; preflights answered', async () => {
    const preflight = (path: string, origin: string) =>
      fetch(api + path, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,x-medsign-signature,idempotency-key',
        },
      });
    const ok = await preflight('/api/v1/sign', pageOrigin);
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get('access-control-allow-origin'), pageOrigin);
    assert.match(ok.headers.get('access-control-allow-headers') ?? '', /x-medsign-signature/);
    assert.match(ok.headers.get('access-control-allow-headers') ?? '', /idempotency-key/);
    assert.match(ok.headers.get('vary') ?? '', /Origin/);
    for (const path of ['/api/v1/sign-jobs/j1/authorise', '/api/v1/signatures/export.csv?docId=1'])
      assert.equal(
        (await preflight(path, pageOrigin)).headers.get('access-control-allow-origin'),
        pageOrigin,
      );
    const refused = await preflight('/api/v1/sign', otherOrigin);
    assert.equal(refused.headers.get('access-control-allow-origin'), null);
    // Not the signing API: the operator API and health never answer CORS.
    for (const path of ['/api/v1/apps', '/api/v1/auth/login', '/health'])
      assert.equal((await preflight(path, pageOrigin)).headers.get('access-control-allow-origin'), null);
    // A refused (unsigned) request still carries the header, so the page can read the problem.
    const unsigned = await fetch(`${api}/api/v1/signatures`, { headers: { origin: pageOrigin } });
    assert.equal(unsigned.status, 401);
    assert.equal(unsigned.headers.get('access-control-allow-origin'), pageOrigin);
    assert.match(unsigned.headers.get('access-control-expose-headers') ?? '', /x-request-id/);
    const stranger = await fetch(`${api}/api/v1/signatures`, { headers: { origin: otherOrigin } });
    assert.equal(stranger.headers.get('access-control-allow-origin'), null);
  });

  test('with no corsOrigins (the default) the server answers no CORS at all', async () => {
    const plain = await buildApp(
      { ...services, config: { ...services.config, sign: { ...services.config.sign, corsOrigins: [] } } },
      { logger: false, crlSchedule: false },
    );
    try {
      const r = await plain.inject({
        method: 'OPTIONS',
        url: '/api/v1/sign',
        headers: { origin: pageOrigin, 'access-control-request-method': 'POST' },
      });
      assert.equal(r.headers['access-control-allow-origin'], undefined);
      assert.notEqual(r.statusCode, 204);
    } finally {
      await plain.close();
    }
  });
});
