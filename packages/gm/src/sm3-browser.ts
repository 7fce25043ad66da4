/**
 * The `@medsign/gm/sm3` module for browsers (the `browser` export condition): the same API as sm3.ts —
 * SM3, HMAC-SM3 and the SM2 KDF — on the plain TypeScript SM3 of sm3-pure.ts, with no node: built-in.
 * Bundlers (esbuild, Vite, webpack) pick it for browser builds; Node keeps OpenSSL's SM3 (sm3.ts).
 */

import { type BytesLike, toBytes } from './bytes.js';
import { SM3Pure } from './sm3-pure.js';

/** Output length of SM3 in bytes. */
export const SM3_DIGEST_LENGTH = 32;

/** SM3's block length in bytes (the HMAC key block). */
const BLOCK = 64;

/** One-shot SM3 digest. */
export function sm3(data: BytesLike): Uint8Array {
  return new SM3Pure().update(toBytes(data, 'data')).digest();
}

/** Incremental SM3: feed data in pieces, then take the digest once. */
export class SM3 {
  readonly #hash = new SM3Pure();

  update(data: BytesLike): this {
    this.#hash.update(toBytes(data, 'data'));
    return this;
  }

  digest(): Uint8Array {
    return this.#hash.digest();
  }
}

/** HMAC-SM3 (RFC 2104 over SM3, 32-byte tag). Any key length is accepted, as RFC 2104 allows. */
export function hmacSm3(key: Uint8Array, data: BytesLike): Uint8Array {
  if (!(key instanceof Uint8Array)) throw new TypeError('key must be a Uint8Array');
  const k = new Uint8Array(BLOCK);
  k.set(key.length > BLOCK ? new SM3Pure().update(key).digest() : key);
  const pad = new Uint8Array(BLOCK);
  for (let i = 0; i < BLOCK; i++) pad[i] = k[i]! ^ 0x36;
  const inner = new SM3Pure().update(pad).update(toBytes(data, 'data')).digest();
  for (let i = 0; i < BLOCK; i++) pad[i] = k[i]! ^ 0x5c;
  const tag = new SM3Pure().update(pad).update(inner).digest();
  k.fill(0);
  pad.fill(0);
  return tag;
}

/**
 * The SM2 KDF: SM3(Z ‖ ct) for ct = 1, 2, … (32-bit big-endian), concatenated and cut to `length` bytes.
 */
export function sm2Kdf(z: Uint8Array, length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0)
    throw new RangeError('length must be a non-negative integer');
  const out = new Uint8Array(length);
  const counter = new Uint8Array(4);
  const view = new DataView(counter.buffer);
  for (let ct = 1, off = 0; off < length; ct++, off += SM3_DIGEST_LENGTH) {
    view.setUint32(0, ct);
    const block = new SM3Pure().update(z).update(counter).digest();
    out.set(block.subarray(0, Math.min(SM3_DIGEST_LENGTH, length - off)), off);
  }
  return out;
}
