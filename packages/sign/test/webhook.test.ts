// The sign-job webhook signature (check value computed independently with `openssl dgst -sm3 -hmac`, as in
// docs/integration/sign-jobs.md), its checks against tampering and staleness, the back-off, callback URLs,
// and the rate limiter's behaviour when the clock steps back (a sign-job expiry test found it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DomainError } from '@medsign/errors';
import {
  canonicalWebhook,
  checkCallbackUrl,
  checkWebhook,
  RateLimiter,
  signWebhook,
  WEBHOOK_HEADERS,
  webhookBackoffMs,
} from '../src/index.js';

const body =
  '{"type":"sign-job.finished","deliveryId":"6f1c2a4e-0b7d-4c55-9a39-2d1f0e8b7a10","job":{"id":"job-1","state":"completed","signer":"N001","documents":2,"signed":2,"failed":0,"createdAt":"2026-03-01T08:00:00.000Z","completedAt":"2026-03-01T08:00:01.000Z"}}';
const id = '6f1c2a4e-0b7d-4c55-9a39-2d1f0e8b7a10';
const ts = 1772352001;
const secret = 'test-secret-0123456789';
// printf … | openssl dgst -sm3 -hmac 'test-secret-0123456789' (see the docs page for the full command)
const CHECK_VALUE = '2215682d642bb1258c19e121db5aa258096ac58c46ef7038272802acae0aba3c';

test('webhook signature: canonical string and check value', () => {
  assert.equal(
    canonicalWebhook(ts, id, body),
    `MEDSIGN-WEBHOOK-HMAC-SM3\n${ts}\n${id}\n7d382ab8b5af548946cdf1c7a82eeb0697a122499674d32205bbc1975837a87d`,
  );
  assert.equal(signWebhook(secret, ts, id, body), CHECK_VALUE);
  assert.equal(signWebhook(secret, ts, id, new TextEncoder().encode(body)), CHECK_VALUE);
});

test('checkWebhook: accepts the original; refuses tampering, staleness, missing or malformed headers', () => {
  const headers = {
    [WEBHOOK_HEADERS.id]: id,
    [WEBHOOK_HEADERS.timestamp]: String(ts),
    [WEBHOOK_HEADERS.signature]: CHECK_VALUE.toUpperCase(),
  };
  const ok = (h: Record<string, string>, b = body, s = secret, now = ts + 10) =>
    checkWebhook(h, b, s, { nowSeconds: now });
  assert.deepEqual(ok(headers), { ok: true });
  assert.deepEqual(ok(Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]))), {
    ok: true,
  });
  assert.ok(checkWebhook(new Headers(headers), body, secret, { nowSeconds: ts }).ok, 'fetch Headers');
  assert.equal(ok(headers, body.replace('"signed":2', '"signed":3')).ok, false);
  assert.equal(ok(headers, body, 'another-secret').ok, false);
  assert.equal(ok({ ...headers, [WEBHOOK_HEADERS.id]: 'another-delivery' }).ok, false);
  assert.equal(ok({ ...headers, [WEBHOOK_HEADERS.timestamp]: String(ts + 1) }).ok, false);
  assert.match((ok(headers, body, secret, ts + 301) as { reason: string }).reason, /outside/);
  assert.equal(checkWebhook(headers, body, secret, { nowSeconds: ts + 301, toleranceSeconds: 600 }).ok, true);
  for (const k of Object.values(WEBHOOK_HEADERS).slice(0, 3)) {
    const h: Record<string, string> = { ...headers };
    delete h[k];
    assert.equal(ok(h).ok, false, `without ${k}`);
  }
  assert.equal(ok({ ...headers, [WEBHOOK_HEADERS.signature]: 'zz' }).ok, false);
  assert.equal(ok({ ...headers, [WEBHOOK_HEADERS.timestamp]: '1e9' }).ok, false);
});

test('webhook back-off doubles from the configured wait and stops at an hour', () => {
  assert.deepEqual(
    [1, 2, 3, 4].map((a) => webhookBackoffMs(a, 30)),
    [30_000, 60_000, 120_000, 240_000],
  );
  assert.equal(webhookBackoffMs(20, 30), 3_600_000);
});

test('callback URLs: http(s) only, no credentials', () => {
  assert.equal(
    checkCallbackUrl('https://his.hospital.local/medsign/hook'),
    'https://his.hospital.local/medsign/hook',
  );
  assert.equal(checkCallbackUrl('http://10.1.2.3:8080/h?x=1'), 'http://10.1.2.3:8080/h?x=1');
  for (const bad of [
    'ftp://his/h',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'not a url',
    'https://u:p@his/h',
    42,
  ])
    assert.throws(
      () => checkCallbackUrl(bad),
      (e: DomainError) => e.code === 'SIGN_JOB_INVALID',
      String(bad),
    );
  assert.throws(
    () => checkCallbackUrl(`https://his/${'a'.repeat(2048)}`),
    (e: DomainError) => e.code === 'SIGN_JOB_INVALID',
  );
});

test('rate limiter: a clock stepping back does not drain the bucket (regression)', () => {
  const limiter = new RateLimiter();
  const t0 = new Date('2026-03-01T08:00:00Z');
  assert.equal(limiter.take('app', 60, t0), 0);
  // The clock steps back a minute (NTP correction): requests still pass.
  assert.equal(limiter.take('app', 60, new Date(t0.getTime() - 61_000)), 0);
  assert.equal(limiter.take('app', 60, new Date(t0.getTime() - 60_000)), 0);
});
