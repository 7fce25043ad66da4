/**
 * Administrator authentication on the store: scrypt password hashes, random 32-byte bearer tokens of
 * which only the SM3 hash is stored, sessions with an expiry, and a lockout after repeated failures.
 * Every outcome is audited (never the password or the token).
 */

import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { DomainError } from '@medsign/errors';
import { bytesToHex, sm3 } from '@medsign/gm';
import { StoreError, type Store } from '@medsign/store';

/** What the HTTP layer needs of admin login (the interface between the server's two halves). */
export interface AdminAuth {
  /** Verifies username+password; returns a session token (opaque, random) or undefined. Audited. */
  login(
    username: string,
    password: string,
    remote: string,
  ): Promise<{ token: string; mustChangePassword: boolean; expiresAt: Date } | undefined>;
  /** The actor behind a bearer token, or undefined (expired/unknown). */
  authenticate(
    token: string,
  ): Promise<{ actor: string; roles: string[]; mustChangePassword: boolean } | undefined>;
  /**
   * Changes the password of `actor` (a username). False when the old password is wrong; a new password
   * outside the policy (12–256 characters, not equal to the old one) is a DomainError AUTH_PASSWORD_POLICY.
   */
  changePassword(actor: string, oldPassword: string, newPassword: string): Promise<boolean>;
  logout(token: string): Promise<void>;
}

/** Failed logins in a row before an account is locked. */
export const MAX_FAILED_LOGINS = 5;
/** How long a lockout lasts. */
export const LOCKOUT_MS = 15 * 60_000;
const MIN_PASSWORD = 12;
const MAX_PASSWORD = 256;

/** scrypt cost for password hashes (RFC 7914; ~50–100 ms on a server core, 32 MiB). */
const SCRYPT = { N: 2 ** 15, r: 8, p: 1 } as const;
const HASH_LEN = 32;

