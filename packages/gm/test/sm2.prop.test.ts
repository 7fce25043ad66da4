/**
 * SM2 properties (fast-check) on the active backend: sign/verify and encrypt/decrypt round trips, every
 * key encoding round trips, signature and ciphertext re-encodings, and verification that never throws on
 * garbage.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { bigIntToBytes } from '../src/bytes.js';
import { encodeSequence, encodeUnsignedInteger } from '../src/der.js';
import {
  activeSm2Backend,
  convertSm2Ciphertext,
  encodeSm2Ciphertext,
  parseSm2Ciphertext,
  SM2_CIPHERTEXT_FORMATS,
  SM2_CURVE,
  SM2_DEFAULT_ID,
  SM2PrivateKey,
  SM2PublicKey,
  sm2SignatureFromDer,
  sm2SignatureToDer,
  sm2SignatureToRaw,
  type Sm2CiphertextFormat,
} from '../src/index.js';
import { toHex, utf8 } from './helpers/vectors.js';

const { n } = SM2_CURVE;

/** Keys from scalars across [1, n−2]; fast-check biases towards the ends of the range. */
const keyArb = fc.bigInt({ min: 1n, max: n - 2n }).map(
  (d) => SM2PrivateKey.fromBytes(bigIntToBytes(d, 32)),
  (k) => BigInt('0x' + (k as SM2PrivateKey).toHex()),
);

const idArb: fc.Arbitrary<Uint8Array | string | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constant(SM2_DEFAULT_ID),
  fc.constant(''),
  fc.uint8Array({ maxLength: 40 }),
  fc.string({ maxLength: 40 }),
  fc.string({ maxLength: 20, unit: 'binary' }),
);

const messageArb = fc.uint8Array({ maxLength: 300 });
const formatArb = fc.constantFrom(...SM2_CIPHERTEXT_FORMATS);

test(`properties run on the ${activeSm2Backend().name} backend`, () => {
  assert.ok(['native', 'portable'].includes(activeSm2Backend().name));
});

test('verify(sign(m)) holds for random keys, messages and IDs', () => {
  fc.assert(
    fc.property(keyArb, messageArb, idArb, (key, msg, id) => {
      const sig = key.sign(msg, { id });
      assert.ok(key.publicKey.verify(msg, sig, { id }));
      // A text ID is its UTF-8 bytes; an omitted ID is the default.
      if (typeof id === 'string') assert.ok(key.publicKey.verify(msg, sig, { id: utf8(id) }));
      if (id === undefined) assert.ok(key.publicKey.verify(msg, sig, { id: SM2_DEFAULT_ID }));
      assert.ok(key.publicKey.verify(msg, sm2SignatureToRaw(sig), { id }));
    }),
    { numRuns: 100 },
  );
});

test('a flipped message bit, or another ID, makes verification fail', () => {
  fc.assert(
    fc.property(
      keyArb,
      fc.uint8Array({ minLength: 1, maxLength: 300 }),
      idArb,
      fc.nat(),
      (key, msg, id, bitSeed) => {
        const sig = key.sign(msg, { id });
        const bit = bitSeed % (msg.length * 8);
        const flipped = msg.slice();
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        assert.equal(key.publicKey.verify(flipped, sig, { id }), false);
        const otherId = id === undefined || id === SM2_DEFAULT_ID ? '' : SM2_DEFAULT_ID;
        assert.equal(key.publicKey.verify(msg, sig, { id: otherId }), false);
      },
    ),
    { numRuns: 100 },
  );
});

test('decrypt(encrypt(m)) = m in every format, and across formats after conversion', () => {
  fc.assert(
    fc.property(
      keyArb,
      fc.uint8Array({ minLength: 1, maxLength: 300 }),
      formatArb,
      formatArb,
      (key, msg, from, to) => {
        const ct = key.publicKey.encrypt(msg, { format: from });
        if (from !== 'der') assert.equal(ct.length, 97 + msg.length);
        assert.equal(toHex(key.decrypt(ct, { format: from })), toHex(msg));
        const converted = convertSm2Ciphertext(ct, from, to);
        assert.equal(toHex(key.decrypt(converted, { format: to })), toHex(msg));
      },
    ),
    { numRuns: 60 },
  );
});

