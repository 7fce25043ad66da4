import { sql } from 'kysely';
import { fromIso, normalizeSerial, toIso } from '../codec.js';
import { SqliteArchiveWriter } from '../archive-writer.js';
import type { Database } from '../database.js';
import type { TsaTokensTable } from '../schema.js';
import { StatementCache } from '../statement-cache.js';

/** One archived time-stamp token (what the TSA keeps of it; the token itself is the requester's). */
export type TsaTokenRecord = {
  serial: bigint;
  unit: string;
  hashAlgorithm: string;
  hashedMessage: Uint8Array;
  genTime: Date;
  policy: string;
  requester: string | null;
  nonce: boolean;
  /** SM3 of the DER TimeStampToken. */
  tokenHash: Uint8Array;
};

/** Options of {@link TsaTokenRepository}. */
export type TsaTokenRepositoryOptions = {
  /** Most rows in one INSERT (one transaction, one disk sync); default 500. */
  maxBatch?: number;
};

type Waiting = {
  row: TsaTokensTable;
  resolve: (r: 'stored' | 'duplicate') => void;
  reject: (e: unknown) => void;
};

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function toRow(token: TsaTokenRecord): TsaTokensTable {
  return {
    serial: normalizeSerial(token.serial),
    unit: token.unit,
    hash_algorithm: token.hashAlgorithm,
    hashed_message: hex(token.hashedMessage),
    gen_time: toIso(token.genTime),
    policy: token.policy,
    requester: token.requester,
    nonce: token.nonce ? 1 : 0,
    token_hash: hex(token.tokenHash),
  };
}

function toRecord(r: TsaTokensTable): TsaTokenRecord {
  return {
    serial: BigInt(`0x${r.serial}`),
    unit: r.unit,
    hashAlgorithm: r.hash_algorithm,
    hashedMessage: new Uint8Array(Buffer.from(r.hashed_message, 'hex')),
    genTime: fromIso(r.gen_time),
    policy: r.policy,
    requester: r.requester,
    nonce: r.nonce === 1,
    tokenHash: new Uint8Array(Buffer.from(r.token_hash, 'hex')),
  };
}

/**
 * The `tsa_tokens` archive with group commit. `archive` queues the record; while one INSERT is running,
 * every record that arrives waits for the next one, which then takes them all (up to `maxBatch`) in a
 * single statement — one transaction and one disk sync for the whole group, instead of one per token. A
 * lone request is written at once (no timer adds latency). Each caller's promise settles only when its
 * own row is committed: `stored`, or `duplicate` when the serial already exists (`INSERT … ON CONFLICT
 * DO NOTHING RETURNING` tells which rows went in, so one collision does not fail its neighbours). A
 * failed statement rejects every caller of that group; nothing of it was committed.
 */
export class TsaTokenRepository {
  readonly #database: Database;
  readonly #maxBatch: number;
  #queue: Waiting[] = [];
  #flushing: Promise<void> | undefined;
  /** SQLite files: groups are written on a worker thread (see archive-writer.ts). */
  readonly #writer: SqliteArchiveWriter | undefined;

  /** The compiled insert of archiveInGroup (statement-cache.ts). */
  readonly #statements = new StatementCache();

