// The TSA request handler: every failInfo, the token's fields, certReq, policies, serial uniqueness and
// retry, and the rule that a token leaves only after the archive recorded it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { sm3 } from '@medsign/gm';
import { encodeOctetString, encodeOid, encodeSequence, encodeUnsignedInteger } from '@medsign/gm/der';
import {
  buildTimeStampReq,
  digest,
  ParsedCms,
  parseTimeStampResp,
  verifyTimeStampToken,
  type KeyType,
} from '@medsign/pki';
import { makeHierarchy, type TestHierarchy } from '@medsign/testkit';
import {
  accuracyOf,
  createTsaUnit,
  DEFAULT_TSA_POLICY,
  respondTimeStamp,
  systemClockTimeSource,
  type ArchivedToken,
  type TimeSource,
  type TokenArchive,
  type TsaDeps,
  type TsaUnit,
} from '../src/index.js';

const DATA = new TextEncoder().encode('处方 Rx-0001');
const OTHER_POLICY = '1.2.3.4.5.6';
// Whole seconds + 123 ms: genTime must keep the milliseconds.
const T0 = new Date(Math.floor(Date.now() / 1000) * 1000 + 123);

class MemoryArchive implements TokenArchive {
  readonly tokens = new Map<bigint, ArchivedToken>();
  fail: Error | undefined;
  async archive(t: ArchivedToken): Promise<'stored' | 'duplicate'> {
    if (this.fail) throw this.fail;
    if (this.tokens.has(t.serial)) return 'duplicate';
    this.tokens.set(t.serial, t);
    return 'stored';
  }
}

const hierarchies = new Map<string, TestHierarchy>();
before(async () => {
  for (const t of ['sm2', 'ec-p256'] as KeyType[]) hierarchies.set(t, await makeHierarchy(t));
});

function unitFor(type: KeyType = 'sm2'): TsaUnit {
  const h = hierarchies.get(type)!;
  return createTsaUnit({
    id: type === 'sm2' ? 'sm2' : 'ecdsa',
    signer: h.tsa.key.signer(),
    certificate: h.tsa.cert,
    chain: [h.intermediate.cert, h.root.cert],
    policy: DEFAULT_TSA_POLICY,
    acceptedPolicies: [OTHER_POLICY],
  });
}

function deps(over: Partial<TsaDeps> = {}): TsaDeps & { archive: MemoryArchive } {
  return {
    clock: { now: () => T0 },
    timeSource: systemClockTimeSource(1500),
    archive: new MemoryArchive(),
    randomBytes: (n) => new Uint8Array(randomBytes(n)),
    ...over,
  } as TsaDeps & { archive: MemoryArchive };
}

function rawReq(hashOid: string, hashed: Uint8Array, extra: Uint8Array[] = []): Uint8Array {
  return encodeSequence(
    encodeUnsignedInteger(1n),
    encodeSequence(encodeSequence(encodeOid(hashOid)), encodeOctetString(hashed)),
    ...extra,
  );
}

