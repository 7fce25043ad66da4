/**
 * SM2 key encodings (gm-standards §2.2): SPKI, raw points, scalars, SEC1, PKCS#8 and PEM, with the
 * malformed and out-of-range inputs each decoder must refuse, and key destruction.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { bigIntToBytes, bytesToBigInt, concatBytes } from '../src/bytes.js';
import {
  encodeBitString,
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeTlv,
  encodeUnsignedInteger,
} from '../src/der.js';
import {
  activeSm2Backend,
  DecodeError,
  decodePem,
  encodePem,
  SM2_CURVE,
  SM2PrivateKey,
  SM2PublicKey,
  useSm2Backend,
} from '../src/index.js';
import type { Sm2PrivateMaterial } from '../src/sm2/backend.js';
import { portableBackend } from '../src/sm2/portable.js';
import { h, toHex } from './helpers/vectors.js';

const { n, p, a, b, Gx, Gy } = SM2_CURVE;

const OIDS = {
  ecPublicKey: '1.2.840.10045.2.1',
  sm2p256v1: '1.2.156.10197.1.301',
  prime256v1: '1.2.840.10045.3.1.7',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ed25519: '1.3.101.112',
};

/** The §2.8 V1 key. */
const V1 = {
  d: '3945208f7b2144b13f36e38ac6d39f9588939369' + '2860b51a42fb81ef4df7c5b8',
  pub:
    '04' +
    '09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020' +
    'ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13',
};
const V1_SPKI = '3059301306072a8648ce3d020106082a811ccf5501822d034200' + V1.pub;

const mod = (x: bigint, m: bigint) => ((x % m) + m) % m;
function powMod(base: bigint, exp: bigint, m: bigint): bigint {
  let result = 1n;
  for (let x = mod(base, m), e = exp; e > 0n; e >>= 1n, x = (x * x) % m)
    if (e & 1n) result = (result * x) % m;
  return result;
}
const be32 = (v: bigint) => bigIntToBytes(v, 32);
const point = (x: bigint, y: bigint) => concatBytes(Uint8Array.of(4), be32(x), be32(y));
const algorithm = (...parts: Uint8Array[]) => encodeSequence(...parts);
const spki = (alg: Uint8Array, pt: Uint8Array) => encodeSequence(alg, encodeBitString(pt));
const sm2Alg = () => algorithm(encodeOid(OIDS.ecPublicKey), encodeOid(OIDS.sm2p256v1));

/** A curve point whose x is small, so that x + p still fits in 32 bytes (p ≡ 3 mod 4 gives the root). */
function smallXPoint(): { x: bigint; y: bigint } {
  for (let x = 0n; ; x++) {
    const rhs = mod(x * x * x + a * x + b, p);
    const y = powMod(rhs, (p + 1n) / 4n, p);
    if ((y * y) % p === rhs) return { x, y };
  }
}

function assertDecodeError(fn: () => unknown, what: string): void {
  assert.throws(fn, DecodeError, what);
}

