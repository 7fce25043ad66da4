import { randomUUID } from 'node:crypto';
import { fromIso, toIso } from '../codec.js';
import { isUniqueViolation, type Database } from '../database.js';
import { StoreError } from '../errors.js';
import type { UsersTable } from '../schema.js';

/** An administrator account. `passwordHash` is an scrypt hash string, never a password. */
export interface UserRecord {
  id: string;
  username: string;
  passwordHash: string;
  roles: string[];
  mustChangePassword: boolean;
  /** Consecutive failed logins since the last success or lockout. */
  failedLogins: number;
  /** Logins are refused until this instant, or null. */
  lockedUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What {@link UserRepository.insert} takes. */
export interface NewUser {
  id?: string;
  username: string;
  passwordHash: string;
  roles: string[];
  mustChangePassword: boolean;
  now?: Date;
}

/**
 * The `users` table. Lockout bookkeeping is done with single conditional UPDATEs so two server processes
 * counting failures for the same account never lose an increment.
 */
export class UserRepository {
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
  }

  /** Creates an account; an existing username is a `conflict` StoreError. */
  async insert(user: NewUser): Promise<UserRecord> {
    const now = toIso(user.now ?? new Date());
    const row: UsersTable = {
      id: user.id ?? randomUUID(),
      username: user.username,
      password_hash: user.passwordHash,
      roles: JSON.stringify(user.roles),
      must_change_password: user.mustChangePassword ? 1 : 0,
      failed_logins: 0,
      locked_until: null,
      created_at: now,
      updated_at: now,
    };
    try {
      await this.#database.db.insertInto('users').values(row).execute();
    } catch (error) {
      if (isUniqueViolation(error))
        throw new StoreError('conflict', `user ${user.username} already exists`, { cause: error });
      throw error;
    }
    return toUser(row);
  }

  /** The account with this username, or undefined. */
  async findByUsername(username: string): Promise<UserRecord | undefined> {
    const row = await this.#database.db
      .selectFrom('users')
      .selectAll()
      .where('username', '=', username)
      .executeTakeFirst();
    return row && toUser(row);
  }

  /** The account with this id, or undefined. */
  async get(id: string): Promise<UserRecord | undefined> {
    const row = await this.#database.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toUser(row);
  }

  /** Number of accounts (init creates the first administrator only when there is none). */
  async count(): Promise<number> {
    const row = await this.#database.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll().as('count'))
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  /**
   * Counts one failed login; when the count reaches `maxFailures` the account is locked until `lockUntil`
   * and the counter starts again. Returns the account after the update.
   */
  async recordFailedLogin(
    id: string,
    maxFailures: number,
    lockUntil: Date,
    now: Date = new Date(),
  ): Promise<UserRecord | undefined> {
    await this.#database.db
      .updateTable('users')
      .set((eb) => ({ failed_logins: eb('failed_logins', '+', 1), updated_at: toIso(now) }))
      .where('id', '=', id)
      .execute();
    await this.#database.db
      .updateTable('users')
      .set({ failed_logins: 0, locked_until: toIso(lockUntil), updated_at: toIso(now) })
      .where('id', '=', id)
      .where('failed_logins', '>=', maxFailures)
      .execute();
    return this.get(id);
  }

  /** A successful login: clears the failure counter and any expired lock. */
  async recordSuccessfulLogin(id: string, now: Date = new Date()): Promise<void> {
    await this.#database.db
      .updateTable('users')
      .set({ failed_logins: 0, locked_until: null, updated_at: toIso(now) })
      .where('id', '=', id)
      .execute();
  }

  /** Replaces the password hash and sets or clears the must-change flag. */
  async setPassword(
    id: string,
    passwordHash: string,
    mustChangePassword: boolean,
    now: Date = new Date(),
  ): Promise<void> {
    const result = await this.#database.db
      .updateTable('users')
      .set({
        password_hash: passwordHash,
        must_change_password: mustChangePassword ? 1 : 0,
        updated_at: toIso(now),
      })
      .where('id', '=', id)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) throw new StoreError('not-found', `no user ${id}`);
  }
}

function toUser(row: UsersTable): UserRecord {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    roles: JSON.parse(row.roles) as string[],
    mustChangePassword: Number(row.must_change_password) === 1,
    failedLogins: Number(row.failed_logins),
    lockedUntil: row.locked_until === null ? null : fromIso(row.locked_until),
    createdAt: fromIso(row.created_at),
    updatedAt: fromIso(row.updated_at),
  };
}
