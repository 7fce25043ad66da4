/**
 * RC2 (RFC 2268) in CBC mode, only so that medsign can open legacy PKCS#12 files: OpenSSL before 3.0,
 * older Windows and many CA tools encrypt the certificate bags with pbeWithSHAAnd40BitRC2-CBC, and
 * the OpenSSL 3.0 inside Node has RC2 only in its legacy provider, which Node does not load.
 * RC2 is broken as a cipher; medsign never chooses it when writing (the encrypt side exists for tests).
 */

import { DecryptError } from '@medsign/gm';

/** RFC 2268 §2 PITABLE: a permutation of 0..255 derived from the digits of pi. */
const PITABLE = Uint8Array.from(
  Buffer.from(
    'd978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2179a59f587b34f1361456d8d09817d32' +
      'bd8f40eb86b77b0bf09521225c6b4e8254d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626' +
      '6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed708e8eade8052eef784aa72ac354d6a2a' +
      '961ad2715a1549744b9fd05e0418a4ecc2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731' +
      '2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a90d38341bab33ffb0bb480c5fb9b1cd2e' +
      'c5f3db47e5a59c770aa62068fe7fc1ad',
    'hex',
  ),
);

/** Block length of RC2 in bytes. */
export const RC2_BLOCK_LENGTH = 8;

/**
 * RFC 2268 §2 key expansion: 1..128 key bytes and an effective key length in bits (1..1024) give
 * 64 16-bit round-key words. The effective length is what "40-bit RC2" means: the PKCS#12 schemes
 * pass 40 or 128, independent of how many key bytes they derive.
 */
export function rc2ExpandKey(key: Uint8Array, effectiveBits: number): Uint16Array {
  if (!(key instanceof Uint8Array)) throw new TypeError('key must be a Uint8Array');
  if (key.length < 1 || key.length > 128) throw new RangeError('RC2 key must be 1 to 128 bytes');
  if (!Number.isInteger(effectiveBits) || effectiveBits < 1 || effectiveBits > 1024) {
    throw new RangeError('RC2 effective key bits must be an integer in 1..1024');
  }
  const t = key.length;
  const t8 = Math.ceil(effectiveBits / 8);
  const tm = 0xff >> (8 * t8 - effectiveBits);
  const l = new Uint8Array(128);
  l.set(key);
  for (let i = t; i < 128; i++) l[i] = PITABLE[(l[i - 1]! + l[i - t]!) & 0xff]!;
  l[128 - t8] = PITABLE[l[128 - t8]! & tm]!;
  for (let i = 127 - t8; i >= 0; i--) l[i] = PITABLE[l[i + 1]! ^ l[i + t8]!]!;
  const k = new Uint16Array(64);
  for (let i = 0; i < 64; i++) k[i] = l[2 * i]! | (l[2 * i + 1]! << 8);
  l.fill(0);
  return k;
}

const SHIFTS = [1, 2, 3, 5] as const;

/** Encrypts one 8-byte block in place (RFC 2268 §3). */
function encryptBlock(k: Uint16Array, block: Uint8Array): void {
  const r = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) r[i] = block[2 * i]! | (block[2 * i + 1]! << 8);
  let j = 0;
  const mix = () => {
    for (let i = 0; i < 4; i++) {
      const a = r[(i + 3) & 3]!;
      const b = r[(i + 2) & 3]!;
      const c = r[(i + 1) & 3]!;
      const s = SHIFTS[i]!;
      const v = (r[i]! + k[j++]! + (a & b) + (~a & c)) & 0xffff;
      r[i] = ((v << s) | (v >>> (16 - s))) & 0xffff;
    }
  };
  const mash = () => {
    for (let i = 0; i < 4; i++) r[i] = (r[i]! + k[r[(i + 3) & 3]! & 63]!) & 0xffff;
  };
  for (let n = 0; n < 5; n++) mix();
  mash();
  for (let n = 0; n < 6; n++) mix();
  mash();
  for (let n = 0; n < 5; n++) mix();
  for (let i = 0; i < 4; i++) {
    block[2 * i] = r[i]! & 0xff;
    block[2 * i + 1] = r[i]! >>> 8;
  }
}

/** Decrypts one 8-byte block in place (RFC 2268 §4). */
function decryptBlock(k: Uint16Array, block: Uint8Array): void {
  const r = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) r[i] = block[2 * i]! | (block[2 * i + 1]! << 8);
  let j = 63;
  const rmix = () => {
    for (let i = 3; i >= 0; i--) {
      const s = SHIFTS[i]!;
      const v = r[i]!;
      const rotated = ((v >>> s) | (v << (16 - s))) & 0xffff;
      const a = r[(i + 3) & 3]!;
      const b = r[(i + 2) & 3]!;
      const c = r[(i + 1) & 3]!;
      r[i] = (rotated - k[j--]! - (a & b) - (~a & c & 0xffff)) & 0xffff;
    }
  };
  const rmash = () => {
    for (let i = 3; i >= 0; i--) r[i] = (r[i]! - k[r[(i + 3) & 3]! & 63]!) & 0xffff;
  };
  for (let n = 0; n < 5; n++) rmix();
  rmash();
  for (let n = 0; n < 6; n++) rmix();
  rmash();
  for (let n = 0; n < 5; n++) rmix();
  for (let i = 0; i < 4; i++) {
    block[2 * i] = r[i]! & 0xff;
    block[2 * i + 1] = r[i]! >>> 8;
  }
}

