/**
 * Errors of the PKI layer. Parsers throw DecodeError (re-exported from @medsign/gm) with an offset where
 * known; an algorithm or structure we recognise but do not support raises UnsupportedError.
 * Verification functions never throw on attacker-controlled bytes: they report a result.
 */

export { DecodeError } from '@medsign/gm';

/** A well-formed input that asks for something medsign does not implement (an unknown algorithm, say). */
export class UnsupportedError extends Error {
  override readonly name = 'UnsupportedError';
}

/** The message of a caught value (an Error's message, anything else as text), for reports. */
export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
