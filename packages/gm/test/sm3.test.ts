import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import fc from 'fast-check';
import { hmacSm3, sm2Kdf, sm3, SM3 } from '../src/index.js';
import { sm3Pure } from '../src/sm3-pure.js';
import { h, loadVectors, toHex } from './helpers/vectors.js';

type V = {
  tests: { tcId: number; comment: string; msg: string; digest: string }[];
  hmac: { tcId: number; comment: string; key: string; msg: string; mac: string }[];
};
const vectors = loadVectors<V>('sm3.json');

for (const t of vectors.tests) {
  test(`SM3 #${t.tcId} ${t.comment}`, () => {
    assert.equal(toHex(sm3(h(t.msg))), t.digest);
    assert.equal(toHex(sm3Pure(h(t.msg))), t.digest);
  });
}

for (const t of vectors.hmac) {
  test(`HMAC-SM3 #${t.tcId} ${t.comment}`, () => {
    assert.equal(toHex(hmacSm3(h(t.key), h(t.msg))), t.mac);
  });
}

test('SM3 streaming equals one-shot, and the TypeScript SM3 agrees with OpenSSL', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 300 }), (data, cut) => {
      const at = Math.min(cut, data.length);
      const streamed = new SM3().update(data.subarray(0, at)).update(data.subarray(at)).digest();
      assert.deepEqual(streamed, sm3(data));
      assert.deepEqual(sm3Pure(data), sm3(data));
    }),
    { numRuns: 300 },
  );
});

test('SM3 object refuses reuse after digest', () => {
  const s = new SM3().update('abc');
  s.digest();
  assert.throws(() => s.update('x'));
  assert.throws(() => s.digest());
});

test('HMAC-SM3 with long keys (hashed first) matches the openssl CLI', () => {
  const key = new Uint8Array(100).map((_, i) => i);
  const out = execFileSync('openssl', ['mac', '-digest', 'SM3', '-macopt', `hexkey:${toHex(key)}`, 'HMAC'], {
    input: Buffer.from('medsign'),
  });
  assert.equal(toHex(hmacSm3(key, 'medsign')), out.toString().trim().toLowerCase());
});

test('SM2 KDF: counter starts at 1, output is cut to length', () => {
  const z = h('00112233');
  const k = sm2Kdf(z, 40);
  assert.equal(k.length, 40);
  assert.equal(toHex(k.subarray(0, 32)), toHex(sm3(h('0011223300000001'))));
  assert.equal(toHex(k.subarray(32)), toHex(sm3(h('0011223300000002')).subarray(0, 8)));
  assert.equal(sm2Kdf(z, 0).length, 0);
  assert.throws(() => sm2Kdf(z, -1), RangeError);
});
