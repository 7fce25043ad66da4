// Crash safety: an issuance interrupted between intent and store is closed when the services next open —
// `failed` + cert.intent-abandoned when the certificate never reached the database, `stored` +
// cert.intent-recovered when it did — and the audit chain still verifies. Fresh intents (possibly a live
// issuance of another process) are left alone and reported by /healthz once they are stale.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { issueCertificate, type CaDeps, type CaStore } from '@medsign/ca';
import { bytesToHex, sm3 } from '@medsign/gm';
import { ParsedCertificate, PrivateKey } from '@medsign/pki';
import { runMedsignCliText, tempDir, type TempDir } from '@medsign/testkit';
import { initDataDir, type InitResult } from '../src/init.js';
import { RECOVERY_ACTOR } from '../src/recovery.js';
import { openServices } from '../src/services.js';

const MINUTE = 60_000;
const applicant = { name: '李四', employeeNo: 'E2002', department: '急诊科', country: 'CN' };

/** The CA deps with one step of the store replaced by a "crash" (the process dies: nothing after it runs). */
function crashingAt(deps: CaDeps, step: 'insertCertificate' | 'stored'): CaDeps {
  const real = deps.store;
  const store: CaStore = {
    reserveSerial: (c, s) => real.reserveSerial(c, s),
    recordIntent: (i) => real.recordIntent(i),
    updateIntent: (id, state) =>
      step === 'stored' && state === 'stored'
        ? Promise.reject(new Error('simulated crash'))
        : real.updateIntent(id, state),
    insertCertificate: (r) =>
      step === 'insertCertificate' ? Promise.reject(new Error('simulated crash')) : real.insertCertificate(r),
    getCertificate: (c, s) => real.getCertificate(c, s),
    getApplicant: (c, s) => real.getApplicant(c, s),
    updateStatus: (c, s, st, at, reason) => real.updateStatus(c, s, st, at, reason),
    listRevoked: (c, since) => real.listRevoked(c, since),
    nextCrlNumber: (c) => real.nextCrlNumber(c),
  };
  return { ...deps, store };
}

describe('recovery of interrupted issuances', () => {
  let dir: TempDir;
  let init: InitResult;
  before(async () => {
    dir = tempDir('medsign-recovery-');
    init = await initDataDir({ dataDir: dir.path, env: {} });
  });
  after(() => dir.cleanup());

  test('a crash between sign and store is abandoned, one between store and close is recovered', async () => {
    // Crash 1: signed, never stored (the store a crash leaves behind: intent `signed`, no certificate).
    // Crash 2: stored, but the intent was never closed.
    const s = await openServices(init.config);
    const spki = () => PrivateKey.generate('sm2').publicKeyInfo;
    let lostIntent: string;
    let keptSerial: string;
    const later = () => new Date(Date.now() + 6 * MINUTE);
    try {
      await assert.rejects(
        issueCertificate(
          { profileId: 'doctor', publicKeyInfo: spki(), applicant, actor: 'test' },
          crashingAt(s.ca, 'insertCertificate'),
        ),
        /simulated crash/,
      );
      await assert.rejects(
        issueCertificate(
          { profileId: 'nurse', publicKeyInfo: spki(), applicant, actor: 'test' },
          crashingAt(s.ca, 'stored'),
        ),
        /simulated crash/,
      );
      const open = await s.store.intents.listUnfinished();
      assert.deepEqual(
        open.map((i) => i.state),
        ['signed', 'signed'],
      );
      // Exactly one of them reached the inventory (created in the same millisecond, their order is open).
      const inInventory = await Promise.all(
        open.map(async (i) => (await s.store.certificates.findBySerial(i.caId, i.serial)) !== undefined),
      );
      assert.deepEqual([...inInventory].sort(), [false, true]);
      lostIntent = open[inInventory.indexOf(false)]!.id;
      keptSerial = open[inInventory.indexOf(true)]!.serial;
      // Within the grace period /healthz does not call them interrupted (they could be in flight) …
      assert.equal((await s.health()).status, 'ok');
    } finally {
      await s.close();
    }

    // … reopened right away (a quick restart, or another process starting), they are left alone …
    const early = await openServices(init.config);
    try {
      assert.deepEqual(early.recovered, []);
      assert.equal((await early.store.intents.listUnfinished()).length, 2);
    } finally {
      await early.close();
    }
    // … but /healthz reports them once they are stale (here: a grace longer than their age keeps them open).
    const stale = await openServices(init.config, { now: later, intentGraceMs: 60 * MINUTE });
    try {
      const h = await stale.health();
      assert.equal(h.status, 'degraded');
      const check = h.checks.find((c) => c.name === 'issuance-intents')!;
      assert.equal(check.ok, false);
      assert.match(check.detail, /2 issuance\(s\) interrupted .* a restart closes them/);
    } finally {
      await stale.close();
    }

    // Two processes starting at once after the grace period: each intent is closed once, audited once.
    const [p, q] = await Promise.all([
      openServices(init.config, { now: later }),
      openServices(init.config, { now: later }),
    ]);
    try {
      const recovered = [...(p.recovered ?? []), ...(q.recovered ?? [])];
      assert.deepEqual(
        recovered.map((r) => `${r.id}:${r.was}→${r.outcome}`).sort(),
        [`${lostIntent}:signed→failed`, `sm2-issuing:${keptSerial}:signed→stored`].sort(),
      );
      assert.deepEqual(await p.store.intents.listUnfinished(), []);
      const lost = await p.store.intents.get(lostIntent);
      assert.equal(lost?.state, 'failed');
      assert.match(lost!.error!, /abandoned/);
      assert.equal((await p.health()).status, 'ok');

      const events = await p.store.audit.list({ limit: 10_000 });
      const abandoned = events.filter((e) => e.action === 'cert.intent-abandoned');
      const recoveredEvents = events.filter((e) => e.action === 'cert.intent-recovered');
      assert.equal(abandoned.length, 1);
      assert.equal(recoveredEvents.length, 1);
      const ev = abandoned[0]!;
      assert.equal(ev.actor, RECOVERY_ACTOR);
      assert.equal(ev.target, `sm2-issuing/${lost!.serial}`);
      assert.equal(ev.detail.caId, 'sm2-issuing');
      assert.equal(ev.detail.serial, lost!.serial);
      assert.equal(ev.detail.tbsHash, lost!.tbsHash);
      assert.equal(ev.detail.state, 'signed');
      // The stored certificate is the one the intent announced.
      const kept = await p.store.certificates.findBySerial('sm2-issuing', keptSerial);
      assert.equal(
        bytesToHex(sm3(ParsedCertificate.parse(kept!.der).tbsDer)),
        recoveredEvents[0]!.detail.tbsHash,
      );
      assert.equal((await p.store.audit.verify()).ok, true);
    } finally {
      await p.close();
      await q.close();
    }
    const cli = runMedsignCliText(['audit', 'verify', '--data', dir.path]);
    assert.equal(cli.code, 0, cli.stdout + cli.stderr);
  });
});
