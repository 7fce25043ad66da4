// The database schema as Kysely sees it: one interface per table, column types as both drivers return
// them after openDatabase's mapping (bytes: Buffer ⊂ Uint8Array; int8 on PostgreSQL parsed to number;
// timestamps and JSON: text). Repositories convert rows to the domain types below.
/** Timestamp column: ISO-8601 UTC text with milliseconds (codec.ts `toIso`). */
export type IsoText = string;

/** `cas`: every certificate authority medsign operates (roots, issuing CAs) per key algorithm. */
export interface CasTable {
  id: string;
  name: string;
  algorithm: string;
  certificate: Uint8Array;
  key_ref: string;
  parent_id: string | null;
  status: string;
  created_at: IsoText;
}

/** `certificates`: the inventory of issued certificates; primary key (ca_id, serial). */
export interface CertificatesTable {
  ca_id: string;
  serial: string;
  subject: string;
  subject_der: Uint8Array;
  profile: string;
  status: string;
  not_before: IsoText;
  not_after: IsoText;
  der: Uint8Array;
  fingerprint: string;
  department: string | null;
  employee_no: string | null;
  revoked_at: IsoText | null;
  revocation_reason: string | null;
  created_at: IsoText;
  /** JSON of the applicant's non-personal fields (0005). */
  applicant: string | null;
  /** Sealed personal fields and the keyed hash for search (0005). */
  id_number_enc: Uint8Array | null;
  id_number_hmac: string | null;
  phone_enc: Uint8Array | null;
  application_id: string | null;
  /** The certificate this one renews (0005). */
  replaces_ca_id: string | null;
  replaces_serial: string | null;
}

/** `applications`: certificate applications and their review (0005). */
export interface ApplicationsTable {
  id: string;
  profile: string;
  state: string;
  name: string;
  employee_no: string | null;
  department: string | null;
  /** JSON of the other non-personal applicant fields. */
  applicant: string;
  id_number_enc: Uint8Array | null;
  id_number_hmac: string | null;
  phone_enc: Uint8Array | null;
  /** 'csr' or 'server-key'. */
  key_kind: string;
  csr: Uint8Array | null;
  key_id: string | null;
  public_key_info: Uint8Array | null;
  ca_id: string | null;
  validity_days: number | null;
  submitted_by: string;
  submitted_at: IsoText;
  reviewed_by: string | null;
  reviewed_at: IsoText | null;
  review_reason: string | null;
  cert_ca_id: string | null;
  cert_serial: string | null;
  updated_at: IsoText;
}

/** `serials`: every serial ever reserved per CA, so a serial is never handed out twice (even after a failed issuance). */
export interface SerialsTable {
  ca_id: string;
  serial: string;
  reserved_at: IsoText;
}

/** `issuance_intents`: written before a CA key signs, so a crash between sign and store is recoverable. */
export interface IssuanceIntentsTable {
  id: string;
  ca_id: string;
  serial: string;
  tbs_hash: string;
  state: string;
  error: string | null;
  created_at: IsoText;
  updated_at: IsoText;
}

/** `key_records`: keystore entries (private keys only ever encrypted). */
export interface KeyRecordsTable {
  id: string;
  label: string;
  algorithm: string;
  public_key_info: Uint8Array;
  encrypted: Uint8Array;
  created_at: IsoText;
  metadata: string;
}

/** `audit_events`: the append-only, SM3 hash-chained audit log (audit.ts). */
export interface AuditEventsTable {
  seq: number;
  time: IsoText;
  actor: string;
  action: string;
  target: string | null;
  detail: string;
  prev_hash: string;
  hash: string;
}

/** `users`: administrator accounts (scrypt password hashes, lockout state). */
export interface UsersTable {
  id: string;
  username: string;
  password_hash: string;
  /** JSON array of role names. */
  roles: string;
  /** 0 or 1. */
  must_change_password: number;
  failed_logins: number;
  locked_until: IsoText | null;
  created_at: IsoText;
  updated_at: IsoText;
}

