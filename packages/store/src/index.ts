// @medsign/store — the storage adapter (L3): Kysely repositories and migrations on SQLite and
// PostgreSQL, and the SM3 hash-chained audit log.
export {
  openDatabase,
  migrateToLatest,
  parseDatabaseUrl,
  isUniqueViolation,
  type Database,
  type DialectName,
  type DatabaseTarget,
  type OpenDatabaseOptions,
} from './database.js';
export { migrations, migrationProvider } from './migrations.js';
export type { Schema } from './schema.js';
export { StoreError, type StoreErrorCode } from './errors.js';
export { normalizeSerial, toIso, fromIso } from './codec.js';
export { canonicalJson, type JsonValue } from './canonical-json.js';
export {
  GENESIS_HASH,
  auditEventBytes,
  computeAuditHash,
  checkAuditLink,
  type AuditEvent,
  type ChainedAuditEvent,
  type AuditBreak,
  type AuditBreakReason,
} from './audit-chain.js';
export { AuditLog, type AuditEventInput, type AuditVerification, type AuditLogOptions } from './audit.js';
export { CaRepository, type CaRecord, type CaStatus } from './repositories/cas.js';
export {
  CertificateRepository,
  type CertificateRecord,
  type NewCertificate,
  type CertificateQuery,
  type CertificatePage,
  type CertificateDimension,
  type CertificateStatus,
  type CertificateStatusChange,
  type RevokedEntry,
  type PersonalColumns,
} from './repositories/certificates.js';
export {
  ApplicationRepository,
  type ApplicationRecord,
  type ApplicationQuery,
  type ApplicationState,
} from './repositories/applications.js';
export {
  IntentRepository,
  type IntentState,
  type IssuanceIntent,
  type NewIntent,
} from './repositories/intents.js';
export { SqlKeyRecordRepository, type KeyRecord, type KeyRecordRepository } from './repositories/keys.js';
export { SerialRepository, randomSerial, type ReserveSerialOptions } from './repositories/serials.js';
export { UserRepository, type UserRecord, type NewUser } from './repositories/users.js';
export { SessionRepository, type SessionRecord } from './repositories/sessions.js';
export { CrlNumberRepository } from './repositories/crl-numbers.js';
export {
  TimeSourceHistoryRepository,
  type TimeSourceEntry,
  type TimeSourceEntryKind,
  type NewTimeSourceEntry,
  type TimeSourceHistoryQuery,
} from './repositories/time-source-history.js';
export {
  SigningRepository,
  type SignAppRecord,
  type SignerRow,
  type SignAuthorisationRow,
  type SignatureRow,
  type SignatureSearch,
  type SignatureIntentJson,
  type SignatureOriginalRow,
} from './repositories/signing.js';
export {
  SignJobRepository,
  type SignJobRow,
  type SignJobDocumentRow,
  type SignJobWebhookAttemptRow,
  type SignJobUpdate,
} from './repositories/sign-jobs.js';
export {
  TsaTokenRepository,
  type TsaTokenRecord,
  type TsaTokenRepositoryOptions,
} from './repositories/tsa-tokens.js';
export { CrlRepository, CRLS_KEPT, type CrlInfo, type CrlKind, type CrlRecord } from './repositories/crls.js';
export { AppCredentialRepository, type AppCertificateBinding } from './repositories/app-credentials.js';
export { openStore, type Store } from './store.js';
