/** The CA core's storage ports in memory, for tests of the CA core and of the HTTP layer above it. */

import type {
  Application,
  ApplicationState,
  ApplicationStore,
  CaStore,
  CertificateRecord,
  IssuanceIntent,
  Review,
} from '@medsign/ca';
import { DomainError } from '@medsign/errors';

/** Applications on a map, with the duplicate-pending rule of the SQL store. */
export class MemoryApplicationStore implements ApplicationStore {
  readonly applications = new Map<string, Application>();

  async insert(a: Application) {
    const open = (x: Application) => x.state === 'pending' || x.state === 'approved';
    if (
      a.applicant.employeeNo !== undefined &&
      [...this.applications.values()].some(
        (x) => open(x) && x.profileId === a.profileId && x.applicant.employeeNo === a.applicant.employeeNo,
      )
    )
      throw new DomainError('CA_APPLICATION_DUPLICATE');
    this.applications.set(a.id, structuredClone(a));
  }
  async get(id: string) {
    const a = this.applications.get(id);
    return a && structuredClone(a);
  }
  async findOpen(employeeNo: string, profileId: string) {
    return [...this.applications.values()].find(
      (x) =>
        (x.state === 'pending' || x.state === 'approved') &&
        x.profileId === profileId &&
        x.applicant.employeeNo === employeeNo,
    )?.id;
  }
  async transition(id: string, from: ApplicationState, to: ApplicationState, review: Review | null) {
    const a = this.applications.get(id);
    if (!a || a.state !== from) return false;
    a.state = to;
    if (review) a.review = review;
    else delete a.review;
    return true;
  }
  /** What the SQL store does in the certificate's transaction: approved → issued with the reference. */
  close(id: string, caId: string, serial: string) {
    const a = this.applications.get(id);
    if (!a || a.state !== 'approved') throw new Error(`application ${id} is not approved`);
    a.state = 'issued';
    a.certificate = { caId, serial };
  }
}

/** A CaStore on maps. Records also keep when they were inserted (the inventory shows it). */
export class MemoryCaStore implements CaStore {
  readonly serials = new Set<string>();
  readonly intents = new Map<string, IssuanceIntent>();
  readonly certs = new Map<string, CertificateRecord & { createdAt: Date }>();
  readonly crlNumbers = new Map<string, bigint>();
  /** Applications closed by insertCertificate (as the SQL store does in one transaction). */
  applications?: MemoryApplicationStore;

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
    if (r.applicationId !== undefined) this.applications?.close(r.applicationId, r.caId, r.serial);
    this.certs.set(`${r.caId}/${r.serial}`, { ...r, createdAt: new Date() });
  }
  async getCertificate(caId: string, serial: string) {
    const r = this.certs.get(`${caId}/${serial}`);
    if (!r) return undefined;
    const copy = { ...r };
    delete copy.applicant;
    return copy;
  }
  async getApplicant(caId: string, serial: string) {
    const a = this.certs.get(`${caId}/${serial}`)?.applicant;
    return a && { ...a };
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
