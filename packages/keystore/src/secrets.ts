/**
 * Small secrets sealed under the KEK (application secrets of the signing API, which the server must read
 * back to check HMAC signatures, unlike passwords). The sealing key is derived from the keystore's SM4
 * wrapping key with HMAC-SM3 under its own label, so it never keys a private-key envelope:
 *
 * ```
 * key    = first 16 bytes of HMAC-SM3(SM4 wrapping key, "medsign-keystore/v1 secrets")
 * sealed = 0x01 ‖ IV (12 random bytes) ‖ SM4-GCM(key, IV, AAD = "medsign-secret/v1" ‖ 0x00 ‖ context)(plaintext) ‖ tag (16)
 * ```
 *
 * `context` (e.g. the application id) is bound as associated data: a sealed value copied to another
 * record does not open. Anything that does not authenticate is KEYSTORE_CORRUPT_RECORD.
 */

import { randomBytes } from 'node:crypto';
import { concatBytes, hmacSm3, sm4Decrypt, sm4Encrypt } from '@medsign/gm';
import { KeyStoreError } from './errors.js';

/** Seals and opens small secrets under the keystore's KEK; the sealing key never leaves the keystore. */
export interface SecretSealer {
  sealSecret(plaintext: Uint8Array, context: string): Uint8Array;
  openSecret(sealed: Uint8Array, context: string): Uint8Array;
}

const VERSION = 0x01;
const IV_LENGTH = 12;
const enc = new TextEncoder();

/** The secret-sealing key derived from the SM4 wrapping key. */
export function deriveSecretKey(sm4WrapKey: Uint8Array): Uint8Array {
  return new Uint8Array(hmacSm3(sm4WrapKey, 'medsign-keystore/v1 secrets').subarray(0, 16));
}

function aad(context: string): Uint8Array {
  return concatBytes(enc.encode('medsign-secret/v1\0'), enc.encode(context));
}

export function sealSecret(key: Uint8Array, plaintext: Uint8Array, context: string): Uint8Array {
  const iv = new Uint8Array(randomBytes(IV_LENGTH));
  const body = sm4Encrypt(plaintext, { mode: 'gcm', key, iv, aad: aad(context) });
  return concatBytes(Uint8Array.of(VERSION), iv, body);
}

export function openSecret(key: Uint8Array, sealed: Uint8Array, context: string): Uint8Array {
  if (!(sealed instanceof Uint8Array) || sealed.length < 1 + IV_LENGTH + 16 || sealed[0] !== VERSION)
    throw new KeyStoreError('KEYSTORE_CORRUPT_RECORD', 'not a sealed secret this version reads');
  try {
    return sm4Decrypt(sealed.subarray(1 + IV_LENGTH), {
      mode: 'gcm',
      key,
      iv: sealed.subarray(1, 1 + IV_LENGTH),
      aad: aad(context),
    });
  } catch (e) {
    throw new KeyStoreError(
      'KEYSTORE_CORRUPT_RECORD',
      'the sealed secret does not authenticate (tampered, moved, or sealed under another KEK)',
      { cause: e },
    );
  }
}
