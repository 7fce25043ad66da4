/**
 * The signing service wired onto the platform: the @medsign/sign core's ports on the store (signing tables,
 * audit log), the keystore (signer keys, sealed app secrets), the CA backend (signer certificates) and the
 * CA's own records (certificate status now). The TSA is a port too: until one is configured, signing
 * requests with `timestamp: true` are refused with SIGN_TIMESTAMP_UNAVAILABLE.
 */

import type { CaBackend, CaDeps } from '@medsign/ca';
import type { KeyStore } from '@medsign/keystore';
import type { Sm2SignerPool } from '@medsign/gm';
import { verifyCertificateChain, type ParsedCertificate } from '@medsign/pki';
import {
  RateLimiter,
  type AppCredentialStore,
  type ClientCertificateAuthority,
  type CredentialDeps,
  type AppDeps,
  type SignatureRecord,
  type SignerRecord,
  type SigningDeps,
  type SignStore,
  type TimeStamper,
  type VerifyDeps,
  type AppRecord,
  type EvidenceDeps,
} from '@medsign/sign';
import type { Store } from '@medsign/store';
import { hashPassword, verifyPassword } from './adapters/admin-auth.js';
import { maskDetail, storeAuditSink } from './adapters/audit.js';
import type { SignConfig } from './config.js';

/** What the signing routes and the operator CLI use. */
export type SignServices = {
  deps: SigningDeps & AppDeps & CredentialDeps;
  verify: VerifyDeps;
  /** Evidence reports of signature records. */
  evidence: EvidenceDeps;
  limiter: RateLimiter;
};

/**
 * The store's signing tables as the core's SignStore. The store keeps enumerated fields as text under CHECK
 * constraints (system type, status, format, digest algorithm), so reading them back as the core's unions is
 * sound; this is the one place that says so.
 */
export function signStoreOf(store: Store): SignStore {
  const s = store.signing;
  return {
    insertApp: (a) => s.insertApp(a),
    getApp: async (id) => (await s.getApp(id)) as AppRecord | undefined,
    useNonce: (appId, nonce, expiresAt, now) => s.useNonce(appId, nonce, expiresAt, now),
    insertSigner: (r) => s.insertSigner(r),
    getSigner: (id) => s.getSigner(id),
    getSignerByEmployeeNo: (no) => s.getSignerByEmployeeNo(no),
    recordWrongPin: (id, max, now) => s.recordWrongPin(id, max, now) as Promise<SignerRecord>,
    clearWrongPins: (id, now) => s.clearWrongPins(id, now),
    unlockSigner: (id, now) => s.unlockSigner(id, now),
    insertAuthorisation: (a) => s.insertAuthorisation(a),
    getAuthorisation: (id) => s.getAuthorisation(id),
    listAuthorisations: (signerId, limit) => s.listAuthorisations(signerId, limit),
    revokeAuthorisation: (id, now) => s.revokeAuthorisation(id, now),
    insertSignature: (r, e, original) =>
      s.insertSignature(
        r,
        { actor: e.actor, action: e.action, target: e.target ?? null, detail: maskDetail(e.detail) },
        original,
      ),
    getOriginal: (id) => s.getOriginal(id),
    getSignature: async (id) => (await s.getSignature(id)) as SignatureRecord | undefined,
    findSignatureByIdempotencyKey: async (appId, key) =>
      (await s.findSignatureByIdempotencyKey(appId, key)) as SignatureRecord | undefined,
    searchSignatures: async (q) =>
      (await s.searchSignatures(q)) as { total: number; items: SignatureRecord[] },
  };
}

/** The store's application credentials as the core's AppCredentialStore (audit details masked like the rest). */
export function credentialStoreOf(store: Store): AppCredentialStore {
  const c = store.appCredentials;
  const audit = (e: {
    actor: string;
    action: string;
    target?: string;
    detail?: Record<string, string | number | boolean>;
  }) => ({
    actor: e.actor,
    action: e.action,
    target: e.target ?? null,
    detail: maskDetail(e.detail),
  });
  return {
    rotateSecret: (appId, sealed, now, until, id, e) =>
      c.rotateSecret(appId, sealed, now, until, id, audit(e)),
    retiredSecrets: (appId, now) => c.retiredSecrets(appId, now),
    bindCertificate: (b, e) => c.bindCertificate(b, audit(e)),
    findCertificate: (fp) => c.findCertificate(fp),
    listCertificates: (appId) => c.listCertificates(appId),
    unbindCertificate: (appId, fp, now, e) => c.unbindCertificate(appId, fp, now, audit(e)),
  };
}