describe('SM2PublicKey from SubjectPublicKeyInfo', () => {
  test('the gm-standards §2.2 SPKI decodes to the V1 point and re-encodes identically', () => {
    const pub = SM2PublicKey.fromSpki(h(V1_SPKI));
    assert.equal(pub.toHex(), V1.pub);
    assert.equal(toHex(pub.toSpki()), V1_SPKI);
    assert.equal(toHex(SM2PrivateKey.fromHex(V1.d).publicKey.toSpki()), V1_SPKI);
  });

  test('the bare sm2p256v1 algorithm OID (older encoders), with or without NULL, is accepted', () => {
    const pt = h(V1.pub);
    assert.equal(SM2PublicKey.fromSpki(spki(algorithm(encodeOid(OIDS.sm2p256v1)), pt)).toHex(), V1.pub);
    const withNull = spki(algorithm(encodeOid(OIDS.sm2p256v1), Uint8Array.of(5, 0)), pt);
    assert.equal(SM2PublicKey.fromSpki(withNull).toHex(), V1.pub);
  });

  test('trailing bytes, extra fields and broken structure are DecodeErrors', () => {
    const good = h(V1_SPKI);
    assertDecodeError(() => SM2PublicKey.fromSpki(concatBytes(good, Uint8Array.of(0))), 'trailing byte');
    assertDecodeError(() => SM2PublicKey.fromSpki(concatBytes(good, good)), 'two SPKIs');
    assertDecodeError(() => SM2PublicKey.fromSpki(good.subarray(0, good.length - 1)), 'truncated');
    assertDecodeError(
      () => SM2PublicKey.fromSpki(encodeSequence(sm2Alg(), encodeBitString(h(V1.pub)), Uint8Array.of(5, 0))),
      'extra field',
    );
    assertDecodeError(() => SM2PublicKey.fromSpki(encodeSequence(sm2Alg())), 'missing key');
    assertDecodeError(() => SM2PublicKey.fromSpki(new Uint8Array()), 'empty');
    assertDecodeError(
      () => SM2PublicKey.fromSpki(encodeSequence(sm2Alg(), encodeOctetString(h(V1.pub)))),
      'OCTET STRING instead of BIT STRING',
    );
    assertDecodeError(
      () =>
        SM2PublicKey.fromSpki(
          encodeSequence(sm2Alg(), encodeTlv(3, concatBytes(Uint8Array.of(1), h(V1.pub)))),
        ),
      'BIT STRING with unused bits',
    );
    assertDecodeError(() => SM2PublicKey.fromSpki(spki(sm2Alg(), h(V1.pub).subarray(0, 64))), 'short point');
  });

  test('another curve or algorithm is a DecodeError', () => {
    const pt = h(V1.pub);
    const cases: [string, Uint8Array][] = [
      ['P-256 curve', algorithm(encodeOid(OIDS.ecPublicKey), encodeOid(OIDS.prime256v1))],
      ['rsaEncryption', algorithm(encodeOid(OIDS.rsaEncryption), Uint8Array.of(5, 0))],
      ['Ed25519', algorithm(encodeOid(OIDS.ed25519))],
      ['ecPublicKey without curve', algorithm(encodeOid(OIDS.ecPublicKey))],
      ['ecPublicKey with NULL', algorithm(encodeOid(OIDS.ecPublicKey), Uint8Array.of(5, 0))],
      ['sm2 with a curve OID parameter', algorithm(encodeOid(OIDS.sm2p256v1), encodeOid(OIDS.sm2p256v1))],
      ['empty AlgorithmIdentifier', algorithm()],
    ];
    for (const [what, alg] of cases) assertDecodeError(() => SM2PublicKey.fromSpki(spki(alg, pt)), what);
  });

  test('a P-256 key from node:crypto is refused', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const der = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
    assertDecodeError(() => SM2PublicKey.fromSpki(der), 'P-256 SPKI');
    assertDecodeError(
      () => SM2PublicKey.fromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string),
      'P-256 PEM',
    );
  });

  test('an SPKI carrying an off-curve point is a DecodeError', () => {
    const bad = h(V1.pub);
    bad[64]! ^= 1;
    assertDecodeError(() => SM2PublicKey.fromSpki(spki(sm2Alg(), bad)), 'off-curve');
  });
});

