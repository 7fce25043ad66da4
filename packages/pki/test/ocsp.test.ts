import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readChildren, readTlv } from '@medsign/gm/der';
import { AsnConvert } from '@peculiar/asn1-schema';
import { KeyHash, ResponderID } from '@peculiar/asn1-ocsp';
import { Name } from '@peculiar/asn1-x509';
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
  type TestEntity,
  type TestHierarchy,
} from '@medsign/testkit';
import {
  DecodeError,
  UnsupportedError,
  extKeyUsageExtension,
  oids,
  ParsedCertificate,
  PrivateKey,
  type KeyType,
} from '@medsign/pki';
import {
  buildCertId,
  buildOcspErrorResponse,
  buildOcspRequest,
  buildOcspResponse,
  certIdMatchesIssuer,
  ParsedOcspRequest,
  ParsedOcspResponse,
  verifyOcspResponse,
  type OcspErrorStatus,
  type OcspResponseOptions,
} from '../src/ocsp.js';

const HOUR = 3_600_000;
const TYPES: [KeyType, string][] = [
  ['sm2', 'sm2'],
  ['rsa-2048', 'rsa'],
  ['ec-p256', 'ecdsa'],
];

/** The first child of tbsResponseData: the ResponderID CHOICE as encoded. */
function responderIdBytes(resp: ParsedOcspResponse): Uint8Array {
  const tbs = readTlv(resp.tbsResponseDataDer, 0);
  const first = readChildren(tbs.value)[0]!;
  return tbs.value.subarray(first.start, first.end);
}

let tmp: TempDir;
let fixtures: string | undefined;
before(() => {
  tmp = tempDir('medsign-ocsp-');
  fixtures = makeBcFixtures(tmp.file('bc'));
});
after(() => tmp.cleanup());

test('asn1-ocsp encodes ResponderID with EXPLICIT [1]/[2] tags (RFC 6960 module default)', () => {
  const byKey = new Uint8Array(
    AsnConvert.serialize(new ResponderID({ byKey: new KeyHash(new Uint8Array(20)) })),
  );
  assert.deepEqual([...byKey.subarray(0, 4)], [0xa2, 0x16, 0x04, 0x14]);
  const byName = new Uint8Array(AsnConvert.serialize(new ResponderID({ byName: new Name([]) })));
  assert.deepEqual([...byName], [0xa1, 0x02, 0x30, 0x00]);
});

