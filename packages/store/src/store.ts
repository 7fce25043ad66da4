import { AuditLog, type AuditLogOptions } from './audit.js';
import { openDatabase, type Database, type OpenDatabaseOptions } from './database.js';
import { ApplicationRepository } from './repositories/applications.js';
import { CaRepository } from './repositories/cas.js';
import { CertificateRepository } from './repositories/certificates.js';
import { CrlNumberRepository } from './repositories/crl-numbers.js';
import { CrlRepository } from './repositories/crls.js';
import { IntentRepository } from './repositories/intents.js';
import { SqlKeyRecordRepository } from './repositories/keys.js';
import { SerialRepository } from './repositories/serials.js';
import { SessionRepository } from './repositories/sessions.js';
import { TimeSourceHistoryRepository } from './repositories/time-source-history.js';
import { SigningRepository } from './repositories/signing.js';
import { SignJobRepository } from './repositories/sign-jobs.js';
import { TsaTokenRepository } from './repositories/tsa-tokens.js';
import { UserRepository } from './repositories/users.js';

/** An open database with every repository wired to it: what the server composes once at start. */
export interface Store {
  readonly database: Database;
  readonly cas: CaRepository;
  readonly certificates: CertificateRepository;
  readonly serials: SerialRepository;
  readonly intents: IntentRepository;
  readonly keys: SqlKeyRecordRepository;
  readonly audit: AuditLog;
  readonly users: UserRepository;
  readonly sessions: SessionRepository;
  readonly crlNumbers: CrlNumberRepository;
  readonly applications: ApplicationRepository;
  readonly timeSourceHistory: TimeSourceHistoryRepository;
  /** Signing service: applications, nonces, signers, signature records. */
  readonly signing: SigningRepository;
  /** Batch sign jobs, their documents and webhook attempts (migration 0008). */
  readonly signJobs: SignJobRepository;
  /** The TSA's token archive (group-committed inserts). */
  readonly tsaTokens: TsaTokenRepository;
  readonly crls: CrlRepository;
  close(): Promise<void>;
}

/** Opens (and migrates) the database at `url` and builds the repositories over it. */
export async function openStore(
  url: string,
  options: OpenDatabaseOptions & AuditLogOptions = {},
): Promise<Store> {
  const database = await openDatabase(url, options);
  const tsaTokens = new TsaTokenRepository(database);
  const audit = new AuditLog(database, options.now ? { now: options.now } : {});
  return {
    database,
    cas: new CaRepository(database),
    certificates: new CertificateRepository(database),
    serials: new SerialRepository(database),
    intents: new IntentRepository(database),
    keys: new SqlKeyRecordRepository(database),
    audit,
    users: new UserRepository(database),
    sessions: new SessionRepository(database),
    crlNumbers: new CrlNumberRepository(database),
    applications: new ApplicationRepository(database, options.now),
    timeSourceHistory: new TimeSourceHistoryRepository(database),
    signing: new SigningRepository(database, audit),
    signJobs: new SignJobRepository(database, audit),
    tsaTokens,
    crls: new CrlRepository(database),
    close: async () => {
      // Queued archive records are committed first; then the writer thread and the connection close.
      await tsaTokens.close();
      await database.close();
    },
  };
}