  constructor(database: Database, options: TsaTokenRepositoryOptions = {}) {
    this.#database = database;
    if (database.dialect === 'sqlite' && database.file)
      this.#writer = new SqliteArchiveWriter(database.file, database.busyTimeoutMs ?? 10_000);
    this.#maxBatch = options.maxBatch ?? 500;
    if (!Number.isInteger(this.#maxBatch) || this.#maxBatch < 1 || this.#maxBatch > 2000)
      throw new RangeError('maxBatch must be an integer 1–2000');
  }

  /** Records one token; resolves once it is committed. */
  archive(token: TsaTokenRecord): Promise<'stored' | 'duplicate'> {
    let row: TsaTokensTable;
    try {
      row = toRow(token);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ row, resolve, reject });
      this.#flushing ??= this.#flush();
    });
  }

  /**
   * Records one token in the database's shared group transaction (Database.groupWrite) on the main
   * connection, instead of the archive's own group on the writer thread: for tokens made inside another
   * operation that writes through groupWrite (the signing service's time-stamps), so both commit in the same
   * groups. Two SQLite connections writing at once would wait on each other's file lock (busy handler sleeps).
   */
  archiveInGroup(token: TsaTokenRecord): Promise<'stored' | 'duplicate'> {
    let row: TsaTokensTable;
    try {
      row = toRow(token);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#database.groupWrite(async (trx) => {
      const r = await this.#statements.insert(
        trx,
        'tsa_tokens',
        ' on conflict (serial) do nothing',
        row,
        () =>
          trx
            .insertInto('tsa_tokens')
            .values(row)
            .onConflict((oc) => oc.column('serial').doNothing()),
      );
      return (r.numAffectedRows ?? 0n) > 0n ? 'stored' : 'duplicate';
    });
  }

  async #flush(): Promise<void> {
    for (;;) {
      // One turn of the event loop first: signatures that finished meanwhile join this group.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.#queue.length === 0) {
        // Cleared in the same step that saw the queue empty: a record queued after this starts a new flush.
        this.#flushing = undefined;
        return;
      }
      const group = this.#queue.splice(0, this.#maxBatch);
      // Two callers with one serial in the same group: the first one's row is written, the rest are duplicates.
      const first = new Map<string, Waiting>();
      const dup: Waiting[] = [];
      for (const w of group) {
        if (first.has(w.row.serial)) dup.push(w);
        else first.set(w.row.serial, w);
      }
      try {
        const stored = new Set(await this.#insert([...first.values()].map((w) => w.row)));
        for (const [serial, w] of first) w.resolve(stored.has(serial) ? 'stored' : 'duplicate');
        for (const w of dup) w.resolve('duplicate');
      } catch (e) {
        for (const w of group) w.reject(e);
      }
    }
  }

  /** One INSERT … ON CONFLICT DO NOTHING of `rows` in one transaction; the serials that went in. */
  async #insert(rows: TsaTokensTable[]): Promise<string[]> {
    if (this.#writer) return this.#writer.write(rows);
    const inserted = await this.#database.db
      .insertInto('tsa_tokens')
      .values(rows)
      .onConflict((oc) => oc.column('serial').doNothing())
      .returning('serial')
      .execute();
    return inserted.map((r) => r.serial);
  }

  /** Waits for queued records to be committed and stops the SQLite writer thread. */
  async close(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    await this.#writer?.close();
  }

  /** The record of `serial`, or undefined. */
  async get(serial: bigint | string): Promise<TsaTokenRecord | undefined> {
    const row = await this.#database.db
      .selectFrom('tsa_tokens')
      .selectAll()
      .where('serial', '=', normalizeSerial(serial))
      .executeTakeFirst();
    return row && toRecord(row);
  }

  /** Records whose imprint is `hashedMessage` (which tokens were issued for a document), oldest first. */
  async findByImprint(hashedMessage: Uint8Array, limit = 100): Promise<TsaTokenRecord[]> {
    const rows = await this.#database.db
      .selectFrom('tsa_tokens')
      .selectAll()
      .where('hashed_message', '=', hex(hashedMessage))
      .orderBy('gen_time')
      .limit(limit)
      .execute();
    return rows.map(toRecord);
  }

  /** Tokens per unit with genTime in [from, to) (statistics). */
  async countByUnit(from?: Date, to?: Date): Promise<{ unit: string; count: number }[]> {
    let q = this.#database.db
      .selectFrom('tsa_tokens')
      .select(['unit', sql<number>`count(*)`.as('count')])
      .groupBy('unit')
      .orderBy('unit');
    if (from) q = q.where('gen_time', '>=', toIso(from));
    if (to) q = q.where('gen_time', '<', toIso(to));
    return (await q.execute()).map((r) => ({ unit: r.unit, count: Number(r.count) }));
  }
}
