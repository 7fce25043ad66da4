// Group commit: the small writes of concurrent operations (the serial, intent, certificate and audit rows
// of sixteen issuances in flight) share one transaction, so the database syncs once for all of them
// instead of once per statement. Each write keeps its own outcome: when one fails, the shared transaction
// is rolled back and every write of it runs again alone — failures (a serial collision, a duplicate) are
// rare, so the common path carries no savepoints.
import type { Kysely } from 'kysely';
import type { Schema } from './schema.js';

/** Identifies one group transaction: writes may remember what they wrote in it (the audit chain head). */
export type GroupScope = object;

type Work = (trx: Kysely<Schema>, scope: GroupScope) => Promise<unknown>;
type Item = { work: Work; resolve: (value: unknown) => void; reject: (error: unknown) => void };

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
    const values: unknown[] = [];
    let writeFailed = false;
    try {
      await this.#run(async (trx) => {
        const scope: GroupScope = {};
        for (const item of batch) {
          try {
            values.push(await item.work(trx, scope));
          } catch (error) {
            writeFailed = true;
            throw error;
          }
        }
      });
      batch.forEach((item, i) => item.resolve(values[i]));
    } catch (error) {
      if (writeFailed && batch.length > 1) {
        // One write failed (a unique collision…) and the transaction was rolled back: nothing of it was
        // written. Each write runs again in a transaction of its own and gets its own outcome. (A failed
        // commit is not retried: it may have reached the disk before the connection broke.)
        for (const item of batch) await this.#alone(item);
      } else for (const item of batch) item.reject(error);
    }
    // Writes queued meanwhile go next, one turn later: the operations just resumed queue theirs first.
    if (this.#queue.length > 0) setImmediate(() => void this.#flush());
    else this.#scheduled = false;
  }

  async #alone(item: Item): Promise<void> {
    let value: unknown;
    try {
      await this.#run(async (trx) => {
        value = await item.work(trx, {});
      });
      item.resolve(value);
    } catch (error) {
      item.reject(error);
    }
  }
}
