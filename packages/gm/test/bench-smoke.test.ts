import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

// A short run of `npm run bench:gm` so the benchmark keeps working; the figures themselves are not judged here.
test('bench:gm runs and ends with its JSON summary line', () => {
  const bench = new URL('../bench/gm.ts', import.meta.url).pathname;
  const r = spawnSync(process.execPath, ['--conditions=medsign-source', '--import', 'tsx', bench], {
    env: { ...process.env, BENCH_SECONDS: '0.05' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const last = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  for (const k of [
    'sm2_sign_ops',
    'sm2_verify_ops',
    'openssl_sm2_sign_ops',
    'openssl_sm2_verify_ops',
    'sm2_sign_ratio',
    'sm2_verify_ratio',
  ]) {
    assert.ok(k in last, `missing ${k}`);
  }
  assert.ok((last.sm2_sign_ops as number) > 0 && (last.openssl_sm2_sign_ops as number) > 0);
});
