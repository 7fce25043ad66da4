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
