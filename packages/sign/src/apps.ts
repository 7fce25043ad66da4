/**
 * Registered applications and the authentication of their requests. An application (HIS, LIS, PACS …) gets
 * an id and a secret once; the secret is kept only sealed (SecretBox). Each request carries an HMAC-SM3
 * signature over the canonical string of auth.ts, and is accepted only when, in this order: the headers are
 * complete, the application exists and is active, the timestamp is within the replay window, the signature
 * matches, the client address is in the registered ranges, the operation is allowed, the nonce is new, and
 * the application is within its rate limit.
 */

import { randomBytes } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { DomainError } from '@medsign/errors';
import { constantTimeEqual, hexToBytes } from '@medsign/gm';
import { NONCE_PATTERN, signRequest } from './auth.js';
import {
  OPERATIONS,
  SYSTEM_TYPES,
  type AppRecord,
  type AuditSink,
  type Clock,
  type Operation,
  type SecretBox,
  type SignStore,
  type SystemType,
} from './ports.js';

/** What `createApp` takes. */
export type NewApp = {
  name: string;
  systemType: string;
  ownerDepartment?: string;
  /** Default: every operation. */
  operations?: readonly string[];
  /** CIDR blocks; default: anywhere. */
  ipRanges?: readonly string[];
  /** Requests per minute; default 600. */
  rateLimit?: number;
};

/** An application as shown to people (no secret). */
export type AppView = Omit<AppRecord, 'sealedSecret'>;

export type AppDeps = {
  clock: Clock;
  store: SignStore;
  secrets: SecretBox;
  audit: AuditSink;
  /** Accepted clock skew either way, seconds (default 300); nonces are kept this long. */
  replayWindowSeconds?: number;
};

export const DEFAULT_RATE_LIMIT = 600;
export const DEFAULT_REPLAY_WINDOW_SECONDS = 300;
const MAX_RATE_LIMIT = 1_000_000;

function invalid(detail: string): DomainError {
  return new DomainError('APP_INVALID', detail);
}

/** Parses a CIDR block ("10.1.0.0/16", "fd00::/8", or a single address) into BlockList form. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const [address = '', prefixText, extra] = text.trim().split('/');
  const version = isIP(address);
  if (version === 0 || extra !== undefined) throw invalid(`"${text}" is not an IP address or CIDR block`);
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText ?? String(max)) || prefix > max)
    throw invalid(`"${text}": the prefix length must be 0–${max}`);
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** Whether `ip` lies in one of `ranges` (an IPv4-mapped IPv6 address counts as its IPv4 address). */
export function ipAllowed(ip: string, ranges: readonly string[]): boolean {
  if (ranges.length === 0) return true;
  const list = new BlockList();
  for (const r of ranges) {
    const c = parseCidr(r);
    list.addSubnet(c.address, c.prefix, c.family);
  }
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const address = mapped ? mapped[1]! : ip;
  const version = isIP(address);
  if (version === 0) return false;
  return list.check(address, version === 4 ? 'ipv4' : 'ipv6');
}

function checkText(value: unknown, name: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  if (typeof value !== 'string' || !value.trim() || value.length > max || /[\u0000-\u001f]/.test(value))
    throw invalid(`${name} must be 1–${max} characters without control characters`);
  return value.trim();
}

/** The application without its sealed secret. */
export function appView(app: AppRecord): AppView {
  return {
    id: app.id,
    name: app.name,
    systemType: app.systemType,
    ownerDepartment: app.ownerDepartment,
    operations: app.operations,
    ipRanges: app.ipRanges,
    rateLimit: app.rateLimit,
    status: app.status,
    createdAt: app.createdAt,
  };
}

/** Registers an application; returns it and its secret, which is shown once and kept only sealed. */
export async function createApp(
  input: NewApp,
  actor: string,
  deps: AppDeps,
): Promise<{ app: AppView; secret: string }> {
  const name = checkText(input.name, 'name', 128);
  if (!(SYSTEM_TYPES as readonly string[]).includes(input.systemType))
    throw invalid(`system type must be one of ${SYSTEM_TYPES.join(', ')}`);
  const operations = [...new Set(input.operations ?? OPERATIONS)];
  for (const op of operations)
    if (!(OPERATIONS as readonly string[]).includes(op))
      throw invalid(`operation "${op}" is not one of ${OPERATIONS.join(', ')}`);
  if (operations.length === 0) throw invalid('an application needs at least one operation');
  const ipRanges = (input.ipRanges ?? []).map((r) => {
    const c = parseCidr(r);
    return `${c.address}/${c.prefix}`;
  });
  const rateLimit = input.rateLimit ?? DEFAULT_RATE_LIMIT;
  if (!Number.isInteger(rateLimit) || rateLimit < 1 || rateLimit > MAX_RATE_LIMIT)
    throw invalid(`the rate limit must be an integer 1–${MAX_RATE_LIMIT} requests per minute`);

  const id = `app_${randomBytes(12).toString('base64url')}`;
  const secret = randomBytes(32).toString('base64url');
  const app: AppRecord = {
    id,
    name,
    systemType: input.systemType as SystemType,
    ownerDepartment: input.ownerDepartment ? checkText(input.ownerDepartment, 'owner department', 128) : null,
    operations: operations as Operation[],
    ipRanges,
    rateLimit,
    sealedSecret: await deps.secrets.seal(new TextEncoder().encode(secret), id),
    status: 'active',
    createdAt: deps.clock.now(),
  };
  await deps.store.insertApp(app);
  await deps.audit.append({
    actor,
    action: 'app.create',
    target: id,
    detail: { name, systemType: app.systemType, operations: operations.join(','), rateLimit },
  });
  return { app: appView(app), secret };
}

