/**
 * SM3 (GB/T 32905-2016) in plain TypeScript. Used as an independent oracle in tests and where no
 * platform SM3 exists (browsers: sm3-browser.ts); on Node the `sm3` module uses OpenSSL's implementation.
 */

const IV = [0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e];

const rotl = (x: number, n: number) => ((x << n) | (x >>> (32 - n))) >>> 0;
const p0 = (x: number) => (x ^ rotl(x, 9) ^ rotl(x, 17)) >>> 0;
const p1 = (x: number) => (x ^ rotl(x, 15) ^ rotl(x, 23)) >>> 0;

/** Per-round constants T_j rotated left by j mod 32, precomputed once. */
const TJ = Array.from({ length: 64 }, (_, j) => rotl(j < 16 ? 0x79cc4519 : 0x7a879d8a, j % 32));

function compress(v: Uint32Array, block: Uint8Array, offset: number, w: Uint32Array, w1: Uint32Array): void {
  for (let i = 0; i < 16; i++) {
    const o = offset + 4 * i;
    w[i] = ((block[o]! << 24) | (block[o + 1]! << 16) | (block[o + 2]! << 8) | block[o + 3]!) >>> 0;
  }
  for (let j = 16; j < 68; j++) {
    w[j] = (p1(w[j - 16]! ^ w[j - 9]! ^ rotl(w[j - 3]!, 15)) ^ rotl(w[j - 13]!, 7) ^ w[j - 6]!) >>> 0;
  }
  for (let j = 0; j < 64; j++) w1[j] = (w[j]! ^ w[j + 4]!) >>> 0;
  let [a, b, c, d, e, f, g, h] = v as unknown as number[];
  for (let j = 0; j < 64; j++) {
    const a12 = rotl(a!, 12);
    const ss1 = rotl((a12 + e! + TJ[j]!) >>> 0, 7);
    const ss2 = (ss1 ^ a12) >>> 0;
    const ff = j < 16 ? a! ^ b! ^ c! : (a! & b!) | (a! & c!) | (b! & c!);
    const gg = j < 16 ? e! ^ f! ^ g! : (e! & f!) | (~e! & g!);
    const tt1 = (ff + d! + ss2 + w1[j]!) >>> 0;
    const tt2 = (gg + h! + ss1 + w[j]!) >>> 0;
    d = c;
    c = rotl(b!, 9);
    b = a;
    a = tt1;
    h = g;
    g = rotl(f!, 19);
    f = e;
    e = p0(tt2);
  }
  const out = [a, b, c, d, e, f, g, h];
  for (let i = 0; i < 8; i++) v[i] = (v[i]! ^ out[i]!) >>> 0;
}

/** Incremental SM3 without platform crypto: 64-byte blocks are compressed as they fill. */
export class SM3Pure {
  readonly #v = Uint32Array.from(IV);
  readonly #w = new Uint32Array(68);
  readonly #w1 = new Uint32Array(64);
  readonly #block = new Uint8Array(64);
  #fill = 0;
  #length = 0;
  #done = false;

  update(data: Uint8Array): this {
    if (this.#done) throw new Error('SM3: update after digest');
    this.#length += data.length;
    let off = 0;
    if (this.#fill > 0) {
      const take = Math.min(64 - this.#fill, data.length);
      this.#block.set(data.subarray(0, take), this.#fill);
      this.#fill += take;
      off = take;
      if (this.#fill < 64) return this;
      compress(this.#v, this.#block, 0, this.#w, this.#w1);
      this.#fill = 0;
    }
    for (; off + 64 <= data.length; off += 64) compress(this.#v, data, off, this.#w, this.#w1);
    this.#block.set(data.subarray(off));
    this.#fill = data.length - off;
    return this;
  }

  digest(): Uint8Array {
    if (this.#done) throw new Error('SM3: digest called twice');
    this.#done = true;
    const restLen = this.#fill;
    const tail = new Uint8Array(restLen < 56 ? 64 : 128);
    tail.set(this.#block.subarray(0, restLen));
    tail[restLen] = 0x80;
    new DataView(tail.buffer).setBigUint64(tail.length - 8, BigInt(this.#length) * 8n);
    for (let off = 0; off < tail.length; off += 64) compress(this.#v, tail, off, this.#w, this.#w1);
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) outView.setUint32(4 * i, this.#v[i]!);
    this.#block.fill(0);
    return out;
  }
}

/** SM3 digest (32 bytes) of `data`, computed without any platform crypto. */
export function sm3Pure(data: Uint8Array): Uint8Array {
  return new SM3Pure().update(data).digest();
}
