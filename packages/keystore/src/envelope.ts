/**
 * The sealed private key inside a KeyRecord (`encrypted`):
 *
 * ```
 * envelope = version (1 byte, 0x01) ‖ cipher (1 byte: 0x01 SM4-GCM, 0x02 AES-256-GCM)
 *            ‖ IV (12 random bytes) ‖ ciphertext ‖ tag (16 bytes)
 * AAD      = "medsign-keystore/v1" ‖ 0x00 ‖ version ‖ cipher
 *            ‖ u16 len ‖ record id ‖ u16 len ‖ algorithm ‖ u32 len ‖ SubjectPublicKeyInfo   (UTF-8, big-endian)
 * ```
 *
 * The plaintext is the key's PKCS#8 DER. The AAD binds the envelope to its record: a blob copied into
 * another record (other id, algorithm or public key) fails authentication, as does any change to the
 * bytes. Label, metadata and createdAt are not bound (they are descriptive and may be edited later).
 *
 * Each cipher gets its own wrapping key, derived from the 32-byte KEK with HMAC-SM3 under a label
 * naming the cipher: SM4 takes the first 16 bytes of HMAC-SM3(KEK, "medsign-keystore/v1 sm4-gcm"),
 * AES-256 all 32 of HMAC-SM3(KEK, "medsign-keystore/v1 aes-256-gcm"). So the KEK itself never keys a
 * cipher, and the check value (HMAC-SM3(KEK, "medsign-kek-check")) is independent of both.
 */

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DecryptError, hmacSm3, sm4Decrypt, sm4Encrypt } from '@medsign/gm';
import { wipe } from './bytes.js';
import { KeyStoreError } from './errors.js';

/** Ciphers that seal private keys; SM4-GCM is the default. */
export type KeyCipher = 'sm4-gcm' | 'aes-256-gcm';

/** Ciphers by name, with their envelope ids. */
export const KEY_CIPHERS = { 'sm4-gcm': 0x01, 'aes-256-gcm': 0x02 } as const satisfies Record<
  KeyCipher,
  number
>;

const VERSION = 0x01;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
const HEADER_LENGTH = 2 + IV_LENGTH;
const AAD_PREFIX = new TextEncoder().encode('medsign-keystore/v1\0');

/** The per-cipher wrapping keys derived from one KEK. */
export type WrapKeys = { readonly [C in KeyCipher]: Uint8Array };

/** Derives both wrapping keys from the KEK (which the caller then wipes). */
export function deriveWrapKeys(kek: Uint8Array): WrapKeys {
  const sm4Full = hmacSm3(kek, 'medsign-keystore/v1 sm4-gcm');
  const sm4 = new Uint8Array(sm4Full.subarray(0, 16));
  wipe(sm4Full);
  return { 'sm4-gcm': sm4, 'aes-256-gcm': hmacSm3(kek, 'medsign-keystore/v1 aes-256-gcm') };
}

/** What a sealed key is bound to. */
export type EnvelopeBinding = { id: string; algorithm: string; publicKeyInfo: Uint8Array };

function aad(version: number, cipherId: number, b: EnvelopeBinding): Uint8Array {
  const enc = new TextEncoder();
  const id = enc.encode(b.id);
  const alg = enc.encode(b.algorithm);
  if (id.length > 0xffff || alg.length > 0xffff) throw new RangeError('record id or algorithm too long');
  const out = new Uint8Array(
    AAD_PREFIX.length + 2 + 2 + id.length + 2 + alg.length + 4 + b.publicKeyInfo.length,
  );
  const view = new DataView(out.buffer);
  let o = 0;
  out.set(AAD_PREFIX, o);
  o += AAD_PREFIX.length;
  out[o++] = version;
  out[o++] = cipherId;
  view.setUint16(o, id.length);
  out.set(id, o + 2);
  o += 2 + id.length;
  view.setUint16(o, alg.length);
  out.set(alg, o + 2);
  o += 2 + alg.length;
  view.setUint32(o, b.publicKeyInfo.length);
  out.set(b.publicKeyInfo, o + 4);
  return out;
}

