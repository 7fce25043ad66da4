// Compiled SQL of hot statements, kept per repository (one database, one dialect). Kysely builds and
// compiles every query afresh — for the small inserts of a signature (audit event, record, time-stamp
// token, nonce) that cost more main-thread time than SQLite took to run them. The first run of a statement
// shape compiles it with Kysely; later runs reuse its SQL text with the new values.
import { CompiledQuery, type Compilable, type Kysely, type QueryResult } from 'kysely';
import type { Schema } from './schema.js';

/**
 * SQL texts by statement key. The key names the statement's shape (table, columns in order, clauses); the
 * values must be the parameters in the order Kysely's compiler emits them, which `run` checks the first
 * time: a shape whose parameters do not come out as given (e.g. a value Kysely rewrites) is never cached
 * and always compiled afresh.
 */
export class StatementCache {
  readonly #sql = new Map<string, string | null>();

  /** Runs the statement `build` describes with `values` as its parameters (see the class comment). */
  run<R = unknown>(
    executor: Kysely<Schema>,
    key: string,
    values: readonly unknown[],
    build: () => Compilable<R>,
  ): Promise<QueryResult<R>> {
    const sql = this.#sql.get(key);
    if (sql) return executor.executeQuery<R>(CompiledQuery.raw(sql, [...values]) as CompiledQuery<R>);
    const compiled = build().compile();
    if (sql === undefined)
      this.#sql.set(key, sameParameters(compiled.parameters, values) ? compiled.sql : null);
    return executor.executeQuery<R>(compiled);
  }

  /** Runs an INSERT of one row: `build` gets the row, the key is the table and the row's columns in order. */
  insert<R = unknown>(
    executor: Kysely<Schema>,
    table: string,
    clause: string,
    row: object,
    build: () => Compilable<R>,
  ): Promise<QueryResult<R>> {
    return this.run(executor, `${table}(${Object.keys(row).join(',')})${clause}`, Object.values(row), build);
  }
}

function sameParameters(compiled: readonly unknown[], values: readonly unknown[]): boolean {
  return compiled.length === values.length && compiled.every((v, i) => v === values[i]);
}
