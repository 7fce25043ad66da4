/**
 * Composition root: opens the store and the keystore named by the configuration and wires the CA core,
 * admin authentication and health checks onto them. The HTTP app (app.ts) and the operator CLI both
 * start from `openServices`, so they run the very same CA — the CLI needs no running server.
 */

import { randomBytes, randomUUID } from 'node:crypto';
import {
  BUILT_IN_PROFILES,
  certificateLifecycle,
  embeddedCaBackend,
  OcspResponseCache,
  type CaBackend,
  type CaDeps,
  type CertificateLifecycle,
  type IssuingCa,
} from '@medsign/ca';
import { DomainError } from '@medsign/errors';
import { Sm2SignerPool } from '@medsign/gm';
import {
  keyFileKek,
  openSoftwareKeyStore,
  passphraseKek,
  type KekSource,
  type KeyStore,
} from '@medsign/keystore';
import { ParsedCertificate } from '@medsign/pki';
import { openStore, type CaRecord, type Store } from '@medsign/store';
import { type TimeMonitor, type TimeSource } from '@medsign/tsa';
import { StoreAdminAuth, type AdminAuth } from './adapters/admin-auth.js';
import { StoreApplicationStore } from './adapters/applications.js';
import { keystoreAuditHook, storeAuditSink } from './adapters/audit.js';
import { StoreCaStore } from './adapters/ca-store.js';
import { buildTimeSource } from './adapters/time-source.js';
import { CrlPublisher } from './crl-publisher.js';
import type { MedsignConfig, Role } from './config.js';
import {
  INTENT_GRACE_MS,
  recoverInterruptedApprovals,
  recoverInterruptedIssuances,
  type RecoveredIntent,
} from './recovery.js';
import { openReports, type ReportService } from './reports.js';
import { buildSignServices, type SignServices } from './sign-services.js';
import { openTsa, tsaTimeStamper, type TsaService } from './tsa.js';

export type { AdminAuth } from './adapters/admin-auth.js';
export { createAccount } from './adapters/admin-auth.js';
export { OPERATOR_ROLES, REVIEW_ROLES, type OperatorRole } from './roles.js';
export type { MedsignConfig, Role } from './config.js';

/** One line of the health report; `detail` is safe to show on /healthz. */
export type HealthCheck = { name: string; ok: boolean; detail: string };
/**
 * database, keystore, CA expiry (< 30 days → degraded, expired → down), unfinished issuances, CRLs past
 * nextUpdate (degraded), time source (not usable → degraded).
 */
export type HealthReport = { status: 'ok' | 'degraded' | 'down'; checks: HealthCheck[] };

/** Everything the HTTP app and the operator CLI work with. */
export type Services = {
  config: MedsignConfig;
  /** @medsign/ca deps wired to store/keystore/audit (inventory and CA lookups). */
  ca: CaDeps;
  /** Where issuance, revocation and status publication go: the embedded CA today, an upstream CA in RA mode. */
  backend: CaBackend;
  /** Applications → review → issue → renew, issuing through `backend`. */
  lifecycle: CertificateLifecycle;
  /** Applications with their applicant opened (search, get); show personal fields masked only. */
  applications: StoreApplicationStore;
  /** Certificate search/counts, the audit log, the CA table. */
  store: Store;
  keystore: KeyStore;
  auth: AdminAuth;
  /**
   * The clock the TSA is bound to: grant tokens only while `timeSource.status().usable`. The monitor
   * when time sources are configured (`timeSource` in the configuration), else the trusted system clock.
   */
  timeSource: TimeSource;
  /** The monitor behind `timeSource`, when sources are configured: the server's start starts it; close stops it. */
  timeMonitor?: TimeMonitor;
  /** The signing service (applications, signers, signatures): sign-services.ts. */
  sign: SignServices;
  /** The time-stamp authority's units (loaded on first use) and its request handler. */
  tsa: TsaService;
  /** Full and delta CRLs: published on the schedule (started by the server app) and after revocations. */
  crls: CrlPublisher;
  /**
   * Signed PDF reports (reports.ts): `signedReport(doc)` renders a @medsign/report ReportDocument, signs it
   * with the platform's report-signing key (PAdES B-T) and time-stamps it with the in-process TSA.
   */
  reports: ReportService;
  health(): Promise<HealthReport>;
  /** Issuances a crash had interrupted, closed when these services were opened (see recovery.ts). */
  recovered?: RecoveredIntent[];
  /** Stops the time-source monitor and the CRL schedule, closes the keystore (wipes cached keys) and its signer threads, then the database. */
  close(): Promise<void>;
};

const DAY = 86_400_000;
/** CA certificates expiring within this window make health `degraded`. */
export const CA_EXPIRY_WARNING_MS = 30 * DAY;
/** An intent still pending after this long is a crash to look at (recovery closes it at the next start). */
const STALE_INTENT_MS = INTENT_GRACE_MS;

