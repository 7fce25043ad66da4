import { sql } from 'kysely';
import { fromDbBytes, fromIso, toDbBytes, toIso } from '../codec.js';
import type { AuditEventInput, AuditLog } from '../audit.js';
import { isUniqueViolation, type Database } from '../database.js';
import type { SignAppsTable, SignAuthorisationsTable, SignaturesTable, SignersTable } from '../schema.js';
import { StatementCache } from '../statement-cache.js';

/** A registered application; `sealedSecret` is the secret as the server's SecretBox sealed it. */
export interface SignAppRecord {
  id: string;
  name: string;
  systemType: string;
  ownerDepartment: string | null;
  operations: string[];
  ipRanges: string[];
  rateLimit: number;
  sealedSecret: Uint8Array;
  status: string;
  createdAt: Date;
}

/** A signer; `pinHash` is a slow salted hash, never a PIN. */
export interface SignerRow {
  id: string;
  employeeNo: string;
  name: string;
  departmentCode: string;
  profile: string;
  keyId: string;
  caId: string;
  certSerial: string;
  certificate: Uint8Array;
  pinHash: string;
  failedPins: number;
  locked: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** A time-boxed signing authorisation. */
export interface SignAuthorisationRow {
  id: string;
  signerId: string;
  appIds: string[];
  grantedVia: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

/** One signature record (append-only). */
export interface SignatureRow {
  id: string;
  appId: string;
  signerId: string;
  employeeNo: string;
  caId: string;
  certSerial: string;
  format: string;
  digestAlgorithm: string;
  digest: string;
  signature: Uint8Array;
  token: Uint8Array | null;
  metadata: { system?: string; docType?: string; docId?: string; departmentCode?: string; visitRef?: string };
  idempotencyKey: string | null;
  requestHash: string | null;
  createdAt: Date;
  /** The client IP the server saw (absent on records made before 0009). */
  clientIp?: string | null;
  /** The signer's intent as a JSON object (method pin | authorisation … | usbkey). */
  intent?: SignatureIntentJson | null;
  /** Position of the record's audit event in the hash chain; set by insertSignature, read back. */
  audit?: { seq: number; hash: string } | null;
}

/** A signer's intent as stored (JSON object; the signing core defines its shape). */
export type SignatureIntentJson = { method: string } & { [key: string]: string | string[] };

/** A signed original, sealed by the caller (SM4-GCM bound to the record id). */
export interface SignatureOriginalRow {
  signatureId: string;
  size: number;
  sealed: Uint8Array;
  createdAt: Date;
}

/** Filters of {@link SigningRepository.searchSignatures}; `to` is exclusive. */
export interface SignatureSearch {
  employeeNo?: string;
  departmentCode?: string;
  appId?: string;
  docType?: string;
  docId?: string;
  /**
   * Fuzzy text: a case-insensitive substring of the employee number, the signer's name, the document id or
   * type, the patient-visit reference or the record id (LIKE wildcards in it are taken literally).
   */
  text?: string;
  from?: Date;
  to?: Date;
  limit: number;
  offset?: number;
}

/**
 * The signing service's tables: applications, nonces, signers and signature records. Counters (wrong PINs)
 * change in single conditional UPDATEs so two server processes never lose a count; signature records are
 * only ever inserted (the database refuses UPDATE/DELETE on them).
 */
export class SigningRepository {
  readonly #database: Database;
  /** When this process last dropped expired nonces (at most once a minute: a write per request is too many). */
  #lastNoncePurge = 0;

  readonly #audit: AuditLog;
  /** The compiled statements of the signing path (statement-cache.ts). */
  readonly #statements = new StatementCache();

  constructor(database: Database, audit: AuditLog) {
    this.#database = database;
    this.#audit = audit;
  }

