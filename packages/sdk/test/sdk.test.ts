// The SDK on its own: the documented check value of the request signature (and OpenSSL agrees), the headers
// it sends, and its retry rules (fresh nonce per attempt, one Idempotency-Key, Retry-After, no retry on 4xx).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bodyDigest, signRequest } from '@medsign/sign/auth';
import { runOpenssl } from '@medsign/testkit';
import type { MedsignApiError } from '../src/index.js';
import { MedsignClient } from '../src/index.js';

const CHECK = {
  digest: 'f1a823aaaaafe40e113c7f04dd72c289faf86252c4a9b57cf1d3c9e12547f9ad',
  signature: 'bc71d3ef7fadabe289cf9bd10624b3b239dd331c902415198c88ec579e8e081f',
};

test('check value of docs/integration/auth.md; OpenSSL computes the same HMAC-SM3', () => {
  const parts = {
    method: 'POST',
    path: '/api/v1/sign',
    bodyDigest: bodyDigest('{}'),
    timestamp: 1764806400,
    nonce: 'abcdefghijklmnop',
    appId: 'app_test',
  };
  assert.equal(parts.bodyDigest, CHECK.digest);
  assert.equal(signRequest('medsign-test-secret', parts), CHECK.signature);
  const canonical = `MEDSIGN-HMAC-SM3\nPOST\n/api/v1/sign\n${CHECK.digest}\n1764806400\nabcdefghijklmnop\napp_test`;
  const o = runOpenssl(['dgst', '-sm3', '-hmac', 'medsign-test-secret', '-r'], canonical);
  assert.equal(o.code, 0, o.stderr);
  assert.equal(o.stdout.split(' ')[0], CHECK.signature);
});

type Seen = { headers: Record<string, string>; body?: string; url: string };

function fakeFetch(answers: (() => Response | Promise<Response>)[], seen: Seen[]): typeof fetch {
  return async (input, init) => {
    seen.push({
      url: String(input),
      headers: { ...(init?.headers as Record<string, string>) },
      ...(init?.body ? { body: String(init.body) } : {}),
    });
    const next = answers.shift();
    if (!next) throw new Error('no more answers');
    return next();
  };
}

const problem =
  (status: number, code: string, headers: Record<string, string> = {}) =>
  () =>
    new Response(JSON.stringify({ status, code, detail: code.toLowerCase(), instance: 'req-1' }), {
      status,
      headers: { 'content-type': 'application/problem+json', ...headers },
    });

test('sign: signed headers, base64 data, one Idempotency-Key across retries with fresh nonces', async () => {
  const seen: Seen[] = [];
  const ok = () => new Response(JSON.stringify({ id: 'sig-1' }), { status: 200 });
  const client = new MedsignClient({
    url: 'http://medsign.test/',
    appId: 'app_x',
    appSecret: 's3cret',
    maxBackoffMs: 5,
    now: () => 1764806400_000,
    fetch: fakeFetch(
      [
        () => {
          throw new TypeError('socket hang up');
        },
        problem(503, 'SIGN_TIMESTAMP_UNAVAILABLE', { 'retry-after': '1' }),
        ok,
      ],
      seen,
    ),
  });
  const r = await client.sign({ signer: 'D001', pin: '123456', data: '处方' });
  assert.equal(r.id, 'sig-1');
  assert.equal(seen.length, 3);
  assert.equal(seen[0]!.url, 'http://medsign.test/api/v1/sign');
  const keys = new Set(seen.map((s) => s.headers['idempotency-key']));
  assert.equal(keys.size, 1);
  assert.equal(new Set(seen.map((s) => s.headers['x-medsign-nonce'])).size, 3);
  const body = JSON.parse(seen[0]!.body!) as { data: string };
  assert.equal(Buffer.from(body.data, 'base64').toString(), '处方');
  const h = seen[2]!.headers;
  assert.equal(
    h['x-medsign-signature'],
    signRequest('s3cret', {
      method: 'POST',
      path: '/api/v1/sign',
      bodyDigest: bodyDigest(seen[2]!.body),
      timestamp: 1764806400,
      nonce: h['x-medsign-nonce']!,
      appId: 'app_x',
    }),
  );
});

