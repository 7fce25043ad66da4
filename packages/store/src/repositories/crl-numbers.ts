import { sql } from 'kysely';
import { toIso } from '../codec.js';
import type { Database } from '../database.js';

/**
 * The `crl_numbers` table: RFC 5280 §5.2.3 wants CRL numbers monotonically increasing per CA. `next` is a
 * single `INSERT … ON CONFLICT DO UPDATE … RETURNING` statement (SQLite ≥ 3.35 and PostgreSQL), so
 * several server processes sharing one database never hand out the same number.
 */
export class CrlNumberRepository {
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
  }

  /** The next CRL number of `caId` (1 for the first CRL). */
  async next(caId: string, now: Date = new Date()): Promise<bigint> {
    const at = toIso(now);
    const row = await this.#database.db
      .insertInto('crl_numbers')
      .values({ ca_id: caId, last_number: 1, updated_at: at })
      .onConflict((oc) =>
        oc.column('ca_id').doUpdateSet({
          last_number: sql<number>`${sql.ref('crl_numbers.last_number')} + 1`,
          updated_at: at,
        }),
      )
      .returning('last_number')
      .executeTakeFirstOrThrow();
    return BigInt(row.last_number);
  }

  /** The last number handed out, or undefined before the first CRL. */
  async current(caId: string): Promise<bigint | undefined> {
    const row = await this.#database.db
      .selectFrom('crl_numbers')
      .select('last_number')
      .where('ca_id', '=', caId)
      .executeTakeFirst();
    return row && BigInt(row.last_number);
  }
}
