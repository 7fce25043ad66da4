import { randomUUID } from 'node:crypto';
import { fromIso, normalizeSerial, toHex, toIso } from '../codec.js';
import { isUniqueViolation, type Database } from '../database.js';
import { StoreError } from '../errors.js';
import type { IssuanceIntentsTable } from '../schema.js';

/**
 * Where an issuance stands. `pending`: recorded, the key may be signing; `signed`: signature made, the
 * certificate not yet stored; `stored`: done; `failed`: given up (the serial stays reserved, unused).
 */
export type IntentState = 'pending' | 'signed' | 'stored' | 'failed';

/** An issuance intent: the CA's promise, written before its key signs, of what it is about to sign. */
export interface IssuanceIntent {
  id: string;
  caId: string;
  serial: string;
  /** Hash of the TBSCertificate about to be signed (hex), to recognise the certificate after a crash. */
  tbsHash: string;
  state: IntentState;
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What {@link IntentRepository.record} needs. */
export interface NewIntent {
  caId: string;
  serial: string | bigint;
  /** Hash of the TBSCertificate (bytes, or hex). */
  tbsHash: Uint8Array | string;
  /** Defaults to a random UUID. */
  id?: string;
  /** Defaults to now. */
  now?: Date;
}

/** From which states each transition may start: stored and failed are final. */
const ALLOWED_FROM: Record<Exclude<IntentState, 'pending'>, IntentState[]> = {
  signed: ['pending'],
  stored: ['pending', 'signed'],
  failed: ['pending', 'signed'],
};

/**
 * The `issuance_intents` table, for crash safety (conventions.md §4): the CA records an intent before
 * signing and marks it as it goes; on start-up, {@link listUnfinished} shows what a crash interrupted, so
 * no signed certificate exists that the database does not know about.
 */
export class IntentRepository {
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
  }

  /** Records a `pending` intent. One intent per (CA, serial): a second is a `conflict` StoreError. */
  async record(intent: NewIntent): Promise<IssuanceIntent> {
    const now = toIso(intent.now ?? new Date());
    const tbsHash = typeof intent.tbsHash === 'string' ? intent.tbsHash.toLowerCase() : toHex(intent.tbsHash);
    if (!/^[0-9a-f]{32,128}$/.test(tbsHash)) throw new RangeError('tbsHash must be a 16–64 byte hash');
    const row: IssuanceIntentsTable = {
      id: intent.id ?? randomUUID(),
      ca_id: intent.caId,
      serial: normalizeSerial(intent.serial),
      tbs_hash: tbsHash,
      state: 'pending',
      error: null,
      created_at: now,
      updated_at: now,
    };
    try {
      await this.#database.groupWrite((trx) => trx.insertInto('issuance_intents').values(row).execute());
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new StoreError('conflict', `an intent for serial ${row.serial} of CA ${row.ca_id} exists`, {
          cause: error,
        });
      }
      throw error;
    }
    return toIntent(row);
  }

  /** pending → signed. */
  markSigned(id: string, now?: Date): Promise<void> {
    return this.#transition(id, 'signed', null, now);
  }

  /** pending|signed → stored. */
  markStored(id: string, now?: Date): Promise<void> {
    return this.#transition(id, 'stored', null, now);
  }

  /** pending|signed → failed, with a reason for the operator (no key material, no PINs). */
  markFailed(id: string, error: string, now?: Date): Promise<void> {
    return this.#transition(id, 'failed', error, now);
  }

  /** The intent with this id, or undefined. */
  async get(id: string): Promise<IssuanceIntent | undefined> {
    const row = await this.#database.db
      .selectFrom('issuance_intents')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toIntent(row);
  }

  /** Intents still `pending` or `signed`, oldest first: what crash recovery has to resolve. */
  async listUnfinished(): Promise<IssuanceIntent[]> {
    const rows = await this.#database.db
      .selectFrom('issuance_intents')
      .selectAll()
      .where('state', 'in', ['pending', 'signed'])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toIntent);
  }

  async #transition(
    id: string,
    to: Exclude<IntentState, 'pending'>,
    error: string | null,
    now?: Date,
  ): Promise<void> {
    // One conditional UPDATE: the state check and the write are atomic, whoever else updates concurrently.
    const result = await this.#database.groupWrite((trx) =>
      trx
        .updateTable('issuance_intents')
        .set({ state: to, error, updated_at: toIso(now ?? new Date()) })
        .where('id', '=', id)
        .where('state', 'in', ALLOWED_FROM[to])
        .executeTakeFirst(),
    );
    if (result.numUpdatedRows > 0n) return;
    const current = await this.get(id);
    if (!current) throw new StoreError('not-found', `no issuance intent ${id}`);
    throw new StoreError('invalid-state', `issuance intent ${id} is ${current.state}, cannot become ${to}`);
  }
}

function toIntent(row: IssuanceIntentsTable): IssuanceIntent {
  return {
    id: row.id,
    caId: row.ca_id,
    serial: row.serial,
    tbsHash: row.tbs_hash,
    state: row.state as IntentState,
    error: row.error,
    createdAt: fromIso(row.created_at),
    updatedAt: fromIso(row.updated_at),
  };
}