describe('respondTimeStamp', () => {
  test('grants an SM2 token: nonce echoed, ms genTime, accuracy, tsa name, SM3 signingCertificateV2', async () => {
    const d = deps();
    const unit = unitFor('sm2');
    const req = buildTimeStampReq({ hash: 'sm3', data: DATA, nonce: 0xfeedbeefn, certReq: true });
    const out = await respondTimeStamp(unit, req, d, { requester: '127.0.0.1' });
    assert.equal(out.granted, true);
    const resp = parseTimeStampResp(out.der);
    assert.equal(resp.statusName, 'granted');
    const h = hierarchies.get('sm2')!;
    const v = verifyTimeStampToken(out.der, { data: DATA, anchors: [h.root.cert] });
    assert.equal(v.valid, true, v.errors.join('; '));
    assert.equal(v.nonce, 0xfeedbeefn);
    assert.equal(v.policy, DEFAULT_TSA_POLICY);
    assert.deepEqual(v.accuracy, { seconds: 1, millis: 500 });
    assert.equal(v.ordering, false);
    assert.equal(v.tstInfo!.genTimeText, `${T0.toISOString().replace(/[-:T]/g, '').slice(0, 14)}.123Z`);
    assert.equal(v.tsaName, h.tsa.cert.subjectText);
    assert.ok(v.serial! >= 2n ** 64n, 'serial has well over 64 random bits');
    const cms = ParsedCms.parse(resp.token!);
    // certReq: the TSA certificate and the issuing CA, never the root
    assert.deepEqual(
      cms.certificates.map((c) => c.subjectText).sort(),
      [h.tsa.cert.subjectText, h.intermediate.cert.subjectText].sort(),
    );
    const v2 = cms.signerInfos[0]!.signedAttributes!.find((a) => a.oid === '1.2.840.113549.1.9.16.2.47');
    assert.ok(v2, 'signingCertificateV2 present');
    // ESSCertIDv2 with hashAlgorithm sm3 (1.2.156.10197.1.401) and the SM3 of the certificate
    const attr = Buffer.from(cms.signerInfos[0]!.signedAttributesDer!);
    assert.ok(attr.includes(Buffer.from(encodeOid('1.2.156.10197.1.401'))));
    assert.ok(attr.includes(Buffer.from(sm3(h.tsa.cert.der))));
    // archived before it was returned
    const rec = d.archive.tokens.get(v.serial!)!;
    assert.equal(rec.unit, 'sm2');
    assert.equal(rec.hashAlgorithm, 'sm3');
    assert.deepEqual(rec.hashedMessage, digest('sm3', DATA));
    assert.equal(rec.genTime.getTime(), T0.getTime());
    assert.equal(rec.requester, '127.0.0.1');
    assert.equal(rec.nonce, true);
    assert.deepEqual(rec.tokenHash, sm3(resp.token!));
  });

  test('certReq false: no certificates; no nonce; SHA-256/384/512 imprints on an ECDSA unit', async () => {
    const unit = unitFor('ec-p256');
    const h = hierarchies.get('ec-p256')!;
    for (const hash of ['sha256', 'sha384', 'sha512', 'sm3'] as const) {
      const d = deps();
      const out = await respondTimeStamp(unit, buildTimeStampReq({ hash, data: DATA }), d);
      assert.equal(out.granted, true, hash);
      const token = parseTimeStampResp(out.der).token!;
      assert.equal(ParsedCms.parse(token).certificates.length, 0);
      const v = verifyTimeStampToken(token, {
        data: DATA,
        certificates: [h.tsa.cert, h.intermediate.cert],
        anchors: [h.root.cert],
      });
      assert.equal(v.valid, true, v.errors.join('; '));
      assert.equal(v.nonce, undefined);
      assert.equal(v.hashAlgorithm, hash);
      assert.equal([...d.archive.tokens.values()][0]!.nonce, false);
    }
  });

  test('a requested policy that is accepted goes into the token', async () => {
    const out = await respondTimeStamp(
      unitFor(),
      buildTimeStampReq({ hash: 'sm3', data: DATA, reqPolicy: OTHER_POLICY }),
      deps(),
    );
    assert.equal(verifyTimeStampToken(out.der, { data: DATA }).policy, OTHER_POLICY);
  });

  const refusals: [string, () => Uint8Array, string][] = [
    ['garbage', () => new Uint8Array([1, 2, 3]), 'badDataFormat'],
    ['empty body', () => new Uint8Array(), 'badDataFormat'],
    [
      'trailing bytes',
      () => new Uint8Array([...buildTimeStampReq({ hash: 'sm3', data: DATA }), 0]),
      'badDataFormat',
    ],
    ['version 2', () => encodeSequence(encodeUnsignedInteger(2n)), 'badDataFormat'],
    ['oversized', () => new Uint8Array(20_000), 'badDataFormat'],
    ['SHA-1 imprint', () => rawReq('1.3.14.3.2.26', new Uint8Array(20)), 'badAlg'],
    ['MD5 imprint', () => rawReq('1.2.840.113549.2.5', new Uint8Array(16)), 'badAlg'],
    ['SM3 imprint of 20 bytes', () => rawReq('1.2.156.10197.1.401', new Uint8Array(20)), 'badDataFormat'],
    [
      'unaccepted policy',
      () => buildTimeStampReq({ hash: 'sm3', data: DATA, reqPolicy: '1.2.3.9' }),
      'unacceptedPolicy',
    ],
    [
      'unknown critical extension',
      () =>
        buildTimeStampReq({
          hash: 'sm3',
          data: DATA,
          extensions: [{ oid: '1.2.3.4.99', critical: true, value: new Uint8Array([5, 0]) }],
        }),
      'unacceptedExtension',
    ],
  ];
  for (const [name, make, failInfo] of refusals) {
    test(`${name} → rejection ${failInfo}`, async () => {
      const d = deps();
      const out = await respondTimeStamp(unitFor(), make(), d);
      assert.equal(out.granted, false);
      assert.equal(out.failInfo, failInfo);
      const resp = parseTimeStampResp(out.der);
      assert.equal(resp.statusName, 'rejection');
      assert.deepEqual(resp.failInfo, [failInfo]);
      assert.equal(resp.token, undefined);
      assert.ok(resp.statusStrings[0]);
      assert.equal(d.archive.tokens.size, 0);
    });
  }

  test('a non-critical unknown extension is ignored', async () => {
    const req = buildTimeStampReq({
      hash: 'sm3',
      data: DATA,
      extensions: [{ oid: '1.2.3.4.99', critical: false, value: new Uint8Array([5, 0]) }],
    });
    assert.equal((await respondTimeStamp(unitFor(), req, deps())).granted, true);
  });

  test('time source not usable → timeNotAvailable; usable again → granted', async () => {
    let usable = false;
    const timeSource: TimeSource = {
      status: () => ({ usable, accuracyMs: 1000, detail: usable ? 'ok' : 'offset 5 s beyond 1 s' }),
    };
    const d = deps({ timeSource });
    const req = buildTimeStampReq({ hash: 'sm3', data: DATA });
    const out = await respondTimeStamp(unitFor(), req, d);
    assert.equal(out.failInfo, 'timeNotAvailable');
    assert.match(parseTimeStampResp(out.der).statusStrings[0]!, /offset 5 s/);
    usable = true;
    assert.equal((await respondTimeStamp(unitFor(), req, d)).granted, true);
  });

  test('a colliding serial is replaced and signed again; repeated collisions → systemFailure', async () => {
    const d = deps();
    const fixed = new Uint8Array(16).fill(0xab);
    let calls = 0;
    d.randomBytes = (n) => (calls++ < 2 ? fixed.slice(0, n) : new Uint8Array(randomBytes(n)));
    const req = buildTimeStampReq({ hash: 'sm3', data: DATA });
    const a = await respondTimeStamp(unitFor(), req, d);
    const b = await respondTimeStamp(unitFor(), req, d);
    assert.equal(a.granted && b.granted, true);
    assert.notEqual(a.serial, b.serial);
    assert.equal(a.serial, BigInt(`0x2b${'ab'.repeat(15)}`));
    d.randomBytes = (n) => fixed.slice(0, n);
    const c = await respondTimeStamp(unitFor(), req, d);
    assert.equal(c.failInfo, 'systemFailure');
  });

  test('an archive failure never lets the token out: systemFailure', async () => {
    const d = deps();
    d.archive.fail = new Error('disk full');
    const out = await respondTimeStamp(unitFor(), buildTimeStampReq({ hash: 'sm3', data: DATA }), d);
    assert.equal(out.failInfo, 'systemFailure');
    assert.equal((out.error as Error).message, 'disk full');
    assert.equal(parseTimeStampResp(out.der).token, undefined);
  });

  test('a unit whose certificate has expired (or is not yet valid) refuses with systemFailure', async () => {
    const notAfter = hierarchies.get('sm2')!.tsa.cert.notAfter;
    const d = deps({ clock: { now: () => new Date(notAfter.getTime() + 1000) } });
    const out = await respondTimeStamp(unitFor(), buildTimeStampReq({ hash: 'sm3', data: DATA }), d);
    assert.equal(out.failInfo, 'systemFailure');
    assert.match(parseTimeStampResp(out.der).statusStrings[0]!, /TSA certificate is not valid/);
    assert.equal(d.archive.tokens.size, 0);
  });

  test('serials are unique over many tokens', async () => {
    const d = deps();
    const req = buildTimeStampReq({ hash: 'sm3', data: DATA });
    const outs = await Promise.all(Array.from({ length: 50 }, () => respondTimeStamp(unitFor(), req, d)));
    assert.equal(new Set(outs.map((o) => o.serial)).size, 50);
  });
});

describe('createTsaUnit and accuracy', () => {
  test('refuses a certificate without the critical timeStamping EKU, or a key that is not its own', () => {
    const h = hierarchies.get('sm2')!;
    assert.throws(
      () =>
        createTsaUnit({ id: 'sm2', signer: h.leaf.key.signer(), certificate: h.leaf.cert, policy: '1.2.3' }),
      /TSA_CERTIFICATE_INVALID.*timeStamping/,
    );
    assert.throws(
      () =>
        createTsaUnit({ id: 'sm2', signer: h.leaf.key.signer(), certificate: h.tsa.cert, policy: '1.2.3' }),
      /TSA_CERTIFICATE_INVALID.*not the key/,
    );
    assert.throws(
      () => createTsaUnit({ id: 'sm2', signer: h.tsa.key.signer(), certificate: h.tsa.cert, policy: 'x' }),
      /CONFIG_INVALID/,
    );
  });

  test('accuracyOf', () => {
    assert.deepEqual(accuracyOf(1000), { seconds: 1 });
    assert.deepEqual(accuracyOf(250), { millis: 250 });
    assert.deepEqual(accuracyOf(2500.2), { seconds: 2, millis: 501 });
    assert.equal(accuracyOf(0), undefined);
  });
});
