import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { buildOcspRequest, ParsedOcspResponse, PrivateKey } from '@medsign/pki';
import {
  answerOcsp,
  issueCertificate,
  OcspResponseCache,
  respondOcsp,
  resumeCertificate,
  revokeCertificate,
  type CaDeps,
  type IssueResult,
} from '../src/index.js';
import { makeTestCa, type TestCa } from './helpers/memory.js';

const applicant = { name: '钱七', employeeNo: 'E8', department: '儿科' };

describe('pre-signed OCSP answers (OcspResponseCache)', () => {
  let t: TestCa;
  let deps: CaDeps;
  let cert: IssueResult;
  let now: Date;
  const signs = () => t.keyUses.filter((p) => p === 'ocsp').length;
  const request = (serial: string, nonce?: Uint8Array) =>
    buildOcspRequest({ issuer: deps.cas[0]!.certificate, serials: [serial], ...(nonce ? { nonce } : {}) });
  const statusOf = (der: Uint8Array) => ParsedOcspResponse.parse(der).responses[0]!.status;

  before(async () => {
    t = await makeTestCa(['sm2']);
    now = new Date();
    deps = { ...t.deps, clock: { now: () => now }, ocspCache: new OcspResponseCache({ maxAgeMs: 60_000 }) };
    cert = await issueCertificate(
      {
        profileId: 'doctor',
        publicKeyInfo: PrivateKey.generate('sm2').publicKeyInfo,
        applicant,
        actor: 'ra',
      },
      deps,
    );
  });

  test('a nonce-less single request is signed once, then served from the cache with its statuses', async () => {
    deps.ocspCache!.clear();
    const before = signs();
    const first = await answerOcsp(request(cert.serial), deps);
    assert.equal(first.cached, false);
    assert.deepEqual(first.statuses, ['good']);
    const second = await answerOcsp(request(cert.serial), deps);
    assert.equal(second.cached, true);
    assert.deepEqual(second.statuses, ['good']);
    assert.deepEqual(second.der, first.der);
    assert.equal(signs() - before, 1, 'the CA key signed once for two answers');
    assert.equal(statusOf(await respondOcsp(request(cert.serial), deps)), 'good');
  });

  test('requests with a nonce are always signed afresh and echo their own nonce', async () => {
    deps.ocspCache!.clear();
    await answerOcsp(request(cert.serial), deps);
    const before = signs();
    const nonce = new Uint8Array(32).fill(7);
    const a = await answerOcsp(request(cert.serial, nonce), deps);
    const b = await answerOcsp(request(cert.serial, nonce), deps);
    assert.equal(a.cached || b.cached, false);
    assert.equal(signs() - before, 2);
    assert.deepEqual(ParsedOcspResponse.parse(a.der).nonce, nonce);
  });

  test('revocation and resumption drop the cached answer at once', async () => {
    deps.ocspCache!.clear();
    assert.equal(statusOf((await answerOcsp(request(cert.serial), deps)).der), 'good');
    await revokeCertificate(
      { caId: cert.caId, serial: cert.serial, reason: 'certificateHold', actor: 'ra' },
      deps,
    );
    const held = await answerOcsp(request(cert.serial), deps);
    assert.equal(held.cached, false);
    assert.equal(statusOf(held.der), 'revoked');
    assert.equal((await answerOcsp(request(cert.serial), deps)).cached, true);
    await resumeCertificate({ caId: cert.caId, serial: cert.serial, actor: 'ra' }, deps);
    const resumed = await answerOcsp(request(cert.serial), deps);
    assert.equal(resumed.cached, false);
    assert.equal(statusOf(resumed.der), 'good');
  });

  test('an answer older than maxAgeMs is signed again', async () => {
    deps.ocspCache!.clear();
    await answerOcsp(request(cert.serial), deps);
    const start = now;
    try {
      now = new Date(start.getTime() + 59_000);
      assert.equal((await answerOcsp(request(cert.serial), deps)).cached, true);
      now = new Date(start.getTime() + 60_000);
      const fresh = await answerOcsp(request(cert.serial), deps);
      assert.equal(fresh.cached, false);
      assert.equal(
        ParsedOcspResponse.parse(fresh.der).producedAt?.getTime(),
        Math.floor(now.getTime() / 1000) * 1000,
      );
    } finally {
      now = start;
    }
  });

  test('unknown serials, malformed requests and several certificates per request are not cached', async () => {
    deps.ocspCache!.clear();
    const unknown = await answerOcsp(request('7fffffffffffffff01'), deps);
    assert.deepEqual(unknown.statuses, ['unknown']);
    const malformed = await answerOcsp(Uint8Array.of(0x30, 0x00), deps);
    assert.deepEqual(malformed.statuses, ['malformedRequest']);
    const two = buildOcspRequest({ issuer: deps.cas[0]!.certificate, serials: [cert.serial, '1234'] });
    const both = await answerOcsp(two, deps);
    assert.deepEqual(both.statuses, ['good', 'unknown']);
    assert.equal(deps.ocspCache!.size, 0);
    assert.equal((await answerOcsp(two, deps)).cached, false);
  });

  test('an answer computed while a revocation happened is not stored', async () => {
    deps.ocspCache!.clear();
    const slowDeps: CaDeps = {
      ...deps,
      store: {
        ...deps.store,
        getCertificate: async (caId, serial) => {
          const record = await deps.store.getCertificate(caId, serial);
          // The revocation lands after this request read 'good' but before it was signed and stored.
          deps.ocspCache!.invalidate(caId, serial);
          return record;
        },
      },
    };
    const stale = await answerOcsp(request(cert.serial), slowDeps);
    assert.equal(stale.cached, false);
    assert.equal(deps.ocspCache!.size, 0);
  });
});

describe('OcspResponseCache bounds', () => {
  const id = (n: number) => Uint8Array.of(0x30, 0x01, n);
  const answer = { der: Uint8Array.of(1), statuses: ['good'] };
  const now = new Date();

  test('the oldest answers are evicted past maxEntries, and invalidate finds what is left', () => {
    const cache = new OcspResponseCache({ maxEntries: 3 });
    for (let n = 0; n < 5; n++)
      cache.set(id(n), { caId: 'ca', serial: String(n) }, answer, now, cache.epoch());
    assert.equal(cache.size, 3);
    assert.equal(cache.get(id(0), now), undefined);
    assert.ok(cache.get(id(4), now));
    cache.invalidate('ca', '4');
    assert.equal(cache.get(id(4), now), undefined);
    assert.equal(cache.size, 2);
  });

  test('maxAgeMs 0 caches nothing; bad options are refused', () => {
    const off = new OcspResponseCache({ maxAgeMs: 0 });
    off.set(id(1), { caId: 'ca', serial: '1' }, answer, now, off.epoch());
    assert.equal(off.size, 0);
    assert.throws(() => new OcspResponseCache({ maxAgeMs: -1 }), RangeError);
    assert.throws(() => new OcspResponseCache({ maxEntries: 0 }), RangeError);
  });
});
