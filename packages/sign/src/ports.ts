/**
 * The ports the signing core works through (conventions.md §1): time, keys, certificates, their status,
 * time-stamps, storage and audit come in from outside. The server wires them to the keystore, the CA
 * backend, the store and (once merged) the TSA; tests wire them to memory and pki's builders.
 */

import type { KeyType, ParsedCertificate, Signer } from '@medsign/pki';

export interface Clock {
  now(): Date;
}

/** One audit event; callers pass masked values only (never PINs, secrets or signed data). */
export type AuditEvent = {
  actor: string;
  action: string;
  target?: string;
  detail?: Record<string, string | number | boolean>;
};

export interface AuditSink {
  append(event: AuditEvent): Promise<void>;
}

/** Server-held signer keys (the keystore): generated inside, used through a Signer, never exported. */
export interface SigningKeys {
  generate(
    type: KeyType,
    label: string,
    metadata: Record<string, string>,
  ): Promise<{ id: string; publicKeyInfo: Uint8Array }>;
  /** A Signer for key `keyId`; the keystore audits every use under `purpose`. */
  signer(keyId: string, purpose: string): Promise<Signer>;
}

/** Issues a signer's certificate (the CA backend: embedded CA, or an upstream CA in RA mode). */
export interface CertificateIssuer {
  issue(req: {
    profileId: string;
    publicKeyInfo: Uint8Array;
    applicant: { name: string; employeeNo: string; department: string };
    actor: string;
  }): Promise<{ certificate: ParsedCertificate; caId: string; serial: string }>;
}

/** A certificate's status at the CA now; `unknown` when the CA does not know the certificate. */
export type CertificateStatus = 'good' | 'revoked' | 'hold' | 'unknown';

/** A certificate's status now with, when revoked or on hold, since when (the CA's record). */
export type RevocationInfo = { status: CertificateStatus; revokedAt?: Date; reason?: string };

export interface CertificateStatusSource {
  status(caId: string, serial: string): Promise<CertificateStatus>;
  /**
   * The status with the revocation time and reason, to judge the status at a past signing time. Without
   * it, a revoked certificate counts as revoked at any time (the safe side).
   */
  revocation?(caId: string, serial: string): Promise<RevocationInfo>;
}

/** A certificate our CA issued, as the CA's records hold it. */
export type IssuedCertificate = {
  der: Uint8Array;
  /** The employee number it was issued for, when the CA recorded one. */
  employeeNo?: string;
  status: CertificateStatus;
  revokedAt?: Date;
};

/**
 * The certificates our CA issued (the CA's store): pre-made (USB-key) signatures are checked against the
 * CA's record of their certificate, and evidence shows the certificate a record was made with.
 */
export interface CertificateDirectory {
  get(caId: string, serial: string): Promise<IssuedCertificate | undefined>;
}

/**
 * Time-stamps a signature value: returns the DER TimeStampToken (RFC 3161) whose message imprint covers
 * `signatureValue` — the implementation checks that (the core embeds the token as it is). The real implementation is the platform's TSA; without one, `timestamp: true` fails
 * with SIGN_TIMESTAMP_UNAVAILABLE.
 */
export interface TimeStamper {
  timestamp(signatureValue: Uint8Array): Promise<Uint8Array>;
}

/** An event of the hash-chained audit log as stored. */
export type ChainedEvent = {
  seq: number;
  time: string;
  actor: string;
  action: string;
  target: string | null;
  detail: Record<string, unknown>;
  prevHash: string;
  hash: string;
};

/** Reads the hash-chained audit log (the store's), for evidence. */
export interface AuditChainReader {
  /** The events about `target`, oldest first, optionally of one action. */
  byTarget(target: string, action?: string): Promise<ChainedEvent[]>;
  /** Verifies the chain from its first event up to and including `seq`. */
  verifyUpTo(seq: number): Promise<{ ok: boolean; checked: number; firstBreak?: string }>;
}

/** The certificate application a certificate was issued for, as the CA's registration records hold it. */
export type ApplicationReview = {
  id: string;
  profile: string;
  state: string;
  submittedBy: string;
  submittedAt: Date;
  reviewedBy?: string;
  reviewedAt?: Date;
};

