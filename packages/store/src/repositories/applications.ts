import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import { fromDbBytes, fromIso, normalizeSerial, toDbBytes, toIso } from '../codec.js';
import { isUniqueViolation, type Database } from '../database.js';
import { StoreError } from '../errors.js';
import type { ApplicationsTable, Schema } from '../schema.js';
import {
  certificateRow,
  insertCertificateRow,
  type NewCertificate,
  type PersonalColumns,
} from './certificates.js';

/** Where an application is (the CA core's state machine decides which transitions are allowed). */
export type ApplicationState = 'pending' | 'approved' | 'issued' | 'rejected';

/** A certificate application as stored; personal fields sealed by the caller. */
export interface ApplicationRecord {
  id: string;
  profile: string;
  state: ApplicationState;
  name: string;
  employeeNo: string | null;
  department: string | null;
  /** Other non-personal fields and the sealed personal ones. */
  personal: PersonalColumns;
  key: { kind: 'csr'; csr: Uint8Array } | { kind: 'server-key'; keyId: string; publicKeyInfo: Uint8Array };
  caId: string | null;
  validityDays: number | null;
  submittedBy: string;
  submittedAt: Date;
  review: { by: string; at: Date; reason: string | null } | null;
  certificate: { caId: string; serial: string } | null;
  updatedAt: Date;
}

/** Filters of {@link ApplicationRepository.search}; all given filters must hold. */
export interface ApplicationQuery {
  state?: ApplicationState;
  profile?: string;
  employeeNo?: string;
  department?: string;
  /** Substring of the applicant's name (LIKE on SQLite, ILIKE on PostgreSQL). */
  name?: string;
  /** Keyed hash of an ID number (exact search). */
  idNumberIndex?: string;
  submittedBy?: string;
  limit: number;
  offset?: number;
}

const MAX_LIMIT = 1000;
type Eb = ExpressionBuilder<Schema, 'applications'>;

/** The `applications` table. */
export class ApplicationRepository {
  readonly #database: Database;
  readonly #now: () => Date;

  constructor(database: Database, now: () => Date = () => new Date()) {
    this.#database = database;
    this.#now = now;
  }

