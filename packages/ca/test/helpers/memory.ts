/** In-memory ports for CA core tests. */
import { randomBytes } from 'node:crypto';
import type { PrivateKey } from '@medsign/pki';
import { makeHierarchy, type TestHierarchy } from '@medsign/testkit';
import {
  BUILT_IN_PROFILES,
  type AuditEvent,
  type CaDeps,
  type CaStore,
  type CertificateRecord,
  type IssuanceIntent,
} from '../../src/index.js';

export class MemoryCaStore implements CaStore {
  readonly serials = new Set<string>();
  readonly intents = new Map<string, IssuanceIntent>();
  readonly certs = new Map<string, CertificateRecord>();
  readonly crlNumbers = new Map<string, bigint>();
  async reserveSerial(caId: string, serial: string) {
    const k = `${caId}/${serial}`;
    if (this.serials.has(k)) return false;
    this.serials.add(k);
    return true;
  }
  async recordIntent(i: IssuanceIntent) {
    this.intents.set(i.id, { ...i });
  }
  async updateIntent(id: string, state: IssuanceIntent['state']) {
    this.intents.get(id)!.state = state;
  }
  async insertCertificate(r: CertificateRecord) {
    this.certs.set(`${r.caId}/${r.serial}`, { ...r });
  }
  async getCertificate(caId: string, serial: string) {
    const r = this.certs.get(`${caId}/${serial}`);
    return r && { ...r };
  }
  async updateStatus(
    caId: string,
    serial: string,
    status: CertificateRecord['status'],
    revokedAt?: Date,
    reason?: string,
  ) {
    const r = this.certs.get(`${caId}/${serial}`)!;
    r.status = status;
    if (status === 'good') {
      delete r.revokedAt;
      delete r.revocationReason;
    } else {
      r.revokedAt = revokedAt!;
      r.revocationReason = reason!;
    }
  }
  async listRevoked(caId: string, since?: Date) {
    return [...this.certs.values()].filter(
      (r) => r.caId === caId && r.status !== 'good' && (!since || (r.revokedAt && r.revokedAt >= since)),
    );
  }
  async nextCrlNumber(caId: string) {
    const n = (this.crlNumbers.get(caId) ?? 0n) + 1n;
    this.crlNumbers.set(caId, n);
    return n;
  }
}

export type TestCa = {
  deps: CaDeps;
  store: MemoryCaStore;
  audit: AuditEvent[];
  h: TestHierarchy;
  keyUses: string[];
};

/** A CA core wired to memory ports, with one issuing CA per given key type (the first type's hierarchy is `h`). */
export async function makeTestCa(types: ('sm2' | 'rsa-2048' | 'ec-p256')[] = ['sm2']): Promise<TestCa> {
  const store = new MemoryCaStore();
  const audit: AuditEvent[] = [];
  const keyUses: string[] = [];
  const keys = new Map<string, PrivateKey>();
  const hs = await Promise.all(types.map((t) => makeHierarchy(t)));
  const cas = hs.map((h, i) => {
    keys.set(`key-${types[i]}`, h.intermediate.key);
    return {
      id: types[i]!.split('-')[0]!,
      certificate: h.intermediate.cert,
      keyId: `key-${types[i]}`,
      chain: [h.root.cert],
    };
  });
  const deps: CaDeps = {
    clock: { now: () => new Date() },
    store,
    audit: { append: async (e) => void audit.push(e) },
    keys: {
      signer: async (keyId, purpose) => {
        const signer = keys.get(keyId)!.signer();
        return { ...signer, sign: async (data: Uint8Array) => (keyUses.push(purpose), signer.sign(data)) };
      },
    },
    cas,
    profiles: BUILT_IN_PROFILES,
    urls: { baseUrl: 'http://127.0.0.1:8080/' },
    randomBytes: (n) => new Uint8Array(randomBytes(n)),
  };
  return { deps, store, audit, h: hs[0]!, keyUses };
}