  async insertApp(app: SignAppRecord): Promise<void> {
    await this.#database.db
      .insertInto('sign_apps')
      .values({
        id: app.id,
        name: app.name,
        system_type: app.systemType,
        owner_department: app.ownerDepartment,
        operations: JSON.stringify(app.operations),
        ip_ranges: JSON.stringify(app.ipRanges),
        rate_limit: app.rateLimit,
        sealed_secret: toDbBytes(app.sealedSecret),
        status: app.status,
        created_at: toIso(app.createdAt),
      })
      .execute();
  }

  async getApp(id: string): Promise<SignAppRecord | undefined> {
    const db = this.#database.db;
    const [row] = (
      await this.#statements.run(db, 'sign_apps:by-id', [id], () =>
        db.selectFrom('sign_apps').selectAll().where('id', '=', id),
      )
    ).rows;
    return row && toApp(row);
  }

  /** All applications, oldest first. */
  async listApps(): Promise<SignAppRecord[]> {
    const rows = await this.#database.db.selectFrom('sign_apps').selectAll().orderBy('created_at').execute();
    return rows.map(toApp);
  }

  /**
   * Records a nonce until `expiresAt`; false on a replay. The insert shares a group transaction with the
   * concurrent requests' writes (Database.groupWrite: one sync for all) and resolves once committed; a
   * nonce already stored — by an earlier group, by an earlier write of the same group or by another
   * process, whose write lock the group transaction waits for — inserts nothing (ON CONFLICT DO NOTHING),
   * so exactly one request with a nonce wins and a replay never makes the group run again write by write.
   * Expired nonces (of every application) are dropped in the same transaction at most once a minute; a
   * nonce kept a little longer only refuses its own reuse, which clients must never do anyway.
   */
  async useNonce(appId: string, nonce: string, expiresAt: Date, now: Date): Promise<boolean> {
    const purge = now.getTime() - this.#lastNoncePurge >= 60_000;
    if (purge) this.#lastNoncePurge = now.getTime();
    const result = await this.#database.groupWrite(async (trx) => {
      if (purge) await trx.deleteFrom('sign_nonces').where('expires_at', '<=', toIso(now)).execute();
      const row = { app_id: appId, nonce, expires_at: toIso(expiresAt) };
      return this.#statements.insert(trx, 'sign_nonces', ' on conflict do nothing', row, () =>
        trx
          .insertInto('sign_nonces')
          .values(row)
          .onConflict((oc) => oc.doNothing()),
      );
    });
    return (result.numAffectedRows ?? 0n) > 0n;
  }

  async insertSigner(s: SignerRow): Promise<boolean> {
    try {
      await this.#database.db
        .insertInto('signers')
        .values({
          id: s.id,
          employee_no: s.employeeNo,
          name: s.name,
          department_code: s.departmentCode,
          profile: s.profile,
          key_id: s.keyId,
          ca_id: s.caId,
          cert_serial: s.certSerial,
          certificate: toDbBytes(s.certificate),
          pin_hash: s.pinHash,
          failed_pins: s.failedPins,
          locked: s.locked ? 1 : 0,
          created_at: toIso(s.createdAt),
          updated_at: toIso(s.updatedAt),
        })
        .execute();
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  async getSigner(id: string): Promise<SignerRow | undefined> {
    const row = await this.#database.db
      .selectFrom('signers')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toSigner(row);
  }

  async getSignerByEmployeeNo(employeeNo: string): Promise<SignerRow | undefined> {
    const db = this.#database.db;
    const [row] = (
      await this.#statements.run(db, 'signers:by-employee-no', [employeeNo], () =>
        db.selectFrom('signers').selectAll().where('employee_no', '=', employeeNo),
      )
    ).rows;
    return row && toSigner(row);
  }

  /** Counts one wrong PIN; locks when the count reaches `maxFailures`. Returns the signer after it. */
  async recordWrongPin(id: string, maxFailures: number, now: Date): Promise<SignerRow> {
    await this.#database.db
      .updateTable('signers')
      .set((eb) => ({ failed_pins: eb('failed_pins', '+', 1), updated_at: toIso(now) }))
      .where('id', '=', id)
      .execute();
    await this.#database.db
      .updateTable('signers')
      .set({ locked: 1 })
      .where('id', '=', id)
      .where('failed_pins', '>=', maxFailures)
      .execute();
    const s = await this.getSigner(id);
    if (!s) throw new RangeError(`no signer ${id}`);
    return s;
  }

  async clearWrongPins(id: string, now: Date): Promise<void> {
    await this.#database.db
      .updateTable('signers')
      .set({ failed_pins: 0, updated_at: toIso(now) })
      .where('id', '=', id)
      .execute();
  }

  /** Clears the lock and the counter; false when the signer was not locked. */
  async unlockSigner(id: string, now: Date): Promise<boolean> {
    const r = await this.#database.db
      .updateTable('signers')
      .set({ locked: 0, failed_pins: 0, updated_at: toIso(now) })
      .where('id', '=', id)
      .where('locked', '=', 1)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  async insertAuthorisation(a: SignAuthorisationRow): Promise<void> {
    await this.#database.db
      .insertInto('sign_authorisations')
      .values({
        id: a.id,
        signer_id: a.signerId,
        app_ids: JSON.stringify(a.appIds),
        granted_via: a.grantedVia,
        created_at: toIso(a.createdAt),
        expires_at: toIso(a.expiresAt),
        revoked_at: a.revokedAt ? toIso(a.revokedAt) : null,
      })
      .execute();
  }

  async getAuthorisation(id: string): Promise<SignAuthorisationRow | undefined> {
    const row = await this.#database.db
      .selectFrom('sign_authorisations')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toAuthorisation(row);
  }

  /** A signer's authorisations (revoked ones too), latest expiry first. */
  async listAuthorisations(signerId: string, limit: number): Promise<SignAuthorisationRow[]> {
    const db = this.#database.db;
    const { rows } = await this.#statements.run(db, 'sign_authorisations:by-signer', [signerId, limit], () =>
      db
        .selectFrom('sign_authorisations')
        .selectAll()
        .where('signer_id', '=', signerId)
        .orderBy('expires_at', 'desc')
        .limit(limit),
    );
    return rows.map(toAuthorisation);
  }

  /** Revokes; false when it was already revoked (or does not exist). */
  async revokeAuthorisation(id: string, now: Date): Promise<boolean> {
    const r = await this.#database.db
      .updateTable('sign_authorisations')
      .set({ revoked_at: toIso(now) })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  /**
   * Inserts a record and appends its audit event in one group transaction (Database.groupWrite); resolves
   * once both are committed. The event is appended first, so the record carries its position in the chain
   * (audit_seq, audit_hash) at no extra round trip. With `original` (sealed by the caller), the signed
   * original goes into signature_originals in the same transaction. False when (appId, idempotencyKey) is
   * taken: nothing is written then (the group reruns its writes one by one, and this one fails alone).
   */
  async insertSignature(
    r: SignatureRow,
    event: AuditEventInput,
    original?: { size: number; sealed: Uint8Array },
  ): Promise<boolean> {
    try {
      await this.#database.groupWrite(async (trx, scope) => {
        const appended = await this.#audit.appendIn(trx, scope, event);
        const row = {
          id: r.id,
          app_id: r.appId,
          signer_id: r.signerId,
          employee_no: r.employeeNo,
          department_code: r.metadata.departmentCode ?? null,
          ca_id: r.caId,
          cert_serial: r.certSerial,
          format: r.format,
          digest_algorithm: r.digestAlgorithm,
          digest: r.digest,
          signature: toDbBytes(r.signature),
          token: r.token ? toDbBytes(r.token) : null,
          system: r.metadata.system ?? null,
          doc_type: r.metadata.docType ?? null,
          doc_id: r.metadata.docId ?? null,
          visit_ref: r.metadata.visitRef ?? null,
          idempotency_key: r.idempotencyKey,
          request_hash: r.requestHash,
          created_at: toIso(r.createdAt),
          client_ip: r.clientIp ?? null,
          intent: r.intent ? JSON.stringify(r.intent) : null,
          audit_seq: appended.seq,
          audit_hash: appended.hash,
        };
        await this.#statements.insert(trx, 'signatures', '', row, () =>
          trx.insertInto('signatures').values(row),
        );
        if (original)
          await trx
            .insertInto('signature_originals')
            .values({
              signature_id: r.id,
              size: original.size,
              sealed: toDbBytes(original.sealed),
              created_at: toIso(r.createdAt),
            })
            .execute();
      });
      return true;
    } catch (error) {
      if (isUniqueViolation(error) && r.idempotencyKey !== null) return false;
      throw error;
    }
  }

  /** The sealed original of a signature record, if it was stored. */
  async getOriginal(signatureId: string): Promise<SignatureOriginalRow | undefined> {
    const row = await this.#database.db
      .selectFrom('signature_originals')
      .selectAll()
      .where('signature_id', '=', signatureId)
      .executeTakeFirst();
    return (
      row && {
        signatureId: row.signature_id,
        size: Number(row.size),
        sealed: fromDbBytes(row.sealed),
        createdAt: fromIso(row.created_at),
      }
    );
  }

  async getSignature(id: string): Promise<SignatureRow | undefined> {
    const row = await this.#database.db
      .selectFrom('signatures')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toSignature(row);
  }

  async findSignatureByIdempotencyKey(appId: string, key: string): Promise<SignatureRow | undefined> {
    const row = await this.#database.db
      .selectFrom('signatures')
      .selectAll()
      .where('app_id', '=', appId)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
    return row && toSignature(row);
  }

  #filtered(q: Omit<SignatureSearch, 'limit' | 'offset'>) {
    let query = this.#database.db.selectFrom('signatures');
    if (q.employeeNo !== undefined) query = query.where('employee_no', '=', q.employeeNo);
    if (q.departmentCode !== undefined) query = query.where('department_code', '=', q.departmentCode);
    if (q.appId !== undefined) query = query.where('app_id', '=', q.appId);
    if (q.docType !== undefined) query = query.where('doc_type', '=', q.docType);
    if (q.docId !== undefined) query = query.where('doc_id', '=', q.docId);
    if (q.text !== undefined && q.text !== '') {
      const pattern = likePattern(q.text);
      // A substring scan (no index serves '%…%'): narrow it with the other filters or a date range.
      query = query.where((eb) =>
        eb.or([
          ...(['employee_no', 'doc_id', 'doc_type', 'visit_ref', 'id'] as const).map(
            (column) => sql<boolean>`lower(${sql.ref(column)}) like ${pattern} escape '!'`,
          ),
          eb(
            'employee_no',
            'in',
            eb
              .selectFrom('signers')
              .select('signers.employee_no')
              .where(sql<boolean>`lower(${sql.ref('signers.name')}) like ${pattern} escape '!'`),
          ),
        ]),
      );
    }
    if (q.from !== undefined) query = query.where('created_at', '>=', toIso(q.from));
    if (q.to !== undefined) query = query.where('created_at', '<', toIso(q.to));
    return query;
  }

  /**
   * Every match, newest first, read in batches by keyset (created_at, id) — never all rows in memory, and
   * no OFFSET that slows down with depth (exports of a million rows).
   */
  async *iterateSignatures(
    q: Omit<SignatureSearch, 'limit' | 'offset'>,
    batchSize = 1000,
  ): AsyncGenerator<SignatureRow> {
    let after: { createdAt: string; id: string } | undefined;
    for (;;) {
      let query = this.#filtered(q);
      if (after) {
        const a = after;
        // `created_at <= last` on its own lets the database seek in the created_at index instead of
        // scanning it from the top for every batch (quadratic at a million rows); the OR then settles ties.
        query = query
          .where('created_at', '<=', a.createdAt)
          .where((eb) =>
            eb.or([
              eb('created_at', '<', a.createdAt),
              eb.and([eb('created_at', '=', a.createdAt), eb('id', '>', a.id)]),
            ]),
          );
      }
      const rows = await query
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .limit(batchSize)
        .execute();
      for (const row of rows) yield toSignature(row);
      if (rows.length < batchSize) return;
      const last = rows.at(-1)!;
      after = { createdAt: last.created_at, id: last.id };
    }
  }

  /** Newest first; `total` counts every match. */
  async searchSignatures(q: SignatureSearch): Promise<{ total: number; items: SignatureRow[] }> {
    const query = this.#filtered(q);
    const count = await query.select((eb) => eb.fn.countAll().as('count')).executeTakeFirstOrThrow();
    const rows = await query
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(q.limit)
      .offset(q.offset ?? 0)
      .execute();
    return { total: Number(count.count), items: rows.map(toSignature) };
  }
}

