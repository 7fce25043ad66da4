/**
 * Application credentials beyond the first secret: secret rotation without downtime, and TLS client
 * certificates (mTLS) as an alternative to HMAC-SM3 request signatures.
 *
 * Rotation: a new secret is made (shown once, kept only sealed); the previous one stays valid for a grace
 * period (default 24 h; 0 ends it at once) so the hospital system can switch without an outage. During the
 * grace either secret verifies; afterwards only the new one. An application has at most two live secrets:
 * rotating again drops the earlier retired secret.
 *
 * mTLS: a certificate issued by one of our CAs (ECDSA or RSA — Node's TLS stack cannot do SM2/TLCP) is bound
 * to an application by its SHA-256 fingerprint. A request over a TLS connection whose client presented it
 * is authenticated by the handshake (the client proved possession of the key); the certificate must chain
 * to our CA, be good at our CA now and be bound; then the IP range, operation, replay (when the request
 * carries a timestamp and nonce) and rate-limit checks run as for HMAC requests.
 */

import { randomBytes, randomUUID } from 'node:crypto';
import { DomainError } from '@medsign/errors';
import { ParsedCertificate, oids } from '@medsign/pki';
import {
  admitRequest,
  appView,
  checkTimestamp,
  type AppDeps,
  type AppView,
  type RateLimiter,
} from './apps.js';
import { NONCE_PATTERN } from './auth.js';
import type { AuditEvent, CertificateStatus, Operation } from './ports.js';

/** A TLS client certificate bound to an application. */
export type ClientCertificateBinding = {
  id: string;
  appId: string;
  /** SHA-256 of the certificate DER, lower-case hex. */
  fingerprint: string;
  caId: string;
  serial: string;
  subject: string;
  createdAt: Date;
  /** When it was unbound; null while bound. */
  revokedAt: Date | null;
};

/** Storage of application credentials besides the current secret (each change written with its audit event). */
export interface AppCredentialStore {
  /**
   * Makes `sealedSecret` the application's secret; the current one stays valid until `retiredUntil` (not at
   * all when null); an earlier retired secret is dropped. False when the application does not exist.
   */
  rotateSecret(
    appId: string,
    sealedSecret: Uint8Array,
    now: Date,
    retiredUntil: Date | null,
    retiredId: string,
    event: AuditEvent,
  ): Promise<boolean>;
  /** Retired secrets still valid at `now`, sealed. */
  retiredSecrets(appId: string, now: Date): Promise<{ sealedSecret: Uint8Array; expiresAt: Date }[]>;
  /** False when the certificate is already bound (to any application). */
  bindCertificate(b: ClientCertificateBinding, event: AuditEvent): Promise<boolean>;
  /** The live binding of a certificate fingerprint. */
  findCertificate(fingerprint: string): Promise<ClientCertificateBinding | undefined>;
  listCertificates(appId: string): Promise<ClientCertificateBinding[]>;
  /** False when the certificate was not bound to this application. */
  unbindCertificate(appId: string, fingerprint: string, now: Date, event: AuditEvent): Promise<boolean>;
}

/** Our CA as the issuer of client certificates (the server wires it to the CA's roots and inventory). */
export interface ClientCertificateAuthority {
  /** The id of our CA that issued `cert`, if its chain to one of our roots holds at `at`; else why not. */
  issuerOf(cert: ParsedCertificate, at: Date): { caId: string } | { error: string };
  /** The certificate's status at our CA now. */
  status(caId: string, serial: string): Promise<CertificateStatus>;
}

/** What the credential functions need besides AppDeps' clock, store, secrets and audit. */
export type CredentialDeps = AppDeps & {
  credentials: AppCredentialStore;
  clientCertificates?: ClientCertificateAuthority;
};

/** Default grace period of a rotated-out secret. */
export const DEFAULT_SECRET_GRACE_SECONDS = 24 * 3600;
/** Longest grace period (30 days): two secrets should not live side by side for long. */
export const MAX_SECRET_GRACE_SECONDS = 30 * 24 * 3600;

/** A new application secret: 32 random bytes, base64url (43 characters). */
export function newAppSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Parses a grace period: seconds as a number, or text `0`, `90s`, `30m`, `24h`, `7d`. RangeError when it is
 * not one of these or exceeds 30 days.
 */