test('private key encodings round trip: PKCS#8, SEC1, PEM, hex, bytes', () => {
  fc.assert(
    fc.property(keyArb, (key) => {
      const same = (k: SM2PrivateKey, how: string) => {
        assert.equal(k.toHex(), key.toHex(), how);
        assert.ok(k.publicKey.equals(key.publicKey), how);
      };
      const p8 = key.toPkcs8();
      const fromP8 = SM2PrivateKey.fromPkcs8(p8);
      same(fromP8, 'pkcs8');
      assert.equal(toHex(fromP8.toPkcs8()), toHex(p8));
      const sec1 = key.toSec1();
      const fromSec1 = SM2PrivateKey.fromSec1(sec1);
      same(fromSec1, 'sec1');
      assert.equal(toHex(fromSec1.toSec1()), toHex(sec1));
      same(SM2PrivateKey.fromPem(key.toPem()), 'pem pkcs8');
      same(SM2PrivateKey.fromPem(key.toPem('pkcs8')), 'pem pkcs8 (explicit)');
      same(SM2PrivateKey.fromPem(key.toPem('sec1')), 'pem sec1');
      assert.equal(SM2PrivateKey.fromPem(key.toPem()).toPem(), key.toPem());
      same(SM2PrivateKey.fromHex(key.toHex()), 'hex');
      same(SM2PrivateKey.fromHex(key.toHex().toUpperCase()), 'HEX');
      same(SM2PrivateKey.fromBytes(key.toBytes()), 'bytes');
    }),
    { numRuns: 100 },
  );
});

test('public key encodings round trip: SPKI, PEM, hex, bytes (uncompressed and compressed)', () => {
  fc.assert(
    fc.property(keyArb, (key) => {
      const pub = key.publicKey;
      const spki = pub.toSpki();
      const fromSpki = SM2PublicKey.fromSpki(spki);
      assert.ok(fromSpki.equals(pub));
      assert.equal(toHex(fromSpki.toSpki()), toHex(spki));
      assert.ok(SM2PublicKey.fromPem(pub.toPem()).equals(pub));
      assert.equal(SM2PublicKey.fromPem(pub.toPem()).toPem(), pub.toPem());
      assert.ok(SM2PublicKey.fromHex(pub.toHex()).equals(pub));
      assert.ok(SM2PublicKey.fromHex(pub.toHex(true)).equals(pub));
      assert.ok(SM2PublicKey.fromBytes(pub.toBytes()).equals(pub));
      const compressed = pub.toBytes(true);
      assert.equal(compressed.length, 33);
      assert.equal(toHex(compressed.subarray(1)), toHex(pub.toBytes().subarray(1, 33)));
      assert.ok(SM2PublicKey.fromBytes(compressed).equals(pub));
    }),
    { numRuns: 100 },
  );
});

test('sm2SignatureFromDer ∘ sm2SignatureToDer = id on random 64-byte r‖s', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (raw) => {
      const der = sm2SignatureToDer(raw);
      assert.equal(der[0], 0x30);
      assert.ok(der.length >= 8 && der.length <= 72, `DER length ${der.length}`);
      assert.equal(toHex(sm2SignatureFromDer(der)), toHex(raw));
      assert.equal(toHex(sm2SignatureToRaw(der)), toHex(raw));
      assert.equal(toHex(sm2SignatureToRaw(raw)), toHex(raw));
    }),
    { numRuns: 500 },
  );
});

/** Ciphertext parts with arbitrary coordinates (parsing never checks C1 is on the curve). */
const partsArb = fc.record({
  c1: fc.uint8Array({ minLength: 64, maxLength: 64 }).map((xy) => Uint8Array.of(4, ...xy)),
  c3: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  c2: fc.uint8Array({ maxLength: 300 }),
});

