/**
 * The ports the CA core works through (conventions.md §1): time, keys, storage and audit come in
 * from outside, so the core stays pure logic and the same code runs on SQLite, PostgreSQL or memory,
 * with a software keystore today and PKCS#11/SKF/SDF later.
 */

import type { ParsedCertificate, Signer } from '@medsign/pki';
import type { Applicant } from './profiles.js';

export interface Clock {
  now(): Date;
}

/** One audit event; callers pass masked values only (never keys, PINs or personal data in clear). */
export type AuditEvent = {
  actor: string;
  action: string;
  target?: string;
  detail?: Record<string, string | number | boolean>;
};

export interface AuditSink {
  append(event: AuditEvent): Promise<void>;
}

/** An issuing CA the core may sign with: its certificate and the keystore id of its key. */
export type IssuingCa = {
  id: string;
  certificate: ParsedCertificate;
  keyId: string;
  /** Certificates above it, issuer first, ending at the root (for chains served to clients). */
  chain: readonly ParsedCertificate[];
};

/** Gives signers for CA keys; the keystore audits every use under `purpose`. */
export interface CaKeyProvider {
  signer(keyId: string, purpose: string): Promise<Signer>;
}

export type CertificateStatus = 'good' | 'revoked' | 'hold';

/** A certificate as the CA records it. Personal fields are stored by the adapter (encrypted where required). */
export type CertificateRecord = {
  caId: string;
  /** Lower-case hex without leading zeros, as ParsedCertificate.serialNumber. */
  serial: string;
  profile: string;
  subject: string;
  department?: string;
  employeeNo?: string;
  notBefore: Date;
  notAfter: Date;
  der: Uint8Array;
  /** The subject Name, DER, as in `der` — given by the core on insert so the store need not parse `der` again. */
  subjectDer?: Uint8Array;
  status: CertificateStatus;
  revokedAt?: Date;
  /** RFC 5280 reason name. */
  revocationReason?: string;
  /**
   * The applicant the certificate was issued for, given on insert (the adapter seals the ID number and
   * phone); `getCertificate` leaves it out — read it with `getApplicant` when it is needed (renewal).
   */
  applicant?: Applicant;
  /** The application this certificate answers: the store closes it (issued) in the same transaction. */
  applicationId?: string;
  /** The certificate this one renews. */
  replaces?: CertificateRef;
};

/** Names one certificate. */
export type CertificateRef = { caId: string; serial: string };

/** Crash safety: an intent is recorded before the CA key signs, and closed once the certificate is stored. */
export type IssuanceIntent = {
  id: string;
  caId: string;
  serial: string;
  tbsHash: string;
  state: 'pending' | 'signed' | 'stored' | 'failed';
};

/** What the CA core needs from storage. */
export interface CaStore {
  /** Claims a serial for a CA; false when it is already taken (the core retries with a new one). */
  reserveSerial(caId: string, serial: string): Promise<boolean>;
  recordIntent(intent: IssuanceIntent): Promise<void>;
  updateIntent(id: string, state: IssuanceIntent['state']): Promise<void>;
  insertCertificate(record: CertificateRecord): Promise<void>;
  getCertificate(caId: string, serial: string): Promise<CertificateRecord | undefined>;
  /** The applicant a stored certificate was issued for (personal fields opened), if the store kept it. */
  getApplicant(caId: string, serial: string): Promise<Applicant | undefined>;
  updateStatus(
    caId: string,
    serial: string,
    status: CertificateStatus,
    revokedAt?: Date,
    reason?: string,
  ): Promise<void>;
  /** Revoked and held certificates of a CA (for CRLs), optionally only those changed since a time (delta CRLs). */
  listRevoked(caId: string, since?: Date): Promise<CertificateRecord[]>;
  /** The next CRL number of a CA (monotonic, shared by full and delta CRLs). */
  nextCrlNumber(caId: string): Promise<bigint>;
}
