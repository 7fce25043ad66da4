// The audit log on the database: append-only rows in `audit_events`, one SM3 hash chain (audit-chain.ts)
// kept consistent even when several server processes append to the same database at once.
import { canonicalJson, type JsonValue } from './canonical-json.js';
import {
  checkAuditLink,
  computeAuditHash,
  GENESIS_HASH,
  type AuditBreak,
  type AuditEvent,
  type ChainedAuditEvent,
} from './audit-chain.js';
import { toIso } from './codec.js';
import type { Kysely } from 'kysely';
import type { Database } from './database.js';
import type { GroupScope } from './group-commit.js';
import { StatementCache } from './statement-cache.js';
import type { AuditEventsTable, Schema } from './schema.js';

/** What a caller appends; seq, time and the chain links are assigned by {@link AuditLog.append}. */
export interface AuditEventInput {
  actor: string;
  action: string;
  target?: string | null;
  /** Masked values only — see {@link AuditEvent}. */
  detail?: { [key: string]: JsonValue | undefined };
}

/** Result of {@link AuditLog.verify}. */
export interface AuditVerification {
  /** True when every stored event links to its predecessor and matches its hash. */
  ok: boolean;
  /** Events checked (up to and including the first break). */
  checked: number;
  /** The first break, when `ok` is false. */
  firstBreak?: AuditBreak;
  /**
   * The last event that verified, to compare with an external anchor (a time-stamped head): the chain
   * alone cannot notice that its newest events were cut off, an anchor can.
   */
  head?: { seq: number; hash: string };
}

/** Options of {@link AuditLog}. */
export interface AuditLogOptions {
  /** The clock for event times (default: the system clock). */
  now?: () => Date;
}

/**
 * The hash-chained audit log. `append` serialises writers with the database's write lock, taken by the
 * group transaction it runs in (Database.groupWrite)
 * (`BEGIN IMMEDIATE` on SQLite, a transaction-scoped advisory lock on PostgreSQL), reads the chain head
 * and inserts the next event in the same transaction, so concurrent processes extend one chain; the
 * `seq` primary key would reject a fork even if the lock were bypassed. UPDATE/DELETE are refused by
 * triggers, and `verify` detects edits made around them.
 */
export class AuditLog {
  readonly #database: Database;
  readonly #now: () => Date;
  /** Per group transaction, the last event appended in it. */
  readonly #heads = new WeakMap<GroupScope, { seq: number; hash: string }>();
  /** The compiled head query and event insert (statement-cache.ts). */
  readonly #statements = new StatementCache();

  constructor(database: Database, options: AuditLogOptions = {}) {
    this.#database = database;
    this.#now = options.now ?? (() => new Date());
  }

  /** Appends one event and returns it as stored. Throws TypeError if `detail` is not canonical-JSON-able. */
  async append(input: AuditEventInput): Promise<ChainedAuditEvent> {
    const entry = checkedInput(input);
    // Group commit: appends of concurrent operations share one transaction, which holds the chain lock
    // (GROUP_WRITE_LOCK); each still reads the head — including the events appended before it in that
    // transaction — and links to it.
    return this.#database.groupWrite((trx, scope) => this.#link(trx, scope, entry));
  }

  /**
   * Appends one event inside a group transaction (Database.groupWrite) — with the other writes of the
   * same operation, so they are committed together or not at all. Throws TypeError (before touching the
   * database) if `detail` is not canonical-JSON-able.
   */
  appendIn(trx: Kysely<Schema>, scope: GroupScope, input: AuditEventInput): Promise<ChainedAuditEvent> {
    return this.#link(trx, scope, checkedInput(input));
  }