/** `sessions`: admin sessions, keyed by the SM3 hash (hex) of the bearer token. */
export interface SessionsTable {
  token_hash: string;
  user_id: string;
  remote: string | null;
  created_at: IsoText;
  expires_at: IsoText;
}

/** `crl_numbers`: the last CRL number handed out per CA. */
export interface CrlNumbersTable {
  ca_id: string;
  last_number: number;
  updated_at: IsoText;
}

/** `time_source_history`: sampled time-source checks and every state change (migration 0004). */
export interface TimeSourceHistoryTable {
  id: string;
  at: IsoText;
  node: string;
  kind: string;
  /** 0 or 1. */
  usable: number;
  source: string | null;
  previous_source: string | null;
  offset_ms: number | null;
  bound_ms: number | null;
  detail: string;
}

/** `sign_apps`: applications registered with the signing service (the secret only sealed). */
export interface SignAppsTable {
  id: string;
  name: string;
  system_type: string;
  owner_department: string | null;
  /** JSON array of operation names. */
  operations: string;
  /** JSON array of CIDR blocks. */
  ip_ranges: string;
  rate_limit: number;
  sealed_secret: Uint8Array;
  status: string;
  created_at: IsoText;
}

/** `sign_nonces`: request nonces per application, kept until the replay window has passed. */
export interface SignNoncesTable {
  app_id: string;
  nonce: string;
  expires_at: IsoText;
}

/** `signers`: people with a server-held signing key. */
export interface SignersTable {
  id: string;
  employee_no: string;
  name: string;
  department_code: string;
  profile: string;
  key_id: string;
  ca_id: string;
  cert_serial: string;
  certificate: Uint8Array;
  pin_hash: string;
  failed_pins: number;
  /** 0 or 1. */
  locked: number;
  created_at: IsoText;
  updated_at: IsoText;
}

/** `sign_authorisations`: time-boxed signing authorisations of signers for named applications. */
export interface SignAuthorisationsTable {
  id: string;
  signer_id: string;
  /** JSON array of application ids. */
  app_ids: string;
  granted_via: string;
  created_at: IsoText;
  expires_at: IsoText;
  revoked_at: IsoText | null;
}

/** `signatures`: the append-only signature records. */
export interface SignaturesTable {
  id: string;
  app_id: string;
  signer_id: string;
  employee_no: string;
  department_code: string | null;
  ca_id: string;
  cert_serial: string;
  format: string;
  digest_algorithm: string;
  digest: string;
  signature: Uint8Array;
  token: Uint8Array | null;
  system: string | null;
  doc_type: string | null;
  doc_id: string | null;
  visit_ref: string | null;
  idempotency_key: string | null;
  request_hash: string | null;
  created_at: IsoText;
  /** 0009: the client IP the server saw. */
  client_ip: string | null;
  /** 0009: the signer's intent, JSON (method pin | authorisation … | usbkey). */
  intent: string | null;
  /** 0009: seq and hash of the record's audit event (written in the same transaction). */
  audit_seq: number | null;
  audit_hash: string | null;
}

/** `signature_originals` (0009): a signed original, sealed with SM4-GCM bound to its record id; append-only. */
export interface SignatureOriginalsTable {
  signature_id: string;
  /** Bytes of the original (before sealing). */
  size: number;
  sealed: Uint8Array;
  created_at: IsoText;
}

/** `sign_app_credentials`: an application's retired secret during a rotation grace, and its mTLS certificates (0010). */
export interface SignAppCredentialsTable {
  id: string;
  app_id: string;
  kind: 'secret' | 'certificate';
  sealed_secret: Uint8Array | null;
  /** SHA-256 of the certificate DER, lower-case hex. */
  fingerprint: string | null;
  ca_id: string | null;
  cert_serial: string | null;
  subject: string | null;
  created_at: IsoText;
  expires_at: IsoText | null;
  revoked_at: IsoText | null;
}