/** Seals `plaintext` (PKCS#8 DER) for the record described by `binding`. */
export function sealKey(
  keys: WrapKeys,
  cipher: KeyCipher,
  binding: EnvelopeBinding,
  plaintext: Uint8Array,
): Uint8Array {
  const cipherId = KEY_CIPHERS[cipher];
  const iv = new Uint8Array(randomBytes(IV_LENGTH));
  const a = aad(VERSION, cipherId, binding);
  let body: Uint8Array;
  if (cipher === 'sm4-gcm') {
    body = sm4Encrypt(plaintext, { mode: 'gcm', key: keys['sm4-gcm'], iv, aad: a });
  } else {
    const c = createCipheriv('aes-256-gcm', keys['aes-256-gcm'], iv, { authTagLength: TAG_LENGTH });
    c.setAAD(a);
    const ct = Buffer.concat([c.update(plaintext), c.final()]);
    body = new Uint8Array(ct.length + TAG_LENGTH);
    body.set(ct, 0);
    body.set(c.getAuthTag(), ct.length);
  }
  const out = new Uint8Array(HEADER_LENGTH + body.length);
  out[0] = VERSION;
  out[1] = cipherId;
  out.set(iv, 2);
  out.set(body, HEADER_LENGTH);
  return out;
}

/** The version and cipher of an envelope, or undefined if it is not one this code reads. */
export function describeEnvelope(blob: Uint8Array): { version: number; cipher: KeyCipher } | undefined {
  if (blob.length < HEADER_LENGTH + TAG_LENGTH + 1 || blob[0] !== VERSION) return undefined;
  const cipher = (Object.keys(KEY_CIPHERS) as KeyCipher[]).find((c) => KEY_CIPHERS[c] === blob[1]);
  return cipher && { version: VERSION, cipher };
}

/**
 * Opens an envelope: the PKCS#8 plaintext, which the caller wipes after use. Any malformation or
 * authentication failure is KEYSTORE_CORRUPT_RECORD and releases no plaintext.
 */
export function openKey(keys: WrapKeys, binding: EnvelopeBinding, blob: Uint8Array): Uint8Array {
  const info = describeEnvelope(blob);
  if (!info) {
    throw new KeyStoreError(
      'KEYSTORE_CORRUPT_RECORD',
      `record ${binding.id}: not a sealed key envelope this version reads`,
    );
  }
  const iv = blob.subarray(2, HEADER_LENGTH);
  const body = blob.subarray(HEADER_LENGTH);
  const a = aad(info.version, KEY_CIPHERS[info.cipher], binding);
  const failed = (cause: unknown) =>
    new KeyStoreError(
      'KEYSTORE_CORRUPT_RECORD',
      `record ${binding.id}: the sealed key does not authenticate (tampered, moved from another record, or sealed under another KEK)`,
      { cause },
    );
  if (info.cipher === 'sm4-gcm') {
    try {
      return sm4Decrypt(body, { mode: 'gcm', key: keys['sm4-gcm'], iv, aad: a });
    } catch (e) {
      if (e instanceof DecryptError || e instanceof RangeError) throw failed(e);
      throw e;
    }
  }
  const d = createDecipheriv('aes-256-gcm', keys['aes-256-gcm'], iv, { authTagLength: TAG_LENGTH });
  d.setAAD(a);
  d.setAuthTag(body.subarray(body.length - TAG_LENGTH));
  const part = d.update(body.subarray(0, body.length - TAG_LENGTH));
  try {
    d.final();
  } catch (e) {
    // Node has already produced unauthenticated plaintext in `part`: wipe it, release nothing.
    part.fill(0);
    throw failed(e);
  }
  const out = new Uint8Array(part);
  part.fill(0);
  return out;
}
