/**
 * Differential tests: the native (OpenSSL) and portable (TypeScript) SM2 backends must be
 * interchangeable — what one signs or encrypts the other verifies or decrypts, and both derive the
 * same public key from the same scalar. Skipped when the native addon is missing, unless
 * MEDSIGN_REQUIRE_NATIVE=1 (CI), which makes a missing addon a failure.
 */

import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { describe, test } from 'node:test';
import { bigIntToBytes, bytesToBigInt } from '../src/bytes.js';
import {
  SM2_CIPHERTEXT_FORMATS,
  SM2_CURVE,
  SM2_DEFAULT_ID,
  SM2PrivateKey,
  SM2PublicKey,
  useSm2Backend,
  type Sm2BackendName,
} from '../src/index.js';
import type { Sm2Backend } from '../src/sm2/backend.js';
import { getSm2Backend } from '../src/sm2/select.js';
import { toHex } from './helpers/vectors.js';

const SIGN_PAIRS_PER_DIRECTION = 600;
const KEY_CHECKS = 1000;
const CIPHER_PAIRS_PER_DIRECTION = 200;

function nativeProblem(): string | undefined {
  try {
    getSm2Backend('native');
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

const problem = nativeProblem();
if (problem && process.env.MEDSIGN_REQUIRE_NATIVE === '1') {
  throw new Error(`MEDSIGN_REQUIRE_NATIVE=1 but the native SM2 backend is unavailable: ${problem}`);
}

const { n, p } = SM2_CURVE;
const other = (b: Sm2BackendName): Sm2BackendName => (b === 'native' ? 'portable' : 'native');
const randomMessage = (min = 0) => new Uint8Array(randomBytes(randomInt(min, 301)));

/** Default ID (omitted), the default spelled out, empty, or 0–40 random bytes. */
function randomId(i: number): Uint8Array | string | undefined {
  switch (i % 4) {
    case 0:
      return undefined;
    case 1:
      return i % 8 === 1 ? SM2_DEFAULT_ID : '';
    default:
      return new Uint8Array(randomBytes(randomInt(0, 41)));
  }
}

const describeId = (id: Uint8Array | string | undefined) =>
  id === undefined ? 'default' : typeof id === 'string' ? JSON.stringify(id) : toHex(id);

/** A random scalar in [1, n−2]. */
function randomScalar(): Uint8Array {
  for (;;) {
    const d = new Uint8Array(randomBytes(32));
    const v = bytesToBigInt(d);
    if (v >= 1n && v <= n - 2n) return d;
  }
}

describe(
  'SM2 native vs portable (differential)',
  { skip: problem && `native SM2 backend unavailable: ${problem}` },
  () => {
    test('both derive the same public key and agree on which points are valid', () => {
      const native = getSm2Backend('native');
      const portable = getSm2Backend('portable');
      const edges = [1n, 2n, 3n, n - 2n, n - 3n, (n - 1n) / 2n, 1n << 128n, (1n << 255n) - 1n, 0xffn << 200n];
      const scalars = [
        ...edges.map((v) => bigIntToBytes(v, 32)),
        ...Array.from({ length: KEY_CHECKS }, randomScalar),
      ];
      const check = (b: Sm2Backend, pt: Uint8Array) => b.isValidPublicKey(pt);
      for (const d of scalars) {
        const a = native.publicKey(d);
        const b = portable.publicKey(d);
        assert.equal(toHex(a), toHex(b), `d = ${toHex(d)}`);
        assert.equal(a.length, 65);
        assert.ok(check(native, a) && check(portable, a), `valid point for d = ${toHex(d)}`);
        // Off-curve: y + 1 (mod p), and x replaced.
        const y = bytesToBigInt(a.subarray(33));
        const offY = Uint8Array.from(a);
        offY.set(bigIntToBytes((y + 1n) % p, 32), 33);
        assert.equal(check(native, offY), false, `off-curve ${toHex(offY)}`);
        assert.equal(check(portable, offY), false, `off-curve ${toHex(offY)}`);
      }
      // The same key built through the public API under each backend.
      for (const d of scalars.slice(0, 50)) {
        useSm2Backend('native');
        const viaNative = SM2PrivateKey.fromBytes(d);
        useSm2Backend('portable');
        const viaPortable = SM2PrivateKey.fromBytes(d);
        assert.ok(viaNative.publicKey.equals(viaPortable.publicKey));
      }
      // Garbage points: both reject.
      const junk = [
        new Uint8Array(65),
        Uint8Array.of(4, ...new Uint8Array(64)),
        Uint8Array.of(4, ...bigIntToBytes(p, 32), ...new Uint8Array(32)),
        Uint8Array.of(4, ...new Uint8Array(randomBytes(64))),
        Uint8Array.of(5, ...new Uint8Array(randomBytes(64))),
      ];
      for (const pt of junk) {
        assert.equal(check(native, pt), false, `native accepts ${toHex(pt)}`);
        assert.equal(check(portable, pt), false, `portable accepts ${toHex(pt)}`);
      }
    });

    for (const signer of ['native', 'portable'] as const) {
      const verifier = other(signer);
      test(`signed by ${signer}, verified by ${verifier} (${SIGN_PAIRS_PER_DIRECTION} random keys, messages, IDs)`, () => {
        useSm2Backend(signer);
        const cases = Array.from({ length: SIGN_PAIRS_PER_DIRECTION }, (_, i) => {
          const key = SM2PrivateKey.generate();
          const msg = randomMessage();
          const id = randomId(i);
          return { key, msg, id, sig: key.sign(msg, { id }) };
        });
        useSm2Backend(verifier);
        for (const [i, c] of cases.entries()) {
          const pub = SM2PublicKey.fromBytes(c.key.publicKey.toBytes());
          const what = `d=${c.key.toHex()} msg=${toHex(c.msg)} id=${describeId(c.id)} sig=${toHex(c.sig)}`;
          assert.ok(pub.verify(c.msg, c.sig, { id: c.id }), what);
          if (i % 10 === 0) {
            const tampered = c.sig.slice();
            tampered[tampered.length - 1 - (i % 30)]! ^= 1 << (i % 8);
            assert.equal(pub.verify(c.msg, tampered, { id: c.id }), false, `tampered: ${what}`);
            const msg2 = Uint8Array.of(...c.msg, 0);
            assert.equal(pub.verify(msg2, c.sig, { id: c.id }), false, `other message: ${what}`);
            assert.equal(pub.verify(c.msg, c.sig, { id: 'x' }), false, `other id: ${what}`);
          }
        }
      });
    }

    for (const encryptor of ['native', 'portable'] as const) {
      const decryptor = other(encryptor);
      test(`encrypted by ${encryptor}, decrypted by ${decryptor} (every format)`, () => {
        useSm2Backend(encryptor);
        const cases = Array.from({ length: CIPHER_PAIRS_PER_DIRECTION }, (_, i) => {
          const key = SM2PrivateKey.generate();
          const msg = randomMessage(1);
          const format = SM2_CIPHERTEXT_FORMATS[i % SM2_CIPHERTEXT_FORMATS.length]!;
          return { key, msg, format, ct: key.publicKey.encrypt(msg, { format }) };
        });
        useSm2Backend(decryptor);
        for (const [i, c] of cases.entries()) {
          const key = SM2PrivateKey.fromBytes(c.key.toBytes());
          const what = `${c.format} d=${key.toHex()} msg=${toHex(c.msg)} ct=${toHex(c.ct)}`;
          assert.equal(toHex(key.decrypt(c.ct, { format: c.format })), toHex(c.msg), what);
          if (i % 10 === 0) {
            const tampered = c.ct.slice();
            tampered[tampered.length - 1]! ^= 1;
            assert.throws(() => key.decrypt(tampered, { format: c.format }), { name: 'DecryptError' }, what);
          }
        }
      });
    }

    test('a ciphertext for one key fails to decrypt with another in both backends', () => {
      useSm2Backend('native');
      const a = SM2PrivateKey.generate();
      const b = SM2PrivateKey.generate();
      const ct = a.publicKey.encrypt('for a only');
      for (const name of ['native', 'portable'] as const) {
        useSm2Backend(name);
        const ka = SM2PrivateKey.fromBytes(a.toBytes());
        const kb = SM2PrivateKey.fromBytes(b.toBytes());
        assert.equal(Buffer.from(ka.decrypt(ct)).toString(), 'for a only');
        assert.throws(() => kb.decrypt(ct), { name: 'DecryptError' }, name);
      }
    });
  },
);