/** RC2 in ECB on whole blocks, no padding — the raw block function, for the RFC 2268 test vectors. */
export function rc2EcbEncrypt(key: Uint8Array, effectiveBits: number, data: Uint8Array): Uint8Array {
  if (data.length % RC2_BLOCK_LENGTH !== 0) throw new RangeError('RC2-ECB data must be whole 8-byte blocks');
  const k = rc2ExpandKey(key, effectiveBits);
  const out = new Uint8Array(data); // a copy even when data is a Buffer (Buffer#slice is a view)
  for (let off = 0; off < out.length; off += RC2_BLOCK_LENGTH) {
    encryptBlock(k, out.subarray(off, off + RC2_BLOCK_LENGTH));
  }
  k.fill(0);
  return out;
}

/** RC2 in ECB on whole blocks, no padding (inverse of rc2EcbEncrypt). */
export function rc2EcbDecrypt(key: Uint8Array, effectiveBits: number, data: Uint8Array): Uint8Array {
  if (data.length % RC2_BLOCK_LENGTH !== 0) throw new RangeError('RC2-ECB data must be whole 8-byte blocks');
  const k = rc2ExpandKey(key, effectiveBits);
  const out = new Uint8Array(data); // a copy even when data is a Buffer (Buffer#slice is a view)
  for (let off = 0; off < out.length; off += RC2_BLOCK_LENGTH) {
    decryptBlock(k, out.subarray(off, off + RC2_BLOCK_LENGTH));
  }
  k.fill(0);
  return out;
}

function checkIv(iv: Uint8Array): void {
  if (!(iv instanceof Uint8Array) || iv.length !== RC2_BLOCK_LENGTH) {
    throw new RangeError('RC2-CBC iv must be 8 bytes');
  }
}

/** RC2-CBC with PKCS#7 padding (RFC 2268 + RFC 5652 §6.3), as the PKCS#12 PBE schemes use it. */
export function rc2CbcEncrypt(
  key: Uint8Array,
  effectiveBits: number,
  iv: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  checkIv(iv);
  const k = rc2ExpandKey(key, effectiveBits);
  const pad = RC2_BLOCK_LENGTH - (data.length % RC2_BLOCK_LENGTH);
  const out = new Uint8Array(data.length + pad);
  out.set(data);
  out.fill(pad, data.length);
  let prev: Uint8Array = iv;
  for (let off = 0; off < out.length; off += RC2_BLOCK_LENGTH) {
    const block = out.subarray(off, off + RC2_BLOCK_LENGTH);
    for (let i = 0; i < RC2_BLOCK_LENGTH; i++) block[i]! ^= prev[i]!;
    encryptBlock(k, block);
    prev = block;
  }
  k.fill(0);
  return out;
}

/**
 * RC2-CBC decryption with PKCS#7 padding removal. A wrong key shows up as bad padding: DecryptError,
 * with no plaintext released.
 */
export function rc2CbcDecrypt(
  key: Uint8Array,
  effectiveBits: number,
  iv: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  checkIv(iv);
  if (data.length === 0 || data.length % RC2_BLOCK_LENGTH !== 0) {
    throw new DecryptError('RC2-CBC ciphertext is not a whole number of blocks');
  }
  const k = rc2ExpandKey(key, effectiveBits);
  const out = new Uint8Array(data); // a copy even when data is a Buffer (Buffer#slice is a view)
  for (let off = 0; off < out.length; off += RC2_BLOCK_LENGTH) {
    const block = out.subarray(off, off + RC2_BLOCK_LENGTH);
    decryptBlock(k, block);
    const prev = off === 0 ? iv : data.subarray(off - RC2_BLOCK_LENGTH, off);
    for (let i = 0; i < RC2_BLOCK_LENGTH; i++) block[i]! ^= prev[i]!;
  }
  k.fill(0);
  const pad = out[out.length - 1]!;
  let bad = pad === 0 || pad > RC2_BLOCK_LENGTH ? 1 : 0;
  for (let i = 1; i <= RC2_BLOCK_LENGTH; i++) {
    if (i <= pad && out[out.length - i] !== pad) bad = 1;
  }
  if (bad) {
    out.fill(0);
    throw new DecryptError('RC2-CBC decryption failed: bad padding or wrong key');
  }
  return out.subarray(0, out.length - pad);
}