/**
 * Our CAs as issuers of TLS client certificates: the chain to one of our roots (validity now), the issuing
 * CA's id, and the certificate's status in the CA's records.
 */
function clientCertificateAuthority(
  ca: CaDeps,
  trusted: { anchors: ParsedCertificate[]; intermediates: ParsedCertificate[] },
  status: (caId: string, serial: string) => Promise<'good' | 'revoked' | 'hold' | 'unknown'>,
): ClientCertificateAuthority {
  return {
    issuerOf(cert, at) {
      const chain = verifyCertificateChain(cert, { ...trusted, at });
      if (!chain.valid)
        return { error: `the certificate does not chain to our CA: ${chain.errors.join('; ')}` };
      const issuer = chain.path[1];
      const caId = issuer && ca.cas.find((c) => c.certificate.fingerprint() === issuer.fingerprint())?.id;
      return caId ? { caId } : { error: 'the certificate was not issued by an issuing CA of this platform' };
    },
    status,
  };
}

/** Our trust anchors (roots) and the CA certificates below them, from the CA core's issuing CAs. */
function trust(ca: CaDeps): { anchors: ParsedCertificate[]; intermediates: ParsedCertificate[] } {
  const anchors: ParsedCertificate[] = [];
  const intermediates: ParsedCertificate[] = [];
  const add = (list: ParsedCertificate[], c: ParsedCertificate) => {
    if (!list.some((x) => x.fingerprint() === c.fingerprint())) list.push(c);
  };
  for (const c of ca.cas) {
    const root = c.chain.at(-1) ?? c.certificate;
    add(anchors, root);
    for (const x of [c.certificate, ...c.chain]) if (x !== root) add(intermediates, x);
  }
  return { anchors, intermediates };
}

export type SignServicesOptions = {
  config: { sign: SignConfig };
  store: Store;
  ca: CaDeps;
  backend: CaBackend;
  keystore: KeyStore;
  now: () => Date;
  /** The TSA, once one is configured. */
  timeStamper?: TimeStamper;
  /** SM2 worker threads: verification's per-message signatures run there (another core). */
  sm2Pool?: Sm2SignerPool;
};

/** Most application secrets kept opened in memory (one or two per registered application). */
const OPENED_SECRETS_MAX = 256;