describe('SM2PublicKey.fromBytes', () => {
  test('accepts the uncompressed V1 point', () => {
    assert.equal(SM2PublicKey.fromBytes(h(V1.pub)).toHex(), V1.pub);
    assert.equal(SM2PublicKey.fromHex(V1.pub.toUpperCase()).toHex(), V1.pub);
  });

  test('a compressed point (02/03‖X) is accepted and equals the uncompressed key, for both parities', () => {
    const G = point(Gx, Gy);
    const minusG = point(Gx, p - Gy);
    for (const full of [h(V1.pub), G, minusG]) {
      const y = bytesToBigInt(full.subarray(33));
      const compressed = concatBytes(Uint8Array.of(y & 1n ? 3 : 2), full.subarray(1, 33));
      const fromCompressed = SM2PublicKey.fromBytes(compressed);
      assert.equal(fromCompressed.toHex(), toHex(full));
      assert.ok(fromCompressed.equals(SM2PublicKey.fromBytes(full)));
      assert.equal(toHex(fromCompressed.toBytes(true)), toHex(compressed));
      assert.equal(fromCompressed.toHex(true), toHex(compressed));
      // The wrong parity byte names the other point (−P), not P.
      const flipped = compressed.slice();
      flipped[0] = flipped[0] === 2 ? 3 : 2;
      assert.ok(!SM2PublicKey.fromBytes(flipped).equals(fromCompressed));
    }
  });

  test('a point not on the curve is a DecodeError', () => {
    const bad = h(V1.pub);
    bad[64]! ^= 1;
    assertDecodeError(() => SM2PublicKey.fromBytes(bad), 'y + 1');
    assertDecodeError(() => SM2PublicKey.fromBytes(point(Gx, Gy + 1n)), 'G with y + 1');
    assertDecodeError(() => SM2PublicKey.fromBytes(point(0n, 0n)), '(0, 0)');
    assertDecodeError(() => SM2PublicKey.fromBytes(point(1n, 1n)), '(1, 1)');
  });

  test('the point at infinity is a DecodeError, in every spelling', () => {
    assertDecodeError(() => SM2PublicKey.fromBytes(Uint8Array.of(0)), 'single 00 byte');
    assertDecodeError(() => SM2PublicKey.fromBytes(new Uint8Array(65)), '65 zero bytes');
    assertDecodeError(
      () => SM2PublicKey.fromBytes(concatBytes(Uint8Array.of(4), new Uint8Array(64))),
      '04‖0‖0',
    );
    // (02‖0 is not infinity: x = 0 is on sm2p256v1, see the x ≥ p test.)
  });

  test('coordinates ≥ p are DecodeErrors, even when they are congruent to a valid point', () => {
    const { x, y } = smallXPoint();
    assert.equal(x, 0n, 'b is a square mod p, so (0, √b) is on the curve');
    // (x, y) itself is a valid key; x + p names the same point mod p and must be refused.
    assert.ok(SM2PublicKey.fromBytes(point(x, y)));
    assertDecodeError(() => SM2PublicKey.fromBytes(point(x + p, y)), 'x + p, uncompressed');
    const parity = y & 1n ? 3 : 2;
    assert.ok(SM2PublicKey.fromBytes(concatBytes(Uint8Array.of(parity), be32(x))));
    assertDecodeError(
      () => SM2PublicKey.fromBytes(concatBytes(Uint8Array.of(parity), be32(x + p))),
      'x + p, compressed',
    );
    assertDecodeError(() => SM2PublicKey.fromBytes(point(p, 0n)), 'x = p');
    assertDecodeError(() => SM2PublicKey.fromBytes(point((1n << 256n) - 1n, Gy)), 'x = 2^256 − 1');
    assertDecodeError(() => SM2PublicKey.fromBytes(point(Gx, p)), 'y = p');
  });

  test('wrong prefix bytes and lengths are DecodeErrors', () => {
    const full = h(V1.pub);
    const x = full.subarray(1, 33);
    const body = full.subarray(1);
    const cases: [string, Uint8Array][] = [
      ['prefix 05', concatBytes(Uint8Array.of(5), body)],
      ['prefix 00 (65 bytes)', concatBytes(Uint8Array.of(0), body)],
      ['hybrid 06', concatBytes(Uint8Array.of(6), body)],
      ['hybrid 07', concatBytes(Uint8Array.of(7), body)],
      ['64 bytes without prefix', body],
      ['04 with 32 bytes', concatBytes(Uint8Array.of(4), x)],
      ['02 with 64 bytes', concatBytes(Uint8Array.of(2), body)],
      ['05 with 32 bytes', concatBytes(Uint8Array.of(5), x)],
      ['66 bytes', concatBytes(full, Uint8Array.of(0))],
      ['empty', new Uint8Array()],
    ];
    for (const [what, bytes] of cases) assertDecodeError(() => SM2PublicKey.fromBytes(bytes), what);
    assertDecodeError(() => SM2PublicKey.fromHex('04zz'), 'bad hex');
    assertDecodeError(() => SM2PublicKey.fromHex(V1.pub.slice(1)), 'odd hex');
  });
});

