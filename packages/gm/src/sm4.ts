/**
 * SM4 block cipher (GB/T 32907) in ECB, CBC (PKCS#7 padding by default), CTR and GCM modes.
 * ECB/CBC/CTR run on the OpenSSL that Node bundles; GCM is built here from SM4-CTR and GHASH
 * (NIST SP 800-38D) because OpenSSL 3.0 offers no sm4-gcm.
 */

import { createCipheriv, createDecipheriv } from 'node:crypto';
import { checkBytes, concatBytes, constantTimeEqual, copyBytes, toBytes, type BytesLike } from './bytes.js';
import { DecryptError } from './errors.js';
import { GHash } from './ghash.js';

export const SM4_KEY_LENGTH = 16;
export const SM4_BLOCK_LENGTH = 16;
/** Length of the GCM authentication tag that `sm4Encrypt` appends in GCM mode. */
export const SM4_GCM_TAG_LENGTH = 16;

export type Sm4Mode = 'ecb' | 'cbc' | 'ctr' | 'gcm';

export type Sm4Options = {
  mode: Sm4Mode;
  /** 16-byte key. */
  key: Uint8Array;
  /** CBC/CTR: 16 bytes. GCM: any non-empty length, 12 bytes recommended. ECB: none. */
  iv?: Uint8Array;
  /** ECB/CBC only: PKCS#7 padding (default true). Without it the data must be whole blocks. */
  padding?: boolean;
  /** GCM only: additional authenticated data. */
  aad?: Uint8Array;
};

const MODES: readonly Sm4Mode[] = ['ecb', 'cbc', 'ctr', 'gcm'];

function checkOptions(opts: Sm4Options): void {
  if (!MODES.includes(opts.mode)) throw new RangeError(`mode must be one of ${MODES.join(', ')}`);
  checkBytes(opts.key, 'key', SM4_KEY_LENGTH);
  if (opts.mode === 'ecb') {
    if (opts.iv !== undefined) throw new RangeError('ECB mode takes no iv');
  } else if (opts.mode === 'gcm') {
    checkBytes(opts.iv, 'iv');
    if (opts.iv!.length === 0) throw new RangeError('iv must not be empty');
  } else {
    checkBytes(opts.iv, 'iv', SM4_BLOCK_LENGTH);
  }
  if (opts.aad !== undefined && opts.mode !== 'gcm') throw new RangeError('aad is only used in GCM mode');
  if (opts.padding !== undefined && opts.mode !== 'ecb' && opts.mode !== 'cbc') {
    throw new RangeError('padding applies to ECB and CBC only');
  }
}

function runNode(decrypt: boolean, opts: Sm4Options, data: Uint8Array): Uint8Array {
  const name = `sm4-${opts.mode}`;
  const iv = opts.mode === 'ecb' ? null : opts.iv!;
  const cipher = decrypt ? createDecipheriv(name, opts.key, iv) : createCipheriv(name, opts.key, iv);
  if (opts.mode === 'ecb' || opts.mode === 'cbc') {
    const padding = opts.padding ?? true;
    cipher.setAutoPadding(padding);
    if (!padding && data.length % SM4_BLOCK_LENGTH !== 0) {
      throw new RangeError('without padding the data must be a multiple of 16 bytes');
    }
  }
  try {
    return new Uint8Array(Buffer.concat([cipher.update(data), cipher.final()]));
  } catch (e) {
    if (decrypt) throw new DecryptError('SM4 decryption failed: bad padding or wrong key', { cause: e });
    throw e;
  }
}

/** E_K(block) for one 16-byte block. */
function encryptBlock(key: Uint8Array, block: Uint8Array): Uint8Array {
  return runNode(false, { mode: 'ecb', key, padding: false }, block);
}

/**
 * GCTR with GCM's inc32 counter: OpenSSL's CTR carries into all 128 bits, GCM only into the low 32,
 * so the stream is split where the low word wraps.
 */
export function gctr(key: Uint8Array, counter: Uint8Array, data: Uint8Array): Uint8Array {
  const low = new DataView(counter.buffer, counter.byteOffset + 12, 4).getUint32(0);
  const blocksBeforeWrap = 2 ** 32 - low;
  const split = Math.min(data.length, blocksBeforeWrap * SM4_BLOCK_LENGTH);
  const first = runNode(false, { mode: 'ctr', key, iv: counter }, data.subarray(0, split));
  if (split === data.length) return first;
  const wrapped = copyBytes(counter);
  wrapped.fill(0, 12);
  return concatBytes(first, runNode(false, { mode: 'ctr', key, iv: wrapped }, data.subarray(split)));
}

function lengthBlock(aadLength: number, dataLength: number): Uint8Array {
  const block = new Uint8Array(16);
  const v = new DataView(block.buffer);
  v.setBigUint64(0, BigInt(aadLength) * 8n);
  v.setBigUint64(8, BigInt(dataLength) * 8n);
  return block;
}

function gcmSetup(key: Uint8Array, iv: Uint8Array): { h: Uint8Array; j0: Uint8Array } {
  const h = encryptBlock(key, new Uint8Array(16));
  let j0: Uint8Array;
  if (iv.length === 12) {
    j0 = concatBytes(iv, Uint8Array.of(0, 0, 0, 1));
  } else {
    j0 = new GHash(h).update(iv).pad().update(lengthBlock(0, iv.length)).digest();
  }
  return { h, j0 };
}

function inc32(block: Uint8Array): Uint8Array {
  const out = copyBytes(block);
  const v = new DataView(out.buffer);
  v.setUint32(12, (v.getUint32(12) + 1) >>> 0);
  return out;
}

function gcmTag(key: Uint8Array, h: Uint8Array, j0: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array) {
  const s = new GHash(h)
    .update(aad)
    .pad()
    .update(ciphertext)
    .pad()
    .update(lengthBlock(aad.length, ciphertext.length))
    .digest();
  return gctr(key, j0, s);
}

/** Encrypts `data`. In GCM mode the result is ciphertext ‖ 16-byte tag. */
export function sm4Encrypt(data: BytesLike, opts: Sm4Options): Uint8Array {
  checkOptions(opts);
  const input = toBytes(data, 'data');
  if (opts.mode !== 'gcm') return runNode(false, opts, input);
  const { h, j0 } = gcmSetup(opts.key, opts.iv!);
  const ciphertext = gctr(opts.key, inc32(j0), input);
  return concatBytes(ciphertext, gcmTag(opts.key, h, j0, opts.aad ?? new Uint8Array(0), ciphertext));
}

/** Decrypts `data`; throws DecryptError on a wrong GCM tag or bad CBC/ECB padding, releasing no plaintext. */
export function sm4Decrypt(data: Uint8Array, opts: Sm4Options): Uint8Array {
  checkOptions(opts);
  checkBytes(data, 'data');
  if (opts.mode !== 'gcm') return runNode(true, opts, data);
  if (data.length < SM4_GCM_TAG_LENGTH) throw new DecryptError('SM4-GCM input is shorter than its tag');
  const ciphertext = data.subarray(0, data.length - SM4_GCM_TAG_LENGTH);
  const tag = data.subarray(data.length - SM4_GCM_TAG_LENGTH);
  const { h, j0 } = gcmSetup(opts.key, opts.iv!);
  if (!constantTimeEqual(gcmTag(opts.key, h, j0, opts.aad ?? new Uint8Array(0), ciphertext), tag)) {
    throw new DecryptError('SM4-GCM authentication failed');
  }
  return gctr(opts.key, inc32(j0), ciphertext);
}
