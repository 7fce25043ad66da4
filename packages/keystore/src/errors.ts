/**
 * Keystore errors (conventions.md §3, tier 2): DomainErrors whose codes (KEYSTORE_*) live in the single
 * table of @medsign/errors, so the server renders them like every other domain error. The subclass lets
 * callers and every keystore adapter (software today, PKCS#11/SKF/SDF later) test for keystore failures.
 *
 * Messages never contain key bytes, KEK bytes or passphrases: they name the record id, label, file
 * path or environment variable at most. `cause` (logs only) carries the underlying error, whose
 * message comes from a decoder or the filesystem, never from secret material.
 */

import { DomainError, ERROR_CODES, type ErrorCode } from '@medsign/errors';

/** A keystore error code: the KEYSTORE_* part of the single table. */
export type KeyStoreErrorCode = Extract<ErrorCode, `KEYSTORE_${string}`>;

/** The keystore codes and their meanings (a view of the single table). */
export const KEYSTORE_ERROR_CODES = Object.fromEntries(
  Object.entries(ERROR_CODES).filter(([code]) => code.startsWith('KEYSTORE_')),
) as Pick<typeof ERROR_CODES, KeyStoreErrorCode>;

/** The error class of keystores; `code` tells callers what happened, `detail` is safe to show. */
export class KeyStoreError extends DomainError {
  declare readonly code: KeyStoreErrorCode;

  constructor(code: KeyStoreErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(code, detail, options);
  }
}

/** True when `e` is a KeyStoreError, optionally with the given code. */
export function isKeyStoreError(e: unknown, code?: KeyStoreErrorCode): e is KeyStoreError {
  return e instanceof KeyStoreError && (code === undefined || e.code === code);
}