export function parseGrace(value: string | number): number {
  let seconds: number;
  if (typeof value === 'number') seconds = value;
  else {
    const m = /^\s*(\d{1,7})\s*([smhd]?)\s*$/.exec(value);
    if (!m) throw new RangeError(`grace "${value}" must be a number with s, m, h or d (e.g. 24h, 0)`);
    seconds = Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  }
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_SECRET_GRACE_SECONDS)
    throw new RangeError(`the grace period must be 0–${MAX_SECRET_GRACE_SECONDS} seconds (30 days)`);
  return seconds;
}

/** What {@link rotateAppSecret} returns: the new secret (shown once) and until when the old one works. */
export type RotatedSecret = { app: AppView; secret: string; previousValidUntil: Date | null };

/** Gives an application a new secret; the current one stays valid for `graceSeconds` (see the module comment). */
export async function rotateAppSecret(
  appId: string,
  graceSeconds: number,
  actor: string,
  deps: CredentialDeps,
): Promise<RotatedSecret> {
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_SECRET_GRACE_SECONDS)
    throw new DomainError('APP_INVALID', `the grace period must be 0–${MAX_SECRET_GRACE_SECONDS} seconds`);
  const app = appId.length <= 64 ? await deps.store.getApp(appId) : undefined;
  if (!app) throw new DomainError('APP_NOT_FOUND', `no application ${appId}`);
  const now = deps.clock.now();
  const secret = newAppSecret();
  const sealed = await deps.secrets.seal(new TextEncoder().encode(secret), app.id);
  const until = graceSeconds > 0 ? new Date(now.getTime() + graceSeconds * 1000) : null;
  const ok = await deps.credentials.rotateSecret(app.id, sealed, now, until, randomUUID(), {
    actor,
    action: 'app.secret-rotate',
    target: app.id,
    detail: { graceSeconds, ...(until ? { previousValidUntil: until.toISOString() } : {}) },
  });
  if (!ok) throw new DomainError('APP_NOT_FOUND', `no application ${appId}`);
  return { app: appView(app), secret, previousValidUntil: until };
}

/** SHA-256 fingerprint (lower-case hex) of a certificate: how a bound certificate is found. */
export function certificateFingerprint(cert: ParsedCertificate): string {
  return cert.fingerprint('sha256').toLowerCase();
}

