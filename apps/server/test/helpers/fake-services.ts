/**
 * A Services object on memory ports for the HTTP tests: the real CA core (@medsign/ca) over an in-memory
 * CaStore and testkit hierarchies (SM2 and RSA), an in-memory AdminAuth, and just the parts of the store the
 * routes call (certificate search/counts/lookup, audit verify). The routes stay typed against the real
 * Services; only this fake is cast.
 */

import { randomBytes } from 'node:crypto';
import {
  BUILT_IN_PROFILES,
  embeddedCaBackend,
  type AuditEvent,
  type CaDeps,
  type CertificateRecord as CaRecord,
} from '@medsign/ca';
import { sm3 } from '@medsign/gm';
import type { PrivateKey } from '@medsign/pki';
import type {
  CertificatePage,
  CertificateQuery,
  CertificateRecord,
  CrlKind,
  CrlRecord,
} from '@medsign/store';
import { makeHierarchy, MemoryCaStore, type TestHierarchy } from '@medsign/testkit';
import {
  createTsaUnit,
  DEFAULT_TSA_POLICY,
  respondTimeStamp,
  systemClockTimeSource,
  type ArchivedToken,
  type TsaUnit,
  type TsaUnitId,
} from '@medsign/tsa';
import { DEFAULT_CRL_SCHEDULE } from '../../src/config.js';
import { CrlPublisher, type CrlArchive } from '../../src/crl-publisher.js';
import type { AdminAuth, HealthReport, Role, Services } from '../../src/services.js';

