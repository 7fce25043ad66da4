/**
 * Fixed-k SM2 signing and encryption over any curve, written straight from GB/T 32918.2/.4 for the
 * known-answer tests. Test-only: the product never takes k from outside.
 */

import { bigIntToBytes, bytesToBigInt, concatBytes } from '../../src/bytes.js';
import { sm2Kdf, sm3 } from '../../src/sm3.js';
import type { CurveParams } from '../../src/sm2/curve.js';
import { curvePoint } from '../../src/sm2/point.js';

const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;
function inv(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [mod(a, m), m, 1n, 0n];
  while (r1) {
    const q = r0 / r1;
    [r0, r1, s0, s1] = [r1, r0 - q * r1, s1, s0 - q * s1];
  }
  return mod(s0, m);
}

export function publicPoint(curve: CurveParams, d: bigint): Uint8Array {
  return curvePoint(curve).BASE.multiply(d).toBytes(false);
}

export function signWithK(curve: CurveParams, d: bigint, e: Uint8Array, k: bigint): { r: bigint; s: bigint } {
  const x1 = curvePoint(curve).BASE.multiply(k).x;
  const r = mod(bytesToBigInt(e) + x1, curve.n);
  const s = mod(inv(1n + d, curve.n) * (k - r * d), curve.n);
  return { r, s };
}

export function verifyOnCurve(
  curve: CurveParams,
  pub: Uint8Array,
  e: Uint8Array,
  r: bigint,
  s: bigint,
): boolean {
  const P = curvePoint(curve);
  const t = mod(r + s, curve.n);
  if (t === 0n) return false;
  const sum = P.BASE.multiply(s).add(P.fromBytes(pub).multiply(t));
  return mod(bytesToBigInt(e) + sum.x, curve.n) === r;
}

/** C1 ‖ C3 ‖ C2 with a given k. */
export function encryptWithK(curve: CurveParams, pub: Uint8Array, m: Uint8Array, k: bigint): Uint8Array {
  const P = curvePoint(curve);
  const c1 = P.BASE.multiply(k).toBytes(false);
  const shared = P.fromBytes(pub).multiply(k).toBytes(false).subarray(1);
  const t = sm2Kdf(shared, m.length);
  const c2 = m.map((b, i) => b ^ t[i]!);
  const c3 = sm3(concatBytes(shared.subarray(0, 32), m, shared.subarray(32)));
  return concatBytes(c1, c3, c2);
}

export const hex = (v: bigint) => Buffer.from(bigIntToBytes(v, 32)).toString('hex');