describe('SM2PrivateKey scalar range [1, n−2]', () => {
  test('d = 0, n−1, n, n+1 and 2^256−1 are RangeErrors', () => {
    for (const d of [0n, n - 1n, n, n + 1n, (1n << 256n) - 1n]) {
      assert.throws(() => SM2PrivateKey.fromBytes(be32(d)), RangeError, `d = ${d.toString(16)}`);
      assert.throws(() => SM2PrivateKey.fromHex(toHex(be32(d))), RangeError, `hex d = ${d.toString(16)}`);
    }
  });

  test('d = 1 gives G, d = n−2 gives −2G; both sign and verify', () => {
    const one = SM2PrivateKey.fromBytes(be32(1n));
    assert.equal(one.publicKey.toHex(), toHex(point(Gx, Gy)));
    const last = SM2PrivateKey.fromBytes(be32(n - 2n));
    const two = SM2PrivateKey.fromBytes(be32(2n)).publicKey.toBytes();
    const twoY = bytesToBigInt(two.subarray(33));
    assert.equal(last.publicKey.toHex(), toHex(point(bytesToBigInt(two.subarray(1, 33)), p - twoY)));
    for (const key of [one, last]) assert.ok(key.publicKey.verify('edge', key.sign('edge')));
  });

  test('a scalar that is not 32 bytes is refused', () => {
    assert.throws(() => SM2PrivateKey.fromBytes(new Uint8Array(31).fill(1)), RangeError);
    assert.throws(() => SM2PrivateKey.fromBytes(new Uint8Array(33).fill(1)), RangeError);
    assert.throws(() => SM2PrivateKey.fromHex('01'), RangeError);
    assert.throws(() => SM2PrivateKey.fromHex('zz'.repeat(32)), DecodeError);
  });

  test('fromBytes copies its input', () => {
    const d = h(V1.d);
    const key = SM2PrivateKey.fromBytes(d);
    d.fill(0);
    assert.equal(key.toHex(), V1.d);
  });

  test('an out-of-range scalar inside SEC1 is refused too', () => {
    const sec1 = encodeSequence(
      encodeUnsignedInteger(1n),
      encodeOctetString(be32(n - 1n)),
      encodeTlv(0xa0, encodeOid(OIDS.sm2p256v1)),
    );
    assert.throws(() => SM2PrivateKey.fromSec1(sec1), RangeError);
  });
});

