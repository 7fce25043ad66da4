/**
 * SM3 hash (GB/T 32905), HMAC-SM3 (RFC 2104 over SM3) and the SM2 key-derivation function
 * (GB/T 32918.4 §5.4.3), on the SM3 of the OpenSSL that Node bundles.
 */

import { createHash, createHmac, type Hash } from 'node:crypto';
import { type BytesLike, toBytes } from './bytes.js';

/** Output length of SM3 in bytes. */
export const SM3_DIGEST_LENGTH = 32;

/** One-shot SM3 digest. */
export function sm3(data: BytesLike): Uint8Array {
  return new Uint8Array(createHash('sm3').update(toBytes(data, 'data')).digest());
}

/** Incremental SM3: feed data in pieces, then take the digest once. */
export class SM3 {
  readonly #hash: Hash = createHash('sm3');
  #done = false;

  update(data: BytesLike): this {
    if (this.#done) throw new Error('SM3: update after digest');
    this.#hash.update(toBytes(data, 'data'));
    return this;
  }

  digest(): Uint8Array {
    if (this.#done) throw new Error('SM3: digest called twice');
    this.#done = true;
    return new Uint8Array(this.#hash.digest());
  }
}

/** HMAC-SM3 (32-byte tag). Any key length is accepted, as RFC 2104 allows. */
export function hmacSm3(key: Uint8Array, data: BytesLike): Uint8Array {
  if (!(key instanceof Uint8Array)) throw new TypeError('key must be a Uint8Array');
  return new Uint8Array(createHmac('sm3', key).update(toBytes(data, 'data')).digest());
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
    const block = createHash('sm3').update(z).update(counter).digest();
    out.set(block.subarray(0, Math.min(SM3_DIGEST_LENGTH, length - off)), off);
  }
  return out;
}
