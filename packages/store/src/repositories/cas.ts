import { fromDbBytes, fromIso, toDbBytes, toIso } from '../codec.js';
import { isUniqueViolation, type Database } from '../database.js';
import { StoreError } from '../errors.js';
import type { CasTable } from '../schema.js';

/** Whether a CA still issues (`active`) or only serves status for what it issued (`retired`). */
export type CaStatus = 'active' | 'retired';

/** A certificate authority medsign operates. */
export interface CaRecord {
  /** Stable id chosen by the CA module (e.g. `sm2-issuing-2026`); appears in CRL and AIA URLs. */
  id: string;
  name: string;
  /** Key algorithm: `sm2`, `rsa`, `ecdsa` … */
  algorithm: string;
  /** The CA certificate, DER. */
  certificate: Uint8Array;
  /** Handle of the CA key in the keystore (never the key itself). */
  keyRef: string;
  /** Issuing CA of this CA, or null for a root. */
  parentId: string | null;
  status: CaStatus;
  createdAt: Date;
}

/** The `cas` table. */
export class CaRepository {
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
  }

  /** Inserts a CA; a second CA with the same id is a `conflict` StoreError. */
  async insert(ca: CaRecord): Promise<void> {
    try {
      await this.#database.db
        .insertInto('cas')
        .values({
          id: ca.id,
          name: ca.name,
          algorithm: ca.algorithm,
          certificate: toDbBytes(ca.certificate),
          key_ref: ca.keyRef,
          parent_id: ca.parentId,
          status: ca.status,
          created_at: toIso(ca.createdAt),
        })
        .execute();
    } catch (error) {
      if (isUniqueViolation(error))
        throw new StoreError('conflict', `CA ${ca.id} already exists`, { cause: error });
      throw error;
    }
  }

  /** The CA with this id, or undefined. */
  async get(id: string): Promise<CaRecord | undefined> {
    const row = await this.#database.db.selectFrom('cas').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toCa(row);
  }

  /** Every CA, oldest first. */
  async list(): Promise<CaRecord[]> {
    const rows = await this.#database.db
      .selectFrom('cas')
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toCa);
  }
}

function toCa(row: CasTable): CaRecord {
  return {
    id: row.id,
    name: row.name,
    algorithm: row.algorithm,
    certificate: fromDbBytes(row.certificate),
    keyRef: row.key_ref,
    parentId: row.parent_id,
    status: row.status as CaStatus,
    createdAt: fromIso(row.created_at),
  };
}
