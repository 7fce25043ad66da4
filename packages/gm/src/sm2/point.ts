/**
 * SM2 curve arithmetic in TypeScript on @noble/curves' short-Weierstrass points. It backs the portable
 * backend and decodes/validates every point that enters gm (public keys, C1), for both backends.
 */

import {
  weierstrass,
  type WeierstrassPoint,
  type WeierstrassPointCons,
} from '@noble/curves/abstract/weierstrass.js';
import { checkBytes } from '../bytes.js';
import { DecodeError } from '../errors.js';
import { SM2_CURVE, type CurveParams } from './curve.js';

const pointClasses = new WeakMap<CurveParams, WeierstrassPointCons<bigint>>();

/** The point class of a curve (sm2p256v1 unless a test asks for the Annex A curve). */
export function curvePoint(curve: CurveParams = SM2_CURVE): WeierstrassPointCons<bigint> {
  let cls = pointClasses.get(curve);
  if (!cls) {
    const { p, n, a, b, Gx, Gy } = curve;
    cls = weierstrass({ p, n, h: 1n, a, b, Gx, Gy });
    pointClasses.set(curve, cls);
  }
  return cls;
}

export type Sm2Point = WeierstrassPoint<bigint>;

/**
 * Decodes an uncompressed (04‖X‖Y, 65 bytes) or compressed (02/03‖X, 33 bytes) point and checks it lies
 * on the curve and is not the point at infinity. Throws DecodeError otherwise.
 */
export function decodePoint(bytes: Uint8Array, what = 'SM2 point', curve: CurveParams = SM2_CURVE): Sm2Point {
  checkBytes(bytes, what);
  if (
    !(bytes.length === 65 && bytes[0] === 4) &&
    !(bytes.length === 33 && (bytes[0] === 2 || bytes[0] === 3))
  ) {
    throw new DecodeError(
      `${what}: expected 65 bytes (04‖X‖Y) or 33 bytes (02/03‖X), got ${bytes.length}`,
      0,
    );
  }
  try {
    const point = curvePoint(curve).fromBytes(bytes);
    point.assertValidity();
    return point;
  } catch {
    throw new DecodeError(`${what}: not a point on the curve`, 0);
  }
}

/** A point as 65 bytes 04‖X‖Y. */
export function encodePoint(point: Sm2Point): Uint8Array {
  return point.toBytes(false);
}
