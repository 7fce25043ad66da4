import { fromIso, toIso } from '../codec.js';
import type { Database } from '../database.js';
import type { SessionsTable } from '../schema.js';

/** An admin session. Only the hash of its bearer token is stored: a database dump yields no usable token. */
export interface SessionRecord {
  /** Lower-case hex hash (SM3) of the token. */
  tokenHash: string;
  userId: string;
  remote: string | null;
  createdAt: Date;
  expiresAt: Date;
}

/** The `sessions` table. */
export class SessionRepository {
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
  }

  /** Stores a session. */
  async insert(session: SessionRecord): Promise<void> {
    if (!/^[0-9a-f]{64}$/.test(session.tokenHash))
      throw new RangeError('tokenHash must be 32 bytes of lower-case hex');
    await this.#database.db
      .insertInto('sessions')
      .values({
        token_hash: session.tokenHash,
        user_id: session.userId,
        remote: session.remote,
        created_at: toIso(session.createdAt),
        expires_at: toIso(session.expiresAt),
      })
      .execute();
  }

  /** The session with this token hash, or undefined (expired ones too: the caller compares expiresAt). */
  async find(tokenHash: string): Promise<SessionRecord | undefined> {
    const row = await this.#database.db
      .selectFrom('sessions')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    return row && toSession(row);
  }

  /** Ends one session (logout); unknown hashes are ignored. */
  async delete(tokenHash: string): Promise<boolean> {
    const r = await this.#database.db
      .deleteFrom('sessions')
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    return r.numDeletedRows > 0n;
  }

  /** Ends every session of a user (after a password change), optionally keeping one. */
  async deleteForUser(userId: string, keepTokenHash?: string): Promise<number> {
    let q = this.#database.db.deleteFrom('sessions').where('user_id', '=', userId);
    if (keepTokenHash !== undefined) q = q.where('token_hash', '<>', keepTokenHash);
    const r = await q.executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Removes sessions that expired before `now`; returns how many. */
  async deleteExpired(now: Date = new Date()): Promise<number> {
    const r = await this.#database.db
      .deleteFrom('sessions')
      .where('expires_at', '<', toIso(now))
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}

function toSession(row: SessionsTable): SessionRecord {
  return {
    tokenHash: row.token_hash,
    userId: row.user_id,
    remote: row.remote,
    createdAt: fromIso(row.created_at),
    expiresAt: fromIso(row.expires_at),
  };
}