/**
 * Requests per minute per application, counted in this process (a token bucket refilled continuously);
 * with several server processes each enforces the limit on its own share of the traffic.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  /** Takes one token; returns 0 when allowed, else the seconds until one is available. */
  take(appId: string, perMinute: number, now: Date): number {
    const t = now.getTime();
    const b = this.#buckets.get(appId) ?? { tokens: perMinute, at: t };
    // A clock stepped back (NTP, an operator) must not drain the bucket: only elapsed time refills it.
    b.tokens = Math.min(perMinute, b.tokens + (Math.max(0, t - b.at) / 60_000) * perMinute);
    b.at = Math.max(b.at, t);
    this.#buckets.set(appId, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - b.tokens) * 60) / perMinute));
  }
}

/** The authentication headers and request facts the transport hands over. */
export type SignedRequest = {
  appId?: string;
  timestamp?: string;
  nonce?: string;
  signature?: string;
  method: string;
  path: string;
  /** hex SM3 of the body bytes. */
  bodyDigest: string;
  remoteIp: string;
  operation: Operation;
};

/** Thrown for APP_RATE_LIMITED: carries the Retry-After seconds. */
export class RateLimitedError extends DomainError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super('APP_RATE_LIMITED', `rate limit reached; retry in ${retryAfterSeconds} s`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * Authenticates one request (see the module comment for the order); returns the application.
 * `onAuthenticated` is told the application as soon as the signature has matched, before the IP range,
 * operation, nonce and rate checks — so refusals can be counted per application.
 */
export async function authenticateRequest(
  req: SignedRequest,
  deps: AppDeps & { limiter: RateLimiter },
  onAuthenticated?: (app: AppView) => void,
): Promise<AppView> {
  const { appId, timestamp, nonce, signature } = req;
  if (!appId || !timestamp || !nonce || !signature) throw new DomainError('APP_AUTH_REQUIRED');
  if (!/^\d{1,12}$/.test(timestamp))
    throw new DomainError('APP_AUTH_FAILED', 'X-Medsign-Timestamp must be Unix seconds');
  if (!NONCE_PATTERN.test(nonce))
    throw new DomainError('APP_AUTH_FAILED', 'X-Medsign-Nonce must be 16–64 characters [A-Za-z0-9_-]');
  if (!/^[0-9a-f]{64}$/i.test(signature))
    throw new DomainError('APP_AUTH_FAILED', 'X-Medsign-Signature must be 64 hex digits');
  const app = appId.length <= 64 ? await deps.store.getApp(appId) : undefined;
  if (!app || app.status !== 'active') throw new DomainError('APP_AUTH_FAILED');

  const now = deps.clock.now();
  const window = deps.replayWindowSeconds ?? DEFAULT_REPLAY_WINDOW_SECONDS;
  const skew = Number(timestamp) - now.getTime() / 1000;
  if (Math.abs(skew) > window)
    throw new DomainError(
      'APP_REQUEST_STALE',
      `the timestamp is ${Math.round(Math.abs(skew))} s ${skew < 0 ? 'behind' : 'ahead of'} the server clock (window ±${window} s)`,
    );

  const secret = new TextDecoder().decode(await deps.secrets.open(app.sealedSecret, app.id));
  const expected = signRequest(secret, {
    method: req.method,
    path: req.path,
    bodyDigest: req.bodyDigest,
    timestamp: Number(timestamp),
    nonce,
    appId,
  });
  if (!constantTimeEqual(hexToBytes(expected), hexToBytes(signature.toLowerCase())))
    throw new DomainError('APP_AUTH_FAILED');
  const view = appView(app);
  onAuthenticated?.(view);

  if (!ipAllowed(req.remoteIp, app.ipRanges))
    throw new DomainError('APP_IP_FORBIDDEN', `address ${req.remoteIp} is not in the registered ranges`);
  if (!app.operations.includes(req.operation))
    throw new DomainError('APP_OPERATION_FORBIDDEN', `the application may not ${req.operation}`);
  // The nonce is kept for the window on both sides of now, which is as long as its timestamp is acceptable.
  if (!(await deps.store.useNonce(app.id, nonce, new Date(now.getTime() + 2 * window * 1000), now)))
    throw new DomainError('APP_REQUEST_REPLAYED');
  const wait = deps.limiter.take(app.id, app.rateLimit, now);
  if (wait > 0) throw new RateLimitedError(wait);
  return view;
}
