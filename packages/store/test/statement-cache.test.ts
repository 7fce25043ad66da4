import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { openDatabase, type Database } from '../src/index.js';
import { StatementCache } from '../src/statement-cache.js';
import { dialects, type TestDatabase } from './helpers/databases.js';

for (const dialect of dialects) {
  describe(`StatementCache on ${dialect.name}`, { skip: dialect.skip }, () => {
    let tdb: TestDatabase;
    let database: Database;
    before(async () => {
      tdb = await dialect.create();
      database = await openDatabase(tdb.url);
      await sql`create table sc_t (k text primary key, v text, n integer)`.execute(database.db);
    });
    after(async () => {
      await database?.close();
      await tdb?.drop();
    });

    test('a cached insert and select run with each call’s own values; conflicts report no row', async () => {
      const cache = new StatementCache();
      const db = database.db as never as Parameters<StatementCache['run']>[0];
      let compiled = 0;
      const insert = (row: { k: string; v: string | null; n: number }) =>
        cache.insert(db, 'sc_t', ' on conflict do nothing', row, () => {
          compiled++;
          return (database.db as never as typeof db)
            .insertInto('sc_t' as never)
            .values(row as never)
            .onConflict((oc) => oc.doNothing());
        });
      for (let i = 0; i < 5; i++) {
        const r = await insert({ k: `k${i}`, v: i % 2 ? null : `v${i}`, n: i });
        assert.equal(r.numAffectedRows, 1n);
      }
      assert.equal(compiled, 1, 'compiled once, then the SQL text is reused');
      assert.equal((await insert({ k: 'k1', v: 'again', n: 9 })).numAffectedRows, 0n, 'duplicate: no row');
      const select = (k: string) =>
        cache.run<{ k: string; v: string | null; n: number }>(db, 'sc_t:by-k', [k], () =>
          (database.db as never as typeof db)
            .selectFrom('sc_t' as never)
            .select(['k', 'v', 'n'] as never)
            .where('k' as never, '=', k as never),
        );
      for (let i = 0; i < 5; i++) {
        const { rows } = await select(`k${i}`);
        assert.deepEqual(
          rows.map((r) => ({ ...r, n: Number(r.n) })),
          [{ k: `k${i}`, v: i % 2 ? null : `v${i}`, n: i }],
        );
      }
      assert.deepEqual((await select('missing')).rows, []);
    });

    test('a shape whose parameters do not come out as given is never cached', async () => {
      const cache = new StatementCache();
      const db = database.db as never as Parameters<StatementCache['run']>[0];
      let compiled = 0;
      // The values say [k] but the statement's parameters are [k, 'x']: the SQL must not be reused with [k].
      const run = (k: string) =>
        cache.run(db, 'sc_t:mismatch', [k], () => {
          compiled++;
          return (database.db as never as typeof db)
            .selectFrom('sc_t' as never)
            .select(['k'] as never)
            .where('k' as never, '=', k as never)
            .where('v' as never, '<>', 'x' as never);
        });
      assert.equal((await run('k0')).rows.length, 1);
      assert.equal((await run('k2')).rows.length, 1);
      assert.equal(compiled, 2);
    });
  });
}