/** `%text%` for a LIKE with escape character '!', lower-cased (the column side is lower-cased too). */
function likePattern(text: string): string {
  return `%${text.toLowerCase().replace(/[!%_]/g, (c) => `!${c}`)}%`;
}

function toApp(row: SignAppsTable): SignAppRecord {
  return {
    id: row.id,
    name: row.name,
    systemType: row.system_type,
    ownerDepartment: row.owner_department,
    operations: JSON.parse(row.operations) as string[],
    ipRanges: JSON.parse(row.ip_ranges) as string[],
    rateLimit: Number(row.rate_limit),
    sealedSecret: fromDbBytes(row.sealed_secret),
    status: row.status,
    createdAt: fromIso(row.created_at),
  };
}

function toSigner(row: SignersTable): SignerRow {
  return {
    id: row.id,
    employeeNo: row.employee_no,
    name: row.name,
    departmentCode: row.department_code,
    profile: row.profile,
    keyId: row.key_id,
    caId: row.ca_id,
    certSerial: row.cert_serial,
    certificate: fromDbBytes(row.certificate),
    pinHash: row.pin_hash,
    failedPins: Number(row.failed_pins),
    locked: Number(row.locked) === 1,
    createdAt: fromIso(row.created_at),
    updatedAt: fromIso(row.updated_at),
  };
}

