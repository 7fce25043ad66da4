import { randomUUID } from 'node:crypto';
import { fromIso, toIso } from '../codec.js';
import type { Database } from '../database.js';
import type { TimeSourceHistoryTable } from '../schema.js';

/** A sampled check, or a state change of the time-source monitor. */
export type TimeSourceEntryKind = 'sample' | 'unusable' | 'restored' | 'switched';
const KINDS: readonly TimeSourceEntryKind[] = ['sample', 'unusable', 'restored', 'switched'];

/** One row of the time-source history. */
export interface TimeSourceEntry {
  id: string;
  at: Date;
  /** The server whose clock was checked (its host name). */
  node: string;
  kind: TimeSourceEntryKind;
  usable: boolean;
  source: string | null;
  /** For `switched`: the source that won before. */
  previousSource: string | null;
  /** System clock minus source, ms. */
  offsetMs: number | null;
  boundMs: number | null;
  detail: string;
}

/** What {@link TimeSourceHistoryRepository.append} takes (the id is made here). */
export type NewTimeSourceEntry = Omit<TimeSourceEntry, 'id'>;

/** Filters of {@link TimeSourceHistoryRepository.list}. */
export type TimeSourceHistoryQuery = {
  /** Only state changes (no samples). */
  changesOnly?: boolean;
  since?: Date;
  until?: Date;
  /** At most this many, newest first (1–1000). */
  limit: number;
};

/**
 * The `time_source_history` table: append, list newest first, and prune old samples. Kept bounded by
 * the monitor (at most one sample per sample interval, plus changes) and by {@link pruneSamples}.
 */
export class TimeSourceHistoryRepository {
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
  }

  /** Appends one entry; returns it with its id. */
  async append(entry: NewTimeSourceEntry): Promise<TimeSourceEntry> {
    if (!KINDS.includes(entry.kind)) throw new RangeError(`kind must be one of ${KINDS.join(', ')}`);
    const row: TimeSourceHistoryTable = {
      id: randomUUID(),
      at: toIso(entry.at),
      node: entry.node,
      kind: entry.kind,
      usable: entry.usable ? 1 : 0,
      source: entry.source,
      previous_source: entry.previousSource,
      offset_ms: finiteOrNull(entry.offsetMs),
      bound_ms: finiteOrNull(entry.boundMs),
      detail: entry.detail,
    };
    await this.#database.db.insertInto('time_source_history').values(row).execute();
    return toEntry(row);
  }

  /** Entries newest first. */
  async list(q: TimeSourceHistoryQuery): Promise<TimeSourceEntry[]> {
    if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > 1000)
      throw new RangeError('limit must be an integer 1–1000');
    let query = this.#database.db.selectFrom('time_source_history').selectAll();
    if (q.changesOnly) query = query.where('kind', '<>', 'sample');
    if (q.since) query = query.where('at', '>=', toIso(q.since));
    if (q.until) query = query.where('at', '<', toIso(q.until));
    const rows = await query.orderBy('at', 'desc').orderBy('id').limit(q.limit).execute();
    return rows.map(toEntry);
  }

  /** Deletes samples older than `before` (state changes are kept); returns how many. */
  async pruneSamples(before: Date): Promise<number> {
    const r = await this.#database.db
      .deleteFrom('time_source_history')
      .where('kind', '=', 'sample')
      .where('at', '<', toIso(before))
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}

function finiteOrNull(x: number | null): number | null {
  return x === null || !Number.isFinite(x) ? null : x;
}

function toEntry(row: TimeSourceHistoryTable): TimeSourceEntry {
  return {
    id: row.id,
    at: fromIso(row.at),
    node: row.node,
    kind: row.kind as TimeSourceEntryKind,
    usable: Number(row.usable) === 1,
    source: row.source,
    previousSource: row.previous_source,
    offsetMs: row.offset_ms === null ? null : Number(row.offset_ms),
    boundMs: row.bound_ms === null ? null : Number(row.bound_ms),
    detail: row.detail,
  };
}