/** Published CRLs in memory (the store's `crls` table in the real services). */
export class MemoryCrlArchive implements CrlArchive {
  readonly crls: CrlRecord[] = [];
  async insert(crl: Omit<CrlRecord, 'createdAt'>) {
    if (this.crls.some((c) => c.caId === crl.caId && c.crlNumber === crl.crlNumber))
      throw new Error(`CRL ${crl.crlNumber} stored twice`);
    this.crls.push({ ...crl, createdAt: new Date() });
  }
  async latestInfo(caId: string, kind: CrlKind) {
    return this.crls
      .filter((c) => c.caId === caId && c.kind === kind)
      .reduce<CrlRecord | undefined>((a, c) => (!a || c.crlNumber > a.crlNumber ? c : a), undefined);
  }
  async get(caId: string, crlNumber: bigint) {
    return this.crls.find((c) => c.caId === caId && c.crlNumber === crlNumber);
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The CA core's store port in memory (testkit), with the inventory queries the HTTP API calls. */
export class MemoryStore extends MemoryCaStore {
  /** The inventory view (@medsign/store's CertificateRecord). */
  view(r: CaRecord & { createdAt: Date }): CertificateRecord {
    return {
      caId: r.caId,
      serial: r.serial,
      subject: r.subject,
      subjectDer: new Uint8Array(),
      profile: r.profile,
      status: r.status,
      notBefore: r.notBefore,
      notAfter: r.notAfter,
      der: r.der,
      fingerprint: hex(sm3(r.der)),
      department: r.department ?? null,
      employeeNo: r.employeeNo ?? null,
      revokedAt: r.revokedAt ?? null,
      revocationReason: r.revocationReason ?? null,
      createdAt: r.createdAt,
      // Memory keeps the applicant in clear; the inventory view does not show it.
      applicant: null,
      applicationId: r.applicationId ?? null,
      replaces: r.replaces ?? null,
    };
  }

  async search(q: CertificateQuery): Promise<CertificatePage> {
    const all = [...this.certs.values()].filter(
      (r) =>
        (!q.caId || r.caId === q.caId) &&
        (!q.subject || r.subject.toLowerCase().includes(q.subject.toLowerCase())) &&
        (q.serial === undefined || r.serial === String(q.serial)) &&
        (!q.department || r.department === q.department) &&
        (!q.profile || r.profile === q.profile) &&
        (!q.status || r.status === q.status) &&
        (!q.expiringBefore || r.notAfter < q.expiringBefore) &&
        (!q.expiringAfter || r.notAfter >= q.expiringAfter),
    );
    const offset = q.offset ?? 0;
    return { total: all.length, items: all.slice(offset, offset + q.limit).map((r) => this.view(r)) };
  }

  async countsBy(dimension: 'department' | 'profile' | 'status' | 'month') {
    const counts = new Map<string | null, number>();
    for (const r of this.certs.values()) {
      const key = dimension === 'month' ? r.createdAt.toISOString().slice(0, 7) : (r[dimension] ?? null);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return [...counts].map(([key, count]) => ({ key, count }));
  }

  async findBySerial(caId: string, serial: string) {
    const r = this.certs.get(`${caId}/${serial}`);
    return r && this.view(r);
  }
}

/**
 * AdminAuth in memory: users `admin` (roles admin), `operator` (roles ra) and `fresh` (admin, still on its
 * one-time password), password = username + "-pass".
 */
export class MemoryAuth implements AdminAuth {
  readonly tokens = new Map<string, { actor: string; roles: string[] }>();
  readonly users = new Map([
    ['admin', { password: 'admin-pass', roles: ['admin'], mustChange: false }],
    ['operator', { password: 'operator-pass', roles: ['ra'], mustChange: false }],
    ['fresh', { password: 'fresh-pass', roles: ['admin'], mustChange: true }],
  ]);
  async login(username: string, password: string) {
    const u = this.users.get(username);
    if (!u || u.password !== password) return undefined;
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, { actor: username, roles: u.roles });
    return { token, mustChangePassword: u.mustChange, expiresAt: new Date(Date.now() + 3_600_000) };
  }
  async authenticate(token: string) {
    const t = this.tokens.get(token);
    return t && { ...t, mustChangePassword: this.users.get(t.actor)!.mustChange };
  }
  async changePassword(actor: string, oldPassword: string, newPassword: string) {
    const u = this.users.get(actor);
    if (!u || u.password !== oldPassword) return false;
    u.password = newPassword;
    u.mustChange = false;
    return true;
  }
  async logout(token: string) {
    this.tokens.delete(token);
  }
}

export type FakeServices = {
  services: Services;
  store: MemoryStore;
  crlArchive: MemoryCrlArchive;
  auth: MemoryAuth;
  audit: AuditEvent[];
  /** The SM2 and RSA test hierarchies behind CAs `sm2` and `rsa`. */
  sm2: TestHierarchy;
  rsa: TestHierarchy;
  setHealth(report: HealthReport | (() => Promise<HealthReport>)): void;
  /** Tokens the fake TSA archived (units sm2 and rsa, from the testkit hierarchies). */
  tokens: ArchivedToken[];
};

let hierarchies: Promise<[TestHierarchy, TestHierarchy]> | undefined;

/** Fake services with the given roles (default: every role). Hierarchies are made once per process. */
export async function makeFakeServices(
  roles: Role[] = ['ca', 'ocsp', 'crl', 'tsa', 'sign', 'seal', 'admin'],
): Promise<FakeServices> {
  hierarchies ??= Promise.all([makeHierarchy('sm2'), makeHierarchy('rsa-2048')]);
  const [sm2, rsa] = await hierarchies;
  const store = new MemoryStore();
  const auth = new MemoryAuth();
  const audit: AuditEvent[] = [];
  const keys = new Map<string, PrivateKey>([
    ['key-sm2', sm2.intermediate.key],
    ['key-rsa', rsa.intermediate.key],
  ]);
  const ca: CaDeps = {
    clock: { now: () => new Date() },
    store,
    audit: { append: async (e) => void audit.push(e) },
    keys: { signer: async (keyId) => keys.get(keyId)!.signer() },
    cas: [
      { id: 'sm2', certificate: sm2.intermediate.cert, keyId: 'key-sm2', chain: [sm2.root.cert] },
      { id: 'rsa', certificate: rsa.intermediate.cert, keyId: 'key-rsa', chain: [rsa.root.cert] },
    ],
    profiles: BUILT_IN_PROFILES,
    urls: { baseUrl: 'http://127.0.0.1:8080' },
    randomBytes: (n) => new Uint8Array(randomBytes(n)),
  };
  let health: () => Promise<HealthReport> = async () => ({
    status: 'ok',
    checks: [{ name: 'database', ok: true, detail: 'memory' }],
  });
  const tokens: ArchivedToken[] = [];
  const units = new Map<TsaUnitId, TsaUnit>(
    (
      [
        ['sm2', sm2],
        ['rsa', rsa],
      ] as const
    ).map(([id, h]) => [
      id,
      createTsaUnit({
        id,
        signer: h.tsa.key.signer(),
        certificate: h.tsa.cert,
        chain: [h.intermediate.cert, h.root.cert],
        policy: DEFAULT_TSA_POLICY,
      }),
    ]),
  );
  const backend = embeddedCaBackend(ca);
  const crlArchive = new MemoryCrlArchive();
  const crls = new CrlPublisher({
    backend,
    archive: crlArchive,
    caIds: () => ca.cas.map((c) => c.id),
    clock: { now: () => ca.clock.now() },
    schedule: DEFAULT_CRL_SCHEDULE,
  });
  const services = {
    config: {
      roles,
      logLevel: 'silent',
      publicBaseUrl: 'http://127.0.0.1:8080',
      sign: {
        maxPinFailures: 5,
        replayWindowSeconds: 300,
        maxDataBytes: 4 * 1024 * 1024,
        maxJobDocuments: 1000,
        maxJobBytes: 64 * 1024 * 1024,
        jobExpiryMinutes: 60,
        jobConcurrency: 2,
        webhookMaxAttempts: 6,
        webhookRetrySeconds: 30,
        webhookTimeoutSeconds: 10,
        corsOrigins: [],
      },
    },
    tsa: {
      defaultUnit: 'sm2',
      units: async () => units,
      respond: (unit: TsaUnit, request: Uint8Array, requester?: string) =>
        respondTimeStamp(
          unit,
          request,
          {
            clock: { now: () => new Date() },
            timeSource: services.timeSource,
            archive: { archive: async (t) => (tokens.push(t), 'stored') },
            randomBytes: (n) => new Uint8Array(randomBytes(n)),
          },
          requester !== undefined ? { requester } : {},
        ),
    },
    ca,
    backend,
    crls,
    store: {
      certificates: store,
      audit: { verify: async () => ({ ok: true, checked: audit.length }) },
      // The roots live only in the cas table (they issue no end-entity certificates).
      cas: {
        get: async (id: string) =>
          id === 'sm2-root' || id === 'rsa-root'
            ? {
                id,
                parentId: null,
                status: 'active',
                certificate: (id === 'sm2-root' ? sm2 : rsa).root.cert.der,
              }
            : undefined,
      },
    },
    keystore: {},
    auth,
    timeSource: systemClockTimeSource(1000),
    health: () => health(),
    close: async () => {},
  } as unknown as Services;
  return {
    services,
    tokens,
    store,
    crlArchive,
    auth,
    audit,
    sm2,
    rsa,
    setHealth: (r) => {
      health = typeof r === 'function' ? r : async () => r;
    },
  };
}