for (const [type, label] of TYPES) {
  describe(`OCSP ${type}`, () => {
    let h: TestHierarchy;
    let delegated: TestEntity;
    let now: Date;
    let nonce: Uint8Array;
    let request: ParsedOcspRequest;
    const file = (name: string) => tmp.file(`${label}-${name}`);

    before(async () => {
      h = await makeHierarchy(type);
      delegated = await issueTestCertificate({
        subject: [
          ['C', 'CN'],
          ['O', '测试医院'],
          ['CN', 'OCSP 响应者'],
        ],
        key: PrivateKey.generate(type),
        issuer: h.intermediate,
        extensions: [extKeyUsageExtension([oids.id_kp_OCSPSigning])],
      });
      now = new Date(Math.floor(Date.now() / 1000) * 1000);
      nonce = new Uint8Array(randomBytes(16));
      const req = buildOcspRequest({
        issuer: h.intermediate.cert,
        serials: [h.leaf.cert.serialNumber, 0x1001n],
        nonce,
        hash: type === 'sm2' ? 'sm3' : 'sha1',
      });
      writeFileSync(file('req.der'), req);
      request = ParsedOcspRequest.parse(req);
      writeFileSync(file('issuer.pem'), h.intermediate.cert.toPem());
      writeFileSync(file('bundle.pem'), h.root.cert.toPem() + h.intermediate.cert.toPem());
    });

    const options = (
      responder: TestEntity,
      by: 'name' | 'key',
      extra: Partial<OcspResponseOptions> = {},
    ): OcspResponseOptions => ({
      issuer: h.intermediate.cert,
      responder: { signer: responder.key.signer(), certificate: responder.cert },
      responderIdBy: by,
      producedAt: now,
      responses: [
        {
          certId: request.certIds[0]!,
          status: 'good',
          thisUpdate: now,
          nextUpdate: new Date(now.getTime() + HOUR),
        },
        {
          certId: request.certIds[1]!,
          status: 'revoked',
          revocationTime: new Date(now.getTime() - HOUR),
          reason: 'keyCompromise',
          thisUpdate: now,
          nextUpdate: new Date(now.getTime() + HOUR),
        },
        { serialNumber: 0x2002n, status: 'unknown', thisUpdate: now },
      ],
      nonce: request.nonce!,
      ...extra,
    });

    test('request: CertIDs, hash and nonce parse back; openssl ocsp -req_text reads it', () => {
      assert.equal(request.certIds.length, 2);
      assert.equal(request.certIds[0]!.serialNumber, h.leaf.cert.serialNumber);
      assert.equal(request.certIds[1]!.serialNumber, '1001');
      assert.equal(request.certIds[0]!.hash, type === 'sm2' ? 'sm3' : 'sha1');
      assert.ok(request.certIds.every((c) => certIdMatchesIssuer(c, h.intermediate.cert)));
      assert.equal(certIdMatchesIssuer(request.certIds[0]!, h.root.cert), false);
      assert.deepEqual(request.nonce, nonce);
      assert.equal(request.signed, false);
      const r = runOpenssl(['ocsp', '-reqin', file('req.der'), '-req_text']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        // openssl prints whole bytes: an odd number of hex digits gets a leading 0
        new RegExp(
          `Serial Number: ${(h.leaf.cert.serialNumber.length % 2 ? '0' : '') + h.leaf.cert.serialNumber.toUpperCase()}`,
        ),
      );
      assert.match(r.stdout, /Serial Number: 1001/);
      assert.match(r.stdout, new RegExp(`Hash Algorithm: ${type === 'sm2' ? 'sm3' : 'sha1'}`));
      assert.match(r.stdout, /OCSP Nonce/);
      assert.match(r.stdout, new RegExp(Buffer.from(nonce).toString('hex').toUpperCase()));
    });

    for (const who of ['direct', 'delegated'] as const) {
      for (const by of ['name', 'key'] as const) {
        describe(`${who} responder, responderID by ${by}`, () => {
          let der: Uint8Array;
          const name = `resp-${who}-${by}.der`;
          before(async () => {
            der = await buildOcspResponse(options(who === 'direct' ? h.intermediate : delegated, by));
            writeFileSync(file(name), der);
          });

          test('parses back and verifies here', () => {
            const resp = ParsedOcspResponse.parse(der);
            assert.equal(resp.status, 'successful');
            assert.equal(resp.producedAt?.getTime(), now.getTime());
            assert.deepEqual(resp.nonce, nonce);
            assert.equal(resp.certificates.length, 1);
            const rid = responderIdBytes(resp);
            if (by === 'name') assert.deepEqual([...rid.subarray(0, 1)], [0xa1]);
            else assert.deepEqual([...rid.subarray(0, 4)], [0xa2, 0x16, 0x04, 0x14]);
            if (by === 'name') assert.equal(rid[rid[1]! & 0x80 ? 2 + (rid[1]! & 0x7f) : 2], 0x30);
            const [good, revoked, unknown] = resp.responses;
            assert.equal(good?.status, 'good');
            assert.equal(good?.nextUpdate?.getTime(), now.getTime() + HOUR);
            assert.deepEqual(good?.certId.der, request.certIds[0]!.der);
            assert.equal(revoked?.status, 'revoked');
            assert.equal(revoked?.reason, 'keyCompromise');
            assert.equal(revoked?.revocationTime?.getTime(), now.getTime() - HOUR);
            assert.equal(unknown?.status, 'unknown');
            assert.equal(unknown?.certId.hash, 'sha1');
            assert.equal(resp.responseFor(0x1001n)?.status, 'revoked');
            const v = verifyOcspResponse(resp, h.intermediate.cert, { at: now, nonce });
            assert.equal(v.valid, true, v.errors.join('; '));
            assert.equal(
              v.responder?.subjectText,
              (who === 'direct' ? h.intermediate : delegated).cert.subjectText,
            );
            assert.equal(v.responses.length, 3);
          });

          test('BC ocsp-verify accepts it', (t) => {
            const r = peerOrSkip(t, [
              'ocsp-verify',
              file(name),
              file('issuer.pem'),
              '--at',
              now.toISOString(),
            ]);
            if (!r) return;
            assert.equal(r.code, 0, JSON.stringify(r.json));
            assert.equal(r.json.responder, who === 'direct' ? 'issuer' : 'delegated');
          });

          if (type !== 'sm2') {
            test('openssl ocsp -respin verifies it', () => {
              const r = runOpenssl([
                'ocsp',
                '-respin',
                file(name),
                '-issuer',
                file('issuer.pem'),
                '-CAfile',
                file('bundle.pem'),
                '-no_nonce',
              ]);
              assert.equal(r.code, 0, r.stderr);
              assert.match(r.stdout + r.stderr, /Response verify OK/);
            });
          }

          test('tampered signature is invalid here and in BC', (t) => {
            const bad = der.slice();
            bad[indexOfSignatureEnd(der) - 2]! ^= 0x01;
            const v = verifyOcspResponse(ParsedOcspResponse.parse(bad), h.intermediate.cert, { at: now });
            assert.equal(v.valid, false);
            assert.ok(v.checks.some((c) => c.check === 'signature' && !c.ok));
            writeFileSync(file(`bad-${name}`), bad);
            const r = peerOrSkip(t, ['ocsp-verify', file(`bad-${name}`), file('issuer.pem')]);
            if (r) assert.equal(r.code, 1, JSON.stringify(r.json));
          });
        });
      }
    }

    test('wrong issuer, wrong nonce or a missing nonce are invalid', async () => {
      const resp = ParsedOcspResponse.parse(await buildOcspResponse(options(h.intermediate, 'name')));
      const other = await makeHierarchy(type, '另一医院');
      const wrong = verifyOcspResponse(resp, other.intermediate.cert, { at: now });
      assert.equal(wrong.valid, false);
      assert.ok(wrong.errors.some((e) => e.includes('CertID names the issuer')));
      const byRoot = verifyOcspResponse(resp, h.root.cert, { at: now });
      assert.equal(byRoot.valid, false);
      const badNonce = verifyOcspResponse(resp, h.intermediate.cert, { at: now, nonce: new Uint8Array(16) });
      assert.equal(badNonce.valid, false);
      assert.ok(badNonce.errors.some((e) => e.startsWith('nonce')));
      const { nonce: _drop, ...noNonce } = options(h.intermediate, 'name');
      void _drop;
      const without = ParsedOcspResponse.parse(await buildOcspResponse(noNonce));
      assert.equal(without.nonce, undefined);
      assert.equal(verifyOcspResponse(without, h.intermediate.cert, { at: now, nonce }).valid, false);
      assert.equal(verifyOcspResponse(without, h.intermediate.cert, { at: now }).valid, true);
    });

    test('delegated responder: missing EKU, wrong issuer, expired → invalid', async () => {
      const noEku = await issueTestCertificate({
        subject: [['CN', 'not a responder']],
        key: PrivateKey.generate(type),
        issuer: h.intermediate,
      });
      const fromRoot = await issueTestCertificate({
        subject: [['CN', 'root responder']],
        key: PrivateKey.generate(type),
        issuer: h.root,
        extensions: [extKeyUsageExtension([oids.id_kp_OCSPSigning])],
      });
      const expired = await issueTestCertificate({
        subject: [['CN', 'expired responder']],
        key: PrivateKey.generate(type),
        issuer: h.intermediate,
        notBefore: new Date(now.getTime() - 48 * HOUR),
        notAfter: new Date(now.getTime() - 24 * HOUR),
        extensions: [extKeyUsageExtension([oids.id_kp_OCSPSigning])],
      });
      const cases: [TestEntity, string][] = [
        [noEku, 'id-kp-OCSPSigning'],
        [fromRoot, 'issued by the issuer'],
        [expired, 'responder certificate validity'],
      ];
      for (const [responder, expect] of cases) {
        const resp = ParsedOcspResponse.parse(await buildOcspResponse(options(responder, 'key')));
        const v = verifyOcspResponse(resp, h.intermediate.cert, { at: now });
        assert.equal(v.valid, false, expect);
        assert.ok(
          v.errors.some((e) => e.includes(expect)),
          `${expect}: ${v.errors.join('; ')}`,
        );
      }
    });

    test("stale nextUpdate fails 'fresh'; allowStale makes it a warning; future thisUpdate fails", async () => {
      const resp = ParsedOcspResponse.parse(await buildOcspResponse(options(h.intermediate, 'name')));
      const later = new Date(now.getTime() + 2 * HOUR);
      const strict = verifyOcspResponse(resp, h.intermediate.cert, { at: later });
      assert.equal(strict.valid, false);
      assert.ok(strict.errors.every((e) => e.includes(': fresh')));
      const lenient = verifyOcspResponse(resp, h.intermediate.cert, { at: later, allowStale: true });
      assert.equal(lenient.valid, true);
      assert.equal(lenient.warnings.length, 2); // the 'unknown' response has no nextUpdate
      const early = verifyOcspResponse(resp, h.intermediate.cert, { at: new Date(now.getTime() - HOUR) });
      assert.equal(early.valid, false);
      assert.ok(early.errors.some((e) => e.includes('producedAt')));
    });

    test('CertID with SHA-256 and SM3 names the issuer with its own hash', async () => {
      for (const hash of ['sha256', 'sm3'] as const) {
        const id = buildCertId(h.intermediate.cert, h.leaf.cert.serialNumber, hash);
        assert.equal(id.issuerNameHash.length, 32);
        const resp = ParsedOcspResponse.parse(
          await buildOcspResponse({
            ...options(h.intermediate, 'name'),
            responses: [{ certId: id, status: 'good', thisUpdate: now }],
          }),
        );
        assert.equal(resp.responses[0]?.certId.hash, hash);
        assert.equal(verifyOcspResponse(resp, h.intermediate.cert, { at: now }).valid, true);
      }
    });

    test("BC's fixture request parses and its responses (byName, byKey) verify here", (t) => {
      if (!fixtures) return void requirePeer(t);
      const issuerFile = join(fixtures, `${label}-intermediate.pem`);
      const reqFile = join(fixtures, `${label}-ocsp-req.der`);
      assert.ok(
        existsSync(issuerFile) && existsSync(reqFile),
        'fixture names changed (see the generated README)',
      );
      const issuer = ParsedCertificate.parse(readFileSync(issuerFile, 'utf8'));
      const req = ParsedOcspRequest.parse(readFileSync(reqFile));
      assert.equal(req.certIds[0]?.hash, 'sha1');
      assert.ok(req.nonce);
      assert.ok(certIdMatchesIssuer(req.certIds[0]!, issuer));
      for (const f of ['ocsp-resp', 'ocsp-resp-bykey']) {
        const bytes: Uint8Array = readFileSync(join(fixtures, `${label}-${f}.der`));
        const resp = ParsedOcspResponse.parse(bytes);
        assert.equal('byKey' in resp.responderId!, f === 'ocsp-resp-bykey', f);
        const v = verifyOcspResponse(resp, issuer, { nonce: req.nonce! });
        assert.equal(v.valid, true, `${f}: ${v.errors.join('; ')}`);
        assert.equal(v.responses[0]?.status, 'good');
        assert.deepEqual(v.responses[0]?.certId.der, req.certIds[0]?.der);
        const bad: Uint8Array = new Uint8Array(bytes);
        bad[indexOfSignatureEnd(bad) - 2]! ^= 0x01;
        assert.equal(verifyOcspResponse(ParsedOcspResponse.parse(bad), issuer).valid, false, f);
      }
    });

    test('malformed request and response DER are rejected with a DecodeError saying why', async () => {
      const resp = await buildOcspResponse(options(delegated, 'key'));
      for (const [what, bad] of Object.entries(malformed(resp))) {
        assert.throws(
          () => ParsedOcspResponse.parse(bad),
          (e: unknown) => e instanceof DecodeError && e.message.length > 10,
          `response ${what}`,
        );
      }
      for (const [what, bad] of Object.entries(malformed(request.der))) {
        assert.throws(
          () => ParsedOcspRequest.parse(bad),
          (e: unknown) => e instanceof DecodeError && e.message.length > 10,
          `request ${what}`,
        );
      }
    });
  });
}

