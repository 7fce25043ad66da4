import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

/** Runs a snippet in a fresh process (backend choice is made once per process). */
function run(env: Record<string, string>, code: string) {
  const r = spawnSync(
    process.execPath,
    ['--conditions=medsign-source', '--import', 'tsx', '--input-type=module', '-e', code],
    {
      cwd: new URL('..', import.meta.url).pathname,
      env: { ...process.env, ...env },
      encoding: 'utf8',
    },
  );
  return { code: r.status, out: r.stdout.trim(), err: r.stderr };
}

const snippet = `
import { activeSm2Backend, SM2PrivateKey } from '@medsign/gm';
const key = SM2PrivateKey.generate();
if (!key.publicKey.verify('x', key.sign('x'))) throw new Error('sign/verify failed');
console.log(activeSm2Backend().name);`;

test('MEDSIGN_GM_BACKEND=portable forces the portable path, with no warning', () => {
  const r = run({ MEDSIGN_GM_BACKEND: 'portable' }, snippet);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'portable');
  assert.doesNotMatch(r.err, /MEDSIGN_GM_PORTABLE/);
});

test('MEDSIGN_GM_BACKEND with an unknown value is refused with a clear message', () => {
  const r = run({ MEDSIGN_GM_BACKEND: 'fast' }, snippet);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /MEDSIGN_GM_BACKEND must be native, portable or auto/);
});

test(
  'auto picks native when the addon is built (CI requires it)',
  { skip: process.env.MEDSIGN_REQUIRE_NATIVE !== '1' && 'only asserted where the addon must exist' },
  () => {
    const r = run({ MEDSIGN_GM_BACKEND: 'auto' }, snippet);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'native');
  },
);
