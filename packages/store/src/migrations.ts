// In-code migrations (no file-system globbing, so they run the same from src/ under tsx and from dist/).
//
// Portable column mapping — one schema, two dialects:
//   identifiers, names, enums  text (states are CHECK-constrained text, not native enums)
//   timestamps                 text, ISO-8601 UTC with milliseconds, 24 chars (codec.ts toIso): text order
//                              is time order, and no driver converts time zones
//   binary (DER, ciphertext)   blob on SQLite, bytea on PostgreSQL (`bytes()` below)
//   hashes                     lower-case hex text (readable in exports and psql)
//   JSON (metadata, detail)    text holding JSON (the audit detail is the canonical JSON that was hashed)
//   audit seq                  bigint (SQLite: INTEGER affinity; PostgreSQL int8, parsed to number)
// Never edit a migration that has shipped: add a new one (names sort, so keep the numeric prefix).
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { DialectName } from './database.js';

// Migrations run on a schema that is not yet `Schema`, so they use an untyped Kysely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

function bytes(dialect: DialectName): 'blob' | 'bytea' {
  return dialect === 'sqlite' ? 'blob' : 'bytea';
}

function initial(dialect: DialectName): Migration {
  const bin = bytes(dialect);
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable('cas')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('algorithm', 'text', (c) => c.notNull())
        .addColumn('certificate', bin, (c) => c.notNull())
        .addColumn('key_ref', 'text', (c) => c.notNull())
        .addColumn('parent_id', 'text', (c) => c.references('cas.id'))
        .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addCheckConstraint('cas_status_ck', sql`status in ('active', 'retired')`)
        .execute();

      await db.schema
        .createTable('certificates')
        .addColumn('ca_id', 'text', (c) => c.notNull().references('cas.id'))
        .addColumn('serial', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('subject_der', bin, (c) => c.notNull())
        .addColumn('profile', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull().defaultTo('good'))
        .addColumn('not_before', 'text', (c) => c.notNull())
        .addColumn('not_after', 'text', (c) => c.notNull())
        .addColumn('der', bin, (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('department', 'text')
        .addColumn('employee_no', 'text')
        .addColumn('revoked_at', 'text')
        .addColumn('revocation_reason', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        // The unique (ca_id, serial) constraint is the primary key: a serial names one certificate per CA.
        .addPrimaryKeyConstraint('certificates_pk', ['ca_id', 'serial'])
        .addUniqueConstraint('certificates_fingerprint_uq', ['fingerprint'])
        .addCheckConstraint('certificates_status_ck', sql`status in ('good', 'revoked', 'hold')`)
        .addCheckConstraint(
          'certificates_revocation_ck',
          sql`(status = 'good' and revoked_at is null) or (status <> 'good' and revoked_at is not null)`,
        )
        .execute();
      // Inventory queries (search, expiry window, statistics by department/profile/status/month).
      for (const column of [
        'subject',
        'status',
        'not_after',
        'department',
        'profile',
        'employee_no',
        'created_at',
      ]) {
        await db.schema.createIndex(`certificates_${column}_ix`).on('certificates').column(column).execute();
      }

      await db.schema
        .createTable('serials')
        .addColumn('ca_id', 'text', (c) => c.notNull().references('cas.id'))
        .addColumn('serial', 'text', (c) => c.notNull())
        .addColumn('reserved_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('serials_pk', ['ca_id', 'serial'])
        .execute();

      await db.schema
        .createTable('issuance_intents')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('ca_id', 'text', (c) => c.notNull().references('cas.id'))
        .addColumn('serial', 'text', (c) => c.notNull())
        .addColumn('tbs_hash', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('issuance_intents_ca_serial_uq', ['ca_id', 'serial'])
        .addCheckConstraint(
          'issuance_intents_state_ck',
          sql`state in ('pending', 'signed', 'stored', 'failed')`,
        )
        .execute();
      await db.schema
        .createIndex('issuance_intents_state_ix')
        .on('issuance_intents')
        .column('state')
        .execute();

      await db.schema
        .createTable('key_records')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('label', 'text', (c) => c.notNull())
        .addColumn('algorithm', 'text', (c) => c.notNull())
        .addColumn('public_key_info', bin, (c) => c.notNull())
        .addColumn('encrypted', bin, (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
        .execute();

      await db.schema
        .createTable('audit_events')
        .addColumn('seq', 'bigint', (c) => c.primaryKey())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target', 'text')
        .addColumn('detail', 'text', (c) => c.notNull())
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addCheckConstraint('audit_events_seq_ck', sql`seq >= 1`)
        .execute();
      await db.schema.createIndex('audit_events_time_ix').on('audit_events').column('time').execute();
      await db.schema.createIndex('audit_events_action_ix').on('audit_events').column('action').execute();

      // Defence in depth: the database itself refuses UPDATE and DELETE on the audit log. Someone with
      // file or superuser access can drop these triggers; the hash chain (AuditLog.verify) is what
      // detects that kind of edit.
      if (dialect === 'sqlite') {
        for (const op of ['update', 'delete']) {
          await sql
            .raw(
              `create trigger audit_events_no_${op} before ${op} on audit_events ` +
                `begin select raise(abort, 'audit_events is append-only'); end`,
            )
            .execute(db);
        }
      } else {
        await sql
          .raw(
            `create function medsign_audit_append_only() returns trigger language plpgsql as ` +
              `$$ begin raise exception 'audit_events is append-only'; end $$`,
          )
          .execute(db);
        await sql
          .raw(
            `create trigger audit_events_append_only before update or delete on audit_events ` +
              `for each row execute function medsign_audit_append_only()`,
          )
          .execute(db);
        await sql
          .raw(
            `create trigger audit_events_no_truncate before truncate on audit_events ` +
              `for each statement execute function medsign_audit_append_only()`,
          )
          .execute(db);
      }
    },
    async down(db: AnyDb) {
      for (const table of [
        'audit_events',
        'key_records',
        'issuance_intents',
        'serials',
        'certificates',
        'cas',
      ]) {
        await db.schema.dropTable(table).execute();
      }
      if (dialect === 'postgres') await sql.raw('drop function medsign_audit_append_only()').execute(db);
    },
  };
}

/**
 * 0002: the administrator accounts and their sessions (the server's admin login), and the CRL number
 * counter per CA (monotonic across processes: one upsert statement, see CrlNumberRepository).
 */
function accounts(): Migration {
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('username', 'text', (c) => c.notNull().unique())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        // JSON array of role names (text, like every JSON column here).
        .addColumn('roles', 'text', (c) => c.notNull().defaultTo('[]'))
        // 0/1 (SQLite has no boolean type; integer reads back the same on both dialects).
        .addColumn('must_change_password', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('failed_logins', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('locked_until', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addCheckConstraint('users_must_change_ck', sql`must_change_password in (0, 1)`)
        .addCheckConstraint('users_failed_ck', sql`failed_logins >= 0`)
        .execute();

      await db.schema
        .createTable('sessions')
        // SM3 of the bearer token (hex): the token itself is never stored.
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('remote', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sessions_user_ix').on('sessions').column('user_id').execute();
      await db.schema.createIndex('sessions_expires_ix').on('sessions').column('expires_at').execute();

      await db.schema
        .createTable('crl_numbers')
        .addColumn('ca_id', 'text', (c) => c.primaryKey().references('cas.id'))
        .addColumn('last_number', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addCheckConstraint('crl_numbers_positive_ck', sql`last_number >= 1`)
        .execute();
    },
    async down(db: AnyDb) {
      for (const table of ['crl_numbers', 'sessions', 'users']) await db.schema.dropTable(table).execute();
    },
  };
}

/**
 * 0003: the TSA's token archive. The primary key on the serial is what makes token serials unique across
 * every process sharing the database (a colliding insert is skipped and the TSA signs again with a fresh
 * serial); gen_time and unit are indexed for statistics and look-ups by time.
 */
function tsa(): Migration {
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable('tsa_tokens')
        .addColumn('serial', 'text', (c) => c.primaryKey())
        .addColumn('unit', 'text', (c) => c.notNull())
        .addColumn('hash_algorithm', 'text', (c) => c.notNull())
        .addColumn('hashed_message', 'text', (c) => c.notNull())
        .addColumn('gen_time', 'text', (c) => c.notNull())
        .addColumn('policy', 'text', (c) => c.notNull())
        .addColumn('requester', 'text')
        .addColumn('nonce', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('token_hash', 'text', (c) => c.notNull())
        .addCheckConstraint('tsa_tokens_nonce_ck', sql`nonce in (0, 1)`)
        .execute();
      await db.schema.createIndex('tsa_tokens_gen_time_ix').on('tsa_tokens').column('gen_time').execute();
      await db.schema
        .createIndex('tsa_tokens_hashed_message_ix')
        .on('tsa_tokens')
        .column('hashed_message')
        .execute();
    },
    async down(db: AnyDb) {
      await db.schema.dropTable('tsa_tokens').execute();
    },
  };
}

/**
 * 0004: the time-source history (what auditors check of the TSA's clock): sampled checks (`kind`
 * 'sample') and every state change ('unusable', 'restored', 'switched'), per server (`node`). Offsets
 * and bounds are milliseconds as double precision (REAL affinity on SQLite). Samples are pruned after a
 * retention period; changes are kept (they are in the audit log as well).
 */
function timeSource(): Migration {
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable('time_source_history')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('node', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('usable', 'integer', (c) => c.notNull())
        .addColumn('source', 'text')
        .addColumn('previous_source', 'text')
        .addColumn('offset_ms', 'double precision')
        .addColumn('bound_ms', 'double precision')
        .addColumn('detail', 'text', (c) => c.notNull())
        .addCheckConstraint(
          'time_source_history_kind_ck',
          sql`kind in ('sample', 'unusable', 'restored', 'switched')`,
        )
        .addCheckConstraint('time_source_history_usable_ck', sql`usable in (0, 1)`)
        .execute();
      await db.schema
        .createIndex('time_source_history_at_ix')
        .on('time_source_history')
        .column('at')
        .execute();
      await db.schema
        .createIndex('time_source_history_kind_at_ix')
        .on('time_source_history')
        .columns(['kind', 'at'])
        .execute();
    },
    async down(db: AnyDb) {
      await db.schema.dropTable('time_source_history').execute();
    },
  };
}

/**
 * 0005: certificate applications (the RA workflow) and what certificates keep of their applicant.
 * Personal fields arrive sealed (`*_enc`, SM4-GCM by the keystore) with a keyed hash (`*_hmac`, HMAC-SM3)
 * where exact search is needed; the store never sees them in clear. At most one open (pending or
 * approved) application per employee number and profile: a partial unique index, so two concurrent
 * submissions cannot both pass (both dialects support partial indexes).
 */
function applications(dialect: DialectName): Migration {
  const bin = bytes(dialect);
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable('applications')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('profile', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('employee_no', 'text')
        .addColumn('department', 'text')
        // JSON object of the applicant's other, non-personal fields (organization, country, extras).
        .addColumn('applicant', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('id_number_enc', bin)
        .addColumn('id_number_hmac', 'text')
        .addColumn('phone_enc', bin)
        .addColumn('key_kind', 'text', (c) => c.notNull())
        .addColumn('csr', bin)
        .addColumn('key_id', 'text')
        .addColumn('public_key_info', bin)
        .addColumn('ca_id', 'text')
        .addColumn('validity_days', 'integer')
        .addColumn('submitted_by', 'text', (c) => c.notNull())
        .addColumn('submitted_at', 'text', (c) => c.notNull())
        .addColumn('reviewed_by', 'text')
        .addColumn('reviewed_at', 'text')
        .addColumn('review_reason', 'text')
        .addColumn('cert_ca_id', 'text')
        .addColumn('cert_serial', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addCheckConstraint(
          'applications_state_ck',
          sql`state in ('pending', 'approved', 'issued', 'rejected')`,
        )
        .addCheckConstraint(
          'applications_key_ck',
          sql`(key_kind = 'csr' and csr is not null) or (key_kind = 'server-key' and key_id is not null and public_key_info is not null)`,
        )
        .addCheckConstraint('applications_issued_ck', sql`(state = 'issued') = (cert_serial is not null)`)
        .execute();
      await db.schema
        .createIndex('applications_open_uq')
        .on('applications')
        .columns(['employee_no', 'profile'])
        .unique()
        .where(sql<boolean>`state in ('pending', 'approved')`)
        .execute();
      for (const column of ['state', 'submitted_at', 'employee_no', 'id_number_hmac']) {
        await db.schema.createIndex(`applications_${column}_ix`).on('applications').column(column).execute();
      }

      await db.schema.alterTable('certificates').addColumn('applicant', 'text').execute();
      await db.schema.alterTable('certificates').addColumn('id_number_enc', bin).execute();
      await db.schema.alterTable('certificates').addColumn('id_number_hmac', 'text').execute();
      await db.schema.alterTable('certificates').addColumn('phone_enc', bin).execute();
      await db.schema.alterTable('certificates').addColumn('application_id', 'text').execute();
      await db.schema.alterTable('certificates').addColumn('replaces_ca_id', 'text').execute();
      await db.schema.alterTable('certificates').addColumn('replaces_serial', 'text').execute();
      await db.schema
        .createIndex('certificates_id_number_hmac_ix')
        .on('certificates')
        .column('id_number_hmac')
        .execute();
      await db.schema
        .createIndex('certificates_replaces_ix')
        .on('certificates')
        .columns(['replaces_ca_id', 'replaces_serial'])
        .execute();
    },
    async down(db: AnyDb) {
      await db.schema.dropIndex('certificates_replaces_ix').execute();
      await db.schema.dropIndex('certificates_id_number_hmac_ix').execute();
      for (const column of [
        'replaces_serial',
        'replaces_ca_id',
        'application_id',
        'phone_enc',
        'id_number_hmac',
        'id_number_enc',
        'applicant',
      ]) {
        await db.schema.alterTable('certificates').dropColumn(column).execute();
      }
      await db.schema.dropTable('applications').execute();
    },
  };
}

/**
 * 0006: the published CRLs (full and delta) per CA, so every server process sharing the database serves
 * the same, newest one; CRL numbers still come from `crl_numbers`. Old CRLs are pruned as new ones come.
 */
function crls(dialect: DialectName): Migration {
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable('crls')
        .addColumn('ca_id', 'text', (c) => c.notNull().references('cas.id'))
        .addColumn('crl_number', 'bigint', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('base_number', 'bigint')
        .addColumn('this_update', 'text', (c) => c.notNull())
        .addColumn('next_update', 'text', (c) => c.notNull())
        .addColumn('entries', 'integer', (c) => c.notNull())
        .addColumn('der', bytes(dialect), (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('crls_pk', ['ca_id', 'crl_number'])
        .addCheckConstraint('crls_kind_ck', sql`kind in ('full', 'delta')`)
        .addCheckConstraint(
          'crls_base_ck',
          sql`(kind = 'full' and base_number is null) or (kind = 'delta' and base_number < crl_number)`,
        )
        .execute();
      await db.schema
        .createIndex('crls_newest_ix')
        .on('crls')
        .columns(['ca_id', 'kind', 'crl_number'])
        .execute();
    },
    async down(db: AnyDb) {
      await db.schema.dropTable('crls').execute();
    },
  };
}

/**
 * 0007: the signing service — registered applications (secret sealed, never in clear), their recent nonces
 * (replay protection), signers (server-held key id, certificate, scrypt PIN hash, lockout), their time-boxed
 * signing authorisations and the
 * append-only signature records (the database refuses UPDATE and DELETE on them, as on the audit log).
 */
function signing(dialect: DialectName): Migration {
  const bin = bytes(dialect);
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable('sign_apps')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('system_type', 'text', (c) => c.notNull())
        .addColumn('owner_department', 'text')
        // JSON arrays (text, like every JSON column here).
        .addColumn('operations', 'text', (c) => c.notNull())
        .addColumn('ip_ranges', 'text', (c) => c.notNull())
        .addColumn('rate_limit', 'integer', (c) => c.notNull())
        .addColumn('sealed_secret', bin, (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addCheckConstraint(
          'sign_apps_type_ck',
          sql`system_type in ('HIS', 'LIS', 'RIS', 'PACS', 'EMR', 'nursing', 'anaesthesia', 'other')`,
        )
        .addCheckConstraint('sign_apps_status_ck', sql`status in ('active', 'disabled')`)
        .addCheckConstraint('sign_apps_rate_ck', sql`rate_limit >= 1`)
        .execute();

      await db.schema
        .createTable('sign_nonces')
        .addColumn('app_id', 'text', (c) => c.notNull().references('sign_apps.id'))
        .addColumn('nonce', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('sign_nonces_pk', ['app_id', 'nonce'])
        .execute();
      await db.schema.createIndex('sign_nonces_expires_ix').on('sign_nonces').column('expires_at').execute();

      await db.schema
        .createTable('signers')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('employee_no', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('department_code', 'text', (c) => c.notNull())
        .addColumn('profile', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('ca_id', 'text', (c) => c.notNull().references('cas.id'))
        .addColumn('cert_serial', 'text', (c) => c.notNull())
        .addColumn('certificate', bin, (c) => c.notNull())
        .addColumn('pin_hash', 'text', (c) => c.notNull())
        .addColumn('failed_pins', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('locked', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addCheckConstraint('signers_locked_ck', sql`locked in (0, 1)`)
        .addCheckConstraint('signers_failed_ck', sql`failed_pins >= 0`)
        .execute();
      await db.schema.createIndex('signers_department_ix').on('signers').column('department_code').execute();

      await db.schema
        .createTable('sign_authorisations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('signer_id', 'text', (c) => c.notNull().references('signers.id'))
        // JSON array of application ids allowed to sign with it.
        .addColumn('app_ids', 'text', (c) => c.notNull())
        .addColumn('granted_via', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema
        .createIndex('sign_authorisations_signer_ix')
        .on('sign_authorisations')
        .columns(['signer_id', 'expires_at'])
        .execute();

      await db.schema
        .createTable('signatures')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull().references('sign_apps.id'))
        .addColumn('signer_id', 'text', (c) => c.notNull().references('signers.id'))
        .addColumn('employee_no', 'text', (c) => c.notNull())
        .addColumn('department_code', 'text')
        .addColumn('ca_id', 'text', (c) => c.notNull())
        .addColumn('cert_serial', 'text', (c) => c.notNull())
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('digest_algorithm', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('signature', bin, (c) => c.notNull())
        .addColumn('token', bin)
        .addColumn('system', 'text')
        .addColumn('doc_type', 'text')
        .addColumn('doc_id', 'text')
        .addColumn('visit_ref', 'text')
        .addColumn('idempotency_key', 'text')
        .addColumn('request_hash', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        // NULL keys never collide (both dialects): only requests that sent an Idempotency-Key are unique.
        .addUniqueConstraint('signatures_idempotency_uq', ['app_id', 'idempotency_key'])
        .addCheckConstraint('signatures_format_ck', sql`format in ('p1', 'p7-detached', 'p7-attached')`)
        .addCheckConstraint('signatures_digest_ck', sql`digest_algorithm in ('sm3', 'sha256')`)
        .execute();
      for (const column of ['employee_no', 'department_code', 'doc_type', 'doc_id', 'created_at']) {
        await db.schema.createIndex(`signatures_${column}_ix`).on('signatures').column(column).execute();
      }

      if (dialect === 'sqlite') {
        for (const op of ['update', 'delete']) {
          await sql
            .raw(
              `create trigger signatures_no_${op} before ${op} on signatures ` +
                `begin select raise(abort, 'signatures is append-only'); end`,
            )
            .execute(db);
        }
      } else {
        await sql
          .raw(
            `create function medsign_signatures_append_only() returns trigger language plpgsql as ` +
              `$$ begin raise exception 'signatures is append-only'; end $$`,
          )
          .execute(db);
        await sql
          .raw(
            `create trigger signatures_append_only before update or delete on signatures ` +
              `for each row execute function medsign_signatures_append_only()`,
          )
          .execute(db);
        await sql
          .raw(
            `create trigger signatures_no_truncate before truncate on signatures ` +
              `for each statement execute function medsign_signatures_append_only()`,
          )
          .execute(db);
      }
    },
    async down(db: AnyDb) {
      for (const table of ['signatures', 'sign_authorisations', 'signers', 'sign_nonces', 'sign_apps'])
        await db.schema.dropTable(table).execute();
      if (dialect === 'postgres') await sql.raw('drop function medsign_signatures_append_only()').execute(db);
    },
  };
}

/** 0008: batch sign jobs, their documents and the webhook delivery attempts. */
function signJobs(dialect: DialectName): Migration {
  const bin = bytes(dialect);
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable('sign_jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull().references('sign_apps.id'))
        .addColumn('signer_id', 'text', (c) => c.notNull().references('signers.id'))
        .addColumn('employee_no', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('oids', 'text', (c) => c.notNull())
        .addColumn('timestamped', 'integer', (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('callback_url', 'text')
        .addColumn('intent', 'text')
        .addColumn('document_count', 'integer', (c) => c.notNull())
        .addColumn('total_bytes', 'bigint', (c) => c.notNull())
        .addColumn('idempotency_key', 'text')
        .addColumn('request_hash', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('authorised_at', 'text')
        .addColumn('completed_at', 'text')
        .addColumn('webhook_state', 'text', (c) => c.notNull().defaultTo('none'))
        .addColumn('webhook_delivery_id', 'text')
        .addColumn('webhook_attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('webhook_next_at', 'text')
        .addUniqueConstraint('sign_jobs_idempotency_uq', ['app_id', 'idempotency_key'])
        .addCheckConstraint(
          'sign_jobs_state_ck',
          sql`state in ('awaiting-authorisation', 'signing', 'completed', 'completed-with-errors', 'expired', 'cancelled')`,
        )
        .addCheckConstraint('sign_jobs_format_ck', sql`format in ('p1', 'p7-detached', 'p7-attached')`)
        .addCheckConstraint('sign_jobs_oids_ck', sql`oids in ('rfc5652', 'gm')`)
        .addCheckConstraint('sign_jobs_timestamp_ck', sql`timestamped in (0, 1)`)
        .addCheckConstraint(
          'sign_jobs_webhook_ck',
          sql`webhook_state in ('none', 'pending', 'delivered', 'failed')`,
        )
        .execute();
      await db.schema
        .createIndex('sign_jobs_state_ix')
        .on('sign_jobs')
        .columns(['state', 'expires_at'])
        .execute();
      await db.schema
        .createIndex('sign_jobs_webhook_ix')
        .on('sign_jobs')
        .columns(['webhook_state', 'webhook_next_at'])
        .execute();

      await db.schema
        .createTable('sign_job_documents')
        .addColumn('job_id', 'text', (c) => c.notNull().references('sign_jobs.id'))
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('business_id', 'text', (c) => c.notNull())
        .addColumn('payload', bin)
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('signature_id', 'text', (c) => c.references('signatures.id'))
        .addColumn('error_code', 'text')
        .addColumn('error_detail', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('sign_job_documents_pk', ['job_id', 'seq'])
        .addUniqueConstraint('sign_job_documents_business_uq', ['job_id', 'business_id'])
        .addCheckConstraint('sign_job_documents_state_ck', sql`state in ('pending', 'signed', 'failed')`)
        .execute();
      await db.schema
        .createIndex('sign_job_documents_state_ix')
        .on('sign_job_documents')
        .columns(['job_id', 'state', 'seq'])
        .execute();

      await db.schema
        .createTable('sign_job_webhook_attempts')
        .addColumn('job_id', 'text', (c) => c.notNull().references('sign_jobs.id'))
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('delivery_id', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('status', 'integer')
        .addColumn('error', 'text')
        .addColumn('duration_ms', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('sign_job_webhook_attempts_pk', ['job_id', 'attempt'])
        .execute();
    },
    async down(db: AnyDb) {
      for (const table of ['sign_job_webhook_attempts', 'sign_job_documents', 'sign_jobs'])
        await db.schema.dropTable(table).execute();
    },
  };
}

/**
 * 0010: credentials of signing-API applications beyond the current secret in `sign_apps.sealed_secret`:
 * the previous secret during a rotation's grace period (kind `secret`, sealed like the current one, valid
 * until `expires_at`) and TLS client certificates bound to an application for mTLS (kind `certificate`,
 * found by the SHA-256 fingerprint of the DER; unbinding sets `revoked_at`). Also: signature-record indexes
 * on (filter column, created_at) for keyset-ordered searches and exports.
 */
function appCredentials(dialect: DialectName): Migration {
  const bin = bytes(dialect);
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable('sign_app_credentials')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('app_id', 'text', (c) => c.notNull().references('sign_apps.id'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('sealed_secret', bin)
        .addColumn('fingerprint', 'text')
        .addColumn('ca_id', 'text')
        .addColumn('cert_serial', 'text')
        .addColumn('subject', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('revoked_at', 'text')
        // NULL fingerprints (secrets) never collide: a certificate is bound to at most one application.
        .addUniqueConstraint('sign_app_credentials_fingerprint_uq', ['fingerprint'])
        .addCheckConstraint(
          'sign_app_credentials_kind_ck',
          sql.raw(
            "(kind = 'secret' and sealed_secret is not null and expires_at is not null) or " +
              "(kind = 'certificate' and fingerprint is not null and ca_id is not null and cert_serial is not null)",
          ),
        )
        .execute();
      await db.schema
        .createIndex('sign_app_credentials_app_ix')
        .on('sign_app_credentials')
        .columns(['app_id', 'kind'])
        .execute();
      // Record searches and streamed exports filter by one of these and read newest first by keyset: with
      // (column, created_at) the database seeks and reads in order instead of sorting every match per batch
      // (an export of 100 000 records of one document type took 15 s on SQLite with the single-column index).
      for (const column of ['employee_no', 'department_code', 'doc_type']) {
        await db.schema.dropIndex(`signatures_${column}_ix`).execute();
        await db.schema
          .createIndex(`signatures_${column}_created_ix`)
          .on('signatures')
          .columns([column, 'created_at'])
          .execute();
      }
      await db.schema
        .createIndex('signatures_app_created_ix')
        .on('signatures')
        .columns(['app_id', 'created_at'])
        .execute();
    },
    async down(db: AnyDb) {
      await db.schema.dropIndex('signatures_app_created_ix').execute();
      for (const column of ['employee_no', 'department_code', 'doc_type']) {
        await db.schema.dropIndex(`signatures_${column}_created_ix`).execute();
        await db.schema.createIndex(`signatures_${column}_ix`).on('signatures').column(column).execute();
      }
      await db.schema.dropTable('sign_app_credentials').execute();
    },
  };
}

/**
 * 0009: what a signature record must prove years later (电子签名法 §13): the client IP the server saw, the
 * signer's intent (JSON: method pin | authorisation with its grant | usbkey), and the position (seq, hash)
 * of the record's audit event in the hash chain — written with the record in one transaction. The signed
 * originals, sealed (SM4-GCM, bound to the record id), live in their own append-only table so the records
 * stay lean. Indexes on audit_events.target and applications' certificate let evidence find how a
 * signer's identity was reviewed (the enrolment or issuance event, the approved application).
 */
function signatureEvidence(dialect: DialectName): Migration {
  const bin = bytes(dialect);
  return {
    async up(db: AnyDb) {
      await db.schema.alterTable('signatures').addColumn('client_ip', 'text').execute();
      await db.schema.alterTable('signatures').addColumn('intent', 'text').execute();
      await db.schema.alterTable('signatures').addColumn('audit_seq', 'bigint').execute();
      await db.schema.alterTable('signatures').addColumn('audit_hash', 'text').execute();
      await db.schema
        .createTable('signature_originals')
        .addColumn('signature_id', 'text', (c) => c.primaryKey().references('signatures.id'))
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('sealed', bin, (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addCheckConstraint('signature_originals_size_ck', sql`size >= 0`)
        .execute();
      await db.schema.createIndex('audit_events_target_ix').on('audit_events').column('target').execute();
      await db.schema
        .createIndex('applications_cert_ix')
        .on('applications')
        .columns(['cert_ca_id', 'cert_serial'])
        .execute();
      if (dialect === 'sqlite') {
        for (const op of ['update', 'delete']) {
          await sql
            .raw(
              `create trigger signature_originals_no_${op} before ${op} on signature_originals ` +
                `begin select raise(abort, 'signature_originals is append-only'); end`,
            )
            .execute(db);
        }
      } else {
        await sql
          .raw(
            `create trigger signature_originals_append_only before update or delete on signature_originals ` +
              `for each row execute function medsign_signatures_append_only()`,
          )
          .execute(db);
      }
    },
    async down(db: AnyDb) {
      await db.schema.dropIndex('applications_cert_ix').execute();
      await db.schema.dropIndex('audit_events_target_ix').execute();
      await db.schema.dropTable('signature_originals').execute();
      for (const column of ['audit_hash', 'audit_seq', 'intent', 'client_ip'])
        await db.schema.alterTable('signatures').dropColumn(column).execute();
    },
  };
}

/**
 * 0011: the client address of the request that showed a sign job's intent (the create request with a PIN or
 * an authorisation, or the authorise request), so each document's record and evidence carry it like a single
 * signature's.
 */
function signJobClientIp(): Migration {
  return {
    async up(db: AnyDb) {
      await db.schema.alterTable('sign_jobs').addColumn('client_ip', 'text').execute();
    },
    async down(db: AnyDb) {
      await db.schema.alterTable('sign_jobs').dropColumn('client_ip').execute();
    },
  };
}

/** The migrations of this package version, by name, for Kysely's Migrator. */
export function migrations(dialect: DialectName): Record<string, Migration> {
  return {
    '0001_initial': initial(dialect),
    '0002_accounts_crl_numbers': accounts(),
    '0003_tsa': tsa(),
    '0004_time_source': timeSource(),
    '0005_applications': applications(dialect),
    '0006_crls': crls(dialect),
    '0007_signing': signing(dialect),
    '0008_sign_jobs': signJobs(dialect),
    '0009_signature_evidence': signatureEvidence(dialect),
    '0010_app_credentials': appCredentials(dialect),
    '0011_sign_job_client_ip': signJobClientIp(),
  };
}

/** Kysely migration provider over {@link migrations}: no file system, works from src/ and dist/. */
export function migrationProvider(dialect: DialectName): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}
