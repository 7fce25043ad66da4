import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTlv } from '@medsign/gm/der';
import {
  issueTestCertificate,
  makeBcFixtures,
  makeHierarchy,
  malformed,
  peerOrSkip,
  requirePeer,
  runOpenssl,
  tempDir,
  type TempDir,
  type TestHierarchy,
} from '@medsign/testkit';
import { DecodeError, keyUsageExtension, ParsedCertificate, PrivateKey, type KeyType } from '@medsign/pki';
import { buildCrl, normalizeSerial, ParsedCrl, verifyCrl, type CrlOptions } from '../src/crl.js';

const HOUR = 3_600_000;
const TYPES: [KeyType, string][] = [
  ['sm2', 'sm2'],
  ['rsa-2048', 'rsa'],
  ['ec-p256', 'ecdsa'],
];

let tmp: TempDir;
let fixtures: string | undefined;
before(() => {
  tmp = tempDir('medsign-crl-');
  fixtures = makeBcFixtures(tmp.file('bc'));
});
after(() => tmp.cleanup());

for (const [type, label] of TYPES) {
  describe(`CRL ${type}`, () => {
    let h: TestHierarchy;
    let now: Date;
    let base: CrlOptions;
    let der: Uint8Array;
    const file = (name: string) => tmp.file(`${label}-${name}`);

    before(async () => {
      h = await makeHierarchy(type);
      now = new Date(Math.floor(Date.now() / 1000) * 1000);
      base = {
        issuer: h.intermediate.cert,
        signer: h.intermediate.key.signer(),
        thisUpdate: now,
        nextUpdate: new Date(now.getTime() + 24 * HOUR),
        crlNumber: 42n,
        entries: [
          {
            serialNumber: h.leaf.cert.serialNumber,
            revocationDate: new Date(now.getTime() - HOUR),
            reason: 'keyCompromise',
            invalidityDate: new Date(now.getTime() - 2 * HOUR),
          },
          { serialNumber: 0x1001n, revocationDate: now, reason: 'superseded' },
          { serialNumber: '00:80:ff', revocationDate: now, reason: 'unspecified' },
        ],
      };
      der = await buildCrl(base);
      writeFileSync(file('crl.der'), der);
      writeFileSync(file('crl.pem'), ParsedCrl.parse(der).toPem());
      writeFileSync(file('issuer.pem'), h.intermediate.cert.toPem());
    });

    test('parses back: issuer, times, number, entries with reasons and invalidity dates', () => {
      const crl = ParsedCrl.parse(der);
      assert.equal(crl.version, 2);
      assert.equal(crl.issuerText, h.intermediate.cert.subjectText);
      assert.deepEqual(crl.issuerDer, h.intermediate.cert.subjectDer);
      assert.equal(crl.thisUpdate.getTime(), now.getTime());
      assert.equal(crl.nextUpdate?.getTime(), now.getTime() + 24 * HOUR);
      assert.equal(crl.crlNumber, 42n);
      assert.equal(crl.isDelta, false);
      assert.equal(crl.baseCrlNumber, undefined);
      assert.deepEqual(crl.authorityKeyIdentifier, h.intermediate.cert.subjectKeyIdentifier);
      assert.equal(crl.entries.length, 3);
      const leaf = crl.isRevoked(h.leaf.cert.serialNumber);
      assert.equal(leaf?.reason, 'keyCompromise');
      assert.equal(leaf?.invalidityDate?.getTime(), now.getTime() - 2 * HOUR);
      assert.equal(leaf?.revocationDate.getTime(), now.getTime() - HOUR);
      assert.equal(crl.isRevoked('1001')?.reason, 'superseded');
      assert.equal(crl.isRevoked(0x1001n)?.serialNumber, '1001');
      // 'unspecified' is not written (RFC 5280 §5.3.1), so no reason comes back.
      const third = crl.isRevoked('0x80FF');
      assert.ok(third);
      assert.equal(third.reason, undefined);
      assert.equal(third.extensions.length, 0);
      assert.equal(crl.isRevoked(h.intermediate.cert.serialNumber), undefined);
      assert.equal(ParsedCrl.parse(crl.toPem()).der.length, der.length);
    });

    test('verifies against its issuer', () => {
      const r = verifyCrl(ParsedCrl.parse(der), h.intermediate.cert, { at: now });
      assert.equal(r.valid, true, r.errors.join('; '));
      assert.deepEqual(r.errors, []);
      assert.ok(r.checks.some((c) => c.check === 'signature' && c.ok));
      assert.ok(r.checks.some((c) => c.check === 'fresh' && c.ok));
    });

    test('BC crl-verify accepts it', (t) => {
      const r = peerOrSkip(t, ['crl-verify', file('crl.der'), file('issuer.pem'), '--at', now.toISOString()]);
      if (!r) return;
      assert.equal(r.code, 0, JSON.stringify(r.json));
      assert.equal(r.json.crlNumber, '42');
      assert.equal(r.json.revokedCount, 3);
      assert.equal(r.json.derEncoded, true);
    });

    if (type !== 'sm2') {
      test('openssl crl -CAfile verifies it', () => {
        const r = runOpenssl(['crl', '-in', file('crl.pem'), '-CAfile', file('issuer.pem'), '-noout']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout + r.stderr, /verify OK/);
        const text = runOpenssl(['crl', '-in', file('crl.pem'), '-noout', '-text']);
        assert.match(text.stdout, /Key Compromise/);
        assert.match(text.stdout, /Invalidity Date/);
        assert.match(text.stdout, /CRL Number:\s+42/);
      });
    }

    test('delta CRL: critical deltaCRLIndicator, base number, removeFromCRL', async (t) => {
      const delta = await buildCrl({
        ...base,
        crlNumber: 43n,
        deltaBaseCrlNumber: 42n,
        entries: [
          { serialNumber: 0x2002n, revocationDate: now, reason: 'certificateHold' },
          { serialNumber: 0x1001n, revocationDate: now, reason: 'removeFromCRL' },
        ],
      });
      const crl = ParsedCrl.parse(delta);
      assert.equal(crl.isDelta, true);
      assert.equal(crl.baseCrlNumber, 42n);
      assert.equal(crl.crlNumber, 43n);
      assert.equal(crl.extensions.find((e) => e.oid === '2.5.29.27')?.critical, true);
      assert.equal(crl.isRevoked(0x2002n)?.reason, 'certificateHold');
      assert.equal(crl.isRevoked(0x1001n), undefined);
      assert.equal(crl.entry(0x1001n)?.reason, 'removeFromCRL');
      assert.equal(verifyCrl(crl, h.intermediate.cert, { at: now }).valid, true);
      writeFileSync(file('delta.der'), delta);
      const r = peerOrSkip(t, [
        'crl-verify',
        file('delta.der'),
        file('issuer.pem'),
        '--at',
        now.toISOString(),
      ]);
      if (r) assert.equal(r.code, 0, JSON.stringify(r.json));
    });

    test('a CRL without entries omits revokedCertificates', async (t) => {
      const empty = await buildCrl({ ...base, entries: [] });
      const crl = ParsedCrl.parse(empty);
      assert.equal(crl.entries.length, 0);
      assert.equal(verifyCrl(crl, h.intermediate.cert, { at: now }).valid, true);
      writeFileSync(file('empty.der'), empty);
      const r = peerOrSkip(t, [
        'crl-verify',
        file('empty.der'),
        file('issuer.pem'),
        '--at',
        now.toISOString(),
      ]);
      if (r) assert.equal(r.code, 0, JSON.stringify(r.json));
    });

    test('tampered signature or TBS is invalid, here and in BC', (t) => {
      const sig = der.slice();
      sig[sig.length - 3]! ^= 0x01;
      const tbs = der.slice();
      const crl = ParsedCrl.parse(der);
      // The last byte of the issuer name is inside the signed TBSCertList.
      const at = crl.issuerDer.byteOffset - der.byteOffset + crl.issuerDer.length - 1;
      tbs[at]! ^= 0x01;
      for (const [what, bad] of [
        ['signature', sig],
        ['tbs', tbs],
      ] as const) {
        const r = verifyCrl(ParsedCrl.parse(bad), h.intermediate.cert, { at: now });
        assert.equal(r.valid, false, what);
        assert.ok(
          r.checks.some((c) => c.check === 'signature' && !c.ok),
          what,
        );
        writeFileSync(file(`bad-${what}.der`), bad);
        const p = peerOrSkip(t, ['crl-verify', file(`bad-${what}.der`), file('issuer.pem')]);
        if (p) assert.equal(p.code, 1, `${what}: ${JSON.stringify(p.json)}`);
      }
    });

    test('wrong issuer is invalid (name and signature)', () => {
      const r = verifyCrl(ParsedCrl.parse(der), h.root.cert, { at: now });
      assert.equal(r.valid, false);
      const failed = r.checks.filter((c) => !c.ok).map((c) => c.check);
      assert.ok(failed.includes('issuer name'));
      assert.ok(failed.includes('signature'));
    });

    test("past nextUpdate fails 'fresh'; allowStale turns it into a warning", () => {
      const crl = ParsedCrl.parse(der);
      const later = new Date(now.getTime() + 25 * HOUR);
      const strict = verifyCrl(crl, h.intermediate.cert, { at: later });
      assert.equal(strict.valid, false);
      assert.deepEqual(
        strict.checks.filter((c) => !c.ok).map((c) => c.check),
        ['fresh'],
      );
      const lenient = verifyCrl(crl, h.intermediate.cert, { at: later, allowStale: true });
      assert.equal(lenient.valid, true);
      assert.equal(lenient.warnings.length, 1);
      const early = verifyCrl(crl, h.intermediate.cert, { at: new Date(now.getTime() - HOUR) });
      assert.equal(early.valid, false);
      assert.ok(early.errors.some((e) => e.includes('thisUpdate')));
    });

    test('malformed DER is rejected with a DecodeError saying why', () => {
      for (const [what, bad] of Object.entries(malformed(der))) {
        assert.throws(
          () => ParsedCrl.parse(bad),
          (e: unknown) => e instanceof DecodeError && e.message.length > 10,
          what,
        );
      }
    });

    test("BC's fixture CRL parses and verifies; tampered it does not", (t) => {
      if (!fixtures) return void requirePeer(t);
      const crlFile = join(fixtures, `${label}-intermediate.crl`);
      const issuerFile = join(fixtures, `${label}-intermediate.pem`);
      assert.ok(
        existsSync(crlFile) && existsSync(issuerFile),
        'fixture names changed (see the generated README)',
      );
      const bytes = readFileSync(crlFile);
      const issuer = ParsedCertificate.parse(readFileSync(issuerFile, 'utf8'));
      const crl = ParsedCrl.parse(bytes);
      assert.equal(crl.isRevoked('1001')?.reason, 'keyCompromise');
      assert.equal(crl.crlNumber !== undefined, true);
      const r = verifyCrl(crl, issuer);
      assert.equal(r.valid, true, r.errors.join('; '));
      const bad = new Uint8Array(bytes);
      bad[bad.length - 4]! ^= 0x01;
      assert.equal(verifyCrl(ParsedCrl.parse(bad), issuer).valid, false);
    });
  });
}