  async #link(trx: Kysely<Schema>, scope: GroupScope, input: CheckedInput): Promise<ChainedAuditEvent> {
    // The head: the event this transaction appended last, else the newest stored one (the transaction
    // holds the chain lock, so no other process appends in between).
    const head =
      this.#heads.get(scope) ??
      (
        await this.#statements.run(trx, 'audit_events:head', [1], () =>
          trx.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1),
        )
      ).rows[0];
    const event: AuditEvent = {
      seq: head ? Number(head.seq) + 1 : 1,
      time: toIso(this.#now()),
      actor: input.actor,
      action: input.action,
      target: input.target,
      detail: JSON.parse(input.detailText) as AuditEvent['detail'],
    };
    const prevHash = head ? head.hash : GENESIS_HASH;
    const hash = computeAuditHash(prevHash, event);
    const row = { ...event, detail: input.detailText, prev_hash: prevHash, hash };
    await this.#statements.insert(trx, 'audit_events', '', row, () =>
      trx.insertInto('audit_events').values(row),
    );
    this.#heads.set(scope, { seq: event.seq, hash });
    return { ...event, prevHash, hash };
  }

  /**
   * Walks the whole chain in seq order, `batchSize` rows at a time (keyset pagination, so memory stays
   * flat however long the log), and stops at the first break. With `upTo`, only the events 1…upTo (the
   * chain up to one event, e.g. a signature record's, for its evidence).
   */
  async verify(options: { batchSize?: number; upTo?: number } = {}): Promise<AuditVerification> {
    const batchSize = options.batchSize ?? 1000;
    const upTo = options.upTo;
    if (upTo !== undefined && (!Number.isSafeInteger(upTo) || upTo < 1))
      throw new RangeError('upTo must be a positive integer');
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError('batchSize must be a positive integer');
    let expectedSeq = 1;
    let prevHash = GENESIS_HASH;
    let checked = 0;
    let after = 0;
    for (;;) {
      let query = this.#database.db.selectFrom('audit_events').selectAll().where('seq', '>', after);
      if (upTo !== undefined) query = query.where('seq', '<=', upTo);
      const rows = await query.orderBy('seq').limit(batchSize).execute();
      for (const row of rows) {
        checked++;
        const event = readRow(row);
        const broken = 'reason' in event ? event : checkAuditLink(expectedSeq, prevHash, event);
        if (broken) {
          return {
            ok: false,
            checked,
            firstBreak: broken,
            ...(expectedSeq > 1 ? { head: { seq: expectedSeq - 1, hash: prevHash } } : {}),
          };
        }
        expectedSeq = Number(row.seq) + 1;
        prevHash = row.hash;
      }
      if (rows.length < batchSize) break;
      after = Number(rows[rows.length - 1]!.seq);
    }
    return { ok: true, checked, ...(checked > 0 ? { head: { seq: expectedSeq - 1, hash: prevHash } } : {}) };
  }

  /** The events about `target` (oldest first, at most `limit`), optionally of one action. */
  async byTarget(
    target: string,
    options: { action?: string; limit?: number } = {},
  ): Promise<ChainedAuditEvent[]> {
    let query = this.#database.db.selectFrom('audit_events').selectAll().where('target', '=', target);
    if (options.action !== undefined) query = query.where('action', '=', options.action);
    const rows = await query
      .orderBy('seq')
      .limit(options.limit ?? 100)
      .execute();
    return rows.map((row) => {
      const event = readRow(row);
      if ('reason' in event) throw new RangeError(event.message);
      return event;
    });
  }

  /** Events in seq order from `fromSeq` (inclusive), at most `limit` — for the auditor's view and exports. */
  async list(options: { fromSeq?: number; limit?: number } = {}): Promise<ChainedAuditEvent[]> {
    const rows = await this.#database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', '>=', options.fromSeq ?? 1)
      .orderBy('seq')
      .limit(options.limit ?? 100)
      .execute();
    return rows.map((row) => {
      const event = readRow(row);
      if ('reason' in event) throw new RangeError(event.message);
      return event;
    });
  }
}

type CheckedInput = { actor: string; action: string; target: string | null; detailText: string };

/** Checks an event and canonicalises its detail (the stored text is exactly what is hashed). */
function checkedInput(input: AuditEventInput): CheckedInput {
  if (typeof input.actor !== 'string' || input.actor === '')
    throw new TypeError('audit actor must be a non-empty string');
  if (typeof input.action !== 'string' || input.action === '')
    throw new TypeError('audit action must be a non-empty string');
  const target = input.target ?? null;
  if (target !== null && typeof target !== 'string')
    throw new TypeError('audit target must be a string or null');
  const detail = input.detail ?? {};
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
    throw new TypeError('audit detail must be a plain object');
  }
  return { actor: input.actor, action: input.action, target, detailText: canonicalJson(detail) };
}

function readRow(row: AuditEventsTable): ChainedAuditEvent | AuditBreak {
  const seq = Number(row.seq);
  let detail: unknown;
  try {
    detail = JSON.parse(row.detail);
  } catch {
    return { seq, reason: 'malformed', message: `event ${seq}: detail is not JSON` };
  }
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
    return { seq, reason: 'malformed', message: `event ${seq}: detail is not a JSON object` };
  }
  return {
    seq,
    time: row.time,
    actor: row.actor,
    action: row.action,
    target: row.target,
    detail: detail as AuditEvent['detail'],
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
