/**
 * The portable SM2 backend: pure TypeScript over @noble/curves, for machines where the native addon
 * cannot be built (and for browsers). BigInt arithmetic is not constant-time; long-lived server keys
 * should use the native backend.
 */

import { bigIntToBytes, bytesToBigInt, concatBytes, constantTimeEqual, wipe } from '../bytes.js';
import { sm2Kdf, sm3 } from '../sm3.js';
import type { Sm2Backend, Sm2PrivateMaterial, Sm2PublicMaterial } from './backend.js';
import { SM2_CURVE, SM2_SIZE } from './curve.js';
import { curvePoint, type Sm2Point } from './point.js';

const { n } = SM2_CURVE;
const Point = curvePoint(SM2_CURVE);
const G = Point.BASE;

const mod = (a: bigint, m: bigint) => {
  const r = a % m;
  return r < 0n ? r + m : r;
};

function invert(a: bigint, m: bigint): bigint {
  // Extended Euclid; m is prime and 0 < a < m for every caller here.
  let [oldR, r] = [mod(a, m), m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return mod(oldS, m);
}

/** Uniform scalar in [1, limit] from the platform CSPRNG, by rejection sampling. */
function randomScalar(limit: bigint): bigint {
  const buf = new Uint8Array(SM2_SIZE);
  for (;;) {
    globalThis.crypto.getRandomValues(buf);
    const k = bytesToBigInt(buf);
    if (k >= 1n && k <= limit) {
      wipe(buf);
      return k;
    }
  }
}

type PrivCache = { d: bigint; dInv: bigint };
type PubCache = { point: Sm2Point; uses: number };

/** Verifications after which a public key gets a precomputed window table (a CA or TSA key, say). */
const PRECOMPUTE_AFTER = 4;

function privCache(key: Sm2PrivateMaterial): PrivCache {
  let c = key.handle as PrivCache | undefined;
  if (!c) {
    const d = bytesToBigInt(key.d);
    c = { d, dInv: invert(1n + d, n) };
    key.handle = c;
  }
  return c;
}

function pubCache(key: Sm2PublicMaterial): PubCache {
  let c = key.handle as PubCache | undefined;
  if (!c) {
    c = { point: Point.fromBytes(key.pub), uses: 0 };
    key.handle = c;
  }
  // A key verified again and again (a CA, a TSA, a doctor's certificate) earns a window table, which
  // turns the t·P half of verification into the same table walk as s·G.
  if (++c.uses === PRECOMPUTE_AFTER) c.point.precompute(6, false);
  return c;
}

function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (const b of bytes) acc |= b;
  return acc === 0;
}

export const portableBackend: Sm2Backend = {
  name: 'portable',

  randomPrivateKey() {
    return bigIntToBytes(randomScalar(n - 2n), SM2_SIZE);
  },

  publicKey(d) {
    return G.multiply(bytesToBigInt(d)).toBytes(false);
  },

  isValidPublicKey(pub) {
    try {
      Point.fromBytes(pub).assertValidity();
      return pub.length === 65;
    } catch {
      return false;
    }
  },

  signDigest(key, e) {
    const { d, dInv } = privCache(key);
    const ei = bytesToBigInt(e);
    for (;;) {
      const k = randomScalar(n - 1n);
      const x1 = G.multiply(k).x;
      const r = mod(ei + x1, n);
      if (r === 0n || r + k === n) continue;
      const s = mod(dInv * (k - r * d), n);
      if (s === 0n) continue;
      return concatBytes(bigIntToBytes(r, SM2_SIZE), bigIntToBytes(s, SM2_SIZE));
    }
  },

  verifyDigest(key, e, rs) {
    try {
      const r = bytesToBigInt(rs.subarray(0, SM2_SIZE));
      const s = bytesToBigInt(rs.subarray(SM2_SIZE));
      if (r < 1n || r >= n || s < 1n || s >= n) return false;
      const t = mod(r + s, n);
      if (t === 0n) return false;
      const { point, uses } = pubCache(key);
      const sum =
        uses >= PRECOMPUTE_AFTER
          ? G.multiplyUnsafe(s).add(point.multiplyUnsafe(t))
          : G.mulAddUnsafe(s, point, t);
      if (sum.is0()) return false;
      return mod(bytesToBigInt(e) + sum.x, n) === r;
    } catch {
      return false;
    }
  },

  encrypt(key, message) {
    const P = pubCache(key).point;
    for (;;) {
      const k = randomScalar(n - 1n);
      const c1 = G.multiply(k).toBytes(false);
      const shared = P.multiply(k).toBytes(false).subarray(1);
      const x2 = shared.subarray(0, SM2_SIZE);
      const y2 = shared.subarray(SM2_SIZE);
      const t = sm2Kdf(shared, message.length);
      if (isAllZero(t)) continue;
      const c2 = message.map((b, i) => b ^ t[i]!);
      const c3 = sm3(concatBytes(x2, message, y2));
      wipe(shared, t);
      return concatBytes(c1, c3, c2);
    }
  },

  decrypt(key, ciphertext) {
    try {
      const c1 = Point.fromBytes(ciphertext.subarray(0, 65));
      c1.assertValidity();
      const c3 = ciphertext.subarray(65, 97);
      const c2 = ciphertext.subarray(97);
      const shared = c1.multiply(privCache(key).d).toBytes(false).subarray(1);
      const t = sm2Kdf(shared, c2.length);
      if (isAllZero(t)) return undefined;
      const m = c2.map((b, i) => b ^ t[i]!);
      const ok = constantTimeEqual(
        sm3(concatBytes(shared.subarray(0, SM2_SIZE), m, shared.subarray(SM2_SIZE))),
        c3,
      );
      wipe(shared, t);
      if (!ok) {
        wipe(m);
        return undefined;
      }
      return m;
    } catch {
      return undefined;
    }
  },

  release(key) {
    key.handle = undefined;
  },
};