/**
 * Offset just past the BasicOCSPResponse signature BIT STRING inside an OCSPResponse (the certs
 * follow it), so a test can flip a byte of the signature itself.
 */
function indexOfSignatureEnd(der: Uint8Array): number {
  const top = readTlv(der, 0);
  const rb = readChildren(top.value)[1]!; // [0] responseBytes
  const seq = readChildren(rb.value)[0]!;
  const octets = readChildren(seq.value)[1]!;
  const basic = readTlv(octets.value, 0);
  const sig = readChildren(basic.value)[2]!;
  return sig.value.byteOffset - der.byteOffset + sig.value.length;
}

describe('OCSP error responses and rules', () => {
  const statuses: OcspErrorStatus[] = [
    'malformedRequest',
    'internalError',
    'tryLater',
    'sigRequired',
    'unauthorized',
  ];
  let h: TestHierarchy;
  before(async () => {
    h = await makeHierarchy('ec-p256');
  });

  test('each error status round-trips and verifies as invalid without throwing', () => {
    for (const s of statuses) {
      const der = buildOcspErrorResponse(s);
      const resp = ParsedOcspResponse.parse(der);
      assert.equal(resp.status, s);
      assert.equal(resp.responses.length, 0);
      const v = verifyOcspResponse(resp, h.intermediate.cert);
      assert.equal(v.valid, false);
      assert.match(v.errors[0]!, new RegExp(s));
    }
    const f = tmp.file('trylater.der', buildOcspErrorResponse('tryLater'));
    const r = runOpenssl(['ocsp', '-respin', f, '-resp_text', '-noverify']);
    assert.match(r.stdout + r.stderr, /Responder Error: trylater \(3\)/);
  });

  test('an error status with responseBytes, an undefined status and a non-basic type are rejected', () => {
    assert.throws(
      () => ParsedOcspResponse.parse(Uint8Array.of(0x30, 0x03, 0x0a, 0x01, 0x04)),
      /responseStatus 4/,
    );
    assert.throws(
      () => ParsedOcspResponse.parse(Uint8Array.of(0x30, 0x07, 0x0a, 0x01, 0x03, 0xa0, 0x02, 0x30, 0x00)),
      DecodeError,
    );
    assert.throws(
      () => ParsedOcspResponse.parse(Uint8Array.of(0x30, 0x03, 0x0a, 0x01, 0x00)),
      /responseBytes/,
    );
    const other = Uint8Array.of(
      0x30,
      0x0d,
      0x0a,
      0x01,
      0x00,
      0xa0,
      0x08,
      0x30,
      0x06,
      0x06,
      0x02,
      0x2a,
      0x03,
      0x04,
      0x00,
    );
    assert.throws(() => ParsedOcspResponse.parse(other), UnsupportedError);
  });

  test('builder refuses a responder key that does not match its certificate', async () => {
    await assert.rejects(
      buildOcspResponse({
        issuer: h.intermediate.cert,
        responder: { signer: h.root.key.signer(), certificate: h.intermediate.cert },
        responderIdBy: 'name',
        producedAt: new Date(),
        responses: [{ serialNumber: 1n, status: 'good', thisUpdate: new Date() }],
      }),
      /responder certificate's key/,
    );
    assert.throws(() => buildOcspRequest({ issuer: h.intermediate.cert, serials: [] }), RangeError);
  });
});
