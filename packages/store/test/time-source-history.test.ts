// The time-source history contract on SQLite and PostgreSQL: append every kind, list newest first with
// filters, prune old samples while keeping state changes, and the schema's own refusals.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openStore, type NewTimeSourceEntry, type Store } from '../src/index.js';
import { dialects, type TestDatabase } from './helpers/databases.js';

const t0 = Date.UTC(2026, 11, 4, 8, 0, 0);
const at = (s: number) => new Date(t0 + s * 1000);

function entry(over: Partial<NewTimeSourceEntry>): NewTimeSourceEntry {
  return {
    at: at(0),
    node: 'medsign1',
    kind: 'sample',
    usable: true,
    source: 'ntp:10.1.1.1:123',
    previousSource: null,
    offsetMs: 1.25,
    boundMs: 0.375,
    detail: 'ntp:10.1.1.1:123: offset +1.3 ms ± 0.4 ms, within 1000 ms',
    ...over,
  };
}

for (const dialect of dialects) {
  describe(`time-source history on ${dialect.name}`, { skip: dialect.skip }, () => {
    let tdb: TestDatabase;
    let store: Store;
    before(async () => {
      tdb = await dialect.create();
      store = await openStore(tdb.url);
    });
    after(async () => {
      await store?.close();
      await tdb?.drop();
    });

    test('append and list: every field round-trips, newest first', async () => {
      const a = await store.timeSourceHistory.append(entry({ at: at(0) }));
      await store.timeSourceHistory.append(
        entry({ at: at(10), kind: 'unusable', usable: false, offsetMs: -5000.5, boundMs: 1, detail: 'bad' }),
      );
      await store.timeSourceHistory.append(
        entry({
          at: at(20),
          kind: 'switched',
          source: 'gpsd:127.0.0.1:2947',
          previousSource: 'ntp:10.1.1.1:123',
        }),
      );
      await store.timeSourceHistory.append(
        entry({ at: at(30), kind: 'sample', usable: false, source: null, offsetMs: null, boundMs: null }),
      );
      const all = await store.timeSourceHistory.list({ limit: 10 });
      assert.deepEqual(
        all.map((e) => e.kind),
        ['sample', 'switched', 'unusable', 'sample'],
      );
      assert.deepEqual(all.at(-1), a);
      assert.equal(all[2]!.offsetMs, -5000.5);
      assert.equal(all[2]!.usable, false);
      assert.equal(all[1]!.previousSource, 'ntp:10.1.1.1:123');
      assert.equal(all[0]!.source, null);
      assert.equal(all[0]!.offsetMs, null);
    });

    test('filters: changes only, since/until, limit', async () => {
      const changes = await store.timeSourceHistory.list({ limit: 10, changesOnly: true });
      assert.deepEqual(
        changes.map((e) => e.kind),
        ['switched', 'unusable'],
      );
      const window = await store.timeSourceHistory.list({ limit: 10, since: at(10), until: at(30) });
      assert.equal(window.length, 2);
      assert.equal((await store.timeSourceHistory.list({ limit: 1 })).length, 1);
      await assert.rejects(store.timeSourceHistory.list({ limit: 0 }), RangeError);
    });

    test('pruning removes old samples only', async () => {
      assert.equal(await store.timeSourceHistory.pruneSamples(at(25)), 1);
      const left = await store.timeSourceHistory.list({ limit: 10 });
      assert.deepEqual(
        left.map((e) => e.kind),
        ['sample', 'switched', 'unusable'],
      );
    });

    test('the schema refuses unknown kinds', async () => {
      await assert.rejects(store.timeSourceHistory.append(entry({ kind: 'bogus' as 'sample' })), RangeError);
      await assert.rejects(
        tdb.raw(
          `insert into time_source_history (id, at, node, kind, usable, detail) values ('x', '2026-12-04T08:00:00.000Z', 'n', 'bogus', 1, 'd')`,
        ),
      );
    });
  });
}
