// Test databases for both dialects: a temp SQLite file, or a fresh uniquely named PostgreSQL database
// created through MEDSIGN_TEST_PG_URL (a role that may CREATE DATABASE) and dropped afterwards, so
// runs and test files never share state.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import type { DialectName } from '../../src/index.js';

/** A created test database: its URL, raw SQL outside Kysely (to tamper like an attacker), and cleanup. */
export interface TestDatabase {
  url: string;
  /** Runs SQL statements on a separate connection (a separate better-sqlite3 handle on the file / a pg client). */
  raw(statements: string): Promise<void>;
  drop(): Promise<void>;
}

/** One dialect under test; `skip` is the reason when it cannot run here. */
export interface TestDialect {
  name: DialectName;
  skip: string | false;
  create(): Promise<TestDatabase>;
}

const pgUrl = process.env.MEDSIGN_TEST_PG_URL;
if (!pgUrl && process.env.CI === 'true') {
  throw new Error('MEDSIGN_TEST_PG_URL is not set: CI must run the storage contract tests on PostgreSQL too');
}

function createSqlite(): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'medsign-store-'));
  const file = join(dir, 'medsign.db');
  return Promise.resolve({
    url: `sqlite:${file}`,
    async raw(statements) {
      const conn = new BetterSqlite3(file);
      try {
        conn.pragma('busy_timeout = 10000');
        conn.exec(statements);
      } finally {
        conn.close();
      }
    },
    async drop() {
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

async function createPostgres(): Promise<TestDatabase> {
  const name = `medsign_test_${process.pid}_${randomBytes(6).toString('hex')}`;
  await adminQuery(`create database "${name}"`);
  const url = new URL(pgUrl!);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async raw(statements) {
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      try {
        await client.query(statements);
      } finally {
        await client.end();
      }
    },
    drop: () => adminQuery(`drop database if exists "${name}" with (force)`),
  };
}

/** The dialects every contract suite runs on. */
export const dialects: TestDialect[] = [
  { name: 'sqlite', skip: false, create: createSqlite },
  {
    name: 'postgres',
    skip: pgUrl
      ? false
      : 'MEDSIGN_TEST_PG_URL is not set: PostgreSQL half skipped (CI=true makes this a failure)',
    create: createPostgres,
  },
];

if (!pgUrl) console.log(dialects[1]!.skip);