describe('SEC1 and PKCS#8 private keys', () => {
  const key = SM2PrivateKey.fromHex(V1.d);
  const other = SM2PrivateKey.fromBytes(be32(12345n));
  const ecPrivateKey = (
    d: Uint8Array,
    opts: { version?: bigint; curve?: string | null; pub?: Uint8Array | null } = {},
  ) => {
    const fields = [encodeUnsignedInteger(opts.version ?? 1n), encodeOctetString(d)];
    if (opts.curve !== null) fields.push(encodeTlv(0xa0, encodeOid(opts.curve ?? OIDS.sm2p256v1)));
    if (opts.pub !== null) fields.push(encodeTlv(0xa1, encodeBitString(opts.pub ?? h(V1.pub))));
    return encodeSequence(...fields);
  };
  const pkcs8 = (inner: Uint8Array, alg = sm2Alg(), version = 0n, ...extra: Uint8Array[]) =>
    encodeSequence(encodeUnsignedInteger(version), alg, encodeOctetString(inner), ...extra);

  test('SEC1 is exactly the layout of gm-standards §2.2 (as `openssl ec` writes it)', () => {
    const expected = '30770201010420' + V1.d + 'a00a06082a811ccf5501822d' + 'a144034200' + V1.pub;
    assert.equal(toHex(key.toSec1()), expected);
    assert.equal(SM2PrivateKey.fromSec1(h(expected)).toHex(), V1.d);
  });

  test('PKCS#8 wraps SEC1 without the curve (as `openssl genpkey` writes it)', () => {
    const inner = ecPrivateKey(h(V1.d), { curve: null });
    assert.equal(toHex(key.toPkcs8()), toHex(pkcs8(inner)));
    assert.equal(SM2PrivateKey.fromPkcs8(pkcs8(inner)).toHex(), V1.d);
    // A curve inside the PKCS#8 payload is fine as well, and so is a missing public key.
    assert.equal(SM2PrivateKey.fromPkcs8(pkcs8(ecPrivateKey(h(V1.d)))).toHex(), V1.d);
    const noPub = SM2PrivateKey.fromPkcs8(pkcs8(ecPrivateKey(h(V1.d), { curve: null, pub: null })));
    assert.equal(noPub.publicKey.toHex(), V1.pub);
  });

  test('SEC1 without a public key derives it', () => {
    const k = SM2PrivateKey.fromSec1(ecPrivateKey(h(V1.d), { pub: null }));
    assert.equal(k.publicKey.toHex(), V1.pub);
  });

  test('PKCS#8 or SEC1 whose embedded public key does not match d is a DecodeError', () => {
    const wrong = other.publicKey.toBytes();
    assertDecodeError(
      () => SM2PrivateKey.fromPkcs8(pkcs8(ecPrivateKey(h(V1.d), { curve: null, pub: wrong }))),
      'pkcs8',
    );
    assertDecodeError(() => SM2PrivateKey.fromSec1(ecPrivateKey(h(V1.d), { pub: wrong })), 'sec1');
    // The compressed form of the right key is the same key.
    const compressed = key.publicKey.toBytes(true);
    assert.equal(SM2PrivateKey.fromSec1(ecPrivateKey(h(V1.d), { pub: compressed })).toHex(), V1.d);
    // An off-curve embedded point is refused as well.
    const offCurve = h(V1.pub);
    offCurve[64]! ^= 1;
    assertDecodeError(
      () => SM2PrivateKey.fromSec1(ecPrivateKey(h(V1.d), { pub: offCurve })),
      'off-curve pub',
    );
  });

  test('SEC1 structure errors are DecodeErrors', () => {
    const d = h(V1.d);
    const cases: [string, Uint8Array][] = [
      ['missing curve', ecPrivateKey(d, { curve: null })],
      ['P-256 curve', ecPrivateKey(d, { curve: OIDS.prime256v1 })],
      ['version 0', ecPrivateKey(d, { version: 0n })],
      ['version 2', ecPrivateKey(d, { version: 2n })],
      ['31-byte key', ecPrivateKey(d.subarray(1))],
      ['33-byte key', ecPrivateKey(concatBytes(Uint8Array.of(0), d))],
      [
        'fields out of order',
        encodeSequence(
          encodeUnsignedInteger(1n),
          encodeOctetString(d),
          encodeTlv(0xa1, encodeBitString(h(V1.pub))),
          encodeTlv(0xa0, encodeOid(OIDS.sm2p256v1)),
        ),
      ],
      [
        'unknown tagged field',
        encodeSequence(
          encodeUnsignedInteger(1n),
          encodeOctetString(d),
          encodeTlv(0xa2, encodeOid(OIDS.sm2p256v1)),
        ),
      ],
      ['INTEGER scalar', encodeSequence(encodeUnsignedInteger(1n), encodeUnsignedInteger(bytesToBigInt(d)))],
      ['trailing bytes', concatBytes(ecPrivateKey(d), Uint8Array.of(0))],
      ['PKCS#8 given to fromSec1', key.toPkcs8()],
      ['empty', new Uint8Array()],
    ];
    for (const [what, der] of cases) assertDecodeError(() => SM2PrivateKey.fromSec1(der), what);
  });

  test('PKCS#8 structure errors are DecodeErrors', () => {
    const inner = ecPrivateKey(h(V1.d), { curve: null });
    const cases: [string, Uint8Array][] = [
      ['P-256 algorithm', pkcs8(inner, algorithm(encodeOid(OIDS.ecPublicKey), encodeOid(OIDS.prime256v1)))],
      ['RSA algorithm', pkcs8(inner, algorithm(encodeOid(OIDS.rsaEncryption), Uint8Array.of(5, 0)))],
      ['version 2', pkcs8(inner, sm2Alg(), 2n)],
      ['P-256 curve inside', pkcs8(ecPrivateKey(h(V1.d), { curve: OIDS.prime256v1 }))],
      ['trailing bytes', concatBytes(pkcs8(inner), Uint8Array.of(0))],
      ['unexpected trailing field', pkcs8(inner, sm2Alg(), 0n, encodeUnsignedInteger(5n))],
      ['BIT STRING payload', encodeSequence(encodeUnsignedInteger(0n), sm2Alg(), encodeBitString(inner))],
      ['SEC1 given to fromPkcs8', key.toSec1()],
      ['two fields', encodeSequence(encodeUnsignedInteger(0n), sm2Alg())],
    ];
    for (const [what, der] of cases) assertDecodeError(() => SM2PrivateKey.fromPkcs8(der), what);
  });

  test('PKCS#8 v2 (OneAsymmetricKey) with attributes is accepted', () => {
    const attrs = encodeTlv(0xa0, new Uint8Array());
    assert.equal(
      SM2PrivateKey.fromPkcs8(pkcs8(ecPrivateKey(h(V1.d), { curve: null }), sm2Alg(), 1n, attrs)).toHex(),
      V1.d,
    );
  });
});

