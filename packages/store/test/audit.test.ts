// The hash-chained audit log on both dialects: chaining, verification, and tampering made around the
// append-only triggers through a separate connection, as someone with database or file access would.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { sm3 } from '@medsign/gm';
import {
  AuditLog,
  canonicalJson,
  computeAuditHash,
  GENESIS_HASH,
  openDatabase,
  type Database,
} from '../src/index.js';
import { dialects, type TestDatabase } from './helpers/databases.js';

test('the event hash is SM3(prev_hash bytes ‖ UTF-8 canonical JSON of the event)', () => {
  const event = {
    seq: 1,
    time: '2026-01-01T00:00:00.000Z',
    actor: 'admin',
    action: 'cert.revoke',
    target: '1a2b',
    detail: { reason: 'keyCompromise', 科室: '心内科' },
  };
  const json =
    '{"action":"cert.revoke","actor":"admin","detail":{"reason":"keyCompromise","科室":"心内科"},' +
    '"seq":1,"target":"1a2b","time":"2026-01-01T00:00:00.000Z"}';
  assert.equal(canonicalJson(event), json);
  const input = Buffer.concat([Buffer.alloc(32), Buffer.from(json, 'utf8')]);
  assert.equal(computeAuditHash(GENESIS_HASH, event), Buffer.from(sm3(input)).toString('hex'));
});

let clockMs = Date.parse('2026-05-01T00:00:00.000Z');
const clock = () => new Date((clockMs += 1000));