function runScrypt(password: string, salt: Buffer, p: { N: number; r: number; p: number }): Promise<Buffer> {
  const maxmem = 128 * p.r * (p.N + p.p + 2) + 1024 * 1024;
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, HASH_LEN, { N: p.N, r: p.r, p: p.p, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** Hashes a password: `scrypt$N$r$p$salt$hash` (salt and hash base64url), parameters kept for later upgrades. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await runScrypt(password, salt, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/** Checks a password against a stored hash in constant time; a malformed hash never verifies. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(stored);
  if (!m) return false;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (N < 2 || N > 2 ** 20 || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return false;
  const expected = Buffer.from(m[5]!, 'base64url');
  if (expected.length !== HASH_LEN) return false;
  const got = await runScrypt(password, Buffer.from(m[4]!, 'base64url'), { N, r, p });
  return timingSafeEqual(got, expected);
}

/** A random one-time password: 18 bytes, base64url (24 characters, 144 bits). */
export function randomPassword(): string {
  return randomBytes(18).toString('base64url');
}

/** The stored form of a bearer token: SM3, hex. */
export function tokenHash(token: string): string {
  return bytesToHex(sm3(new TextEncoder().encode(token)));
}

/** A hash of a random password nobody knows, verified for unknown usernames so timing does not tell. */
let dummyHash: Promise<string> | undefined;

/** {@link AdminAuth} on the store's `users` and `sessions` tables. */
export class StoreAdminAuth implements AdminAuth {
  readonly #store: Store;
  readonly #sessionMs: number;
  readonly #now: () => Date;

  constructor(store: Store, options: { sessionMinutes: number; now?: () => Date }) {
    this.#store = store;
    this.#sessionMs = options.sessionMinutes * 60_000;
    this.#now = options.now ?? (() => new Date());
  }

  async login(
    username: string,
    password: string,
    remote: string,
  ): Promise<{ token: string; mustChangePassword: boolean; expiresAt: Date } | undefined> {
    const now = this.#now();
    const audit = (action: string, detail: Record<string, string | number> = {}) =>
      this.#store.audit.append({
        actor: username || '(empty)',
        action,
        target: username || null,
        detail: { remote, ...detail },
      });
    if (
      typeof username !== 'string' ||
      typeof password !== 'string' ||
      username.length > 256 ||
      password.length > MAX_PASSWORD
    ) {
      await audit('auth.login-failed', { reason: 'malformed' });
      return undefined;
    }
    const user = await this.#store.users.findByUsername(username);
    if (!user) {
      await verifyPassword(password, await (dummyHash ??= hashPassword(randomPassword())));
      await audit('auth.login-failed', { reason: 'unknown-user' });
      return undefined;
    }
    if (user.lockedUntil && user.lockedUntil > now) {
      await audit('auth.login-refused', { reason: 'locked', lockedUntil: user.lockedUntil.toISOString() });
      return undefined;
    }
    if (!(await verifyPassword(password, user.passwordHash))) {
      const after = await this.#store.users.recordFailedLogin(
        user.id,
        MAX_FAILED_LOGINS,
        new Date(now.getTime() + LOCKOUT_MS),
        now,
      );
      const locked = !!after?.lockedUntil && after.lockedUntil > now;
      await audit('auth.login-failed', {
        reason: 'wrong-password',
        failures: locked ? MAX_FAILED_LOGINS : (after?.failedLogins ?? 0),
      });
      if (locked) await audit('auth.locked', { until: after!.lockedUntil!.toISOString() });
      return undefined;
    }
    await this.#store.users.recordSuccessfulLogin(user.id, now);
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(now.getTime() + this.#sessionMs);
    await this.#store.sessions.insert({
      tokenHash: tokenHash(token),
      userId: user.id,
      remote: remote.slice(0, 256),
      createdAt: now,
      expiresAt,
    });
    await audit('auth.login', { mustChangePassword: user.mustChangePassword ? 1 : 0 });
    return { token, mustChangePassword: user.mustChangePassword, expiresAt };
  }

  async authenticate(
    token: string,
  ): Promise<{ actor: string; roles: string[]; mustChangePassword: boolean } | undefined> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 128) return undefined;
    const session = await this.#store.sessions.find(tokenHash(token));
    if (!session || session.expiresAt <= this.#now()) return undefined;
    const user = await this.#store.users.get(session.userId);
    return user && { actor: user.username, roles: user.roles, mustChangePassword: user.mustChangePassword };
  }

  async changePassword(actor: string, oldPassword: string, newPassword: string): Promise<boolean> {
    const user = await this.#store.users.findByUsername(actor);
    if (!user || !(await verifyPassword(oldPassword, user.passwordHash))) {
      await this.#store.audit.append({
        actor,
        action: 'auth.password-change-failed',
        target: actor,
        detail: {},
      });
      return false;
    }
    if (
      typeof newPassword !== 'string' ||
      newPassword.length < MIN_PASSWORD ||
      newPassword.length > MAX_PASSWORD
    )
      throw new DomainError(
        'AUTH_PASSWORD_POLICY',
        `the new password must be ${MIN_PASSWORD}–${MAX_PASSWORD} characters`,
      );
    if (newPassword === oldPassword)
      throw new DomainError('AUTH_PASSWORD_POLICY', 'the new password must differ from the old one');
    await this.#store.users.setPassword(user.id, await hashPassword(newPassword), false, this.#now());
    await this.#store.audit.append({ actor, action: 'auth.password-change', target: actor, detail: {} });
    return true;
  }

  async logout(token: string): Promise<void> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 128) return;
    const hash = tokenHash(token);
    const session = await this.#store.sessions.find(hash);
    if (!session) return;
    await this.#store.sessions.delete(hash);
    const user = await this.#store.users.get(session.userId);
    await this.#store.audit.append({
      actor: user?.username ?? session.userId,
      action: 'auth.logout',
      target: user?.username ?? null,
      detail: {},
    });
  }
}

/**
 * Creates an operator account with a one-time password (returned once, never stored: only its scrypt
 * hash is) that must be changed at the first login. Audited as `admin.create` by `actor`. An existing
 * username is AUTH_ACCOUNT_EXISTS.
 */
export async function createAccount(
  store: Store,
  account: { username: string; roles: readonly string[]; actor: string; now?: Date },
): Promise<{ username: string; password: string }> {
  const password = randomPassword();
  try {
    await store.users.insert({
      username: account.username,
      passwordHash: await hashPassword(password),
      roles: [...account.roles],
      mustChangePassword: true,
      ...(account.now ? { now: account.now } : {}),
    });
  } catch (e) {
    if (e instanceof StoreError && e.code === 'conflict')
      throw new DomainError('AUTH_ACCOUNT_EXISTS', `an account ${account.username} exists`, { cause: e });
    throw e;
  }
  await store.audit.append({
    actor: account.actor,
    action: 'admin.create',
    target: account.username,
    detail: { roles: account.roles.join(','), mustChangePassword: true },
  });
  return { username: account.username, password };
}
