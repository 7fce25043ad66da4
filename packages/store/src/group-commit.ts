// Group commit: the small writes of concurrent operations (the serial, intent, certificate and audit rows
// of sixteen issuances in flight) share one transaction, so the database syncs once for all of them
// instead of once per statement. Each write keeps its own outcome: it runs under a savepoint, and a
// failing write is rolled back to that savepoint without touching the others.
import { sql, type Kysely } from 'kysely';
import type { Schema } from './schema.js';

/** Identifies one group transaction: writes may remember what they wrote in it (the audit chain head). */
export type GroupScope = object;

type Work = (trx: Kysely<Schema>, scope: GroupScope) => Promise<unknown>;
type Item = { work: Work; resolve: (value: unknown) => void; reject: (error: unknown) => void };
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * A queue of writes committed together. `run` opens one transaction (Database.writeTransaction) and
 * calls its argument inside it. Writes queued while a transaction runs go into the next one; a
 * transaction starts one event-loop turn after the first write is queued, so the writes that concurrent
 * operations issue in the same turn travel together. A write's promise settles after the commit: with
 * its own result or error, or — when the commit itself fails — with the commit's error (then nothing of
 * that transaction was written).
 */
export class GroupCommit {
  readonly #run: (fn: (trx: Kysely<Schema>) => Promise<void>) => Promise<void>;
  #queue: Item[] = [];
  #scheduled = false;

  constructor(run: (fn: (trx: Kysely<Schema>) => Promise<void>) => Promise<void>) {
    this.#run = run;
  }

  /** Runs `work` in the next group transaction; resolves with its result once that transaction committed. */
  write<T>(work: (trx: Kysely<Schema>, scope: GroupScope) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#queue;
    this.#queue = [];
    const outcomes: Outcome[] = [];
    const scope: GroupScope = {};
    try {
      await this.#run(async (trx) => {
        if (batch.length === 1) {
          // Alone in its transaction: its failure rolls the whole (one-write) transaction back.
          outcomes.push({ ok: true, value: await batch[0]!.work(trx, scope) });
          return;
        }
        for (const item of batch) {
          await sql`savepoint medsign_write`.execute(trx);
          try {
            const value = await item.work(trx, scope);
            await sql`release savepoint medsign_write`.execute(trx);
            outcomes.push({ ok: true, value });
          } catch (error) {
            await sql`rollback to savepoint medsign_write`.execute(trx);
            await sql`release savepoint medsign_write`.execute(trx);
            outcomes.push({ ok: false, error });
          }
        }
      });
      batch.forEach((item, i) => {
        const o = outcomes[i]!;
        if (o.ok) item.resolve(o.value);
        else item.reject(o.error);
      });
    } catch (error) {
      for (const item of batch) item.reject(error);
    }
    // Writes queued meanwhile go next, one turn later: the operations just resumed queue theirs first.
    if (this.#queue.length > 0) setImmediate(() => void this.#flush());
    else this.#scheduled = false;
  }
}
