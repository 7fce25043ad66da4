/**
 * GHASH over GF(2^128) (NIST SP 800-38D §6.4) with Shoup's 4-bit tables, on 32-bit words so that no
 * BigInt is needed per block. Used to build GCM on top of a block cipher's CTR mode when the platform
 * lacks that cipher's GCM (Node 20's OpenSSL 3.0 has no sm4-gcm).
 */

/** Reduction constants for the 4 bits shifted out per step (the top 16 bits of the reduced value). */
const LAST4 = [
  0x0000, 0x1c20, 0x3840, 0x2460, 0x7080, 0x6ca0, 0x48c0, 0x54e0, 0xe100, 0xfd20, 0xd940, 0xc560, 0x9180,
  0x8da0, 0xa9c0, 0xb5e0,
];

type Word4 = [number, number, number, number];

function readWords(block: Uint8Array, offset = 0): Word4 {
  const v = new DataView(block.buffer, block.byteOffset + offset, 16);
  return [v.getUint32(0), v.getUint32(4), v.getUint32(8), v.getUint32(12)];
}

/** Incremental GHASH keyed by H = E_K(0^128). */
export class GHash {
  /** table[i] = i·H for 4-bit i, in the reflected bit order GCM uses. */
  readonly #table: Word4[];
  readonly #y = new Uint32Array(4);
  readonly #pending = new Uint8Array(16);
  #pendingLength = 0;

  constructor(h: Uint8Array) {
    const table: Word4[] = Array.from({ length: 16 }, () => [0, 0, 0, 0] as Word4);
    let v = readWords(h);
    table[8] = [...v];
    for (let i = 4; i > 0; i >>= 1) {
      const carry = v[3] & 1;
      v = [
        v[0] >>> 1,
        ((v[1] >>> 1) | (v[0] << 31)) >>> 0,
        ((v[2] >>> 1) | (v[1] << 31)) >>> 0,
        ((v[3] >>> 1) | (v[2] << 31)) >>> 0,
      ];
      if (carry) v[0] = (v[0] ^ 0xe1000000) >>> 0;
      table[i] = [...v];
    }
    for (let i = 2; i <= 8; i *= 2) {
      for (let j = 1; j < i; j++) {
        const a = table[i]!;
        const b = table[j]!;
        table[i + j] = [(a[0] ^ b[0]) >>> 0, (a[1] ^ b[1]) >>> 0, (a[2] ^ b[2]) >>> 0, (a[3] ^ b[3]) >>> 0];
      }
    }
    this.#table = table;
  }

  /** Y = (Y ⊕ X)·H for one 16-byte block at `offset`. */
  #block(data: Uint8Array, offset: number): void {
    const y = this.#y;
    const w = readWords(data, offset);
    const x = [(y[0]! ^ w[0]) >>> 0, (y[1]! ^ w[1]) >>> 0, (y[2]! ^ w[2]) >>> 0, (y[3]! ^ w[3]) >>> 0];
    const t = this.#table;
    let z0 = 0;
    let z1 = 0;
    let z2 = 0;
    let z3 = 0;
    const step = (nibble: number, shift: boolean) => {
      if (shift) {
        const rem = z3 & 0xf;
        z3 = ((z3 >>> 4) | (z2 << 28)) >>> 0;
        z2 = ((z2 >>> 4) | (z1 << 28)) >>> 0;
        z1 = ((z1 >>> 4) | (z0 << 28)) >>> 0;
        z0 = ((z0 >>> 4) ^ (LAST4[rem]! << 16)) >>> 0;
      }
      const e = t[nibble]!;
      z0 ^= e[0];
      z1 ^= e[1];
      z2 ^= e[2];
      z3 ^= e[3];
    };
    for (let i = 15; i >= 0; i--) {
      const b = (x[i >> 2]! >>> (24 - 8 * (i & 3))) & 0xff;
      step(b & 0xf, i !== 15);
      step(b >>> 4, true);
    }
    y[0] = z0 >>> 0;
    y[1] = z1 >>> 0;
    y[2] = z2 >>> 0;
    y[3] = z3 >>> 0;
  }

  /** Absorbs bytes; callers that need block-aligned segments (AAD, ciphertext) call `pad()` between them. */
  update(data: Uint8Array): this {
    let pos = 0;
    if (this.#pendingLength > 0) {
      const take = Math.min(16 - this.#pendingLength, data.length);
      this.#pending.set(data.subarray(0, take), this.#pendingLength);
      this.#pendingLength += take;
      pos = take;
      if (this.#pendingLength < 16) return this;
      this.#block(this.#pending, 0);
      this.#pendingLength = 0;
    }
    for (; pos + 16 <= data.length; pos += 16) this.#block(data, pos);
    if (pos < data.length) {
      this.#pending.set(data.subarray(pos));
      this.#pendingLength = data.length - pos;
    }
    return this;
  }

  /** Zero-pads a partial block, as GCM does at the end of the AAD and of the ciphertext. */
  pad(): this {
    if (this.#pendingLength > 0) {
      this.#pending.fill(0, this.#pendingLength);
      this.#block(this.#pending, 0);
      this.#pendingLength = 0;
    }
    return this;
  }

  digest(): Uint8Array {
    this.pad();
    const out = new Uint8Array(16);
    const v = new DataView(out.buffer);
    for (let i = 0; i < 4; i++) v.setUint32(4 * i, this.#y[i]!);
    return out;
  }
}