for (const dialect of dialects) {
  describe(`audit log on ${dialect.name}`, { skip: dialect.skip }, () => {
    let tdb: TestDatabase;
    let database: Database;
    let log: AuditLog;
    // Each test gets a fresh database: a chain per test.
    beforeEach(async () => {
      tdb = await dialect.create();
      database = await openDatabase(tdb.url);
      log = new AuditLog(database, { now: clock });
    });
    afterEach(async () => {
      await database.close();
      await tdb.drop();
    });

    async function appendN(n: number): Promise<void> {
      for (let i = 1; i <= n; i++) {
        await log.append({
          actor: 'sec-admin',
          action: 'cert.revoke',
          target: `serial-${i}`,
          detail: { reason: 'keyCompromise', i },
        });
      }
    }
    const disableTriggers =
      dialect.name === 'sqlite'
        ? 'drop trigger audit_events_no_update; drop trigger audit_events_no_delete;'
        : 'alter table audit_events disable trigger user;';

    test('an empty log verifies; appended events chain from 32 zero bytes and verify', async () => {
      assert.deepEqual(await log.verify(), { ok: true, checked: 0 });
      const first = await log.append({ actor: 'system', action: 'store.init' });
      assert.equal(first.seq, 1);
      assert.equal(first.prevHash, GENESIS_HASH);
      assert.equal(first.target, null);
      assert.deepEqual(first.detail, {});
      const second = await log.append({
        actor: 'admin',
        action: 'auth.login',
        target: 'admin',
        detail: { ip: '10.0.0.1', pin: '***' },
      });
      assert.equal(second.seq, 2);
      assert.equal(second.prevHash, first.hash);
      await appendN(5);
      const result = await log.verify();
      assert.equal(result.ok, true);
      assert.equal(result.checked, 7);
      assert.equal(result.head!.seq, 7);
      // Small batches walk the same chain.
      assert.deepEqual(await log.verify({ batchSize: 2 }), result);
      const listed = await log.list({ fromSeq: 2, limit: 2 });
      assert.deepEqual(listed, [second, listed[1]]);
      assert.equal(listed[1]!.seq, 3);
    });

    test('details that are not plain JSON are refused before anything is written', async () => {
      await assert.rejects(
        log.append({ actor: 'a', action: 'x', detail: { when: new Date() as never } }),
        TypeError,
      );
      await assert.rejects(log.append({ actor: 'a', action: 'x', detail: { n: 1n as never } }), TypeError);
      await assert.rejects(log.append({ actor: 'a', action: 'x', detail: { n: Number.NaN } }), TypeError);
      await assert.rejects(log.append({ actor: '', action: 'x' }), TypeError);
      assert.deepEqual(await log.verify(), { ok: true, checked: 0 });
    });

    test('concurrent appends from one process form one chain', async () => {
      await Promise.all(Array.from({ length: 40 }, (_, i) => log.append({ actor: `u${i}`, action: 'sign' })));
      const result = await log.verify({ batchSize: 7 });
      assert.equal(result.ok, true);
      assert.equal(result.checked, 40);
    });

    test('the database refuses UPDATE and DELETE on audit_events', async () => {
      await appendN(2);
      await assert.rejects(tdb.raw(`update audit_events set actor = 'x' where seq = 1`), /append-only/);
      await assert.rejects(tdb.raw('delete from audit_events where seq = 2'), /append-only/);
      assert.equal((await log.verify()).ok, true);
    });

    test('an edited detail is reported at its seq', async () => {
      await appendN(6);
      await tdb.raw(
        `${disableTriggers} update audit_events set detail = '{"i":3,"reason":"unspecified"}' where seq = 3;`,
      );
      const result = await log.verify({ batchSize: 2 });
      assert.equal(result.ok, false);
      assert.deepEqual(result.firstBreak, {
        seq: 3,
        reason: 'hash-mismatch',
        message: 'event 3: content does not match its hash (edited)',
      });
      assert.equal(result.checked, 3);
      assert.equal(result.head!.seq, 2);
    });

    test('edits of time, actor, or a detail that is no longer JSON are detected', async () => {
      await appendN(4);
      await tdb.raw(
        `${disableTriggers} update audit_events set time = '2020-01-01T00:00:00.000Z' where seq = 2;`,
      );
      assert.deepEqual((await log.verify()).firstBreak?.seq, 2);
      await tdb.raw(`update audit_events set detail = 'not json' where seq = 1;`);
      assert.deepEqual((await log.verify()).firstBreak, {
        seq: 1,
        reason: 'malformed',
        message: 'event 1: detail is not JSON',
      });
    });

    test('a deleted row is reported as missing', async () => {
      await appendN(5);
      await tdb.raw(`${disableTriggers} delete from audit_events where seq = 3;`);
      const result = await log.verify();
      assert.equal(result.ok, false);
      assert.equal(result.firstBreak!.seq, 3);
      assert.equal(result.firstBreak!.reason, 'missing');
      // Deleting the first row is caught too.
      await tdb.raw('delete from audit_events where seq = 1;');
      assert.deepEqual((await log.verify()).firstBreak?.reason, 'missing');
      assert.deepEqual((await log.verify()).firstBreak?.seq, 1);
    });

    test('reordered rows and re-linked prev_hash are detected', async () => {
      await appendN(5);
      // Swap events 2 and 3 (their seq numbers).
      await tdb.raw(
        `${disableTriggers} update audit_events set seq = 100 where seq = 2; ` +
          'update audit_events set seq = 2 where seq = 3; update audit_events set seq = 3 where seq = 100;',
      );
      assert.deepEqual((await log.verify()).firstBreak, {
        seq: 2,
        reason: 'prev-hash-mismatch',
        message: 'event 2: prev_hash does not equal the hash of event 1',
      });
    });

    test('an edit whose own hash is recomputed breaks the next link', async () => {
      await appendN(5);
      const [row3] = await log.list({ fromSeq: 3, limit: 1 });
      const forged = { ...row3!, detail: { i: 3, reason: 'unspecified' } };
      const forgedHash = computeAuditHash(row3!.prevHash, forged);
      await tdb.raw(
        `${disableTriggers} update audit_events set detail = '${canonicalJson(forged.detail)}', hash = '${forgedHash}' where seq = 3;`,
      );
      const result = await log.verify();
      assert.equal(result.firstBreak!.seq, 4);
      assert.equal(result.firstBreak!.reason, 'prev-hash-mismatch');
    });

    test('a tampered prev_hash is detected', async () => {
      await appendN(3);
      await tdb.raw(
        `${disableTriggers} update audit_events set prev_hash = '${'ab'.repeat(32)}' where seq = 2;`,
      );
      assert.deepEqual((await log.verify()).firstBreak?.reason, 'prev-hash-mismatch');
      assert.deepEqual((await log.verify()).firstBreak?.seq, 2);
    });
  });
}