describe('PEM labels', () => {
  const key = SM2PrivateKey.fromHex(V1.d);

  test('each decoder accepts only its own labels', () => {
    assertDecodeError(() => SM2PublicKey.fromPem(key.toPem()), 'private PEM as public');
    assertDecodeError(() => SM2PublicKey.fromPem(key.toPem('sec1')), 'SEC1 PEM as public');
    assertDecodeError(() => SM2PrivateKey.fromPem(key.publicKey.toPem()), 'public PEM as private');
    assertDecodeError(
      () => SM2PublicKey.fromPem(encodePem('CERTIFICATE', key.publicKey.toSpki())),
      'CERTIFICATE',
    );
    assertDecodeError(
      () => SM2PublicKey.fromPem(encodePem('EC PUBLIC KEY', key.publicKey.toSpki())),
      'EC PUBLIC KEY',
    );
    assertDecodeError(
      () => SM2PrivateKey.fromPem(encodePem('RSA PRIVATE KEY', key.toSec1())),
      'RSA PRIVATE KEY',
    );
    assertDecodeError(
      () => SM2PrivateKey.fromPem(encodePem('ENCRYPTED PRIVATE KEY', key.toPkcs8())),
      'encrypted',
    );
    // The label must match the payload.
    assertDecodeError(
      () => SM2PrivateKey.fromPem(encodePem('EC PRIVATE KEY', key.toPkcs8())),
      'PKCS#8 as SEC1',
    );
    assertDecodeError(() => SM2PrivateKey.fromPem(encodePem('PRIVATE KEY', key.toSec1())), 'SEC1 as PKCS#8');
  });

  test('no PEM block, bad base64 or mismatched END line are DecodeErrors', () => {
    assertDecodeError(() => SM2PublicKey.fromPem(''), 'empty');
    assertDecodeError(() => SM2PublicKey.fromPem(toHex(key.publicKey.toSpki())), 'hex instead of PEM');
    assertDecodeError(
      () => SM2PublicKey.fromPem('-----BEGIN PUBLIC KEY-----\n@@@@\n-----END PUBLIC KEY-----\n'),
      'bad base64',
    );
    assertDecodeError(
      () => SM2PublicKey.fromPem(key.publicKey.toPem().replace('END PUBLIC KEY', 'END PRIVATE KEY')),
      'mismatched END',
    );
  });

  test('OpenSSL-style extras are fine: surrounding text and the "SM2 PRIVATE KEY" label of `openssl ec`', () => {
    const bag = `Bag Attributes\n    localKeyID: 01\nKey Attributes: <No Attributes>\n${key.toPem()}`;
    assert.equal(SM2PrivateKey.fromPem(bag).toHex(), V1.d);
    const sm2Label = encodePem('SM2 PRIVATE KEY', key.toSec1());
    assert.equal(SM2PrivateKey.fromPem(sm2Label).toHex(), V1.d);
    assert.equal(decodePem(key.toPem('sec1')).label, 'EC PRIVATE KEY');
    assert.equal(decodePem(key.toPem()).label, 'PRIVATE KEY');
    assert.equal(decodePem(key.publicKey.toPem()).label, 'PUBLIC KEY');
  });
});

