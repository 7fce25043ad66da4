import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { isUniqueViolation, normalizeSerial, openDatabase, parseDatabaseUrl, toIso } from '../src/index.js';

test('database URLs: sqlite forms, postgres, and refused schemes', () => {
  assert.deepEqual(parseDatabaseUrl('sqlite::memory:'), { dialect: 'sqlite', path: ':memory:' });
  assert.deepEqual(parseDatabaseUrl('sqlite:data/medsign.db'), {
    dialect: 'sqlite',
    path: 'data/medsign.db',
  });
  assert.deepEqual(parseDatabaseUrl('sqlite:///var/lib/medsign.db'), {
    dialect: 'sqlite',
    path: '/var/lib/medsign.db',
  });
  assert.deepEqual(parseDatabaseUrl('./medsign-data/medsign.db'), {
    dialect: 'sqlite',
    path: './medsign-data/medsign.db',
  });
  assert.deepEqual(parseDatabaseUrl('postgres://u:p@h:5432/db'), {
    dialect: 'postgres',
    url: 'postgres://u:p@h:5432/db',
  });
  assert.equal(parseDatabaseUrl('postgresql://h/db').dialect, 'postgres');
  assert.throws(
    () => parseDatabaseUrl('mysql://root:secret@h/db'),
    (e: Error) => {
      assert.ok(e instanceof RangeError);
      assert.ok(!e.message.includes('secret'), 'the password is not echoed');
      return true;
    },
  );
  assert.throws(() => parseDatabaseUrl('sqlite:'), RangeError);
  assert.throws(() => parseDatabaseUrl(''), TypeError);
});

test('SQLite opens with WAL, foreign keys and a busy timeout, creating the parent directory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medsign-store-'));
  try {
    const database = await openDatabase(`sqlite:${join(dir, 'nested', 'medsign.db')}`, {
      busyTimeoutMs: 1234,
    });
    try {
      const pragma = async (name: string) =>
        Object.values((await sql.raw(`pragma ${name}`).execute(database.db)).rows[0] as object)[0] as unknown;
      assert.equal(await pragma('journal_mode'), 'wal');
      assert.equal(await pragma('foreign_keys'), 1);
      assert.equal(await pragma('busy_timeout'), 1234);
    } finally {
      await database.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'a new SQLite database and its -wal/-shm files are owner-only (0600); an existing file keeps its mode',
  {
    skip: process.platform === 'win32' ? 'POSIX file modes' : false,
  },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'medsign-store-'));
    const previous = process.umask(0o022); // the usual umask, which would give 0644
    try {
      const file = join(dir, 'medsign.db');
      const database = await openDatabase(`sqlite:${file}`);
      try {
        // The migrations have written through the WAL, so all three files exist now.
        for (const f of [file, `${file}-wal`, `${file}-shm`]) {
          assert.ok(existsSync(f), `${f} exists while the database is open`);
          assert.equal(statSync(f).mode & 0o777, 0o600, `${f} is 0600`);
        }
      } finally {
        await database.close();
      }
      const chosen = join(dir, 'shared.db');
      writeFileSync(chosen, '', { mode: 0o640 });
      chmodSync(chosen, 0o640);
      await (await openDatabase(`sqlite:${chosen}`)).close();
      assert.equal(statSync(chosen).mode & 0o777, 0o640);
    } finally {
      process.umask(previous);
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('sqlite::memory: works, and migrate:false leaves the schema alone', async () => {
  const mem = await openDatabase('sqlite::memory:');
  assert.deepEqual(await mem.db.selectFrom('audit_events').selectAll().execute(), []);
  await mem.close();
  const bare = await openDatabase('sqlite::memory:', { migrate: false });
  await assert.rejects(bare.db.selectFrom('audit_events').selectAll().execute(), /no such table/);
  await bare.close();
});

test('unique violations are recognised per dialect, other errors are not', () => {
  assert.ok(isUniqueViolation({ code: 'SQLITE_CONSTRAINT_UNIQUE' }));
  assert.ok(isUniqueViolation({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }));
  assert.ok(isUniqueViolation({ code: '23505' }));
  assert.ok(!isUniqueViolation({ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' }));
  assert.ok(!isUniqueViolation({ code: '23503' }));
  assert.ok(!isUniqueViolation(new Error('x')));
  assert.ok(!isUniqueViolation(null));
});

test('serials normalise to lower-case hex without leading zeros', () => {
  assert.equal(normalizeSerial('00:0A:FF'), 'aff');
  assert.equal(normalizeSerial('0x00ff'), 'ff');
  assert.equal(normalizeSerial(' 1A 2b '), '1a2b');
  assert.equal(normalizeSerial(255n), 'ff');
  assert.equal(normalizeSerial('ff'.repeat(20)), 'ff'.repeat(20));
  assert.throws(() => normalizeSerial('0'), RangeError);
  assert.throws(() => normalizeSerial(-1n), RangeError);
  assert.throws(() => normalizeSerial('xyz'), RangeError);
  assert.throws(() => normalizeSerial('01' + 'ff'.repeat(20)), RangeError);
  assert.throws(() => normalizeSerial(12 as never), TypeError);
});

test('timestamps are fixed-width ISO text, so text order is time order', () => {
  assert.equal(toIso(new Date(0)), '1970-01-01T00:00:00.000Z');
  assert.equal(toIso(new Date('9999-12-31T23:59:59Z')), '9999-12-31T23:59:59.000Z');
  assert.throws(() => toIso(new Date('+010000-01-01T00:00:00Z')), RangeError);
  assert.throws(() => toIso(new Date(Number.NaN)), RangeError);
});

test('SQLite prepared statements are kept (LRU-bounded), never shared while iterating, and survive DDL', async () => {
  const BetterSqlite3 = (await import('better-sqlite3')).default;
  const { cachingStatements } = await import('../src/database.js');
  const raw = new BetterSqlite3(':memory:');
  const cached = cachingStatements(raw, 2);
  raw.exec('create table t (a integer)');
  const insert = cached.prepare('insert into t values (?)');
  assert.equal(cached.prepare('insert into t values (?)'), insert, 'the same SQL gets the kept statement');
  for (let i = 0; i < 3; i++) insert.run(i);
  const select = cached.prepare('select a from t order by a');
  const it = select.iterate();
  assert.equal(it.next().value.a, 0);
  const second = cached.prepare('select a from t order by a');
  assert.notEqual(second, select, 'a statement being iterated is not handed out again');
  assert.deepEqual(
    second.all().map((r) => (r as { a: number }).a),
    [0, 1, 2],
  );
  it.return?.();
  assert.equal(cached.prepare('select a from t order by a'), select, 'once iteration ends it is reused');
  // Least recently used is dropped beyond the bound: insert was used before select.
  cached.prepare('select count(*) as n from t');
  assert.notEqual(cached.prepare('insert into t values (?)'), insert);
  // A schema change under a kept statement: SQLite re-prepares it.
  const count = cached.prepare('select * from t');
  raw.exec('alter table t add column b text');
  assert.deepEqual(Object.keys(cached.prepare('select * from t').get() as object), ['a', 'b']);
  assert.equal(cached.prepare('select * from t'), count);
  cached.close();
  assert.equal(raw.open, false);
});
