import { fromDbBytes, fromIso, toDbBytes, toIso } from '../codec.js';
import { isUniqueViolation, type Database } from '../database.js';
import { StoreError } from '../errors.js';
import type { KeyRecordsTable } from '../schema.js';

/**
 * A keystore entry. The keystore package defines the same shape as its storage port; this one matches it
 * structurally, so store does not depend on keystore (L3 siblings stay independent).
 * `encrypted` is the private key already encrypted by the keystore; the store never sees a clear key.
 */
export interface KeyRecord {
  id: string;
  label: string;
  algorithm: string;
  publicKeyInfo: Uint8Array;
  encrypted: Uint8Array;
  createdAt: Date;
  metadata: Record<string, string>;
}

/** The keystore's storage port: immutable records, looked up by id. */
export interface KeyRecordRepository {
  put(record: KeyRecord): Promise<void>;
  get(id: string): Promise<KeyRecord | undefined>;
  list(): Promise<KeyRecord[]>;
}

/** {@link KeyRecordRepository} on the `key_records` table. */
export class SqlKeyRecordRepository implements KeyRecordRepository {
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
  }

  /** Stores a new record. Keys are immutable: an existing id is a `conflict` StoreError, never an overwrite. */
  async put(record: KeyRecord): Promise<void> {
    for (const [k, v] of Object.entries(record.metadata)) {
      if (typeof v !== 'string') throw new TypeError(`key metadata ${k} must be a string`);
    }
    try {
      await this.#database.db
        .insertInto('key_records')
        .values({
          id: record.id,
          label: record.label,
          algorithm: record.algorithm,
          public_key_info: toDbBytes(record.publicKeyInfo),
          encrypted: toDbBytes(record.encrypted),
          created_at: toIso(record.createdAt),
          metadata: JSON.stringify(record.metadata),
        })
        .execute();
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new StoreError('conflict', `key record ${record.id} already exists (keys are immutable)`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  /** The record with this id, or undefined. */
  async get(id: string): Promise<KeyRecord | undefined> {
    const row = await this.#database.db
      .selectFrom('key_records')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toKeyRecord(row);
  }

  /** Every record, oldest first. */
  async list(): Promise<KeyRecord[]> {
    const rows = await this.#database.db
      .selectFrom('key_records')
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toKeyRecord);
  }
}

function toKeyRecord(row: KeyRecordsTable): KeyRecord {
  return {
    id: row.id,
    label: row.label,
    algorithm: row.algorithm,
    publicKeyInfo: fromDbBytes(row.public_key_info),
    encrypted: fromDbBytes(row.encrypted),
    createdAt: fromIso(row.created_at),
    metadata: JSON.parse(row.metadata) as Record<string, string>,
  };
}
