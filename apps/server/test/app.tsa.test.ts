// The tsa role over app.inject: units by path, in-band answers for every kind of bad body, 404 for an
// unknown unit, metrics, and a time source that stops being usable.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildTimeStampReq, parseTimeStampResp, verifyTimeStampToken } from '@medsign/pki';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { makeFakeServices, type FakeServices } from './helpers/fake-services.js';

const DATA = new TextEncoder().encode('检验报告 LIS-2026-0001');
const QUERY = { 'content-type': 'application/timestamp-query' };

describe('POST /tsa', () => {
  let fake: FakeServices;
  let app: FastifyInstance;
  before(async () => {
    fake = await makeFakeServices();
    app = await buildApp(fake.services, { logger: false });
  });
  after(() => app.close());

  const post = (url: string, payload: Uint8Array | string, headers: Record<string, string> = QUERY) =>
    app.inject({
      method: 'POST',
      url,
      headers,
      payload: typeof payload === 'string' ? payload : Buffer.from(payload),
    });

  test('/tsa is the SM2 unit, /tsa/rsa the RSA unit; tokens verify and are archived with the requester', async () => {
    for (const [url, unit, hash] of [
      ['/tsa', 'sm2', 'sm3'],
      ['/tsa/sm2', 'sm2', 'sha256'],
      ['/tsa/rsa', 'rsa', 'sha512'],
    ] as const) {
      const r = await post(url, buildTimeStampReq({ hash, data: DATA, nonce: 42n, certReq: true }));
      assert.equal(r.statusCode, 200);
      assert.equal(r.headers['content-type'], 'application/timestamp-reply');
      assert.equal(r.headers['cache-control'], 'no-store');
      const h = unit === 'sm2' ? fake.sm2 : fake.rsa;
      const v = verifyTimeStampToken(new Uint8Array(r.rawPayload), { data: DATA, anchors: [h.root.cert] });
      assert.equal(v.valid, true, v.errors.join('; '));
      assert.equal(v.nonce, 42n);
      const rec = fake.tokens.at(-1)!;
      assert.equal(rec.unit, unit);
      assert.equal(rec.serial, v.serial);
      assert.equal(rec.requester, '127.0.0.1');
    }
  });

  test('an unknown unit (or one init did not create) is 404 problem+json', async () => {
    for (const unit of ['ecdsa', 'dsa']) {
      const r = await post(`/tsa/${unit}`, buildTimeStampReq({ hash: 'sm3', data: DATA }));
      assert.equal(r.statusCode, 404);
      assert.match(r.headers['content-type'] as string, /application\/problem\+json/);
      assert.equal(r.json().code, 'TSA_UNIT_NOT_FOUND');
    }
  });

  test('garbage, an empty body, JSON, no media type, an oversized body: HTTP 200 rejection in band', async () => {
    const cases: [Uint8Array | string, Record<string, string>, string][] = [
      [new Uint8Array([0x30, 0x03, 1, 2]), QUERY, 'badDataFormat'],
      [new Uint8Array(), QUERY, 'badDataFormat'],
      ['{"hello":1}', { 'content-type': 'application/json' }, 'badDataFormat'],
      [new Uint8Array([0xff]), {}, 'badDataFormat'],
      [new Uint8Array(64 * 1024), QUERY, 'badDataFormat'],
    ];
    for (const [body, headers, failInfo] of cases) {
      const r = await post('/tsa', body, headers);
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.headers['content-type'], 'application/timestamp-reply');
      const resp = parseTimeStampResp(new Uint8Array(r.rawPayload));
      assert.equal(resp.statusName, 'rejection');
      assert.deepEqual(resp.failInfo, [failInfo]);
    }
    // the request still works afterwards with a media type the client forgot
    const ok = await post('/tsa', buildTimeStampReq({ hash: 'sm3', data: DATA }), {});
    assert.equal(parseTimeStampResp(new Uint8Array(ok.rawPayload)).statusName, 'granted');
  });

  test('a time source that is not usable: timeNotAvailable, then granted again', async () => {
    const saved = fake.services.timeSource;
    fake.services.timeSource = {
      status: () => ({ usable: false, accuracyMs: 1000, detail: 'no NTP answer' }),
    };
    try {
      const r = await post('/tsa', buildTimeStampReq({ hash: 'sm3', data: DATA }));
      assert.deepEqual(parseTimeStampResp(new Uint8Array(r.rawPayload)).failInfo, ['timeNotAvailable']);
    } finally {
      fake.services.timeSource = saved;
    }
    const r = await post('/tsa', buildTimeStampReq({ hash: 'sm3', data: DATA }));
    assert.equal(parseTimeStampResp(new Uint8Array(r.rawPayload)).statusName, 'granted');
  });

  test('metrics count granted and rejected per unit with failInfo', async () => {
    const m = await app.inject({ method: 'GET', url: '/metrics' });
    assert.match(m.body, /medsign_tsa_responses_total\{unit="sm2",status="granted",failInfo=""\} \d+/);
    assert.match(m.body, /medsign_tsa_responses_total\{unit="rsa",status="granted",failInfo=""\} 1/);
    assert.match(
      m.body,
      /medsign_tsa_responses_total\{unit="sm2",status="rejection",failInfo="badDataFormat"\} 5/,
    );
    assert.match(
      m.body,
      /medsign_tsa_responses_total\{unit="sm2",status="rejection",failInfo="timeNotAvailable"\} 1/,
    );
  });

  test('the OpenAPI document lists the TSA endpoints', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/api/docs/json' })).json();
    assert.ok(doc.paths['/tsa'].post);
    assert.ok(doc.paths['/tsa/{unit}'].post);
  });
});