/** How the identity behind a certificate was reviewed (the CA's application records). */
export interface IdentityReviewSource {
  applicationOf(caId: string, serial: string): Promise<ApplicationReview | undefined>;
}

/** Slow salted PIN hashes (scrypt in the server). */
export interface PinHasher {
  hash(pin: string): Promise<string>;
  verify(pin: string, stored: string): Promise<boolean>;
}

/**
 * Encrypts application secrets at rest (the server: SM4-GCM under a key derived from the keystore's KEK).
 * `context` (the app id) is bound as associated data, so a sealed secret moved to another app fails to open.
 */
export interface SecretBox {
  seal(plaintext: Uint8Array, context: string): Promise<Uint8Array>;
  open(sealed: Uint8Array, context: string): Promise<Uint8Array>;
}

/** Hospital system types an application is registered as. */
export const SYSTEM_TYPES = ['HIS', 'LIS', 'RIS', 'PACS', 'EMR', 'nursing', 'anaesthesia', 'other'] as const;
export type SystemType = (typeof SYSTEM_TYPES)[number];

/** What an application may call: sign, verify, read signature records. */
export const OPERATIONS = ['sign', 'verify', 'read'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** A registered application (a hospital system calling the signing API). */
export type AppRecord = {
  id: string;
  name: string;
  systemType: SystemType;
  ownerDepartment: string | null;
  operations: Operation[];
  /** CIDR blocks (IPv4/IPv6) the application may call from; empty = anywhere. */
  ipRanges: string[];
  /** Requests per minute (per server process). */
  rateLimit: number;
  /** The secret, sealed by the SecretBox. */
  sealedSecret: Uint8Array;
  status: 'active' | 'disabled';
  createdAt: Date;
};

/** A signer: a person with a server-held key and a certificate from our CA. */
export type SignerRecord = {
  id: string;
  employeeNo: string;
  name: string;
  departmentCode: string;
  profile: string;
  keyId: string;
  caId: string;
  certSerial: string;
  certificate: Uint8Array;
  pinHash: string;
  /** Wrong PINs in a row since the last correct one. */
  failedPins: number;
  locked: boolean;
  createdAt: Date;
  updatedAt: Date;
};

/**
 * A time-boxed signing authorisation: the signer, with the PIN once, lets the named applications sign for
 * them without a PIN until `expiresAt` (or until revoked).
 */
export type AuthorisationRecord = {
  id: string;
  signerId: string;
  appIds: string[];
  /** The application through which the signer granted it. */
  grantedVia: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
};

export const SIGNATURE_FORMATS = ['p1', 'p7-detached', 'p7-attached'] as const;
export type SignatureFormat = (typeof SIGNATURE_FORMATS)[number];
export type DigestAlgorithm = 'sm3' | 'sha256';

/** Business metadata of a signature (opaque to the core; searched by the records API). */
export type SignatureMetadata = {
  system?: string;
  docType?: string;
  docId?: string;
  departmentCode?: string;
  /** The patient-visit reference: an opaque id from the hospital system, never patient data. */
  visitRef?: string;
};

/**
 * How the signer expressed the intent to sign (真实意愿): the PIN with this request, a time-boxed signing
 * authorisation granted earlier with the PIN (its facts copied at signing time, so later revocation or
 * expiry cannot blur them), or a signature made on the client with a USB key and recorded as pre-made.
 * A sign job's signatures carry the job id: the PIN or authorisation was shown once for the whole job.
 * Times are ISO-8601 UTC (the value is stored as JSON).
 */
export type SignatureIntent =
  | {
      method: 'pin';
      /** The sign job the PIN was entered for once (its `sign.job-authorise` event), if any. */
      job?: string;
    }
  | {
      method: 'authorisation';
      authorisationId: string;
      /** The grant's facts at signing time (absent for sign jobs: evidence looks the grant up). */
      grantedAt?: string;
      expiresAt?: string;
      apps?: string[];
      /** The application through which the signer granted it. */
      grantedVia?: string;
      job?: string;
    }
  | { method: 'usbkey' };

/** Where an event sits in the hash-chained audit log. */
export type AuditPosition = { seq: number; hash: string };

/** A signed original as stored: sealed (SecretBox, context = the record id); `size` of the clear bytes. */
export type SealedOriginal = { size: number; sealed: Uint8Array };

/** One signature: append-only. */
export type SignatureRecord = {
  id: string;
  appId: string;
  signerId: string;
  employeeNo: string;
  caId: string;
  certSerial: string;
  format: SignatureFormat;
  digestAlgorithm: DigestAlgorithm;
  /** lower-case hex of the signed data's digest. */
  digest: string;
  /** P1: the raw signature (DER for SM2/ECDSA); P7: the CMS ContentInfo DER. */
  signature: Uint8Array;
  token: Uint8Array | null;
  metadata: SignatureMetadata;
  idempotencyKey: string | null;
  /** SM3 (hex) of the request that made it: a replay with the same key must carry the same request. */
  requestHash: string | null;
  createdAt: Date;
  /** The client IP the server saw (records made before evidence capture have none). */
  clientIp?: string | null;
  /** The signer's intent (see SignatureIntent). */
  intent?: SignatureIntent | null;
  /** The record's audit event in the hash chain: set by the store when it writes the record. */
  audit?: AuditPosition | null;
};

export type SignatureQuery = {
  employeeNo?: string;
  departmentCode?: string;
  appId?: string;
  docType?: string;
  docId?: string;
  /** Case-insensitive substring of the employee number, signer name, document id/type, visit ref or record id. */
  text?: string;
  /** createdAt ≥ from. */
  from?: Date;
  /** createdAt < to. */
  to?: Date;
  limit: number;
  offset?: number;
};

/** What the signing core needs from storage. */
export interface SignStore {
  insertApp(app: AppRecord): Promise<void>;
  getApp(id: string): Promise<AppRecord | undefined>;
  /**
   * Records a nonce of an application until `expiresAt`; false when it is already recorded (a replay).
   * Expired nonces may be dropped at the same time.
   */
  useNonce(appId: string, nonce: string, expiresAt: Date, now: Date): Promise<boolean>;

  /** False when the employee number is taken. */
  insertSigner(signer: SignerRecord): Promise<boolean>;
  getSigner(id: string): Promise<SignerRecord | undefined>;
  getSignerByEmployeeNo(employeeNo: string): Promise<SignerRecord | undefined>;
  /** Counts one wrong PIN in one statement; locks the signer when the count reaches `maxFailures`. */
  recordWrongPin(id: string, maxFailures: number, now: Date): Promise<SignerRecord>;
  /** A correct PIN: clears the counter (not the lock). */
  clearWrongPins(id: string, now: Date): Promise<void>;
  /** Clears the lock and the counter; false when the signer was not locked. */
  unlockSigner(id: string, now: Date): Promise<boolean>;

  insertAuthorisation(a: AuthorisationRecord): Promise<void>;
  getAuthorisation(id: string): Promise<AuthorisationRecord | undefined>;
  /** A signer's authorisations (revoked ones too), latest expiry first (at most `limit`). */
  listAuthorisations(signerId: string, limit: number): Promise<AuthorisationRecord[]>;
  /** Sets revokedAt; false when it was already revoked. */
  revokeAuthorisation(id: string, now: Date): Promise<boolean>;

  /**
   * Writes the record, its audit event (`event`, masked like AuditSink's) and — when given — its sealed
   * original in one transaction: all or nothing, durable when this resolves. The stored record carries
   * its audit event's position (`audit`, read back by getSignature). False when (appId, idempotencyKey)
   * is taken; nothing is written then.
   */
  insertSignature(record: SignatureRecord, event: AuditEvent, original?: SealedOriginal): Promise<boolean>;
  getSignature(id: string): Promise<SignatureRecord | undefined>;
  /** The sealed original of a record, if one was stored. */
  getOriginal(id: string): Promise<SealedOriginal | undefined>;
  findSignatureByIdempotencyKey(appId: string, key: string): Promise<SignatureRecord | undefined>;
  searchSignatures(q: SignatureQuery): Promise<{ total: number; items: SignatureRecord[] }>;
}
