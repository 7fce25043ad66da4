import { fromDbBytes, fromIso, toDbBytes, toIso } from '../codec.js';
import type { AuditEventInput, AuditLog } from '../audit.js';
import { isUniqueViolation, type Database } from '../database.js';
import type { SignAppCredentialsTable } from '../schema.js';

/** A TLS client certificate bound to an application (mTLS). */
export interface AppCertificateBinding {
  id: string;
  appId: string;
  /** SHA-256 of the certificate DER, lower-case hex. */
  fingerprint: string;
  caId: string;
  serial: string;
  subject: string;
  createdAt: Date;
  revokedAt: Date | null;
}

/**
 * Credentials of signing-API applications besides the current secret (`sign_apps.sealed_secret`): the
 * retired secret of a rotation, valid until its grace period ends, and bound mTLS client certificates.
 * Every change is written with its audit event in one group transaction (both or neither).
 */
export class AppCredentialRepository {
  readonly #database: Database;
  readonly #audit: AuditLog;

  constructor(database: Database, audit: AuditLog) {
    this.#database = database;
    this.#audit = audit;
  }

  /**
   * Replaces the application's secret by `sealedSecret`. The current one becomes the retired secret, valid
   * until `retiredUntil` (none when null or not after `now`); an earlier retired secret is dropped, so an
   * application never has more than two live secrets. False (nothing written) when the app does not exist.
   */
  async rotateSecret(
    appId: string,
    sealedSecret: Uint8Array,
    now: Date,
    retiredUntil: Date | null,
    retiredId: string,
    event: AuditEventInput,
  ): Promise<boolean> {
    return this.#database.groupWrite(async (trx, scope) => {
      const app = await trx
        .selectFrom('sign_apps')
        .select('sealed_secret')
        .where('id', '=', appId)
        .executeTakeFirst();
      if (!app) return false;
      await trx
        .deleteFrom('sign_app_credentials')
        .where('app_id', '=', appId)
        .where('kind', '=', 'secret')
        .execute();
      if (retiredUntil && retiredUntil.getTime() > now.getTime())
        await trx
          .insertInto('sign_app_credentials')
          .values({
            id: retiredId,
            app_id: appId,
            kind: 'secret',
            sealed_secret: app.sealed_secret,
            fingerprint: null,
            ca_id: null,
            cert_serial: null,
            subject: null,
            created_at: toIso(now),
            expires_at: toIso(retiredUntil),
            revoked_at: null,
          })
          .execute();
      await trx
        .updateTable('sign_apps')
        .set({ sealed_secret: toDbBytes(sealedSecret) })
        .where('id', '=', appId)
        .execute();
      await this.#audit.appendIn(trx, scope, event);
      return true;
    });
  }

  /** The application's retired secret(s) still in their grace period at `now` (sealed). */
  async retiredSecrets(appId: string, now: Date): Promise<{ sealedSecret: Uint8Array; expiresAt: Date }[]> {
    const rows = await this.#database.db
      .selectFrom('sign_app_credentials')
      .select(['sealed_secret', 'expires_at'])
      .where('app_id', '=', appId)
      .where('kind', '=', 'secret')
      .where('expires_at', '>', toIso(now))
      .where('revoked_at', 'is', null)
      .execute();
    return rows.map((r) => ({
      sealedSecret: fromDbBytes(r.sealed_secret!),
      expiresAt: fromIso(r.expires_at!),
    }));
  }

  /** Binds a client certificate; false (nothing written) when this certificate is already bound. */
  async bindCertificate(b: AppCertificateBinding, event: AuditEventInput): Promise<boolean> {
    try {
      await this.#database.groupWrite(async (trx, scope) => {
        await trx
          .insertInto('sign_app_credentials')
          .values({
            id: b.id,
            app_id: b.appId,
            kind: 'certificate',
            sealed_secret: null,
            fingerprint: b.fingerprint,
            ca_id: b.caId,
            cert_serial: b.serial,
            subject: b.subject,
            created_at: toIso(b.createdAt),
            expires_at: null,
            revoked_at: b.revokedAt ? toIso(b.revokedAt) : null,
          })
          .execute();
        await this.#audit.appendIn(trx, scope, event);
      });
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  /** The live binding of a certificate (by SHA-256 fingerprint), if any. */
  async findCertificate(fingerprint: string): Promise<AppCertificateBinding | undefined> {
    const row = await this.#database.db
      .selectFrom('sign_app_credentials')
      .selectAll()
      .where('fingerprint', '=', fingerprint)
      .where('kind', '=', 'certificate')
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return row && toBinding(row);
  }

  /** The application's bound certificates (unbound ones too), oldest first. */
  async listCertificates(appId: string): Promise<AppCertificateBinding[]> {
    const rows = await this.#database.db
      .selectFrom('sign_app_credentials')
      .selectAll()
      .where('app_id', '=', appId)
      .where('kind', '=', 'certificate')
      .orderBy('created_at')
      .execute();
    return rows.map(toBinding);
  }

  /** Unbinds a certificate of the application; false when it was not bound (or already unbound). */
  async unbindCertificate(
    appId: string,
    fingerprint: string,
    now: Date,
    event: AuditEventInput,
  ): Promise<boolean> {
    return this.#database.groupWrite(async (trx, scope) => {
      const r = await trx
        .updateTable('sign_app_credentials')
        .set({ revoked_at: toIso(now) })
        .where('app_id', '=', appId)
        .where('fingerprint', '=', fingerprint)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (r.numUpdatedRows === 0n) return false;
      await this.#audit.appendIn(trx, scope, event);
      return true;
    });
  }
}

function toBinding(row: SignAppCredentialsTable): AppCertificateBinding {
  return {
    id: row.id,
    appId: row.app_id,
    fingerprint: row.fingerprint!,
    caId: row.ca_id!,
    serial: row.cert_serial!,
    subject: row.subject ?? '',
    createdAt: fromIso(row.created_at),
    revokedAt: row.revoked_at === null ? null : fromIso(row.revoked_at),
  };
}
