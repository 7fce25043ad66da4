import { fromDbBytes, fromIso, toDbBytes, toIso } from '../codec.js';
import { isUniqueViolation, type Database } from '../database.js';
import { StoreError } from '../errors.js';
import type { CrlsTable } from '../schema.js';

/** Full or delta CRL (RFC 5280 §5.2.4). */
export type CrlKind = 'full' | 'delta';

/** What is known about a published CRL without its bytes. */
export interface CrlInfo {
  caId: string;
  crlNumber: bigint;
  kind: CrlKind;
  /** For a delta CRL: the number of the full CRL it updates. */
  baseNumber: bigint | null;
  thisUpdate: Date;
  nextUpdate: Date;
  /** Revoked certificates listed. */
  entries: number;
  createdAt: Date;
}

/** A published CRL with its DER. */
export interface CrlRecord extends CrlInfo {
  der: Uint8Array;
}

/** How many CRLs of each kind a CA keeps (the newest is served; the older ones for a while, for audits). */
export const CRLS_KEPT = 10;

/**
 * The `crls` table: the CRLs each CA published. Several server processes on one database all serve the
 * newest (highest CRL number) of each kind; numbers come from `crl_numbers`, so they are unique and
 * increasing across processes, and a CRL number is stored at most once (primary key).
 */
export class CrlRepository {
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
  }

  /** Stores a newly signed CRL and drops that CA's CRLs of the same kind beyond the newest {@link CRLS_KEPT}. */
  async insert(crl: Omit<CrlRecord, 'createdAt'> & { createdAt?: Date }): Promise<void> {
    if ((crl.kind === 'delta') !== (crl.baseNumber !== null))
      throw new RangeError('a delta CRL has a base number, a full CRL none');
    const row: CrlsTable = {
      ca_id: crl.caId,
      crl_number: Number(crl.crlNumber),
      kind: crl.kind,
      base_number: crl.baseNumber === null ? null : Number(crl.baseNumber),
      this_update: toIso(crl.thisUpdate),
      next_update: toIso(crl.nextUpdate),
      entries: crl.entries,
      der: toDbBytes(crl.der),
      created_at: toIso(crl.createdAt ?? new Date()),
    };
    try {
      await this.#database.db.transaction().execute(async (trx) => {
        await trx.insertInto('crls').values(row).execute();
        const keep = trx
          .selectFrom('crls')
          .select('crl_number')
          .where('ca_id', '=', row.ca_id)
          .where('kind', '=', row.kind)
          .orderBy('crl_number', 'desc')
          .limit(CRLS_KEPT);
        await trx
          .deleteFrom('crls')
          .where('ca_id', '=', row.ca_id)
          .where('kind', '=', row.kind)
          .where('crl_number', 'not in', keep)
          .execute();
      });
    } catch (error) {
      if (isUniqueViolation(error))
        throw new StoreError('conflict', `CRL number ${row.crl_number} of CA ${row.ca_id} is stored`, {
          cause: error,
        });
      throw error;
    }
  }

  /** The newest CRL of a kind without its bytes (one indexed lookup), or undefined before the first. */
  async latestInfo(caId: string, kind: CrlKind): Promise<CrlInfo | undefined> {
    const row = await this.#database.db
      .selectFrom('crls')
      .select([
        'ca_id',
        'crl_number',
        'kind',
        'base_number',
        'this_update',
        'next_update',
        'entries',
        'created_at',
      ])
      .where('ca_id', '=', caId)
      .where('kind', '=', kind)
      .orderBy('crl_number', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && toInfo(row);
  }

  /** One stored CRL with its bytes. */
  async get(caId: string, crlNumber: bigint): Promise<CrlRecord | undefined> {
    const row = await this.#database.db
      .selectFrom('crls')
      .selectAll()
      .where('ca_id', '=', caId)
      .where('crl_number', '=', Number(crlNumber))
      .executeTakeFirst();
    return row && { ...toInfo(row), der: fromDbBytes(row.der) };
  }
}

function toInfo(row: Omit<CrlsTable, 'der'>): CrlInfo {
  return {
    caId: row.ca_id,
    crlNumber: BigInt(row.crl_number),
    kind: row.kind,
    baseNumber: row.base_number === null ? null : BigInt(row.base_number),
    thisUpdate: fromIso(row.this_update),
    nextUpdate: fromIso(row.next_update),
    entries: Number(row.entries),
    createdAt: fromIso(row.created_at),
  };
}
