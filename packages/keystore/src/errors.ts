/**
 * Keystore errors (conventions.md §3, tier 2). The codes and coarse kinds have the same shape as the
 * domain table in @medsign/errors, so they can join that single table; the class lives here so every
 * keystore adapter (software today, PKCS#11/SKF/SDF later) throws the same codes.
 *
 * Messages never contain key bytes, KEK bytes or passphrases: they name the record id, label, file
 * path or environment variable at most. `cause` (logs only) carries the underlying error, whose
 * message comes from a decoder or the filesystem, never from secret material.
 */

/** Every keystore error code, its coarse kind (as in @medsign/errors) and what it means. */
export const KEYSTORE_ERROR_CODES = {
  KEYSTORE_WRONG_PASSPHRASE: {
    kind: 'unauthorized',
    meaning: 'The passphrase does not open this keystore (its KEK check value does not match).',
  },
  KEYSTORE_WRONG_KEK: {
    kind: 'unauthorized',
    meaning:
      'The key file or environment key does not open this keystore, or the keystore was created with another kind of master secret.',
  },
  KEYSTORE_KEK_UNAVAILABLE: {
    kind: 'unavailable',
    meaning:
      'The master secret could not be read: missing key file, unset environment variable or empty passphrase.',
  },
  KEYSTORE_INVALID_KEK: {
    kind: 'malformed',
    meaning: 'The key file or environment variable does not hold exactly 32 key bytes (raw, hex or base64).',
  },
  KEYSTORE_INSECURE_KEY_FILE: {
    kind: 'forbidden',
    meaning: 'The key file is not a regular file readable by its owner only (chmod 600 it).',
  },
  KEYSTORE_KEY_NOT_FOUND: { kind: 'notFound', meaning: 'No key has this id.' },
  KEYSTORE_LABEL_EXISTS: { kind: 'conflict', meaning: 'A key with this label already exists.' },
  KEYSTORE_KEY_EXISTS: {
    kind: 'conflict',
    meaning: 'This key (same public key) is already in the keystore.',
  },
  KEYSTORE_RECORD_EXISTS: {
    kind: 'conflict',
    meaning: 'The repository already holds a record with this id; records are never overwritten.',
  },
  KEYSTORE_CORRUPT_RECORD: {
    kind: 'internal',
    meaning:
      'A key record or the keystore header is malformed, tampered with or moved between records; nothing was decrypted.',
  },
  KEYSTORE_INVALID_KEY: {
    kind: 'malformed',
    meaning:
      'The key to import is not a readable PKCS#8 SM2, RSA (2048/3072/4096) or ECDSA (P-256/P-384) key.',
  },
  KEYSTORE_INVALID_ARGUMENT: {
    kind: 'malformed',
    meaning: 'A key type, label, purpose or metadata value is not acceptable.',
  },
  KEYSTORE_ALGORITHM_MISMATCH: {
    kind: 'malformed',
    meaning: 'The signature algorithm does not fit the key (e.g. SHA256withRSA for an SM2 key).',
  },
  KEYSTORE_CLOSED: { kind: 'unavailable', meaning: 'The keystore was closed; its keys were destroyed.' },
} as const satisfies Record<string, { kind: KeyStoreErrorKind; meaning: string }>;

/** Coarse kinds, the same names as @medsign/errors `ErrorKind` (each maps to one HTTP status there). */
export type KeyStoreErrorKind =
  'malformed' | 'unauthorized' | 'forbidden' | 'notFound' | 'conflict' | 'unavailable' | 'internal';

/** A keystore error code. */
export type KeyStoreErrorCode = keyof typeof KEYSTORE_ERROR_CODES;

/** The one error class of keystores; `code` tells callers what happened, `detail` is safe to show. */
export class KeyStoreError extends Error {
  override readonly name = 'KeyStoreError';
  readonly code: KeyStoreErrorCode;
  readonly kind: KeyStoreErrorKind;
  /** Safe to show: never key bytes, KEK bytes or passphrases. */
  readonly detail: string;

  constructor(code: KeyStoreErrorCode, detail?: string, options?: { cause?: unknown }) {
    const entry = KEYSTORE_ERROR_CODES[code];
    super(`${code}: ${detail ?? entry.meaning}`, options);
    this.code = code;
    this.kind = entry.kind;
    this.detail = detail ?? entry.meaning;
  }
}

/** True when `e` is a KeyStoreError, optionally with the given code. */
export function isKeyStoreError(e: unknown, code?: KeyStoreErrorCode): e is KeyStoreError {
  return e instanceof KeyStoreError && (code === undefined || e.code === code);
}
