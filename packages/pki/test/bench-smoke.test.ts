import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

// A short run of `npm run bench:pki` so the benchmark keeps working; the figures are not judged here.
test('bench:pki runs and ends with its JSON summary line', () => {
  const bench = new URL('../bench/pki.ts', import.meta.url).pathname;
  const r = spawnSync(process.execPath, ['--conditions=medsign-source', '--import', 'tsx', bench], {
    env: { ...process.env, BENCH_SECONDS: '0.05' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const last = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
  for (const k of [
    'raw_sm2_sign_ops',
    'cms_sign_ops',
    'cms_sign_ratio',
    'cert_parse_verify_ops',
    'token_verify_ops',
  ]) {
    assert.ok(typeof last[k] === 'number' && last[k] > 0, `missing ${k}`);
  }
});