describe('SM2PrivateKey.destroy', () => {
  const initial = activeSm2Backend().name;
  after(() => useSm2Backend(initial));

  for (const backend of new Set(['portable', initial] as const)) {
    test(`makes the key unusable (${backend} backend)`, () => {
      useSm2Backend(backend);
      const key = SM2PrivateKey.generate();
      const copy = key.toBytes();
      const pub = key.publicKey;
      const sig = key.sign('before');
      const ct = pub.encrypt('secret');
      key.destroy();
      key.destroy(); // idempotent
      const dead = /destroyed/;
      assert.throws(() => key.sign('after'), dead);
      assert.throws(() => key.signDigest(new Uint8Array(32)), dead);
      assert.throws(() => key.decrypt(ct), dead);
      assert.throws(() => key.toBytes(), dead);
      assert.throws(() => key.toHex(), dead);
      assert.throws(() => key.toPem(), dead);
      assert.throws(() => key.toPkcs8(), dead);
      assert.throws(() => key.toSec1(), dead);
      // The public half stays usable, and the copy taken before is the caller's and untouched.
      assert.ok(pub.verify('before', sig));
      assert.ok(copy.some((x) => x !== 0));
      assert.equal(SM2PrivateKey.fromBytes(copy).publicKey.toHex(), pub.toHex());
    });
  }

  test('zeroes the scalar it held and releases backend handles', () => {
    useSm2Backend('portable');
    const original = portableBackend.signDigest;
    let seen: Sm2PrivateMaterial | undefined;
    portableBackend.signDigest = (material, e) => {
      seen = material;
      return original.call(portableBackend, material, e);
    };
    try {
      const key = SM2PrivateKey.generate();
      key.sign('capture');
      assert.ok(seen);
      const held = seen.d;
      assert.equal(toHex(held), key.toHex());
      assert.ok(seen.handle !== undefined, 'the portable backend caches a handle');
      key.destroy();
      assert.ok(
        held.every((x) => x === 0),
        'scalar wiped',
      );
      assert.equal(seen.handle, undefined, 'handle released');
    } finally {
      portableBackend.signDigest = original;
    }
  });
});

test('PKCS#8 v2 (OneAsymmetricKey) publicKey field must match d and needs version 1', async () => {
  const {
    encodeSequence,
    encodeUnsignedInteger,
    encodeTlv,
    encodeOctetString,
    readChildren,
    readWhole,
    TAG,
  } = await import('../src/der.js');
  const key = SM2PrivateKey.generate();
  const other = SM2PrivateKey.generate();
  const [, alg, inner] = readChildren(readWhole(key.toPkcs8(), TAG.SEQUENCE, 'p8').value);
  const build = (version: bigint, pub: Uint8Array) =>
    encodeSequence(
      encodeUnsignedInteger(version),
      encodeTlv(alg!.tag, alg!.value),
      encodeOctetString(inner!.value),
      encodeTlv(0x81, Uint8Array.of(0, ...pub)),
    );
  assert.ok(SM2PrivateKey.fromPkcs8(build(1n, key.publicKey.toBytes())).publicKey.equals(key.publicKey));
  assert.throws(() => SM2PrivateKey.fromPkcs8(build(1n, other.publicKey.toBytes())), DecodeError);
  assert.throws(() => SM2PrivateKey.fromPkcs8(build(0n, key.publicKey.toBytes())), DecodeError);
});

test("keys copy Buffer inputs: wiping the caller's Buffer leaves the key intact (Buffer#slice shares memory)", () => {
  const key = SM2PrivateKey.generate();
  const pkcs8 = Buffer.from(key.toPkcs8());
  const raw = Buffer.from(key.toBytes());
  const fromP8 = SM2PrivateKey.fromPkcs8(pkcs8);
  const fromRaw = SM2PrivateKey.fromBytes(raw);
  pkcs8.fill(0);
  raw.fill(0);
  for (const k of [fromP8, fromRaw]) {
    assert.ok(k.publicKey.equals(key.publicKey));
    assert.ok(key.publicKey.verify('m', k.sign('m')));
  }
});

test("the signer pool never detaches a caller's pooled Buffer", async () => {
  const { Sm2SignerPool } = await import('../src/index.js');
  const pool = new Sm2SignerPool({ size: 1 });
  try {
    const key = SM2PrivateKey.generate();
    const neighbour = Buffer.from('pooled neighbour'); // small Buffers share Node's pool
    const message = Buffer.from('pooled message');
    const sig = await pool.sign(key, message);
    assert.equal(message.toString(), 'pooled message');
    assert.equal(neighbour.toString(), 'pooled neighbour');
    assert.ok(key.publicKey.verify(message, sig));
    assert.equal(await pool.verify(key.publicKey, message, Buffer.from(sig)), true);
  } finally {
    await pool.close();
  }
});
