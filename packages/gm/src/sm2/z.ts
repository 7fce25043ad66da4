/** The user-ID binding Z (GB/T 32918.2 §5.5) and the digest e = SM3(Z ‖ M) that SM2 signs. */

import { bigIntToBytes, concatBytes, toBytes, type BytesLike } from '../bytes.js';
import { SM3, sm3 } from '../sm3.js';
import { SM2_CURVE, SM2_SIZE, type CurveParams } from './curve.js';

/** Longest ID whose bit length fits ENTL's 16 bits. */
export const SM2_MAX_ID_LENGTH = 8191;

const curvePrefixCache = new WeakMap<CurveParams, Uint8Array>();

function curveBytes(curve: CurveParams): Uint8Array {
  let cached = curvePrefixCache.get(curve);
  if (!cached) {
    cached = concatBytes(...[curve.a, curve.b, curve.Gx, curve.Gy].map((v) => bigIntToBytes(v, SM2_SIZE)));
    curvePrefixCache.set(curve, cached);
  }
  return cached;
}

/** Normalises an ID argument to bytes and checks its length. */
export function idBytes(id: BytesLike): Uint8Array {
  const bytes = toBytes(id, 'id');
  if (bytes.length > SM2_MAX_ID_LENGTH) throw new RangeError(`id must be at most ${SM2_MAX_ID_LENGTH} bytes`);
  return bytes;
}

/**
 * Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ Gx ‖ Gy ‖ Px ‖ Py) for a 65-byte uncompressed public point.
 * `curve` exists for the standard's Annex A examples; everything else uses sm2p256v1.
 */
export function computeZ(pub: Uint8Array, id: BytesLike, curve: CurveParams = SM2_CURVE): Uint8Array {
  const idb = idBytes(id);
  const entl = Uint8Array.of((idb.length * 8) >> 8, (idb.length * 8) & 0xff);
  return sm3(concatBytes(entl, idb, curveBytes(curve), pub.subarray(1)));
}

/** e = SM3(Z ‖ M). */
export function digestWithZ(z: Uint8Array, message: Uint8Array): Uint8Array {
  return new SM3().update(z).update(message).digest();
}