/** Builds the signing service's dependencies. */
export function buildSignServices(o: SignServicesOptions): SignServices {
  const clock = { now: o.now };
  const status = {
    async status(caId: string, serial: string) {
      return (await o.ca.store.getCertificate(caId, serial))?.status ?? ('unknown' as const);
    },
    async revocation(caId: string, serial: string) {
      const c = await o.ca.store.getCertificate(caId, serial);
      if (!c) return { status: 'unknown' as const };
      return {
        status: c.status,
        ...(c.revokedAt ? { revokedAt: c.revokedAt } : {}),
        ...(c.revocationReason ? { reason: c.revocationReason } : {}),
      };
    },
  };
  const { anchors, intermediates } = trust(o.ca);
  const openedSecrets = new Map<string, Uint8Array>();
  const openSecret = (sealed: Uint8Array, context: string): Uint8Array => {
    const key = `${context}\u0000${Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength).toString('base64')}`;
    let plain = openedSecrets.get(key);
    if (!plain) {
      plain = new Uint8Array(
        Buffer.from(o.keystore.personalData.open('appSecret', sealed, context), 'base64'),
      );
      if (openedSecrets.size >= OPENED_SECRETS_MAX) {
        const oldest = openedSecrets.keys().next().value!;
        openedSecrets.get(oldest)!.fill(0);
        openedSecrets.delete(oldest);
      }
      openedSecrets.set(key, plain);
    }
    return plain;
  };
  const deps: SignServices['deps'] = {
    clock,
    issuerChain: (caId) => {
      const issuing = o.ca.cas.find((c) => c.id === caId);
      // The issuing CA and any CA above it except the root (the relying party brings its own root).
      return issuing ? [issuing.certificate, ...issuing.chain.slice(0, -1)] : [];
    },
    store: signStoreOf(o.store),
    audit: storeAuditSink(o.store),
    keys: {
      generate: (type, label, metadata) => o.keystore.generate(type, label, metadata),
      signer: (keyId, purpose) => o.keystore.signer(keyId, purpose),
    },
    issuer: { issue: (req) => o.backend.issue(req) },
    status,
    pins: { hash: hashPassword, verify: verifyPassword },
    secrets: {
      // Secrets are bytes; the keystore's field cipher (the one way medsign seals values) takes text.
      seal: async (plaintext, context) =>
        o.keystore.personalData.seal('appSecret', Buffer.from(plaintext).toString('base64'), context),
      // Every authenticated request opens its application's secret: SM4-GCM in JS cost ≈ 2.5 % of the
      // signing path's main thread. Opened secrets are kept by (application, sealed value) — a rotation
      // seals a new value, so a retired secret is never answered for a current one; callers get a copy.
      open: async (sealed, context) => new Uint8Array(openSecret(sealed, context)),
    },
    credentials: credentialStoreOf(o.store),
    clientCertificates: clientCertificateAuthority(o.ca, { anchors, intermediates }, status.status),
    originals: {
      // Signed originals: the keystore's field cipher on bytes, bound to the record id (context).
      seal: async (plaintext, context) =>
        o.keystore.personalData.sealBytes('signedOriginal', plaintext, context),
      open: async (sealed, context) => o.keystore.personalData.openBytes('signedOriginal', sealed, context),
    },
    certificates: {
      async get(caId, serial) {
        const c = await o.ca.store.getCertificate(caId, serial);
        return (
          c && {
            der: c.der,
            status: c.status,
            ...(c.employeeNo ? { employeeNo: c.employeeNo } : {}),
            ...(c.revokedAt ? { revokedAt: c.revokedAt } : {}),
          }
        );
      },
    },
    ...(o.config.sign.storeOriginals !== undefined ? { storeOriginals: o.config.sign.storeOriginals } : {}),
    ...(o.timeStamper ? { timeStamper: o.timeStamper } : {}),
    maxPinFailures: o.config.sign.maxPinFailures,
    replayWindowSeconds: o.config.sign.replayWindowSeconds,
    maxDataBytes: o.config.sign.maxDataBytes,
    ...(o.config.sign.documentTypes ? { documentTypes: o.config.sign.documentTypes } : {}),
  };
  const verify: VerifyDeps = {
    clock,
    status: {
      ...status,
      caIdOf: (issuer) => o.ca.cas.find((c) => c.certificate.fingerprint() === issuer.fingerprint())?.id,
    },
    anchors,
    intermediates,
    ...(o.sm2Pool ? { sm2Pool: o.sm2Pool } : {}),
  };
  const evidence: EvidenceDeps = {
    clock,
    store: deps.store,
    audit: deps.audit,
    ...(deps.originals ? { originals: deps.originals } : {}),
    ...(deps.certificates ? { certificates: deps.certificates } : {}),
    maxDataBytes: o.config.sign.maxDataBytes,
    verify,
    auditLog: {
      byTarget: async (target, action) =>
        (await o.store.audit.byTarget(target, action === undefined ? {} : { action })).map((e) => ({
          ...e,
          detail: e.detail as Record<string, unknown>,
        })),
      async verifyUpTo(seq) {
        const v = await o.store.audit.verify({ upTo: seq });
        return {
          ok: v.ok,
          checked: v.checked,
          ...(v.firstBreak ? { firstBreak: v.firstBreak.message } : {}),
        };
      },
    },
    identity: {
      async applicationOf(caId, serial) {
        const a = await o.store.applications.findByCertificate(caId, serial);
        return (
          a && {
            id: a.id,
            profile: a.profile,
            state: a.state,
            submittedBy: a.submittedBy,
            submittedAt: a.submittedAt,
            ...(a.review ? { reviewedBy: a.review.by, reviewedAt: a.review.at } : {}),
          }
        );
      },
    },
  };
  return { deps, verify, evidence, limiter: new RateLimiter() };
}