function readClientCertificate(input: Uint8Array | string): ParsedCertificate {
  try {
    // PEM given as bytes (a file read as is) is PEM text.
    const text = typeof input !== 'string' && input[0] === 0x2d ? new TextDecoder().decode(input) : undefined;
    return ParsedCertificate.parse(text ?? input);
  } catch (e) {
    throw new DomainError('APP_CERT_INVALID', `the certificate cannot be read: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/**
 * Binds a TLS client certificate (PEM or DER) to an application: it must be issued by one of our CAs (chain
 * valid now), good at the CA, an ECDSA or RSA key, and allow clientAuth if it names extended key usages.
 */
export async function bindClientCertificate(
  appId: string,
  certificate: Uint8Array | string,
  actor: string,
  deps: CredentialDeps,
): Promise<ClientCertificateBinding> {
  const app = appId.length <= 64 ? await deps.store.getApp(appId) : undefined;
  if (!app) throw new DomainError('APP_NOT_FOUND', `no application ${appId}`);
  if (!deps.clientCertificates)
    throw new DomainError('APP_CERT_INVALID', 'this server has no CA to check client certificates against');
  const cert = readClientCertificate(certificate);
  if (cert.publicKey.family === 'sm2')
    throw new DomainError(
      'APP_CERT_INVALID',
      'an SM2 certificate cannot be used: TLS here is ECDSA or RSA (Node.js has no SM2/TLCP)',
    );
  const eku = cert.extKeyUsage;
  if (eku && !eku.includes(oids.id_kp_clientAuth) && !eku.includes(oids.anyExtendedKeyUsage))
    throw new DomainError(
      'APP_CERT_INVALID',
      'the extended key usage of the certificate excludes clientAuth',
    );
  const now = deps.clock.now();
  const issuer = deps.clientCertificates.issuerOf(cert, now);
  if ('error' in issuer) throw new DomainError('APP_CERT_INVALID', issuer.error);
  const status = await deps.clientCertificates.status(issuer.caId, cert.serialNumber);
  if (status !== 'good')
    throw new DomainError('APP_CERT_INVALID', `the certificate is ${status} at our CA ${issuer.caId}`);
  const binding: ClientCertificateBinding = {
    id: randomUUID(),
    appId: app.id,
    fingerprint: certificateFingerprint(cert),
    caId: issuer.caId,
    serial: cert.serialNumber,
    subject: cert.subjectText.slice(0, 512),
    createdAt: now,
    revokedAt: null,
  };
  const ok = await deps.credentials.bindCertificate(binding, {
    actor,
    action: 'app.cert-bind',
    target: app.id,
    detail: { fingerprint: binding.fingerprint, caId: binding.caId, serial: binding.serial },
  });
  if (!ok) throw new DomainError('APP_CERT_BOUND', `certificate ${binding.fingerprint} is already bound`);
  return binding;
}

/** Unbinds a client certificate (fingerprint hex) from an application; audited. */
export async function unbindClientCertificate(
  appId: string,
  fingerprint: string,
  actor: string,
  deps: CredentialDeps,
): Promise<void> {
  const fp = fingerprint.replace(/:/g, '').toLowerCase();
  const ok =
    /^[0-9a-f]{64}$/.test(fp) &&
    (await deps.credentials.unbindCertificate(appId, fp, deps.clock.now(), {
      actor,
      action: 'app.cert-unbind',
      target: appId,
      detail: { fingerprint: fp },
    }));
  if (!ok) throw new DomainError('APP_NOT_FOUND', `no certificate ${fingerprint} is bound to ${appId}`);
}

/** What the transport knows about a request that came over TLS with a client certificate. */
export type CertificateRequest = {
  /** DER of the client's certificate (the handshake proved possession of its key). */
  certificate: Uint8Array;
  /** Whether the TLS stack verified the chain to the CA certificates it was given; its reason if not. */
  handshakeVerified: boolean;
  handshakeError?: string;
  /** Optional X-Medsign-Timestamp / X-Medsign-Nonce: when given, the replay window and nonce apply. */
  timestamp?: string;
  nonce?: string;
  remoteIp: string;
  operation: Operation;
};

/**
 * Authenticates a request by its TLS client certificate (see the module comment); returns the application.
 * `onAuthenticated` is told the application once the certificate is accepted, before the other checks.
 */
export async function authenticateCertificate(
  req: CertificateRequest,
  deps: CredentialDeps & { limiter: RateLimiter },
  onAuthenticated?: (app: AppView) => void,
): Promise<AppView> {
  const refuse = (detail: string) => new DomainError('APP_CERT_NOT_ACCEPTED', detail);
  if (!deps.clientCertificates) throw refuse('this server does not accept client certificates');
  let cert: ParsedCertificate;
  try {
    cert = ParsedCertificate.parse(req.certificate);
  } catch {
    throw refuse('the client certificate cannot be read');
  }
  if (!req.handshakeVerified)
    throw refuse(`the client certificate does not chain to our CA (${req.handshakeError ?? 'unverified'})`);
  const now = deps.clock.now();
  const issuer = deps.clientCertificates.issuerOf(cert, now);
  if ('error' in issuer) throw refuse(issuer.error);
  const binding = await deps.credentials.findCertificate(certificateFingerprint(cert));
  if (!binding || binding.caId !== issuer.caId || binding.serial !== cert.serialNumber)
    throw refuse('the client certificate is not bound to an application');
  const app = await deps.store.getApp(binding.appId);
  if (!app || app.status !== 'active') throw new DomainError('APP_AUTH_FAILED');
  const status = await deps.clientCertificates.status(binding.caId, binding.serial);
  if (status === 'revoked' || status === 'hold')
    throw new DomainError(
      'APP_CERT_REVOKED',
      `the client certificate is ${status === 'hold' ? 'on hold' : status}`,
    );
  if (status !== 'good') throw refuse('our CA does not know the client certificate');
  const view = appView(app);
  onAuthenticated?.(view);
  let nonce: string | undefined;
  if (req.timestamp !== undefined || req.nonce !== undefined) {
    if (!req.timestamp || !req.nonce)
      throw new DomainError(
        'APP_AUTH_FAILED',
        'send X-Medsign-Timestamp and X-Medsign-Nonce together, or neither',
      );
    if (!/^\d{1,12}$/.test(req.timestamp))
      throw new DomainError('APP_AUTH_FAILED', 'X-Medsign-Timestamp must be Unix seconds');
    if (!NONCE_PATTERN.test(req.nonce))
      throw new DomainError('APP_AUTH_FAILED', 'X-Medsign-Nonce must be 16–64 characters [A-Za-z0-9_-]');
    checkTimestamp(req.timestamp, deps, now);
    nonce = req.nonce;
  }
  await admitRequest(app, { remoteIp: req.remoteIp, operation: req.operation, nonce }, deps, now);
  return view;
}
