import { sm3 } from '@medsign/gm';
import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import { fromDbBytes, fromIso, normalizeSerial, toDbBytes, toHex, toIso } from '../codec.js';
import { isUniqueViolation, type Database } from '../database.js';
import { StoreError } from '../errors.js';
import type { CertificatesTable, Schema } from '../schema.js';
import { StatementCache } from '../statement-cache.js';

/** OCSP/CRL status of a certificate: `hold` is RFC 5280 certificateHold (suspended, may be resumed). */
export type CertificateStatus = 'good' | 'revoked' | 'hold';

/** An issued certificate as the inventory keeps it. */
export interface CertificateRecord {
  caId: string;
  /** Lower-case hex without leading zeros (normalised on the way in). */
  serial: string;
  /** The subject DN as text, for search and display (e.g. RFC 4514 form with UTF-8). */
  subject: string;
  /** The subject Name, DER, exactly as in the certificate. */
  subjectDer: Uint8Array;
  /** Profile id that issued it (`doctor`, `tsa` …). */
  profile: string;
  status: CertificateStatus;
  notBefore: Date;
  notAfter: Date;
  der: Uint8Array;
  /** Lower-case hex fingerprint of `der` (SM3 unless the caller chose otherwise), unique. */
  fingerprint: string;
  department: string | null;
  employeeNo: string | null;
  revokedAt: Date | null;
  revocationReason: string | null;
  createdAt: Date;
  /** The applicant's non-personal fields (JSON object) and sealed personal fields, as the caller gave them. */
  applicant: PersonalColumns | null;
  applicationId: string | null;
  /** The certificate this one renews. */
  replaces: { caId: string; serial: string } | null;
}

/**
 * What a row keeps of its applicant: the non-personal fields as a JSON object, and the personal fields
 * sealed by the caller (the keystore's PersonalDataCipher) with a keyed hash of the ID number for exact
 * search. The store never sees personal values in clear.
 */
export interface PersonalColumns {
  fields: Record<string, string>;
  idNumberSealed: Uint8Array | null;
  idNumberIndex: string | null;
  phoneSealed: Uint8Array | null;
}

/** What {@link CertificateRepository.insert} takes: defaults for status (good), fingerprint (SM3 of der), createdAt (now). */
export type NewCertificate = Omit<
  CertificateRecord,
  | 'serial'
  | 'status'
  | 'fingerprint'
  | 'department'
  | 'employeeNo'
  | 'revokedAt'
  | 'revocationReason'
  | 'createdAt'
  | 'applicant'
  | 'applicationId'
  | 'replaces'
> & {
  serial: string | bigint;
  status?: CertificateStatus;
  fingerprint?: string;
  department?: string | null;
  employeeNo?: string | null;
  revokedAt?: Date | null;
  revocationReason?: string | null;
  createdAt?: Date;
  applicant?: PersonalColumns | null;
  applicationId?: string | null;
  replaces?: { caId: string; serial: string } | null;
};

/** Filters of {@link CertificateRepository.search}; all given filters must hold. */
export interface CertificateQuery {
  caId?: string;
  /** Substring of the subject, case-insensitive (ASCII on SQLite, full Unicode case folding on PostgreSQL). */
  subject?: string;
  /** Exact serial, in any spelling normalizeSerial accepts. */
  serial?: string | bigint;
  department?: string;
  profile?: string;
  status?: CertificateStatus;
  employeeNo?: string;
  /** The keyed hash of an ID number (PersonalDataCipher.index): exact search without the clear value. */
  idNumberIndex?: string;
  /** notAfter strictly before this instant ("expiring in the next 30 days": with expiringAfter = now). */
  expiringBefore?: Date;
  /** notAfter at or after this instant. */
  expiringAfter?: Date;
  /** `newest` (created_at descending, default) or `expiry` (notAfter ascending). */
  order?: 'newest' | 'expiry';
  limit: number;
  offset?: number;
}

/** A page of search results with the total number of matches. */
export interface CertificatePage {
  total: number;
  items: CertificateRecord[];
}

/** A grouping for {@link CertificateRepository.countsBy}; `month` is the issuance month (created_at, `YYYY-MM`, UTC). */
export type CertificateDimension = 'department' | 'profile' | 'status' | 'month';

/** A status change: revoke (final), hold (suspend), or good (resume from hold). */
export type CertificateStatusChange =
  | { status: 'revoked'; revokedAt: Date; reason: string }
  | { status: 'hold'; revokedAt: Date }
  | { status: 'good' };

/** A revoked or held certificate as a CRL lists it. */
export interface RevokedEntry {
  serial: string;
  status: 'revoked' | 'hold';
  revokedAt: Date;
  reason: string | null;
}

const MAX_LIMIT = 1000;

type Eb = ExpressionBuilder<Schema, 'certificates'>;

/** The `certificates` table: insert, lookup, inventory search and statistics, status changes. */
export class CertificateRepository {
  readonly #database: Database;
  /** The compiled lookup by serial (statement-cache.ts). */
  readonly #statements = new StatementCache();

