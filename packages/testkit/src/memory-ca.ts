/** The CA core's storage port in memory, for tests of the CA core and of the HTTP layer above it. */

import type { CaStore, CertificateRecord, IssuanceIntent } from '@medsign/ca';

/** A CaStore on maps. Records also keep when they were inserted (the inventory shows it). */
export class MemoryCaStore implements CaStore {
  readonly serials = new Set<string>();
  readonly intents = new Map<string, IssuanceIntent>();
  readonly certs = new Map<string, CertificateRecord & { createdAt: Date }>();
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
    this.certs.set(`${r.caId}/${r.serial}`, { ...r, createdAt: new Date() });
  }
  async getCertificate(caId: string, serial: string) {
    const r = this.certs.get(`${caId}/${serial}`);
    return r && { ...r };
  }
  async updateStatus(
    caId: string,
    serial: string,
    status: CertificateRecord['status'],
    at?: Date,
    reason?: string,
  ) {
    const r = this.certs.get(`${caId}/${serial}`)!;
    r.status = status;
    if (status === 'good') {
      delete r.revokedAt;
      delete r.revocationReason;
    } else {
      r.revokedAt = at!;
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
