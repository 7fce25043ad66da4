import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

// A short run of `npm run bench:ca` (tiny phases, a 2,000-entry CRL) so the benchmark keeps working; the
// figures are not judged here. PostgreSQL is measured too when MEDSIGN_TEST_PG_URL is set.
test('bench:ca runs and ends with its JSON summary line', () => {
  const bench = new URL('../bench/ca.ts', import.meta.url).pathname;
  const r = spawnSync(process.execPath, ['--conditions=medsign-source', '--import', 'tsx', bench], {
    env: { ...process.env, BENCH_SECONDS: '0.1', BENCH_CRL_ENTRIES: '2000', BENCH_CONCURRENCY: '4' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const last = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number | null>;
  for (const k of ['issuance_per_s', 'crl_100k_s', 'ocsp_per_s', 'sm2_sign_all_cores', 'ocsp_ratio']) {
    assert.ok(typeof last[k] === 'number' && last[k] > 0, `missing ${k}`);
  }
  assert.ok('issuance_per_s_pg' in last);
  if (process.env.MEDSIGN_BENCH_PG_URL ?? process.env.MEDSIGN_TEST_PG_URL)
    assert.ok(typeof last.issuance_per_s_pg === 'number' && last.issuance_per_s_pg > 0);
  else assert.equal(last.issuance_per_s_pg, null);
  assert.equal(last.crl_entries, 2000);
  assert.equal(last.ocsp_errors, 0);
});

// A short run of `npm run bench:sign` (the signing API over HTTP with HMAC-signed requests: sign with and
// without a time-stamp, verify, the raw SM2 sign/verify references).
test('bench:sign runs and ends with its JSON summary line', () => {
  const bench = new URL('../bench/sign.ts', import.meta.url).pathname;
  const r = spawnSync(process.execPath, ['--conditions=medsign-source', '--import', 'tsx', bench], {
    env: { ...process.env, BENCH_SECONDS: '0.1', BENCH_CONNECTIONS: '4' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const last = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number | null>;
  for (const k of [
    'sign_ts_ops_per_s',
    'sm2_sign_ops_all_cores',
    'sign_ts_ratio',
    'verify_ops_per_s',
    'sm2_verify_ops_all_cores',
    'verify_ratio',
    'sign_ops_per_s',
    'sign_ratio',
  ])
    assert.ok(typeof last[k] === 'number' && last[k] > 0, `missing ${k}`);
  // The PIN phase is scrypt-bound: on a loaded machine a 0.5 s smoke phase may complete none.
  assert.equal(typeof last.sign_pin_ops_per_s, 'number');
  assert.equal(last.errors, 0);
});

// A short run of `npm run bench:tsa` (a server process, 0.2 s phases): it keeps working and ends with its
// JSON line; the figures are not judged here.
test('bench:tsa runs and ends with its JSON summary line', () => {
  const bench = new URL('../bench/tsa.ts', import.meta.url).pathname;
  const r = spawnSync(process.execPath, ['--conditions=medsign-source', '--import', 'tsx', bench], {
    env: { ...process.env, BENCH_SECONDS: '0.2', BENCH_CONNECTIONS: '8' },
    encoding: 'utf8',
    timeout: 90_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const last = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
  for (const k of ['tsa_sm2_tokens_per_s', 'tsa_ecdsa_tokens_per_s', 'sm2_sign_ops_all_cores', 'tsa_ratio'])
    assert.ok(typeof last[k] === 'number' && last[k] > 0, `missing ${k}`);
  assert.equal(last.errors, 0);
});