/** The KEK source for a configuration; `create` allows a new key file (init only, never at start). */
export function kekSource(config: MedsignConfig, create = false): KekSource {
  return config.keystore.kind === 'passphrase'
    ? passphraseKek(config.keystore.passphrase)
    : keyFileKek(config.keystore.path, { create });
}

/**
 * The issuing CAs (those with a parent) that are active, each with its chain up to the root, from the
 * `cas` table. Roots are not returned: they only sign CA certificates (init), never end entities.
 */
export async function loadIssuingCas(store: Store): Promise<IssuingCa[]> {
  const all = await store.cas.list();
  const byId = new Map<string, CaRecord>(all.map((c) => [c.id, c]));
  const out: IssuingCa[] = [];
  for (const ca of all) {
    if (ca.parentId === null || ca.status !== 'active') continue;
    const chain: ParsedCertificate[] = [];
    const seen = new Set([ca.id]);
    for (let p = byId.get(ca.parentId); p; p = p.parentId ? byId.get(p.parentId) : undefined) {
      if (seen.has(p.id)) break;
      seen.add(p.id);
      chain.push(ParsedCertificate.parse(p.certificate));
    }
    out.push({ id: ca.id, certificate: ParsedCertificate.parse(ca.certificate), keyId: ca.keyRef, chain });
  }
  return out;
}

/** Builds the CA core's dependencies on an open store and keystore. */
export async function buildCaDeps(
  config: MedsignConfig,
  store: Store,
  keystore: KeyStore,
  now: () => Date = () => new Date(),
  sm2Pool?: Sm2SignerPool,
): Promise<CaDeps> {
  return {
    ...(sm2Pool ? { sm2Pool } : {}),
    clock: { now },
    store: new StoreCaStore(store, keystore.personalData),
    keys: keystore,
    audit: storeAuditSink(store),
    cas: await loadIssuingCas(store),
    profiles: BUILT_IN_PROFILES,
    urls: { baseUrl: config.publicBaseUrl },
    randomBytes: (n) => new Uint8Array(randomBytes(n)),
    // Pre-signed answers to nonce-less single-certificate OCSP requests, at most a minute old and dropped
    // at once when this process revokes (see @medsign/ca ocsp-cache.ts).
    ocspCache: new OcspResponseCache(),
  };
}

/** Options of {@link openServices} (tests pass a clock). */
export type OpenServicesOptions = {
  now?: () => Date;
  /** Age after which an unfinished issuance intent is closed at open (default 5 minutes). */
  intentGraceMs?: number;
};

/**
 * Opens the services for a configuration. Throws SERVER_NOT_INITIALIZED when the database holds no
 * issuing CA (run `medsign init`), and the keystore's errors (wrong key file or passphrase) unchanged.
 * Issuances a crash left between intent and store (older than the grace period) are closed and audited
 * before the services are returned — see recovery.ts.
 */
export async function openServices(
  config: MedsignConfig,
  options: OpenServicesOptions = {},
): Promise<Services> {
  const now = options.now ?? (() => new Date());
  const store = await openStore(config.db, { now });
  let keystore: KeyStore | undefined;
  let pool: Sm2SignerPool | undefined;
  try {
    const cas = await store.cas.list();
    if (!cas.some((c) => c.parentId !== null)) {
      throw new DomainError(
        'SERVER_NOT_INITIALIZED',
        `the database ${redactDb(config.db)} holds no issuing CA; run medsign init --data ${config.dataDir}`,
      );
    }
    pool = config.signerThreads > 0 ? new Sm2SignerPool({ size: config.signerThreads }) : undefined;
    keystore = await openSoftwareKeyStore({
      records: store.keys,
      kek: kekSource(config),
      audit: keystoreAuditHook(store),
      clock: { now },
      ...(pool ? { sm2Pool: pool } : {}),
    });
    // Before serving: close the issuances a crash left between intent and store (audited).
    const grace = options.intentGraceMs !== undefined ? { graceMs: options.intentGraceMs } : {};
    const recovered = await recoverInterruptedIssuances(store, { now, ...grace });
    await recoverInterruptedApprovals(store, { now, ...grace });
    const ca = await buildCaDeps(config, store, keystore, now, pool);
    const auth = new StoreAdminAuth(store, { sessionMinutes: config.sessionMinutes, now });
    const ks = keystore;
    const backend = embeddedCaBackend(ca);
    const applications = new StoreApplicationStore(store, ks.personalData);
    const { timeSource, monitor } = buildTimeSource(config.timeSource, store, now);
    const tsa = openTsa({
      store,
      keystore: ks,
      cas: ca.cas,
      config: config.tsa,
      timeSource: () => services.timeSource,
      now,
    });
    const crls = new CrlPublisher({
      backend,
      archive: store.crls,
      caIds: () => ca.cas.map((c) => c.id),
      clock: { now },
      schedule: config.crl,
    });
    let closed = false;
    const services: Services = {
      config,
      ca,
      backend,
      lifecycle: certificateLifecycle({
        backend,
        applications,
        certificates: ca.store,
        userKeys: ks,
        audit: ca.audit,
        clock: ca.clock,
        profiles: ca.profiles,
        newId: randomUUID,
      }),
      applications,
      store,
      keystore: ks,
      auth,
      timeSource,
      ...(monitor ? { timeMonitor: monitor } : {}),
      tsa,
      sign: buildSignServices({
        config,
        store,
        ca,
        backend,
        keystore: ks,
        now,
        timeStamper: tsaTimeStamper(tsa),
        ...(pool ? { sm2Pool: pool } : {}),
      }),
      crls,
      reports: openReports({
        store,
        keystore: ks,
        ca,
        tsa,
        organization: config.organization,
        publicBaseUrl: config.publicBaseUrl,
        now,
      }),
      health: () => checkHealth(store, ks, timeSource, crls, now),
      recovered,
      async close() {
        if (closed) return;
        closed = true;
        try {
          await monitor?.stop();
          await crls.stop();
          await ks.close();
        } finally {
          await pool?.close();
          await store.close();
        }
      },
    };
    return services;
  } catch (e) {
    await keystore?.close().catch(() => undefined);
    await pool?.close();
    await store.close();
    throw e;
  }
}