test('4xx is not retried and surfaces as MedsignApiError with the code; retries run out', async () => {
  const seen: Seen[] = [];
  const client = new MedsignClient({
    url: 'http://m.test',
    appId: 'a',
    appSecret: 's',
    maxBackoffMs: 1,
    fetch: fakeFetch([problem(403, 'SIGN_PIN_WRONG')], seen),
  });
  await assert.rejects(client.sign({ signer: 'D001', pin: 'x', data: 'd' }), (e: MedsignApiError) => {
    assert.equal(e.status, 403);
    assert.equal(e.code, 'SIGN_PIN_WRONG');
    assert.equal(e.requestId, 'req-1');
    return true;
  });
  assert.equal(seen.length, 1);
  const busy = new MedsignClient({
    url: 'http://m.test',
    appId: 'a',
    appSecret: 's',
    retries: 1,
    maxBackoffMs: 1,
    fetch: fakeFetch([problem(429, 'APP_RATE_LIMITED'), problem(429, 'APP_RATE_LIMITED')], seen),
  });
  await assert.rejects(busy.verify({ signature: 'QUJD' }), (e: MedsignApiError) => e.status === 429);
});

test('GET with a query: the signed path carries the query string', async () => {
  const seen: Seen[] = [];
  const client = new MedsignClient({
    url: 'http://m.test',
    appId: 'a',
    appSecret: 's',
    fetch: fakeFetch([() => new Response('{"total":0,"items":[]}', { status: 200 })], seen),
  });
  await client.signatures({ docId: 'RX 1', signer: 'D001' });
  assert.equal(seen[0]!.url, 'http://m.test/api/v1/signatures?docId=RX+1&signer=D001');
  assert.equal(seen[0]!.body, undefined);
});

test('recordPremade, evidence, evidencePdf, original: paths, methods, base64 bodies, retries keep one key', async () => {
  const seen: Seen[] = [];
  const json = (v: unknown) => () => new Response(JSON.stringify(v), { status: 200 });
  const client = new MedsignClient({
    url: 'http://medsign.test',
    appId: 'app_x',
    appSecret: 'secret',
    maxBackoffMs: 1,
    fetch: fakeFetch(
      [
        problem(503, 'SIGN_TIMESTAMP_UNAVAILABLE'),
        json({ id: 'sig-u' }),
        json({ schema: 'medsign-evidence/v1', ok: true }),
        json({ schema: 'medsign-evidence/v1', ok: false }),
        () => new Response(new Uint8Array([0x25, 0x50, 0x44, 0x46]), { status: 200 }),
        json({ id: 'sig-u', data: 'YQ==' }),
      ],
      seen,
    ),
  });
  const raw = new Uint8Array(64).fill(7);
  assert.equal(
    (
      await client.recordPremade({
        signer: 'D001',
        format: 'p1',
        data: '医嘱',
        signature: raw,
        certificate: 'PEM',
      })
    ).id,
    'sig-u',
  );
  // The 503 was retried with the same Idempotency-Key and body.
  assert.equal(seen[0]!.url, 'http://medsign.test/api/v1/signatures');
  assert.equal(seen[0]!.headers['idempotency-key'], seen[1]!.headers['idempotency-key']);
  assert.deepEqual(JSON.parse(seen[1]!.body!), {
    signer: 'D001',
    format: 'p1',
    certificate: 'PEM',
    signature: Buffer.from(raw).toString('base64'),
    data: Buffer.from('医嘱').toString('base64'),
  });
  assert.equal((await client.evidence('a/b')).ok, true);
  assert.equal(seen[2]!.url, 'http://medsign.test/api/v1/signatures/a%2Fb/evidence.json');
  assert.equal(seen[2]!.body, undefined);
  assert.equal((await client.evidence('a', { data: '原文' })).ok, false);
  assert.equal(seen[3]!.url, 'http://medsign.test/api/v1/signatures/a/evidence');
  assert.deepEqual(JSON.parse(seen[3]!.body!), { data: Buffer.from('原文').toString('base64') });
  const pdf = await client.evidencePdf('a', { signatureAlgorithm: 'sm2' });
  assert.equal(Buffer.from(pdf).toString(), '%PDF');
  assert.equal(seen[4]!.url, 'http://medsign.test/api/v1/signatures/a/evidence.pdf?signatureAlgorithm=sm2');
  assert.equal(seen[4]!.headers.accept, 'application/pdf');
  assert.equal((await client.original('a')).data, 'YQ==');
  assert.equal(seen[5]!.url, 'http://medsign.test/api/v1/signatures/a/original');
});
