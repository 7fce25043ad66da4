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
  crls: CrlsTable;
}