describe('CRL rules', () => {
  let h: TestHierarchy;
  before(async () => {
    h = await makeHierarchy('ec-p256');
  });
  const opts = (): CrlOptions => ({
    issuer: h.intermediate.cert,
    signer: h.intermediate.key.signer(),
    thisUpdate: new Date(),
    nextUpdate: new Date(Date.now() + HOUR),
    crlNumber: 1n,
    entries: [],
  });

  test('issuer without cRLSign in its key usage is rejected', async () => {
    const ca = await issueTestCertificate({
      subject: [['CN', 'No CRL signing CA']],
      key: PrivateKey.generate('ec-p256'),
      issuer: h.root,
      ca: true,
      replaceDefaults: true,
      extensions: [keyUsageExtension(['keyCertSign'])],
    });
    const der = await buildCrl({ ...opts(), issuer: ca.cert, signer: ca.key.signer() });
    const r = verifyCrl(ParsedCrl.parse(der), ca.cert);
    assert.equal(r.valid, false);
    assert.ok(r.errors.some((e) => e.includes('cRLSign')));
  });

  test('an unknown critical CRL extension makes the CRL invalid', async () => {
    const der = await buildCrl({
      ...opts(),
      extensions: [{ oid: '1.2.3.4.5', critical: true, value: Uint8Array.of(0x05, 0x00) }],
    });
    const r = verifyCrl(ParsedCrl.parse(der), h.intermediate.cert);
    assert.equal(r.valid, false);
    assert.ok(r.errors.some((e) => e.includes('1.2.3.4.5')));
  });

  test('builder refuses inconsistent input', async () => {
    const o = opts();
    await assert.rejects(buildCrl({ ...o, signer: h.root.key.signer() }), /issuer certificate's key/);
    await assert.rejects(buildCrl({ ...o, nextUpdate: o.thisUpdate }), /nextUpdate/);
    await assert.rejects(
      buildCrl({
        ...o,
        entries: [{ serialNumber: 1n, revocationDate: new Date(), reason: 'removeFromCRL' }],
      }),
      /delta/,
    );
    await assert.rejects(
      buildCrl({
        ...o,
        entries: [
          { serialNumber: '0a', revocationDate: new Date() },
          { serialNumber: 10n, revocationDate: new Date() },
        ],
      }),
      /twice/,
    );
    await assert.rejects(buildCrl({ ...o, crlNumber: 1n << 160n }), /20 octets/);
    await assert.rejects(buildCrl({ ...o, crlNumber: 5n, deltaBaseCrlNumber: 5n }), /greater/);
  });

  test('serial numbers normalise from hex text, colons, 0x and bigint', () => {
    assert.equal(normalizeSerial('00:10:01'), '1001');
    assert.equal(normalizeSerial('0x00AB'), 'ab');
    assert.equal(normalizeSerial(0xabn), 'ab');
    assert.throws(() => normalizeSerial('xyz'), RangeError);
  });

  test('PEM with another label is refused', async () => {
    const pem = ParsedCrl.parse(await buildCrl(opts())).toPem();
    assert.throws(() => ParsedCrl.parse(pem.replace(/X509 CRL/g, 'CERTIFICATE')), DecodeError);
  });

  test('never throws on a CRL it cannot use (unsupported signature algorithm)', async () => {
    const der = await buildCrl(opts());
    const crl = ParsedCrl.parse(der);
    // Replace the outer AlgorithmIdentifier OID's last arc: ecdsa-with-SHA256 → .4.3.9 (undefined).
    const bad = der.slice();
    const algAt = crl.tbsDer.length + (der.length - readTlv(der, 0).value.length);
    const oidAt = bad.indexOf(0x02, algAt + 4);
    bad[oidAt] = 0x09;
    const r = verifyCrl(ParsedCrl.parse(bad), h.intermediate.cert);
    assert.equal(r.valid, false);
    assert.ok(r.checks.some((c) => c.check === 'signature' && !c.ok));
  });
});

describe('CRL size', () => {
  test('110,000 entries build (no call-stack limit), parse back, and share reason-code bytes correctly', async () => {
    const h = await makeHierarchy('sm2');
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const reasons = ['keyCompromise', 'superseded', 'unspecified', 'certificateHold'] as const;
    const entries = Array.from({ length: 110_000 }, (_, i) => ({
      serialNumber: (0x100000 + i).toString(16),
      revocationDate: now,
      ...(i % 5 === 4 ? {} : { reason: reasons[i % 4]! }),
      ...(i === 7 ? { invalidityDate: new Date(now.getTime() - HOUR) } : {}),
    }));
    const der = await buildCrl({
      issuer: h.intermediate.cert,
      signer: h.intermediate.key.signer(),
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + 24 * HOUR),
      crlNumber: 1n,
      entries,
    });
    const crl = ParsedCrl.parse(der);
    assert.equal(crl.entries.length, 110_000);
    for (const i of [0, 1, 2, 3, 4, 7, 109_999]) {
      const e = crl.entries[i]!;
      const want = entries[i]!;
      assert.equal(e.serialNumber, want.serialNumber);
      assert.equal(e.reason, 'reason' in want && want.reason !== 'unspecified' ? want.reason : undefined);
    }
    assert.equal(crl.entries[7]!.invalidityDate?.getTime(), now.getTime() - HOUR);
    assert.equal(verifyCrl(crl, h.intermediate.cert).valid, true);
  });
});