  constructor(database: Database) {
    this.#database = database;
  }

  /** Stores an issued certificate; an existing (CA, serial) or fingerprint is a `conflict` StoreError. */
  async insert(cert: NewCertificate): Promise<CertificateRecord> {
    const row = certificateRow(cert);
    // Shares the transaction of concurrent issuances (group commit, database.ts).
    await this.#database.groupWrite((trx) => insertCertificateRow(trx, row));
    return toCertificate(row);
  }

  /** The certificate with this serial under this CA, or undefined. */
  async findBySerial(caId: string, serial: string | bigint): Promise<CertificateRecord | undefined> {
    // Looked up per signature and per verification (status now): its compiled SQL is kept.
    const db = this.#database.db;
    const n = normalizeSerial(serial);
    const [row] = (
      await this.#statements.run(db, 'certificates:by-serial', [caId, n], () =>
        db.selectFrom('certificates').selectAll().where('ca_id', '=', caId).where('serial', '=', n),
      )
    ).rows;
    return row && toCertificate(row);
  }

  /** Inventory search with paging; `limit` is capped at 1000. */
  async search(query: CertificateQuery): Promise<CertificatePage> {
    if (!Number.isInteger(query.limit) || query.limit < 1)
      throw new RangeError('limit must be a positive integer');
    const offset = query.offset ?? 0;
    if (!Number.isInteger(offset) || offset < 0)
      throw new RangeError('offset must be a non-negative integer');
    const where = (eb: Eb) => eb.and(this.#conditions(eb, query));
    const totalRow = await this.#database.db
      .selectFrom('certificates')
      .select((eb) => eb.fn.countAll().as('count'))
      .where(where)
      .executeTakeFirstOrThrow();
    let q = this.#database.db.selectFrom('certificates').selectAll().where(where);
    q =
      query.order === 'expiry'
        ? q.orderBy('not_after').orderBy('ca_id').orderBy('serial')
        : q.orderBy('created_at', 'desc').orderBy('ca_id').orderBy('serial');
    const rows = await q.limit(Math.min(query.limit, MAX_LIMIT)).offset(offset).execute();
    return { total: Number(totalRow.count), items: rows.map(toCertificate) };
  }

  /**
   * Certificate counts grouped by a dimension, sorted by key (null — no department — first), optionally
   * restricted to one CA: the queries behind the inventory statistics.
   */
  async countsBy(
    dimension: CertificateDimension,
    filter: { caId?: string } = {},
  ): Promise<{ key: string | null; count: number }[]> {
    const key =
      dimension === 'month'
        ? sql<string>`substr(${sql.ref('created_at')}, 1, 7)`
        : sql<string | null>`${sql.ref(dimension)}`;
    let q = this.#database.db
      .selectFrom('certificates')
      .select((eb) => [key.as('key'), eb.fn.countAll().as('count')])
      .groupBy(key);
    if (filter.caId !== undefined) q = q.where('ca_id', '=', filter.caId);
    const rows = await q.execute();
    return rows
      .map((r) => ({ key: r.key, count: Number(r.count) }))
      .sort((a, b) =>
        a.key === b.key ? 0 : a.key === null ? -1 : b.key === null ? 1 : a.key < b.key ? -1 : 1,
      );
  }

  /**
   * Changes the status: revoke, hold, or resume (good) from hold. Revocation is final: changing a revoked
   * certificate is an `invalid-state` StoreError; an unknown one is `not-found`. The check and the write
   * are one conditional UPDATE, so two operators revoking at once cannot both succeed on a stale read.
   */
  async setStatus(caId: string, serial: string | bigint, change: CertificateStatusChange): Promise<void> {
    const normalized = normalizeSerial(serial);
    const values =
      change.status === 'good'
        ? { status: 'good', revoked_at: null, revocation_reason: null }
        : change.status === 'hold'
          ? { status: 'hold', revoked_at: toIso(change.revokedAt), revocation_reason: 'certificateHold' }
          : { status: 'revoked', revoked_at: toIso(change.revokedAt), revocation_reason: change.reason };
    let q = this.#database.db
      .updateTable('certificates')
      .set(values)
      .where('ca_id', '=', caId)
      .where('serial', '=', normalized)
      .where('status', '<>', 'revoked');
    // Resuming applies only to a held certificate.
    if (change.status === 'good') q = q.where('status', '=', 'hold');
    const result = await q.executeTakeFirst();
    if (result.numUpdatedRows > 0n) return;
    const current = await this.findBySerial(caId, normalized);
    if (!current) throw new StoreError('not-found', `no certificate ${normalized} of CA ${caId}`);
    throw new StoreError(
      'invalid-state',
      `certificate ${normalized} is ${current.status}, cannot become ${change.status}`,
    );
  }

  /** Revoked and held certificates of a CA in serial order, for CRL generation (only the columns a CRL needs). */
  async listRevoked(caId: string): Promise<RevokedEntry[]> {
    const rows = await this.#database.db
      .selectFrom('certificates')
      .select(['serial', 'status', 'revoked_at', 'revocation_reason'])
      .where('ca_id', '=', caId)
      .where('status', 'in', ['revoked', 'hold'])
      .orderBy('serial')
      .execute();
    return rows.map((r) => ({
      serial: r.serial,
      status: r.status as 'revoked' | 'hold',
      revokedAt: fromIso(r.revoked_at!),
      reason: r.revocation_reason,
    }));
  }

  #conditions(eb: Eb, query: CertificateQuery): Expression<SqlBool>[] {
    const c: Expression<SqlBool>[] = [];
    if (query.caId !== undefined) c.push(eb('ca_id', '=', query.caId));
    if (query.serial !== undefined) c.push(eb('serial', '=', normalizeSerial(query.serial)));
    if (query.subject !== undefined && query.subject !== '') {
      // The user's text is a literal substring: escape LIKE's wildcards, then ILIKE on PostgreSQL (LIKE is
      // case-sensitive there), LIKE on SQLite (case-insensitive for ASCII).
      const pattern = `%${query.subject.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
      const op = this.#database.dialect === 'postgres' ? sql.raw('ilike') : sql.raw('like');
      c.push(sql<SqlBool>`${sql.ref('subject')} ${op} ${pattern} escape '\\'`);
    }
    if (query.department !== undefined) c.push(eb('department', '=', query.department));
    if (query.profile !== undefined) c.push(eb('profile', '=', query.profile));
    if (query.status !== undefined) c.push(eb('status', '=', query.status));
    if (query.employeeNo !== undefined) c.push(eb('employee_no', '=', query.employeeNo));
    if (query.idNumberIndex !== undefined) c.push(eb('id_number_hmac', '=', query.idNumberIndex));
    if (query.expiringBefore !== undefined) c.push(eb('not_after', '<', toIso(query.expiringBefore)));
    if (query.expiringAfter !== undefined) c.push(eb('not_after', '>=', toIso(query.expiringAfter)));
    return c;
  }
}

/** The row of a new certificate (defaults: status good, SM3 fingerprint, created now). */
export function certificateRow(cert: NewCertificate): CertificatesTable {
  const status = cert.status ?? 'good';
  const a = cert.applicant ?? null;
  return {
    ca_id: cert.caId,
    serial: normalizeSerial(cert.serial),
    subject: cert.subject,
    subject_der: toDbBytes(cert.subjectDer),
    profile: cert.profile,
    status,
    not_before: toIso(cert.notBefore),
    not_after: toIso(cert.notAfter),
    der: toDbBytes(cert.der),
    fingerprint: (cert.fingerprint ?? toHex(sm3(cert.der))).toLowerCase(),
    department: cert.department ?? null,
    employee_no: cert.employeeNo ?? null,
    revoked_at: cert.revokedAt ? toIso(cert.revokedAt) : null,
    revocation_reason: cert.revocationReason ?? null,
    created_at: toIso(cert.createdAt ?? new Date()),
    applicant: a && JSON.stringify(a.fields),
    id_number_enc: a?.idNumberSealed ? toDbBytes(a.idNumberSealed) : null,
    id_number_hmac: a?.idNumberIndex ?? null,
    phone_enc: a?.phoneSealed ? toDbBytes(a.phoneSealed) : null,
    application_id: cert.applicationId ?? null,
    replaces_ca_id: cert.replaces?.caId ?? null,
    replaces_serial: cert.replaces ? normalizeSerial(cert.replaces.serial) : null,
  };
}

/** Inserts a certificate row with `db` (the database or a transaction); a duplicate is a `conflict`. */
export async function insertCertificateRow(db: Kysely<Schema>, row: CertificatesTable): Promise<void> {
  try {
    await db.insertInto('certificates').values(row).execute();
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new StoreError('conflict', `certificate ${row.serial} of CA ${row.ca_id} already stored`, {
        cause: error,
      });
    }
    throw error;
  }
}

function toCertificate(row: CertificatesTable): CertificateRecord {
  return {
    caId: row.ca_id,
    serial: row.serial,
    subject: row.subject,
    subjectDer: fromDbBytes(row.subject_der),
    profile: row.profile,
    status: row.status as CertificateStatus,
    notBefore: fromIso(row.not_before),
    notAfter: fromIso(row.not_after),
    der: fromDbBytes(row.der),
    fingerprint: row.fingerprint,
    department: row.department,
    employeeNo: row.employee_no,
    revokedAt: row.revoked_at === null ? null : fromIso(row.revoked_at),
    revocationReason: row.revocation_reason,
    createdAt: fromIso(row.created_at),
    applicant:
      row.applicant === null
        ? null
        : {
            fields: JSON.parse(row.applicant) as Record<string, string>,
            idNumberSealed: row.id_number_enc && fromDbBytes(row.id_number_enc),
            idNumberIndex: row.id_number_hmac,
            phoneSealed: row.phone_enc && fromDbBytes(row.phone_enc),
          },
    applicationId: row.application_id,
    replaces:
      row.replaces_ca_id !== null && row.replaces_serial !== null
        ? { caId: row.replaces_ca_id, serial: row.replaces_serial }
        : null,
  };
}