  /** Stores a new application; an open one for the same employee number and profile is a `conflict`. */
  async insert(a: Omit<ApplicationRecord, 'updatedAt'>): Promise<void> {
    const row: ApplicationsTable = {
      id: a.id,
      profile: a.profile,
      state: a.state,
      name: a.name,
      employee_no: a.employeeNo,
      department: a.department,
      applicant: JSON.stringify(a.personal.fields),
      id_number_enc: a.personal.idNumberSealed && toDbBytes(a.personal.idNumberSealed),
      id_number_hmac: a.personal.idNumberIndex,
      phone_enc: a.personal.phoneSealed && toDbBytes(a.personal.phoneSealed),
      key_kind: a.key.kind,
      csr: a.key.kind === 'csr' ? toDbBytes(a.key.csr) : null,
      key_id: a.key.kind === 'server-key' ? a.key.keyId : null,
      public_key_info: a.key.kind === 'server-key' ? toDbBytes(a.key.publicKeyInfo) : null,
      ca_id: a.caId,
      validity_days: a.validityDays,
      submitted_by: a.submittedBy,
      submitted_at: toIso(a.submittedAt),
      reviewed_by: a.review?.by ?? null,
      reviewed_at: a.review ? toIso(a.review.at) : null,
      review_reason: a.review?.reason ?? null,
      cert_ca_id: a.certificate?.caId ?? null,
      cert_serial: a.certificate ? normalizeSerial(a.certificate.serial) : null,
      updated_at: toIso(this.#now()),
    };
    try {
      await this.#database.db.insertInto('applications').values(row).execute();
    } catch (error) {
      if (isUniqueViolation(error))
        throw new StoreError(
          'conflict',
          `an open application for employee ${a.employeeNo ?? '?'} and profile ${a.profile} exists`,
          { cause: error },
        );
      throw error;
    }
  }

  async get(id: string): Promise<ApplicationRecord | undefined> {
    const row = await this.#database.db
      .selectFrom('applications')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toApplication(row);
  }

  /** The application a certificate was issued for, if it came through one. */
  async findByCertificate(caId: string, serial: string): Promise<ApplicationRecord | undefined> {
    const row = await this.#database.db
      .selectFrom('applications')
      .selectAll()
      .where('cert_ca_id', '=', caId)
      .where('cert_serial', '=', normalizeSerial(serial))
      .executeTakeFirst();
    return row && toApplication(row);
  }

  /** The id of an open (pending or approved) application for this employee number and profile, if any. */
  async findOpen(employeeNo: string, profile: string): Promise<string | undefined> {
    const row = await this.#database.db
      .selectFrom('applications')
      .select('id')
      .where('employee_no', '=', employeeNo)
      .where('profile', '=', profile)
      .where('state', 'in', ['pending', 'approved'])
      .executeTakeFirst();
    return row?.id;
  }

  /**
   * Moves an application from `from` to `to` if it is still in `from` (one conditional UPDATE), setting
   * the review or clearing it (null). False when the state had changed or the id is unknown. `issued`
   * is reached only through {@link issue}, which stores the certificate in the same transaction.
   */
  async transition(
    id: string,
    from: ApplicationState,
    to: Exclude<ApplicationState, 'issued'>,
    review: { by: string; at: Date; reason?: string | null } | null,
  ): Promise<boolean> {
    const result = await this.#database.db
      .updateTable('applications')
      .set({
        state: to,
        reviewed_by: review?.by ?? null,
        reviewed_at: review ? toIso(review.at) : null,
        review_reason: review?.reason ?? null,
        updated_at: toIso(this.#now()),
      })
      .where('id', '=', id)
      .where('state', '=', from)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Stores the certificate issued for an approved application and marks the application issued, in one
   * transaction: either both are written or neither. An application that is not `approved` (any more)
   * is an `invalid-state` StoreError and the certificate is not stored.
   */
  async issue(applicationId: string, cert: NewCertificate): Promise<void> {
    const row = certificateRow({ ...cert, applicationId });
    await this.#database.db.transaction().execute(async (trx) => {
      await insertCertificateRow(trx, row);
      const result = await trx
        .updateTable('applications')
        .set({
          state: 'issued',
          cert_ca_id: row.ca_id,
          cert_serial: row.serial,
          updated_at: toIso(this.#now()),
        })
        .where('id', '=', applicationId)
        .where('state', '=', 'approved')
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n)
        throw new StoreError('invalid-state', `application ${applicationId} is not approved`);
    });
  }

  /** Search with paging, newest first; `limit` is capped at 1000. */
  async search(query: ApplicationQuery): Promise<{ total: number; items: ApplicationRecord[] }> {
    if (!Number.isInteger(query.limit) || query.limit < 1)
      throw new RangeError('limit must be a positive integer');
    const offset = query.offset ?? 0;
    if (!Number.isInteger(offset) || offset < 0)
      throw new RangeError('offset must be a non-negative integer');
    const where = (eb: Eb) => eb.and(this.#conditions(eb, query));
    const total = await this.#database.db
      .selectFrom('applications')
      .select((eb) => eb.fn.countAll().as('count'))
      .where(where)
      .executeTakeFirstOrThrow();
    const rows = await this.#database.db
      .selectFrom('applications')
      .selectAll()
      .where(where)
      .orderBy('submitted_at', 'desc')
      .orderBy('id')
      .limit(Math.min(query.limit, MAX_LIMIT))
      .offset(offset)
      .execute();
    return { total: Number(total.count), items: rows.map(toApplication) };
  }

  #conditions(eb: Eb, q: ApplicationQuery): Expression<SqlBool>[] {
    const c: Expression<SqlBool>[] = [];
    if (q.state !== undefined) c.push(eb('state', '=', q.state));
    if (q.profile !== undefined) c.push(eb('profile', '=', q.profile));
    if (q.employeeNo !== undefined) c.push(eb('employee_no', '=', q.employeeNo));
    if (q.department !== undefined) c.push(eb('department', '=', q.department));
    if (q.idNumberIndex !== undefined) c.push(eb('id_number_hmac', '=', q.idNumberIndex));
    if (q.submittedBy !== undefined) c.push(eb('submitted_by', '=', q.submittedBy));
    if (q.name !== undefined && q.name !== '') {
      const pattern = `%${q.name.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
      const op = this.#database.dialect === 'postgres' ? sql.raw('ilike') : sql.raw('like');
      c.push(sql<SqlBool>`${sql.ref('name')} ${op} ${pattern} escape '\\'`);
    }
    return c;
  }
}

function toApplication(row: ApplicationsTable): ApplicationRecord {
  return {
    id: row.id,
    profile: row.profile,
    state: row.state as ApplicationState,
    name: row.name,
    employeeNo: row.employee_no,
    department: row.department,
    personal: {
      fields: JSON.parse(row.applicant) as Record<string, string>,
      idNumberSealed: row.id_number_enc && fromDbBytes(row.id_number_enc),
      idNumberIndex: row.id_number_hmac,
      phoneSealed: row.phone_enc && fromDbBytes(row.phone_enc),
    },
    key:
      row.key_kind === 'csr'
        ? { kind: 'csr', csr: fromDbBytes(row.csr!) }
        : { kind: 'server-key', keyId: row.key_id!, publicKeyInfo: fromDbBytes(row.public_key_info!) },
    caId: row.ca_id,
    validityDays: row.validity_days,
    submittedBy: row.submitted_by,
    submittedAt: fromIso(row.submitted_at),
    review:
      row.reviewed_by !== null && row.reviewed_at !== null
        ? { by: row.reviewed_by, at: fromIso(row.reviewed_at), reason: row.review_reason }
        : null,
    certificate:
      row.cert_ca_id !== null && row.cert_serial !== null
        ? { caId: row.cert_ca_id, serial: row.cert_serial }
        : null,
    updatedAt: fromIso(row.updated_at),
  };
}
