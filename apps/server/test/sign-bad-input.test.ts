// The "Bad input" list, route by route over real HTTP with a test clock: unknown signer, wrong PIN,
// expired authorisation, replayed and badly signed requests, oversized payload (configured limit), malformed
// base64 / digest / signature, unknown document type, rate limit. Each answer is application/problem+json
// with its documented code, and nothing was written: no signature record, no key use, no record audit event.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ERROR_CODES } from '@medsign/errors';
import { MedsignClient } from '@medsign/sdk';
import {
  AUTH_HEADERS,
  bodyDigest,
  createApp,
  enrolSigner,
  grantAuthorisation,
  signRequest,
} from '@medsign/sign';
import { tempDir, type TempDir } from '@medsign/testkit';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { initDataDir } from '../src/init.js';
import { openServices, type Services } from '../src/services.js';

const rx = Buffer.from('处方 Rx-0001').toString('base64');

describe('signing API: bad input', () => {
  let dir: TempDir;
  let services: Services;
  let app: FastifyInstance;
  let base: string;
  let his: { id: string; secret: string };
  let clock = Date.now();

  /** What must not change: signature records, key uses, record audit events. */
  const written = async () => {
    const events = await services.store.audit.list({ limit: 100_000 });
    return {
      records: (await services.store.signing.searchSignatures({ limit: 1 })).total,
      keyUses: events.filter((e) => e.action === 'key.sign').length,
      recordEvents: events.filter((e) => e.action === 'sign.signature').length,
    };
  };

  let n = 0;
  async function send(
    path: string,
    body: unknown,
    over: { secret?: string; nonce?: string; timestamp?: number; appId?: string; raw?: string } = {},
  ) {
    const text = over.raw ?? JSON.stringify(body);
    const timestamp = over.timestamp ?? Math.floor(clock / 1000);
    const nonce = over.nonce ?? `bad-input-nonce-${String(++n).padStart(6, '0')}`;
    const appId = over.appId ?? his.id;
    const r = await fetch(base + path, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [AUTH_HEADERS.appId]: appId,
        [AUTH_HEADERS.timestamp]: String(timestamp),
        [AUTH_HEADERS.nonce]: nonce,
        [AUTH_HEADERS.signature]: signRequest(over.secret ?? his.secret, {
          method: 'POST',
          path,
          bodyDigest: bodyDigest(text),
          timestamp,
          nonce,
          appId,
        }),
      },
      body: text,
    });
    return {
      status: r.status,
      type: r.headers.get('content-type') ?? '',
      json: (await r.json()) as { code?: string },
    };
  }

  before(async () => {
    dir = tempDir('medsign-bad-input-');
    const init = await initDataDir({ dataDir: dir.path, env: {} });
    services = await openServices(
      { ...init.config, sign: { ...init.config.sign, maxDataBytes: 2048, maxPinFailures: 5 } },
      { now: () => new Date(clock) },
    );
    app = await buildApp(services, { logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const created = await createApp({ name: 'HIS', systemType: 'HIS' }, 'test', services.sign.deps);
    his = { id: created.app.id, secret: created.secret };
    for (const employeeNo of ['D001', 'D002'])
      await enrolSigner(
        { name: '张三', employeeNo, departmentCode: '0101', pin: '123456' },
        'test',
        services.sign.deps,
      );
  });
  after(async () => {
    await app?.close();
    await services?.close();
    dir?.cleanup();
  });

  test('every refusal: its status and code (listed in docs/errors.md), problem+json, nothing written', async () => {
    const errorsDoc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    const good = { signer: 'D001', pin: '123456', data: rx, metadata: { docType: 'prescription' } };
    // An authorisation of D002 that expires: granted for 60 minutes, then the clock moves past it.
    await grantAuthorisation(
      { signer: 'D002', pin: '123456', durationMinutes: 60 },
      his.id,
      services.sign.deps,
    );
    // A request sent twice as is (same timestamp, nonce and signature): the copy is a replay.
    const replay = { nonce: 'replayed-nonce-bad-input', timestamp: Math.floor(clock / 1000) };
    assert.equal((await send('/api/v1/sign', good, replay)).status, 200);
    const before = await written();
    const again = await send('/api/v1/sign', good, replay);
    clock += 61 * 60_000;

    const cases: [string, Promise<Awaited<ReturnType<typeof send>>>, number, keyof typeof ERROR_CODES][] = [
      ['unknown signer', send('/api/v1/sign', { ...good, signer: 'NOBODY' }), 404, 'SIGN_SIGNER_NOT_FOUND'],
      ['wrong PIN', send('/api/v1/sign', { ...good, pin: '000000' }), 403, 'SIGN_PIN_WRONG'],
      [
        'expired authorisation',
        send('/api/v1/sign', { signer: 'D002', data: rx }),
        403,
        'SIGN_AUTHORISATION_EXPIRED',
      ],
      [
        'no PIN and no authorisation',
        send('/api/v1/sign', { signer: 'D001', data: rx }),
        403,
        'SIGN_INTENT_REQUIRED',
      ],
      ['replayed request', Promise.resolve(again), 401, 'APP_REQUEST_REPLAYED'],
      [
        'badly signed request',
        send('/api/v1/sign', good, { secret: 'not the secret' }),
        401,
        'APP_AUTH_FAILED',
      ],
      ['unknown application', send('/api/v1/sign', good, { appId: 'app_unknown' }), 401, 'APP_AUTH_FAILED'],
      [
        'stale request',
        send('/api/v1/sign', good, { timestamp: Math.floor(clock / 1000) - 3600 }),
        401,
        'APP_REQUEST_STALE',
      ],
      [
        'oversized data (sign.maxDataBytes)',
        send('/api/v1/sign', { ...good, data: Buffer.alloc(3000).toString('base64') }),
        413,
        'SIGN_PAYLOAD_TOO_LARGE',
      ],
      [
        'oversized body (route body limit)',
        send('/api/v1/sign', { ...good, data: Buffer.alloc(64 * 1024).toString('base64') }),
        413,
        'REQUEST_INVALID',
      ],
      [
        'malformed base64 data',
        send('/api/v1/sign', { ...good, data: 'QUJD=x==' }),
        400,
        'SIGN_DATA_INVALID',
      ],
      [
        'malformed digest',
        send('/api/v1/sign', { signer: 'D001', pin: '123456', digest: 'zz'.repeat(32) }),
        400,
        'SIGN_DATA_INVALID',
      ],
      [
        'unknown document type',
        send('/api/v1/sign', { ...good, metadata: { docType: 'poem' } }),
        400,
        'SIGN_DOC_TYPE_UNKNOWN',
      ],
      ['malformed JSON', send('/api/v1/sign', undefined, { raw: '{"signer":' }), 400, 'REQUEST_INVALID'],
      [
        'malformed signature (base64)',
        send('/api/v1/verify', { signature: 'not base64!' }),
        400,
        'SIGN_SIGNATURE_INVALID',
      ],
      [
        'malformed signature (not CMS)',
        send('/api/v1/verify', { signature: Buffer.from('garbage').toString('base64') }),
        400,
        'SIGN_SIGNATURE_INVALID',
      ],
      [
        'malformed P1 certificate',
        send('/api/v1/verify', { signature: 'QUJD', data: rx, certificate: 'QUJD' }),
        400,
        'SIGN_SIGNATURE_INVALID',
      ],
    ];
    for (const [what, pending, status, code] of cases) {
      const r = await pending;
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r.json)}`);
      assert.match(r.type, /^application\/problem\+json/, what);
      assert.equal(r.json.code, code, what);
      assert.ok(errorsDoc.includes(`\`${code}\``), `${code} is listed in docs/errors.md`);
    }
    assert.deepEqual(await written(), before, 'no record, no key use, no record audit event');
  });

  test('rate limit: 429 with Retry-After, nothing written', async () => {
    const limited = await createApp(
      { name: 'LIS', systemType: 'LIS', rateLimit: 1 },
      'test',
      services.sign.deps,
    );
    const c = new MedsignClient({
      url: base,
      appId: limited.app.id,
      appSecret: limited.secret,
      retries: 0,
      now: () => clock,
    });
    await c.sign({ signer: 'D001', pin: '123456', data: 'x' });
    const before = await written();
    const r = await send(
      '/api/v1/sign',
      { signer: 'D001', pin: '123456', data: rx },
      { appId: limited.app.id, secret: limited.secret },
    );
    assert.equal(r.status, 429);
    assert.match(r.type, /^application\/problem\+json/);
    assert.equal(r.json.code, 'APP_RATE_LIMITED');
    assert.deepEqual(await written(), before);
  });
});
