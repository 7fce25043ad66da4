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

/** The migrations of this package version, by name, for Kysely's Migrator. */
export function migrations(dialect: DialectName): Record<string, Migration> {
  return {
    '0001_initial': initial(dialect),
    '0002_accounts_crl_numbers': accounts(),
    '0006_crls': crls(dialect),
  };
}

/** Kysely migration provider over {@link migrations}: no file system, works from src/ and dist/. */
export function migrationProvider(dialect: DialectName): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}