function redactDb(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** Whether a role is switched on in the configuration. */
export function roleEnabled(config: MedsignConfig, role: Role): boolean {
  return config.roles.includes(role);
}

async function checkHealth(
  store: Store,
  keystore: KeyStore,
  timeSource: TimeSource,
  crls: CrlPublisher,
  now: () => Date,
): Promise<HealthReport> {
  const checks: HealthCheck[] = [];
  let down = false;
  let degraded = false;

  try {
    // A real round trip (an indexed lookup that finds nothing), not just a pool check.
    await store.cas.get('~health-probe');
    checks.push({ name: 'database', ok: true, detail: `${store.database.dialect} reachable` });
  } catch (e) {
    down = true;
    checks.push({
      name: 'database',
      ok: false,
      detail: `${store.database.dialect}: ${(e as Error).message}`,
    });
  }

  const ks = await keystore.health().catch((e: Error) => ({ ok: false, detail: e.message }));
  if (!ks.ok) down = true;
  checks.push({ name: 'keystore', ok: ks.ok, detail: ks.detail });

  try {
    const t = now().getTime();
    const problems: string[] = [];
    let soonest: { id: string; at: Date } | undefined;
    for (const ca of await store.cas.list()) {
      if (ca.status !== 'active') continue;
      const notAfter = ParsedCertificate.parse(ca.certificate).notAfter;
      if (!soonest || notAfter < soonest.at) soonest = { id: ca.id, at: notAfter };
      if (notAfter.getTime() <= t) {
        down = true;
        problems.push(`${ca.id} expired on ${notAfter.toISOString()}`);
      } else if (notAfter.getTime() - t < CA_EXPIRY_WARNING_MS) {
        degraded = true;
        problems.push(`${ca.id} expires on ${notAfter.toISOString()}`);
      }
    }
    checks.push({
      name: 'ca-expiry',
      ok: problems.length === 0,
      detail: problems.length
        ? problems.join('; ')
        : soonest
          ? `first CA expiry: ${soonest.id} on ${soonest.at.toISOString()}`
          : 'no CA',
    });
  } catch (e) {
    down = true;
    checks.push({ name: 'ca-expiry', ok: false, detail: (e as Error).message });
  }

  try {
    const stale = (await store.intents.listUnfinished()).filter(
      (i) => now().getTime() - i.updatedAt.getTime() > STALE_INTENT_MS,
    );
    if (stale.length) degraded = true;
    checks.push({
      name: 'issuance-intents',
      ok: stale.length === 0,
      detail: stale.length
        ? `${stale.length} issuance(s) interrupted between intent and store (first: ${stale[0]!.id}); a restart closes them (audit: cert.intent-abandoned)`
        : 'no interrupted issuance',
    });
  } catch (e) {
    degraded = true;
    checks.push({ name: 'issuance-intents', ok: false, detail: (e as Error).message });
  }

  try {
    // A CRL past its nextUpdate: relying parties that check CRLs now refuse every certificate of that CA.
    const overdue = await crls.overdue();
    if (overdue.length) degraded = true;
    checks.push({
      name: 'crl',
      ok: overdue.length === 0,
      detail: overdue.length ? overdue.join('; ') : 'every published CRL is within its nextUpdate',
    });
  } catch (e) {
    degraded = true;
    checks.push({ name: 'crl', ok: false, detail: (e as Error).message });
  }

  // A clock the TSA may not use is `degraded`, not `down`: the TSA refuses in band (timeNotAvailable)
  // while CA, CRL and OCSP — whose times tolerate far more than a time-stamp's accuracy — keep serving.
  const time = timeSource.status();
  if (!time.usable) degraded = true;
  checks.push({ name: 'time-source', ok: time.usable, detail: time.detail });
  return { status: down ? 'down' : degraded ? 'degraded' : 'ok', checks };
}
