import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { DecryptError, sm4Decrypt, sm4Encrypt, type Sm4Mode } from '../src/index.js';
import { GHash } from '../src/ghash.js';
import { gctr } from '../src/sm4.js';
import { h, loadVectors, toHex } from './helpers/vectors.js';

type V = {
  tests: {
    tcId: number;
    comment: string;
    mode: Sm4Mode;
    key: string;
    iv?: string;
    aad?: string;
    pt: string;
    ct: string;
    padding?: boolean;
    iterations?: number;
  }[];
};
const vectors = loadVectors<V>('sm4.json');

for (const t of vectors.tests) {
  test(`SM4 #${t.tcId} ${t.comment}`, () => {
    const opts = {
      mode: t.mode,
      key: h(t.key),
      ...(t.iv ? { iv: h(t.iv) } : {}),
      ...(t.aad ? { aad: h(t.aad) } : {}),
      ...(t.padding === false ? { padding: false } : {}),
    };
    let block: Uint8Array = h(t.pt);
    for (let i = 0; i < (t.iterations ?? 1); i++) block = sm4Encrypt(block, opts);
    assert.equal(toHex(block), t.ct);
    if (!t.iterations) assert.equal(toHex(sm4Decrypt(h(t.ct), opts)), t.pt);
  });
}

test('GHASH matches AES-GCM as computed by OpenSSL (12-byte and odd-length IVs)', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ minLength: 1, maxLength: 40 }),
      fc.uint8Array({ maxLength: 70 }),
      fc.uint8Array({ maxLength: 90 }),
      (key, iv, aad, pt) => {
        const gcm = createCipheriv('aes-128-gcm', key, iv);
        gcm.setAAD(aad);
        const ct = Buffer.concat([gcm.update(pt), gcm.final()]);
        const tag = gcm.getAuthTag();
        const ecb = (b: Uint8Array) =>
          createCipheriv('aes-128-ecb', key, null).setAutoPadding(false).update(b);
        const hKey = ecb(new Uint8Array(16));
        const lengths = (a: number, c: number) => {
          const b = Buffer.alloc(16);
          b.writeBigUInt64BE(BigInt(a) * 8n, 0);
          b.writeBigUInt64BE(BigInt(c) * 8n, 8);
          return b;
        };
        const j0 =
          iv.length === 12
            ? Buffer.concat([iv, Buffer.from([0, 0, 0, 1])])
            : new GHash(hKey).update(iv).pad().update(lengths(0, iv.length)).digest();
        const s = new GHash(hKey)
          .update(aad)
          .pad()
          .update(ct)
          .pad()
          .update(lengths(aad.length, ct.length))
          .digest();
        const ek = ecb(j0);
        const ours = s.map((b, i) => b ^ ek[i]!);
        assert.equal(toHex(ours), tag.toString('hex'));
      },
    ),
    { numRuns: 200 },
  );
});

test('GHASH absorbs data the same in any split', () => {
  const key = new Uint8Array(16).fill(7);
  const data = new Uint8Array(77).map((_, i) => i * 3);
  const whole = new GHash(key).update(data).digest();
  const pieces = new GHash(key)
    .update(data.subarray(0, 5))
    .update(data.subarray(5, 40))
    .update(data.subarray(40))
    .digest();
  assert.deepEqual(pieces, whole);
});

const modes: Sm4Mode[] = ['ecb', 'cbc', 'ctr', 'gcm'];
test('decrypt(encrypt(m)) = m in every mode', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...modes),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 40 }),
      (mode, key, iv16, pt, aad) => {
        const opts = {
          mode,
          key,
          ...(mode === 'ecb' ? {} : { iv: mode === 'gcm' ? iv16.subarray(0, 12) : iv16 }),
          ...(mode === 'gcm' ? { aad } : {}),
        };
        const ct = sm4Encrypt(pt, opts);
        assert.deepEqual(sm4Decrypt(ct, opts), pt);
      },
    ),
    { numRuns: 200 },
  );
});

test('SM4-GCM rejects a changed tag, ciphertext, AAD or IV without releasing plaintext', () => {
  const key = h('0123456789abcdeffedcba9876543210');
  const iv = h('00001234567800000000abcd');
  const aad = h('feed');
  const ct = sm4Encrypt('patient record', { mode: 'gcm', key, iv, aad });
  const flipped = (i: number) => ct.map((b, j) => (j === i ? b ^ 1 : b));
  assert.throws(() => sm4Decrypt(flipped(0), { mode: 'gcm', key, iv, aad }), DecryptError);
  assert.throws(() => sm4Decrypt(flipped(ct.length - 1), { mode: 'gcm', key, iv, aad }), DecryptError);
  assert.throws(() => sm4Decrypt(ct, { mode: 'gcm', key, iv, aad: h('fee0') }), DecryptError);
  assert.throws(
    () => sm4Decrypt(ct, { mode: 'gcm', key, iv: h('00001234567800000000abce'), aad }),
    DecryptError,
  );
  assert.throws(() => sm4Decrypt(ct.subarray(0, 10), { mode: 'gcm', key, iv, aad }), DecryptError);
});

test('GCTR carries the counter in its low 32 bits only, as GCM requires', () => {
  const key = h('000102030405060708090a0b0c0d0e0f');
  const counter = h('0102030405060708090a0b0cfffffffe');
  const data = new Uint8Array(64).fill(0x5a);
  const blocks = [
    '0102030405060708090a0b0cfffffffe',
    '0102030405060708090a0b0cffffffff',
    '0102030405060708090a0b0c00000000',
    '0102030405060708090a0b0c00000001',
  ];
  const keystream = Buffer.concat(blocks.map((b) => sm4Encrypt(h(b), { mode: 'ecb', key, padding: false })));
  assert.equal(toHex(gctr(key, counter, data)), toHex(data.map((b, i) => b ^ keystream[i]!)));
});

test('CBC with bad padding throws DecryptError; wrong sizes throw RangeError', () => {
  const key = h('0123456789abcdeffedcba9876543210');
  const iv = new Uint8Array(16);
  const ct = sm4Encrypt('abc', { mode: 'cbc', key, iv });
  assert.throws(() => sm4Decrypt(ct, { mode: 'cbc', key: h('00'.repeat(16)), iv }), DecryptError);
  assert.throws(() => sm4Encrypt('abc', { mode: 'cbc', key: new Uint8Array(15), iv }), RangeError);
  assert.throws(() => sm4Encrypt('abc', { mode: 'cbc', key, iv: new Uint8Array(8) }), RangeError);
  assert.throws(() => sm4Encrypt('abc', { mode: 'ecb', key, padding: false }), RangeError);
  assert.throws(() => sm4Encrypt('abc', { mode: 'ecb', key, iv }), RangeError);
  assert.throws(() => sm4Encrypt('abc', { mode: 'ctr', key, iv, aad: iv }), RangeError);
  assert.throws(() => sm4Encrypt('abc', { mode: 'gcm', key, iv: new Uint8Array(0) }), RangeError);
  assert.throws(() => sm4Encrypt('abc', { mode: 'xts' as Sm4Mode, key }), RangeError);
});