function toAuthorisation(row: SignAuthorisationsTable): SignAuthorisationRow {
  return {
    id: row.id,
    signerId: row.signer_id,
    appIds: JSON.parse(row.app_ids) as string[],
    grantedVia: row.granted_via,
    createdAt: fromIso(row.created_at),
    expiresAt: fromIso(row.expires_at),
    revokedAt: row.revoked_at === null ? null : fromIso(row.revoked_at),
  };
}

function toSignature(row: SignaturesTable): SignatureRow {
  const metadata: SignatureRow['metadata'] = {};
  if (row.system !== null) metadata.system = row.system;
  if (row.doc_type !== null) metadata.docType = row.doc_type;
  if (row.doc_id !== null) metadata.docId = row.doc_id;
  if (row.department_code !== null) metadata.departmentCode = row.department_code;
  if (row.visit_ref !== null) metadata.visitRef = row.visit_ref;
  return {
    id: row.id,
    appId: row.app_id,
    signerId: row.signer_id,
    employeeNo: row.employee_no,
    caId: row.ca_id,
    certSerial: row.cert_serial,
    format: row.format,
    digestAlgorithm: row.digest_algorithm,
    digest: row.digest,
    signature: fromDbBytes(row.signature),
    token: row.token === null ? null : fromDbBytes(row.token),
    metadata,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    createdAt: fromIso(row.created_at),
    ...(row.client_ip !== null ? { clientIp: row.client_ip } : {}),
    ...(row.intent !== null ? { intent: JSON.parse(row.intent) as SignatureIntentJson } : {}),
    ...(row.audit_seq !== null && row.audit_hash !== null
      ? { audit: { seq: Number(row.audit_seq), hash: row.audit_hash } }
      : {}),
  };
}
