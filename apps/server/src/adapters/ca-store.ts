/**
 * The CA core's storage port (CaStore) on @medsign/store: serials through the serial ledger (a serial is
 * never handed out twice, even after a failed issuance), intents before signing, the certificate
 * inventory, and CRL numbers from one atomic counter per CA — so several server processes sharing one
 * PostgreSQL database behave as one CA.
 */

import type { Applicant, CaStore, CertificateRecord, CertificateStatus, IssuanceIntent } from '@medsign/ca';
import { DomainError } from '@medsign/errors';
import type { PersonalDataCipher } from '@medsign/keystore';
import { ParsedCertificate } from '@medsign/pki';
import {
  normalizeSerial,
  StoreError,
  type CertificateRecord as StoredCertificate,
  type NewCertificate,
  type Store,
} from '@medsign/store';
import { certificateContext, openApplicant, sealApplicant } from './personal-data.js';

const EPOCH = new Date(0);

function toCaRecord(r: StoredCertificate): CertificateRecord {
  return {
    caId: r.caId,
    serial: r.serial,
    profile: r.profile,
    subject: r.subject,
    ...(r.department !== null ? { department: r.department } : {}),
    ...(r.employeeNo !== null ? { employeeNo: r.employeeNo } : {}),
    notBefore: r.notBefore,
    notAfter: r.notAfter,
    der: r.der,
    status: r.status,
    ...(r.revokedAt !== null ? { revokedAt: r.revokedAt } : {}),
    ...(r.revocationReason !== null ? { revocationReason: r.revocationReason } : {}),
  };
}

/**
 * {@link CaStore} over the store's repositories. The applicant's ID number and phone are sealed by the
 * keystore's PersonalDataCipher before they reach the store (personal-data.ts).
 */
export class StoreCaStore implements CaStore {
  readonly #store: Store;
  readonly #personal: PersonalDataCipher;

  constructor(store: Store, personal: PersonalDataCipher) {
    this.#store = store;
    this.#personal = personal;
  }

  async reserveSerial(caId: string, serial: string): Promise<boolean> {
    try {
      await this.#store.serials.reserveUniqueSerial(caId, () => serial, { maxAttempts: 1 });
      return true;
    } catch (e) {
      // `exhausted` after one attempt = this serial is taken; the core draws a new one.
      if (e instanceof StoreError && e.code === 'exhausted') return false;
      throw e;
    }
  }

  async recordIntent(intent: IssuanceIntent): Promise<void> {
    await this.#store.intents.record({
      id: intent.id,
      caId: intent.caId,
      serial: intent.serial,
      tbsHash: intent.tbsHash,
    });
  }

  async updateIntent(id: string, state: IssuanceIntent['state']): Promise<void> {
    if (state === 'signed') await this.#store.intents.markSigned(id);
    else if (state === 'stored') await this.#store.intents.markStored(id);
    else if (state === 'failed') await this.#store.intents.markFailed(id, 'issuance failed after the intent');
    else throw new RangeError(`an intent cannot go back to ${state}`);
  }

  async insertCertificate(record: CertificateRecord): Promise<void> {
    // The core passes the subject DER it already has; parsing the certificate again cost ~7% of an issuance.
    const subjectDer = record.subjectDer ?? ParsedCertificate.parse(record.der).subjectDer;
    const cert: NewCertificate = {
      caId: record.caId,
      serial: record.serial,
      subject: record.subject,
      subjectDer,
      profile: record.profile,
      notBefore: record.notBefore,
      notAfter: record.notAfter,
      der: record.der,
      status: record.status,
      department: record.department ?? null,
      employeeNo: record.employeeNo ?? null,
      revokedAt: record.revokedAt ?? null,
      revocationReason: record.revocationReason ?? null,
      applicant: record.applicant
        ? sealApplicant(
            this.#personal,
            record.applicant,
            certificateContext(record.caId, normalizeSerial(record.serial)),
          )
        : null,
      replaces: record.replaces ?? null,
    };
    if (record.applicationId === undefined) {
      await this.#store.certificates.insert(cert);
      return;
    }
    // The certificate and the application's `issued` state in one transaction.
    try {
      await this.#store.applications.issue(record.applicationId, cert);
    } catch (e) {
      if (e instanceof StoreError && e.code === 'invalid-state')
        throw new DomainError('CA_APPLICATION_STATE', e.message, { cause: e });
      throw e;
    }
  }

  async getApplicant(caId: string, serial: string): Promise<Applicant | undefined> {
    const r = await this.#store.certificates.findBySerial(caId, serial);
    return r?.applicant
      ? openApplicant(this.#personal, r.applicant, certificateContext(r.caId, r.serial))
      : undefined;
  }

  async getCertificate(caId: string, serial: string): Promise<CertificateRecord | undefined> {
    let r: StoredCertificate | undefined;
    try {
      r = await this.#store.certificates.findBySerial(caId, serial);
    } catch (e) {
      // A zero or over-long serial from an OCSP request names no certificate of ours.
      if (e instanceof RangeError) return undefined;
      throw e;
    }
    return r && toCaRecord(r);
  }

  async updateStatus(
    caId: string,
    serial: string,
    status: CertificateStatus,
    revokedAt?: Date,
    reason?: string,
  ): Promise<void> {
    const at = revokedAt ?? new Date();
    try {
      await this.#store.certificates.setStatus(
        caId,
        serial,
        status === 'good'
          ? { status: 'good' }
          : status === 'hold'
            ? { status: 'hold', revokedAt: at }
            : { status: 'revoked', revokedAt: at, reason: reason ?? 'unspecified' },
      );
    } catch (e) {
      if (e instanceof StoreError && e.code === 'not-found')
        throw new DomainError('CA_CERT_NOT_FOUND', `no certificate ${serial} from CA ${caId}`, { cause: e });
      if (e instanceof StoreError && e.code === 'invalid-state')
        throw new DomainError('CA_ALREADY_REVOKED', e.message, { cause: e });
      throw e;
    }
  }

  /**
   * Revoked and held certificates for a CRL. Only the fields a CRL entry needs are read (serial, status,
   * revocation time and reason): a CRL of 100,000 entries must not load 100,000 certificates. The other
   * fields of the returned records are placeholders.
   */
  async listRevoked(caId: string, since?: Date): Promise<CertificateRecord[]> {
    const entries = await this.#store.certificates.listRevoked(caId);
    return entries
      .filter((e) => !since || e.revokedAt >= since)
      .map((e) => ({
        caId,
        serial: e.serial,
        profile: '',
        subject: '',
        notBefore: EPOCH,
        notAfter: EPOCH,
        der: new Uint8Array(0),
        status: e.status,
        revokedAt: e.revokedAt,
        ...(e.reason !== null ? { revocationReason: e.reason } : {}),
      }));
  }

  nextCrlNumber(caId: string): Promise<bigint> {
    return this.#store.crlNumbers.next(caId);
  }
}
