/**
 * The HMAC-SM3 request signature of the signing API — the one definition both the server (which checks it)
 * and the SDK (which makes it) use. It depends on SM3 only (`@medsign/gm/sm3`), so the SDK can bundle it for
 * a browser. docs/integration/auth.md spells out the same bytes for vendors who write it in Java or C#.
 *
 * ```
 * canonical = "MEDSIGN-HMAC-SM3" LF
 *             METHOD LF                  -- upper case: POST, GET
 *             PATH LF                    -- as sent, with the query string: /api/v1/signatures?docId=RX1
 *             hex(SM3(body)) LF          -- lower-case hex of the exact body bytes; the empty body for GET
 *             TIMESTAMP LF               -- Unix time in whole seconds, decimal
 *             NONCE LF                   -- 16–64 characters [A-Za-z0-9_-], never reused by the application
 *             APP_ID                     -- no trailing LF
 * signature = hex(HMAC-SM3(key = UTF-8 bytes of the app secret, message = UTF-8 bytes of canonical))
 * ```
 */

import { hmacSm3, sm3 } from '@medsign/gm/sm3';

/** Header names (lower case, as Node presents them). */
export const AUTH_HEADERS = {
  appId: 'x-medsign-app-id',
  timestamp: 'x-medsign-timestamp',
  nonce: 'x-medsign-nonce',
  signature: 'x-medsign-signature',
} as const;

/** The header that makes a signing request idempotent (RFC draft "The Idempotency-Key HTTP Header Field"). */
export const IDEMPOTENCY_HEADER = 'idempotency-key';

/** The first line of the canonical string: names the scheme and its version. */
export const AUTH_SCHEME = 'MEDSIGN-HMAC-SM3';

/** Nonces the server accepts. */
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

/** The parts a request signature covers. */
export type RequestParts = {
  method: string;
  /** Path with the query string, exactly as in the request line. */
  path: string;
  /** lower-case hex SM3 of the body bytes ({@link bodyDigest}). */
  bodyDigest: string;
  /** Unix seconds. */
  timestamp: number;
  nonce: string;
  appId: string;
};

function hex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

const utf8 = new TextEncoder();

/** hex(SM3(body)); an absent body is the empty string. */
export function bodyDigest(body: Uint8Array | string | undefined): string {
  return hex(sm3(typeof body === 'string' ? utf8.encode(body) : (body ?? new Uint8Array())));
}

/** The canonical string of a request (see the module comment). */
export function canonicalRequest(p: RequestParts): string {
  return [
    AUTH_SCHEME,
    p.method.toUpperCase(),
    p.path,
    p.bodyDigest,
    String(p.timestamp),
    p.nonce,
    p.appId,
  ].join('\n');
}

/** The request signature: lower-case hex HMAC-SM3 of the canonical string under the app secret. */
export function signRequest(secret: string, p: RequestParts): string {
  return hex(hmacSm3(utf8.encode(secret), canonicalRequest(p)));
}
