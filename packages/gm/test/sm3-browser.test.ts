import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import fc from 'fast-check';
import * as browser from '../src/sm3-browser.js';
import * as node from '../src/sm3.js';
import { h, loadVectors, toHex } from './helpers/vectors.js';

// The browser SM3 module (pure TypeScript) against the standard's vectors and OpenSSL's SM3 (sm3.ts).

type V = {
  tests: { tcId: number; comment: string; msg: string; digest: string }[];
  hmac: { tcId: number; comment: string; key: string; msg: string; mac: string }[];
};
const vectors = loadVectors<V>('sm3.json');

test('browser SM3 and HMAC-SM3 meet the vectors', () => {
  for (const t of vectors.tests) {
    assert.equal(toHex(browser.sm3(h(t.msg))), t.digest, `SM3 #${t.tcId}`);
    assert.equal(toHex(new browser.SM3().update(h(t.msg)).digest()), t.digest, `SM3 stream #${t.tcId}`);
  }
  for (const t of vectors.hmac)
    assert.equal(toHex(browser.hmacSm3(h(t.key), h(t.msg))), t.mac, `HMAC-SM3 #${t.tcId}`);
  assert.equal(browser.SM3_DIGEST_LENGTH, node.SM3_DIGEST_LENGTH);
});

test('browser SM3, HMAC-SM3 and KDF agree with the node:crypto ones on random input', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 400 }),
      fc.uint8Array({ maxLength: 200 }),
      fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 4 }),
      fc.integer({ min: 0, max: 100 }),
      (data, key, cuts, kdfLength) => {
        assert.deepEqual(browser.sm3(data), node.sm3(data));
        assert.deepEqual(browser.hmacSm3(key, data), node.hmacSm3(key, data));
        assert.deepEqual(browser.sm2Kdf(key, kdfLength), node.sm2Kdf(key, kdfLength));
        // Streaming in arbitrary pieces (block boundaries crossed or not) equals one-shot.
        const s = new browser.SM3();
        let at = 0;
        for (const c of [...cuts].sort((a, b) => a - b)) {
          const to = Math.min(c, data.length);
          s.update(data.subarray(at, to));
          at = to;
        }
        assert.deepEqual(s.update(data.subarray(at)).digest(), node.sm3(data));
      },
    ),
    { numRuns: 300 },
  );
  const text = 'MEDSIGN-HMAC-SM3\nPOST\n/api/v1/sign\n签名';
  assert.deepEqual(browser.hmacSm3(new Uint8Array(3), text), node.hmacSm3(new Uint8Array(3), text));
  const big = new Uint8Array(100_000).map((_, i) => i * 7);
  assert.deepEqual(browser.sm3(big), node.sm3(big));
});

test('browser SM3 refuses bad input and reuse like the Node one', () => {
  assert.throws(() => browser.hmacSm3('key' as unknown as Uint8Array, 'x'), TypeError);
  assert.throws(() => browser.sm3(42 as unknown as Uint8Array), TypeError);
  assert.throws(() => browser.sm2Kdf(new Uint8Array(1), -1), RangeError);
  assert.throws(() => browser.sm2Kdf(new Uint8Array(1), 1.5), RangeError);
  const s = new browser.SM3().update('abc');
  s.digest();
  assert.throws(() => s.update('x'));
  assert.throws(() => s.digest());
});

test('@medsign/gm/sm3 resolves to the pure module for a browser bundle, with no node: built-in', async () => {
  const root = fileURLToPath(new URL('../../..', import.meta.url));
  const out = await build({
    stdin: { contents: "export { sm3, hmacSm3 } from '@medsign/gm/sm3';", resolveDir: root, loader: 'ts' },
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    conditions: ['medsign-source'],
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(out.metafile.inputs);
  assert.ok(
    inputs.some((i) => i.endsWith('gm/src/sm3-browser.ts')),
    inputs.join(', '),
  );
  assert.ok(!inputs.some((i) => i.endsWith('gm/src/sm3.ts')), inputs.join(', '));
  assert.doesNotMatch(out.outputFiles[0]!.text, /node:/);
});
