// Opening a database by URL: SQLite (better-sqlite3, the embedded default) or PostgreSQL (pg), both
// behind one Kysely<Schema>, migrated to the latest schema on open.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { GroupCommit, type GroupScope } from './group-commit.js';
import { migrationProvider } from './migrations.js';
import type { Schema } from './schema.js';

/** The SQL dialects medsign stores into. */
export type DialectName = 'sqlite' | 'postgres';

/** An open database: the typed query builder plus what repositories need beyond plain queries. */
export interface Database {
  /** Kysely over the whole schema. */
  readonly db: Kysely<Schema>;
  /** Which dialect `db` speaks (LIKE vs ILIKE, unique-violation codes, locking). */
  readonly dialect: DialectName;
  /**
   * Runs `fn` in one transaction that no other writer of the same `lock` can interleave with, across
   * processes: `BEGIN IMMEDIATE` on SQLite (the whole file's write lock, waited for up to the busy
   * timeout), `pg_advisory_xact_lock(hashtextextended(lock, 0))` on PostgreSQL (released at commit or
   * rollback). Used where a read-then-write must be atomic, such as appending to the audit chain.
   */
  writeTransaction<T>(lock: string, fn: (trx: Kysely<Schema>) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` in a write transaction shared with the other `groupWrite` calls of this process queued in
   * the same event-loop turn (group commit, group-commit.ts): one commit — one sync to disk — for the
   * writes of many concurrent operations, each still all-or-nothing on its own (group-commit.ts). The shared
   * transaction holds the audit chain's lock ({@link GROUP_WRITE_LOCK}), so audit appends may go through
   * it. Resolves after the commit.
   */
  groupWrite<T>(fn: (trx: Kysely<Schema>, scope: GroupScope) => Promise<T>): Promise<T>;
  /** Closes the connection (SQLite) or drains the pool (PostgreSQL). */
  close(): Promise<void>;
  /** SQLite: the database file (absent for `:memory:` and PostgreSQL), for repositories that open their own connection. */
  readonly file?: string;
  /** SQLite: the busy timeout this database was opened with, ms. */
  readonly busyTimeoutMs?: number;
}

/** The lock of group transactions: the audit chain's, so appends can share them (see AuditLog). */
export const GROUP_WRITE_LOCK = 'medsign.audit_events';

/** Options of {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /** Run the migrations to the latest schema (default true). Concurrent openers are safe: Kysely's Migrator locks. */
  migrate?: boolean;
  /** SQLite: how long a writer waits for another process's write lock, in ms (default 10 000). */
  busyTimeoutMs?: number;
  /** PostgreSQL: pool size (default 10). */
  poolSize?: number;
  /** PostgreSQL: errors of idle pooled clients (server restart…); without a handler pg would crash the process. */
  onPoolError?: (error: Error) => void;
}

/** The parsed form of a database URL. */
export type DatabaseTarget = { dialect: 'sqlite'; path: string } | { dialect: 'postgres'; url: string };

/**
 * Reads a database URL: `postgres://…` / `postgresql://…` → PostgreSQL; `sqlite::memory:` → an
 * in-memory SQLite database; `sqlite:PATH` or `sqlite://PATH` (so `sqlite:///abs/path` is absolute) or
 * a bare file path → SQLite. Any other `scheme://` is refused rather than taken for a file name.
 */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  if (typeof url !== 'string' || url.trim() === '')
    throw new TypeError('database URL must be a non-empty string');
  if (/^postgres(ql)?:\/\//i.test(url)) return { dialect: 'postgres', url };
  if (/^sqlite:/i.test(url)) {
    let path = url.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2);
    if (path === '') throw new RangeError(`database URL ${url} names no file`);
    return { dialect: 'sqlite', path: path === ':memory:' ? ':memory:' : path };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new RangeError(`unsupported database URL scheme in ${url.replace(/\/\/[^@/]*@/, '//…@')}`);
  }
  return { dialect: 'sqlite', path: url };
}

const INT8_OID = 20;

/** pg type parsers: int8 (bigint, count(*)) as a JS number, refusing values past 2^53 instead of rounding them. */
const pgTypes = {
  getTypeParser(oid: number, format?: string) {
    if (oid === INT8_OID && format !== 'binary') {
      return (text: string) => {
        const n = Number(text);
        if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${text} exceeds 2^53`);
        return n;
      };
    }
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return pg.types.getTypeParser(oid as any, format as any);
  },
};

/**
 * Creates an empty database file readable by its owner only (0600) if none exists: it will hold encrypted
 * keys and personal data. SQLite gives the -wal and -shm files it creates the mode of the database file.
 * An existing file keeps its mode (the operator may have chosen it).
 */
function createPrivateFile(path: string): void {
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

/**
 * Opens (and by default migrates) the database at `url` — see {@link parseDatabaseUrl}.
 * SQLite runs in WAL mode (readers never block the writer; several processes may share the file) with
 * foreign keys on and a busy timeout; `synchronous` stays FULL: a committed issuance or audit event
 * survives power loss, which a CA needs more than the last few percent of write speed.
 */
export async function openDatabase(url: string, options: OpenDatabaseOptions = {}): Promise<Database> {
  const target = parseDatabaseUrl(url);
  let base: Omit<Database, 'groupWrite'>;
  if (target.dialect === 'sqlite') {
    if (target.path !== ':memory:') {
      mkdirSync(dirname(resolve(target.path)), { recursive: true });
      createPrivateFile(target.path);
    }
    const sqlite = new BetterSqlite3(target.path);
    try {
      sqlite.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 10_000))}`);
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('foreign_keys = ON');
    } catch (error) {
      sqlite.close();
      throw error;
    }
    const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }) });
    base = {
      db,
      dialect: 'sqlite',
      ...(target.path !== ':memory:' ? { file: resolve(target.path) } : {}),
      busyTimeoutMs: Math.max(0, Math.floor(options.busyTimeoutMs ?? 10_000)),
      // Kysely's SQLite driver has one connection guarded by a mutex: `connection()` holds it for the
      // whole callback, so nothing else of this process runs inside the transaction.
      writeTransaction: (_lock, fn) =>
        db.connection().execute(async (conn) => {
          await sql`begin immediate`.execute(conn);
          try {
            const result = await fn(conn);
            await sql`commit`.execute(conn);
            return result;
          } catch (error) {
            if (sqlite.inTransaction) await sql`rollback`.execute(conn);
            throw error;
          }
        }),
      close: () => db.destroy(),
    };
  } else {
    const pool = new pg.Pool({ connectionString: target.url, max: options.poolSize ?? 10, types: pgTypes });
    pool.on('error', options.onPoolError ?? (() => undefined));
    const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
    base = {
      db,
      dialect: 'postgres',
      writeTransaction: (lock, fn) =>
        db.transaction().execute(async (trx) => {
          await sql`select pg_advisory_xact_lock(hashtextextended(${lock}, 0))`.execute(trx);
          return fn(trx);
        }),
      close: () => db.destroy(),
    };
  }
  const group = new GroupCommit((fn) => base.writeTransaction(GROUP_WRITE_LOCK, fn));
  const database: Database = { ...base, groupWrite: (fn) => group.write(fn) };
  if (options.migrate ?? true) {
    try {
      await migrateToLatest(database);
    } catch (error) {
      await database.close();
      throw error;
    }
  }
  return database;
}