/** `tsa_tokens`: the archive of every time-stamp token granted (0003), keyed by its unique serial. */
export interface TsaTokensTable {
  /** TSTInfo serialNumber, normalised hex (codec.ts normalizeSerial). */
  serial: string;
  unit: string;
  hash_algorithm: string;
  /** The message imprint, lower-case hex. */
  hashed_message: string;
  gen_time: IsoText;
  policy: string;
  requester: string | null;
  /** 0 or 1: the request carried a nonce. */
  nonce: number;
  /** SM3 of the DER TimeStampToken, lower-case hex. */
  token_hash: string;
}

/** `crls`: the CRLs a CA published (full and delta), newest served by every process (migration 0006). */
export interface CrlsTable {
  ca_id: string;
  crl_number: number;
  kind: 'full' | 'delta';
  /** For a delta CRL, the number of the full CRL it updates; null for a full CRL. */
  base_number: number | null;
  this_update: IsoText;
  next_update: IsoText;
  entries: number;
  der: Uint8Array;
  created_at: IsoText;
}

/** `sign_jobs`: batch signing jobs (0008): one signer, many documents, one authorisation. */
export interface SignJobsTable {
  id: string;
  app_id: string;
  signer_id: string;
  employee_no: string;
  state: string;
  format: string;
  oids: string;
  /** 0 or 1. */
  timestamped: number;
  /** JSON of the common metadata. */
  metadata: string;
  callback_url: string | null;
  intent: string | null;
  /** 0011: the address of the request that showed the signer's intent (create with PIN/authorisation, or authorise). */
  client_ip: string | null;
  document_count: number;
  total_bytes: number;
  idempotency_key: string | null;
  request_hash: string | null;
  created_at: IsoText;
  updated_at: IsoText;
  expires_at: IsoText;
  authorised_at: IsoText | null;
  completed_at: IsoText | null;
  webhook_state: string;
  webhook_delivery_id: string | null;
  webhook_attempts: number;
  webhook_next_at: IsoText | null;
}

/** `sign_job_documents`: the documents of a job, their sealed data until signed, and their outcome. */
export interface SignJobDocumentsTable {
  job_id: string;
  seq: number;
  business_id: string;
  payload: Uint8Array | null;
  state: string;
  signature_id: string | null;
  error_code: string | null;
  error_detail: string | null;
  updated_at: IsoText;
}

/** `sign_job_webhook_attempts`: every delivery attempt of a job's webhook. */
export interface SignJobWebhookAttemptsTable {
  job_id: string;
  attempt: number;
  delivery_id: string;
  at: IsoText;
  status: number | null;
  error: string | null;
  duration_ms: number;
}

/** The whole schema, for `Kysely<Schema>`. */
export interface Schema {
  cas: CasTable;
  certificates: CertificatesTable;
  serials: SerialsTable;
  issuance_intents: IssuanceIntentsTable;
  key_records: KeyRecordsTable;
  audit_events: AuditEventsTable;
  users: UsersTable;
  sessions: SessionsTable;
  crl_numbers: CrlNumbersTable;
  applications: ApplicationsTable;
  time_source_history: TimeSourceHistoryTable;
  sign_apps: SignAppsTable;
  sign_nonces: SignNoncesTable;
  signers: SignersTable;
  sign_authorisations: SignAuthorisationsTable;
  signatures: SignaturesTable;
  sign_app_credentials: SignAppCredentialsTable;
  signature_originals: SignatureOriginalsTable;
  tsa_tokens: TsaTokensTable;
  crls: CrlsTable;
  sign_jobs: SignJobsTable;
  sign_job_documents: SignJobDocumentsTable;
  sign_job_webhook_attempts: SignJobWebhookAttemptsTable;
}
