/**
 * Field-level protection of personal data at rest (an applicant's ID number and phone): the one way
 * medsign encrypts such a value and the one way it computes the keyed hash that exact search uses.
 *
 * ```
 * sealed = version (0x01) ‖ IV (12 random bytes) ‖ SM4-GCM ciphertext ‖ tag (16 bytes)
 * AAD    = "medsign-pii/v1" ‖ 0x00 ‖ field ‖ 0x00 ‖ context          (UTF-8)
 * index  = hex(HMAC-SM3(index key, "medsign-pii-index/v1" ‖ 0x00 ‖ field ‖ 0x00 ‖ normalised value))
 * ```
 *
 * Both keys come from the keystore's KEK with HMAC-SM3 under their own labels (as the key-wrapping keys
 * do, envelope.ts), so the KEK keys no cipher itself and a database copy without the master secret shows
 * neither the values nor — the index being keyed — a way to test guesses of an ID number. The context
 * (the row's key, e.g. an application id) is bound as AAD: a ciphertext copied into another row does not
 * open. The index normalises (trim, upper case: a final "x" of an ID number is "X") so search is exact
 * but not case-fussy; it is deterministic by design and leaks equality, which exact search needs.
 */

import { randomBytes } from 'node:crypto';
import { bytesToHex, DecryptError, hmacSm3, sm4Decrypt, sm4Encrypt } from '@medsign/gm';
import { wipe } from './bytes.js';
import { KeyStoreError } from './errors.js';

/**
 * The fields medsign stores encrypted: applicants' personal data, the secrets of applications registered
 * with the signing API (which the server must read back to check their HMAC signatures, unlike passwords),
 * the documents of sign jobs while they wait to be signed, and the signed originals kept with signature
 * records (storeOriginal).
 */
export type PersonalField = 'idNumber' | 'phone' | 'appSecret' | 'signJobDocument' | 'signedOriginal';

/** Encrypts, decrypts and indexes personal fields; implemented by every keystore (software, HSM later). */
export interface PersonalDataCipher {
  /** Seals `value` of `field` for the row named by `context`. */
  seal(field: PersonalField, value: string, context: string): Uint8Array;
  /** Opens what {@link seal} made for the same field and context; KEYSTORE_CORRUPT_RECORD otherwise. */
  open(field: PersonalField, sealed: Uint8Array, context: string): string;
  /** The keyed hash (hex) for exact search of `value` (trimmed, upper-cased first). */
  index(field: PersonalField, value: string): string;
  /** {@link seal} for bytes (signed originals: no base64 detour for megabytes). Same format and AAD. */
  sealBytes(field: PersonalField, value: Uint8Array, context: string): Uint8Array;
  /** Opens what {@link sealBytes} made for the same field and context; KEYSTORE_CORRUPT_RECORD otherwise. */
  openBytes(field: PersonalField, sealed: Uint8Array, context: string): Uint8Array;
}

const VERSION = 0x01;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** The two keys derived from the KEK (which the caller then wipes). */
export type PersonalDataKeys = { cipher: Uint8Array; index: Uint8Array };

/** Derives the personal-data keys from the 32-byte KEK. */
export function derivePersonalDataKeys(kek: Uint8Array): PersonalDataKeys {
  const full = hmacSm3(kek, 'medsign-pii/v1 sm4-gcm');
  const cipher = new Uint8Array(full.subarray(0, 16));
  wipe(full);
  return { cipher, index: hmacSm3(kek, 'medsign-pii/v1 index') };
}

function aad(field: PersonalField, context: string): Uint8Array {
  return enc.encode(`medsign-pii/v1\0${field}\0${context}`);
}

/**
 * The software implementation over derived keys. `checkOpen` throws once the owning keystore is closed
 * (KEYSTORE_CLOSED), after which the keys are wiped.
 */
export function personalDataCipher(keys: PersonalDataKeys, checkOpen: () => void): PersonalDataCipher {
  const sealBytes = (field: PersonalField, plaintext: Uint8Array, context: string): Uint8Array => {
    checkOpen();
    if (!(plaintext instanceof Uint8Array)) throw new TypeError('value must be a Uint8Array');
    const iv = new Uint8Array(randomBytes(IV_LENGTH));
    const body = sm4Encrypt(plaintext, { mode: 'gcm', key: keys.cipher, iv, aad: aad(field, context) });
    const out = new Uint8Array(1 + IV_LENGTH + body.length);
    out[0] = VERSION;
    out.set(iv, 1);
    out.set(body, 1 + IV_LENGTH);
    return out;
  };
  const failed = (field: PersonalField, context: string, cause?: unknown) =>
    new KeyStoreError(
      'KEYSTORE_CORRUPT_RECORD',
      `the sealed ${field} of ${context} does not open (tampered, moved from another row, or sealed under another KEK)`,
      cause === undefined ? undefined : { cause },
    );
  const openBytes = (field: PersonalField, sealed: Uint8Array, context: string): Uint8Array => {
    checkOpen();
    if (
      !(sealed instanceof Uint8Array) ||
      sealed.length < 1 + IV_LENGTH + TAG_LENGTH ||
      sealed[0] !== VERSION
    )
      throw failed(field, context);
    try {
      return sm4Decrypt(sealed.subarray(1 + IV_LENGTH), {
        mode: 'gcm',
        key: keys.cipher,
        iv: sealed.subarray(1, 1 + IV_LENGTH),
        aad: aad(field, context),
      });
    } catch (e) {
      if (e instanceof DecryptError || e instanceof RangeError) throw failed(field, context, e);
      throw e;
    }
  };
  return Object.freeze({
    seal(field: PersonalField, value: string, context: string): Uint8Array {
      if (typeof value !== 'string') throw new TypeError('value must be a string');
      const plaintext = enc.encode(value);
      try {
        return sealBytes(field, plaintext, context);
      } finally {
        wipe(plaintext);
      }
    },
    open(field: PersonalField, sealed: Uint8Array, context: string): string {
      const plaintext = openBytes(field, sealed, context);
      try {
        return dec.decode(plaintext);
      } catch (e) {
        throw failed(field, context, e);
      } finally {
        wipe(plaintext);
      }
    },
    sealBytes,
    openBytes,
    index(field: PersonalField, value: string): string {
      checkOpen();
      if (typeof value !== 'string') throw new TypeError('value must be a string');
      return bytesToHex(
        hmacSm3(keys.index, enc.encode(`medsign-pii-index/v1\0${field}\0${value.trim().toUpperCase()}`)),
      );
    },
  });
}