/** Most prepared statements {@link cachingStatements} keeps (SQL texts vary with IN-list lengths, batches). */
export const STATEMENT_CACHE_SIZE = 200;

/**
 * better-sqlite3 with its prepared statements kept, least recently used dropped beyond `max`: Kysely's
 * SQLite driver prepares every query afresh, and preparing cost more than running the statement for the
 * small queries of an issuance. A statement still being iterated (a streamed select) is never handed out
 * twice: a fresh one is prepared instead. SQLite re-prepares a kept statement itself after a schema change.
 */
export function cachingStatements(
  sqlite: BetterSqlite3.Database,
  max = STATEMENT_CACHE_SIZE,
): { prepare(sql: string): BetterSqlite3.Statement; close(): void } {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    prepare(text) {
      const hit = cache.get(text);
      if (hit && !hit.busy) {
        // Map order is insertion order: re-inserting marks the statement as most recently used.
        cache.delete(text);
        cache.set(text, hit);
        return hit;
      }
      const statement = sqlite.prepare(text);
      if (!hit) {
        cache.set(text, statement);
        if (cache.size > max) cache.delete(cache.keys().next().value!);
      }
      return statement;
    },
    close() {
      cache.clear();
      sqlite.close();
    },
  };
}

/** Applies every pending migration; throws the first failure (Kysely rolls that migration back). */
export async function migrateToLatest(database: Database): Promise<string[]> {
  const migrator = new Migrator({
    db: database.db,
    provider: migrationProvider(database.dialect),
    migrationTableName: 'medsign_migration',
    migrationLockTableName: 'medsign_migration_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * True when `error` is a unique or primary-key violation: better-sqlite3's `SQLITE_CONSTRAINT_UNIQUE` /
 * `SQLITE_CONSTRAINT_PRIMARYKEY`, PostgreSQL's SQLSTATE 23505. Anything else (foreign key, check,
 * connection loss) is not, so a retry loop never spins on a real failure.
 */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}
