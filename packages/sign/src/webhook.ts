/**
 * The HMAC-SM3 signature of sign-job webhooks — the one definition the server (which signs each delivery)
 * and the SDK's `verifyWebhook` (which checks it) share. Like auth.ts it depends on SM3 only, so the SDK can
 * bundle it for a browser. docs/integration/sign-jobs.md spells out the same bytes for Java and C#.
 *
 * ```
 * canonical = "MEDSIGN-WEBHOOK-HMAC-SM3" LF
 *             TIMESTAMP LF               -- X-Medsign-Webhook-Timestamp: Unix seconds of this attempt
 *             DELIVERY_ID LF             -- X-Medsign-Webhook-Id: the same on every retry of one delivery
 *             hex(SM3(body))             -- lower-case hex of the exact body bytes; no trailing LF
 * signature = hex(HMAC-SM3(key = UTF-8 bytes of the app secret, message = UTF-8 bytes of canonical))
 * ```
 *
 * The key is the receiving application's own secret (the one its requests are signed with): the first line
 * differs from the request scheme's ("MEDSIGN-HMAC-SM3"), so a webhook signature can never pass as a request
 * signature or the other way round.
 */

import { hmacSm3, sm3 } from '@medsign/gm/sm3';

/** Header names (lower case, as Node presents them). */
export const WEBHOOK_HEADERS = {
  id: 'x-medsign-webhook-id',
  timestamp: 'x-medsign-webhook-timestamp',
  signature: 'x-medsign-webhook-signature',
  /** Informational (not signed): 1 for the first attempt, 2 for the first retry … */
  attempt: 'x-medsign-webhook-attempt',
} as const;

/** The first line of the canonical string. */
export const WEBHOOK_SCHEME = 'MEDSIGN-WEBHOOK-HMAC-SM3';

/** How far a webhook's timestamp may be from the receiver's clock by default, seconds. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

const utf8 = new TextEncoder();

function hex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/** The canonical string of one webhook delivery attempt (see the module comment). */
export function canonicalWebhook(timestamp: number, deliveryId: string, body: Uint8Array | string): string {
  const bytes = typeof body === 'string' ? utf8.encode(body) : body;
  return [WEBHOOK_SCHEME, String(timestamp), deliveryId, hex(sm3(bytes))].join('\n');
}

/** The webhook signature: lower-case hex HMAC-SM3 of the canonical string under the app secret. */
export function signWebhook(
  secret: string,
  timestamp: number,
  deliveryId: string,
  body: Uint8Array | string,
): string {
  return hex(hmacSm3(utf8.encode(secret), canonicalWebhook(timestamp, deliveryId, body)));
}

/** Header values as Node (`IncomingHttpHeaders`), fetch (`Headers`) or a plain object present them. */
export type WebhookHeaderSource =
  { get(name: string): string | null } | Record<string, string | string[] | undefined>;

function headerOf(headers: WebhookHeaderSource, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function')
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : record[key];
  return Array.isArray(v) ? undefined : v;
}

/** Why a webhook was refused (`ok: true` when it verified). */
export type WebhookCheck = { ok: true } | { ok: false; reason: string };

/**
 * Checks a received webhook: the three headers present and well-formed, the timestamp within `toleranceSeconds`
 * of `nowSeconds`, and the signature over the exact body bytes — compared in constant time.
 */
export function checkWebhook(
  headers: WebhookHeaderSource,
  body: Uint8Array | string,
  secret: string,
  options: { toleranceSeconds?: number; nowSeconds: number },
): WebhookCheck {
  const id = headerOf(headers, WEBHOOK_HEADERS.id);
  const ts = headerOf(headers, WEBHOOK_HEADERS.timestamp);
  const sig = headerOf(headers, WEBHOOK_HEADERS.signature);
  if (!id || !ts || !sig) return { ok: false, reason: 'webhook headers missing' };
  if (!/^\d{1,12}$/.test(ts)) return { ok: false, reason: 'timestamp is not Unix seconds' };
  if (!/^[0-9a-f]{64}$/i.test(sig)) return { ok: false, reason: 'signature is not 64 hex digits' };
  const tolerance = options.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS;
  if (Math.abs(Number(ts) - options.nowSeconds) > tolerance)
    return { ok: false, reason: `timestamp outside ±${tolerance} s` };
  const expected = signWebhook(secret, Number(ts), id, body);
  const given = sig.toLowerCase();
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ given.charCodeAt(i);
  return diff === 0 ? { ok: true } : { ok: false, reason: 'signature does not match' };
}