test('convertSm2Ciphertext round trips between every pair of formats', () => {
  fc.assert(
    fc.property(partsArb, formatArb, formatArb, (parts, from, to) => {
      const ct = encodeSm2Ciphertext(parts, from);
      const converted = convertSm2Ciphertext(ct, from, to);
      assert.equal(toHex(converted), toHex(encodeSm2Ciphertext(parts, to)));
      assert.equal(toHex(convertSm2Ciphertext(converted, to, from)), toHex(ct));
      const back = parseSm2Ciphertext(converted, to);
      assert.equal(toHex(back.c1), toHex(parts.c1));
      assert.equal(toHex(back.c3), toHex(parts.c3));
      assert.equal(toHex(back.c2), toHex(parts.c2));
    }),
    { numRuns: 500 },
  );
});

test('raw layouts keep a compressed C1; DER refuses it', () => {
  const raw: Sm2CiphertextFormat[] = ['c1c3c2', 'c1c2c3'];
  fc.assert(
    fc.property(
      fc.constantFrom(2, 3),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ maxLength: 100 }),
      fc.constantFrom(...raw),
      fc.constantFrom(...raw),
      (prefix, x, c3, c2, from, to) => {
        const parts = { c1: Uint8Array.of(prefix, ...x), c3, c2 };
        const ct = encodeSm2Ciphertext(parts, from);
        assert.equal(ct.length, 65 + c2.length);
        assert.equal(toHex(convertSm2Ciphertext(convertSm2Ciphertext(ct, from, to), to, from)), toHex(ct));
        assert.throws(() => convertSm2Ciphertext(ct, from, 'der'), RangeError);
      },
    ),
    { numRuns: 200 },
  );
});

/** Things that are not a valid signature for the message: random bytes, and DER or raw r‖s with junk values. */
const scalarArb = fc.oneof(
  fc.constantFrom(0n, 1n, n - 1n, n, n + 1n, (1n << 256n) - 1n, 1n << 256n),
  fc.bigInt({ min: 0n, max: (1n << 264n) - 1n }),
);
const garbageSigArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 120 }),
  fc.uint8Array({ minLength: 64, maxLength: 64 }),
  fc
    .tuple(scalarArb, scalarArb)
    .map(([r, s]) => encodeSequence(encodeUnsignedInteger(r), encodeUnsignedInteger(s))),
  fc
    .tuple(fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }))
    .map(([r, s]) => Uint8Array.of(...bigIntToBytes(r, 32), ...bigIntToBytes(s, 32))),
);
const garbageIdArb: fc.Arbitrary<Uint8Array | string | undefined> = fc.oneof(
  idArb,
  fc.uint8Array({ maxLength: 200 }),
  fc.constant(new Uint8Array(8192)),
);

test('verify never throws and returns false for garbage signatures and arbitrary IDs', () => {
  const key = SM2PrivateKey.generate();
  const pub = key.publicKey;
  fc.assert(
    fc.property(messageArb, garbageSigArb, garbageIdArb, (msg, sig, id) => {
      let result: boolean | undefined;
      assert.doesNotThrow(() => {
        result = pub.verify(msg, sig, { id });
      });
      assert.equal(result, false);
      assert.equal(pub.verifyDigest(msg, sig), false);
    }),
    { numRuns: 1000 },
  );
});

test('an ID longer than 8191 bytes is refused by sign and makes verify return false', () => {
  const key = SM2PrivateKey.generate();
  const long = new Uint8Array(8192);
  assert.throws(() => key.sign('m', { id: long }), RangeError);
  assert.equal(key.publicKey.verify('m', key.sign('m'), { id: long }), false);
  const longest = new Uint8Array(8191).fill(0x41);
  assert.ok(key.publicKey.verify('m', key.sign('m', { id: longest }), { id: longest }));
});

test('decrypt of arbitrary bytes throws only DecodeError or DecryptError', () => {
  const key = SM2PrivateKey.generate();
  const bytesArb = fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc.uint8Array({ minLength: 64, maxLength: 200 }).map((b) => Uint8Array.of(4, ...b)),
    partsArb.chain((parts) => formatArb.map((format) => encodeSm2Ciphertext(parts, format))),
  );
  fc.assert(
    fc.property(bytesArb, formatArb, (ct, format) => {
      assert.throws(
        () => key.decrypt(ct, { format }),
        (e: unknown) => e instanceof Error && (e.name === 'DecodeError' || e.name === 'DecryptError'),
      );
    }),
    { numRuns: 500 },
  );
});
