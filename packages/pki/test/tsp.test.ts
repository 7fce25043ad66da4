/**
 * RFC 3161 time-stamps with SM2/SM3, RSA and ECDSA: requests, TSTInfo (GeneralizedTime fractions),
 * tokens, responses, verification and its refusals, and interop with the Bouncy Castle peer (both ways)
 * and the OpenSSL CLI (`openssl ts`, RSA/ECDSA). A BC peer setup failure (exit 3) fails in CI and skips
 * elsewhere.
 */

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTlv } from '@medsign/gm/der';
import {
  issueTestCertificate,
  makeHierarchy,
  makeBcFixtures,
  peerOrSkip,
  requirePeer,
  runOpenssl,
  tempDir,
  type TempDir,
  type TestHierarchy,
} from '@medsign/testkit';
import { digest, type HashName } from '../src/algorithms.js';
import { ParsedCertificate } from '../src/certificate.js';
import { readSigningCertificate } from '../src/cms-attributes.js';
import { ParsedCms } from '../src/cms.js';
import { DecodeError } from '../src/errors.js';
import { extKeyUsageExtension, type CertExtension } from '../src/extensions.js';
import type { KeyType } from '../src/keys.js';
import * as oid from '../src/oids.js';
import {
  buildTimeStampReq,
  buildTimeStampResp,
  buildTstInfo,
  parseTimeStampReq,
  parseTimeStampResp,
  parseTstInfo,
  signTimeStampToken,
  verifyTimeStampToken,
  type TstInfoFields,
} from '../src/tsp.js';

const DATA = new TextEncoder().encode('检验报告 LIS-2024-000731: 血常规 正常\n');
const TYPES: KeyType[] = ['sm2', 'rsa-2048', 'ec-p256'];
const hashOf = (t: KeyType): HashName => (t === 'sm2' ? 'sm3' : 'sha256');
const POLICY = '1.2.156.112562.1.1';

let tmp: TempDir;
const file = (name: string, bytes?: Uint8Array | string) => tmp.file(name, bytes);
const h: Partial<Record<KeyType, TestHierarchy>> = {};
const H = (t: KeyType) => h[t]!;
let fixtures = '';
function flip(der: Uint8Array, at: number): Uint8Array {
  const copy = Uint8Array.from(der);
  copy[at]! ^= 0x01;
  return copy;
}

function fields(t: KeyType, over: Partial<TstInfoFields> = {}): TstInfoFields {
  return {
    policy: POLICY,
    messageImprint: { hash: hashOf(t), hashedMessage: digest(hashOf(t), DATA) },
    serialNumber: 0x1234567890abcdefn,
    genTime: new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000 + 250),
    accuracy: { seconds: 1 },
    nonce: 0xfedcba9876543210n,
    ...over,
  };
}

/** A token by the hierarchy's TSA, embedding the TSA and intermediate certificates. */
async function token(t: KeyType, over: Partial<TstInfoFields> = {}): Promise<Uint8Array> {
  const { tsa, intermediate } = H(t);
  return signTimeStampToken(fields(t, over), tsa.key.signer(), tsa.cert, true, {
    certificates: [intermediate.cert],
  });
}

before(async () => {
  tmp = tempDir('medsign-tsp-');
  for (const t of TYPES) h[t] = await makeHierarchy(t);
  file('data.bin', DATA);
  for (const t of TYPES) {
    file(`${t}-root.pem`, H(t).root.cert.toPem());
    file(`${t}-chain.pem`, H(t).root.cert.toPem() + H(t).intermediate.cert.toPem());
  }
  fixtures = makeBcFixtures(file('bc')) ?? '';
});

after(() => tmp?.cleanup());

describe('TimeStampReq', () => {
  test('build → parse round trip (SM3 over data, SHA-256 imprint, all optional fields)', () => {
    const req = parseTimeStampReq(buildTimeStampReq({ hash: 'sm3', data: DATA, nonce: 42n, certReq: true }));
    assert.equal(req.version, 1);
    assert.equal(req.messageImprint.hash, 'sm3');
    assert.equal(req.messageImprint.hashAlgorithm, oid.id_sm3);
    assert.deepEqual(req.messageImprint.hashedMessage, digest('sm3', DATA));
    assert.equal(req.nonce, 42n);
    assert.equal(req.certReq, true);

    const ext: CertExtension = { oid: '1.2.3.4.5', critical: false, value: Uint8Array.of(0x05, 0x00) };
    const imprint = digest('sha256', DATA);
    const der = buildTimeStampReq({ hash: 'sha256', imprint, reqPolicy: POLICY, extensions: [ext] });
    const r2 = parseTimeStampReq(der);
    assert.equal(r2.reqPolicy, POLICY);
    assert.equal(r2.certReq, false);
    assert.equal(r2.nonce, undefined);
    assert.deepEqual(r2.extensions, [ext]);
    assert.deepEqual(r2.messageImprint.hashedMessage, imprint);
    // certReq FALSE is the DEFAULT and is not encoded
    assert.equal(Buffer.from(der).includes(Buffer.from([0x01, 0x01, 0x00])), false);
  });

  test('argument and encoding errors', () => {
    assert.throws(() => buildTimeStampReq({ hash: 'sm3' }), RangeError);
    assert.throws(
      () => buildTimeStampReq({ hash: 'sm3', data: DATA, imprint: new Uint8Array(32) }),
      RangeError,
    );
    assert.throws(() => buildTimeStampReq({ hash: 'sha256', imprint: new Uint8Array(20) }), RangeError);
    const der = buildTimeStampReq({ hash: 'sm3', data: DATA, nonce: 7n });
    const outer = readTlv(der, 0);
    for (const bad of [
      der.subarray(0, der.length - 1),
      Buffer.concat([der, Uint8Array.of(0)]),
      Buffer.concat([Uint8Array.of(0x30, 0x80), outer.value, Uint8Array.of(0, 0)]),
    ]) {
      assert.throws(() => parseTimeStampReq(bad), DecodeError);
    }
  });
});

describe('TSTInfo', () => {
  test('genTime keeps milliseconds without trailing zeros (RFC 3161 §2.4.2)', () => {
    const base = Date.UTC(2030, 0, 2, 3, 4, 5);
    const cases: [number, string][] = [
      [0, '20300102030405Z'],
      [120, '20300102030405.12Z'],
      [5, '20300102030405.005Z'],
      [500, '20300102030405.5Z'],
      [999, '20300102030405.999Z'],
    ];
    for (const [ms, text] of cases) {
      const tst = parseTstInfo(buildTstInfo(fields('sm2', { genTime: new Date(base + ms) })));
      assert.equal(tst.genTimeText, text);
      assert.equal(tst.genTime.getTime(), base + ms);
    }
  });

  test('all fields round-trip', () => {
    const ext: CertExtension = { oid: '1.2.3.9', critical: true, value: Uint8Array.of(0x02, 0x01, 0x05) };
    const der = buildTstInfo(
      fields('sm2', {
        accuracy: { seconds: 2, millis: 500, micros: 10 },
        ordering: true,
        tsaName: [
          ['C', 'CN'],
          ['O', '测试医院'],
          ['CN', '时间戳服务'],
        ],
        extensions: [ext],
      }),
    );
    const tst = parseTstInfo(der);
    assert.equal(tst.version, 1);
    assert.equal(tst.policy, POLICY);
    assert.equal(tst.serialNumber, 0x1234567890abcdefn);
    assert.equal(tst.nonce, 0xfedcba9876543210n);
    assert.deepEqual(tst.accuracy, { seconds: 2, millis: 500, micros: 10 });
    assert.equal(tst.ordering, true);
    assert.equal(tst.tsaName, 'C=CN, O=测试医院, CN=时间戳服务');
    assert.deepEqual(tst.extensions, [ext]);
    assert.equal(tst.messageImprint.hash, 'sm3');
    // minimal form: no accuracy, ordering or nonce
    const min = parseTstInfo(buildTstInfo({ ...fields('rsa-2048'), accuracy: undefined, nonce: undefined }));
    assert.equal(min.accuracy, undefined);
    assert.equal(min.nonce, undefined);
    assert.equal(min.ordering, false);
    assert.throws(() => buildTstInfo(fields('sm2', { serialNumber: 0n })), RangeError);
    assert.throws(() => buildTstInfo(fields('sm2', { accuracy: { millis: 1000 } })), RangeError);
  });
});

describe('tokens and responses', () => {
  for (const t of TYPES) {
    test(`${t}: sign → verify (token and granted response)`, async () => {
      const { root, tsa } = H(t);
      const tok = await token(t);
      const cms = ParsedCms.parse(tok);
      assert.equal(cms.contentType, oid.id_signedData);
      assert.equal(cms.eContentType, oid.id_ct_TSTInfo);
      assert.equal(cms.version, 3);
      const ess = cms.signerInfos[0]!.signedAttributes!.find(
        (a) => a.oid === oid.id_aa_signingCertificateV2,
      )!;
      assert.equal(readSigningCertificate(ess.values[0]!, 2)[0]!.hash, hashOf(t));

      const r = verifyTimeStampToken(tok, { data: DATA, anchors: [root.cert] });
      assert.deepEqual(r.errors, []);
      assert.equal(r.valid, true);
      assert.equal(r.serial, 0x1234567890abcdefn);
      assert.equal(r.nonce, 0xfedcba9876543210n);
      assert.equal(r.policy, POLICY);
      assert.equal(r.hashAlgorithm, hashOf(t));
      assert.deepEqual(r.accuracy, { seconds: 1 });
      assert.equal(r.genTime?.getUTCMilliseconds(), 250);
      assert.equal(r.tsaCertificate?.subjectText, tsa.cert.subjectText);
      assert.equal(r.chain?.valid, true);

      const resp = buildTimeStampResp({ status: 'granted', token: tok });
      const parsed = parseTimeStampResp(resp);
      assert.equal(parsed.status, 0);
      assert.equal(parsed.statusName, 'granted');
      assert.deepEqual(parsed.token, tok);
      const rr = verifyTimeStampToken(resp, {
        imprint: { hash: hashOf(t), hashedMessage: digest(hashOf(t), DATA) },
      });
      assert.equal(rr.valid, true, rr.errors.join('; '));
      assert.equal(rr.status, 0);
    });
  }

  test('the TSA certificate may be left out and supplied by the verifier', async () => {
    const { tsa, root, intermediate } = H('sm2');
    const tok = await signTimeStampToken(fields('sm2'), tsa.key.signer(), tsa.cert, false);
    assert.equal(ParsedCms.parse(tok).certificates.length, 0);
    const r = verifyTimeStampToken(tok, { data: DATA });
    assert.equal(r.valid, false);
    assert.match(r.errors.join(), /signer certificate failed/);
    const r2 = verifyTimeStampToken(tok, {
      data: DATA,
      certificates: [tsa.cert, intermediate.cert],
      anchors: [root.cert],
    });
    assert.equal(r2.valid, true, r2.errors.join('; '));
  });

  test('GM/T 0010 wrapping (SM2 signedData around SM2 data) is accepted', async () => {
    const { tsa, root, intermediate } = H('sm2');
    const tok = await signTimeStampToken(fields('sm2'), tsa.key.signer(), tsa.cert, true, {
      gmOids: true,
      certificates: [intermediate.cert],
    });
    const cms = ParsedCms.parse(tok);
    assert.equal(cms.contentType, oid.id_gm_signedData);
    assert.equal(cms.eContentType, oid.id_gm_data);
    const r = verifyTimeStampToken(tok, { data: DATA, anchors: [root.cert] });
    assert.equal(r.valid, true, r.errors.join('; '));
  });

  test('refusals: status, failInfo and statusString', () => {
    const der = buildTimeStampResp({
      status: 'rejection',
      failInfo: ['badAlg'],
      statusString: 'SHA-1 is not accepted',
    });
    // PKIFailureInfo badAlg = bit 0: BIT STRING 03 02 07 80
    assert.ok(Buffer.from(der).includes(Buffer.from([0x03, 0x02, 0x07, 0x80])));
    const p = parseTimeStampResp(der);
    assert.equal(p.statusName, 'rejection');
    assert.deepEqual(p.failInfo, ['badAlg']);
    assert.deepEqual(p.statusStrings, ['SHA-1 is not accepted']);
    assert.equal(p.token, undefined);
    const r = verifyTimeStampToken(der, { data: DATA });
    assert.equal(r.valid, false);
    assert.match(r.errors.join(), /status rejection \(badAlg\): SHA-1 is not accepted/);

    const many = parseTimeStampResp(
      buildTimeStampResp({ status: 'rejection', failInfo: ['unacceptedPolicy', 'systemFailure'] }),
    );
    assert.deepEqual(many.failInfo.sort(), ['systemFailure', 'unacceptedPolicy']);
    assert.throws(() => buildTimeStampResp({ status: 'granted' }), RangeError);
    assert.throws(() => buildTimeStampResp({ status: 'waiting', token: new Uint8Array() }), RangeError);
  });
});

describe('verification failures', () => {
  test('imprint over other data', async () => {
    const tok = await token('sm2');
    const r = verifyTimeStampToken(tok, { data: flip(DATA, 0) });
    assert.equal(r.valid, false);
    assert.match(r.errors.join(), /message imprint failed: does not match the sm3 digest/);
    assert.equal(verifyTimeStampToken(tok, { imprint: digest('sha256', DATA) }).valid, false);
    assert.equal(
      verifyTimeStampToken(tok, { imprint: { hash: 'sha256', hashedMessage: digest('sm3', DATA) } }).valid,
      false,
    );
    assert.match(verifyTimeStampToken(tok).errors.join(), /neither data nor imprint/);
  });

  test('TSA certificate EKU must be critical and timeStamping only (RFC 3161 §2.3)', async () => {
    const { intermediate, root } = H('sm2');
    const cases: [string, CertExtension[], RegExp][] = [
      ['non-critical', [extKeyUsageExtension([oid.id_kp_timeStamping], false)], /not critical/],
      [
        'two purposes',
        [extKeyUsageExtension([oid.id_kp_timeStamping, oid.id_kp_serverAuth], true)],
        /timeStamping only/,
      ],
      ['absent', [], /no extendedKeyUsage/],
    ];
    for (const [name, extensions, reason] of cases) {
      const tsa = await issueTestCertificate({
        subject: [['CN', `TSA ${name}`]],
        key: H('sm2').tsa.key,
        issuer: intermediate,
        extensions,
      });
      const tok = await signTimeStampToken(fields('sm2'), tsa.key.signer(), tsa.cert, true, {
        certificates: [intermediate.cert],
      });
      const r = verifyTimeStampToken(tok, { data: DATA, anchors: [root.cert] });
      assert.equal(r.valid, false, name);
      assert.match(r.errors.join('\n'), reason, name);
      assert.equal(r.checks.find((c) => c.check === 'signature')?.ok, true, name);
    }
  });

  test('genTime outside the TSA certificate validity; wrong anchors', async () => {
    const { tsa, root } = H('rsa-2048');
    const early = await token('rsa-2048', { genTime: new Date(tsa.cert.notBefore.getTime() - 3_600_000) });
    const r = verifyTimeStampToken(early, { data: DATA });
    assert.equal(r.valid, false);
    assert.match(r.errors.join(), /valid at genTime failed/);
    const ok = await token('rsa-2048');
    assert.equal(verifyTimeStampToken(ok, { data: DATA, anchors: [root.cert] }).valid, true);
    const r2 = verifyTimeStampToken(ok, { data: DATA, anchors: [H('sm2').root.cert] });
    assert.equal(r2.valid, false);
    assert.match(r2.errors.join(), /TSA certificate chain failed/);
  });

  test('tampered TSTInfo or signature', async () => {
    for (const t of TYPES) {
      const tok = await token(t);
      const cms = ParsedCms.parse(tok);
      const at = Buffer.from(tok).indexOf(Buffer.from(cms.content!)) + cms.content!.length - 3; // inside the nonce
      const r = verifyTimeStampToken(flip(tok, at), { data: DATA });
      assert.equal(r.valid, false, t);
      assert.match(r.errors.join(), /messageDigest/);
      const sig = cms.signerInfos[0]!.signature;
      const sigAt = Buffer.from(tok).indexOf(Buffer.from(sig)) + 8;
      assert.equal(verifyTimeStampToken(flip(tok, sigAt), { data: DATA }).valid, false, t);
    }
  });

  test('a token signed with an ordinary signing certificate is refused', async () => {
    const { leaf, intermediate } = H('ec-p256');
    const tok = await signTimeStampToken(fields('ec-p256'), leaf.key.signer(), leaf.cert, true, {
      certificates: [intermediate.cert],
    });
    const r = verifyTimeStampToken(tok, { data: DATA });
    assert.equal(r.valid, false);
    assert.match(r.errors.join(), /no extendedKeyUsage/);
  });

  test('malformed input: parsers throw DecodeError, verify never throws', async () => {
    const tok = await token('sm2');
    const resp = buildTimeStampResp({ status: 'granted', token: tok });
    const tst = ParsedCms.parse(tok).content!;
    for (const der of [tok, resp, tst]) {
      const outer = readTlv(der, 0);
      const bad = [
        der.subarray(0, der.length - 1),
        Buffer.concat([der, Uint8Array.of(0)]),
        Buffer.concat([Uint8Array.of(0x30, 0x80), outer.value, Uint8Array.of(0, 0)]),
      ];
      for (const b of bad) {
        if (der === resp) assert.throws(() => parseTimeStampResp(b), DecodeError);
        if (der === tst) assert.throws(() => parseTstInfo(b), DecodeError);
        const r = verifyTimeStampToken(b, { data: DATA });
        assert.equal(r.valid, false);
        assert.match(r.errors[0]!, /well-formed/);
      }
    }
    for (let i = 0; i < 300; i++) {
      const copy = Uint8Array.from(resp);
      copy[Math.floor(Math.random() * copy.length)] = Math.floor(Math.random() * 256);
      assert.doesNotThrow(() => verifyTimeStampToken(copy, { data: DATA }));
    }
  });
});

describe('Bouncy Castle peer', () => {
  for (const t of TYPES) {
    test(`${t}: BC tsp-verify accepts our token and response`, async (tc) => {
      if (!requirePeer(tc)) return;
      const tok = await token(t);
      for (const [name, der] of [
        ['token', tok],
        ['response', buildTimeStampResp({ status: 'granted', token: tok })],
      ] as const) {
        const r = peerOrSkip(tc, [
          'tsp-verify',
          file(`${t}.tsr`, der),
          file('data.bin'),
          '--ca',
          file(`${t}-root.pem`),
        ]);
        if (!r) return;
        assert.equal(r.code, 0, `${t} ${name}: ${JSON.stringify(r.json)}`);
      }
      // and refuses it for other data
      const r = peerOrSkip(tc, ['tsp-verify', file(`${t}.tsr`, tok), file('other.bin', flip(DATA, 1))]);
      if (r) assert.equal(r.code, 1);
    });
  }

  for (const x of ['sm2', 'rsa', 'ecdsa']) {
    test(`BC fixtures (${x}): request parses, response and token verify here, tampered copies do not`, (tc) => {
      if (!requirePeer(tc)) return;
      const fx = (n: string) => new Uint8Array(readFileSync(join(fixtures, n)));
      const data = fx('data.txt');
      const root = ParsedCertificate.parse(fx(`${x}-root.pem`));
      const req = parseTimeStampReq(fx(`${x}-tsq.der`));
      assert.equal(req.messageImprint.hash, x === 'sm2' ? 'sm3' : 'sha256');
      assert.equal(req.certReq, true);
      for (const n of [`${x}-tsr.der`, `${x}-tst.der`]) {
        const der = fx(n);
        const r = verifyTimeStampToken(der, { data, anchors: [root] });
        assert.equal(r.valid, true, `${n}: ${r.errors.join('; ')}`);
        assert.equal(r.policy, '1.2.3.4.1');
        assert.equal(verifyTimeStampToken(der, { data: flip(data, 4) }).valid, false, `${n} other data`);
        const tok = n.includes('tsr') ? parseTimeStampResp(der).token! : der;
        const sig = ParsedCms.parse(tok).signerInfos[0]!.signature;
        const at = Buffer.from(der).indexOf(Buffer.from(sig)) + 12;
        assert.equal(verifyTimeStampToken(flip(der, at), { data }).valid, false, `${n} signature flipped`);
      }
    });
  }
});

describe('OpenSSL CLI (RSA and ECDSA)', () => {
  test('openssl ts -query output parses', () => {
    const q = file('q.tsq');
    const r = runOpenssl(['ts', '-query', '-data', file('data.bin'), '-sha256', '-cert', '-out', q]);
    assert.equal(r.code, 0, r.stderr);
    const req = parseTimeStampReq(new Uint8Array(readFileSync(q)));
    assert.equal(req.messageImprint.hash, 'sha256');
    assert.deepEqual(req.messageImprint.hashedMessage, digest('sha256', DATA));
    assert.equal(req.certReq, true);
    assert.ok(req.nonce !== undefined);
  });

  for (const t of ['rsa-2048', 'ec-p256'] as const) {
    test(`${t}: openssl ts -reply -text and ts -verify accept our responses`, async () => {
      const tok = await token(t, { tsaName: H(t).tsa.cert.subject, ordering: true });
      const resp = file(`${t}-ours.tsr`, buildTimeStampResp({ status: 'granted', token: tok }));
      const text = runOpenssl(['ts', '-reply', '-in', resp, '-text']);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /Status: Granted/);
      assert.match(text.stdout, new RegExp(`Policy OID: ${POLICY.replace(/\./g, '\\.')}`));
      assert.match(text.stdout, /Ordering: yes/);
      const v = runOpenssl([
        'ts',
        '-verify',
        '-data',
        file('data.bin'),
        '-in',
        resp,
        '-CAfile',
        file(`${t}-chain.pem`),
      ]);
      assert.equal(v.code, 0, v.stdout + v.stderr);
      assert.match(v.stdout, /Verification: OK/);
      const bad = runOpenssl([
        'ts',
        '-verify',
        '-data',
        file('other.bin', flip(DATA, 0)),
        '-in',
        resp,
        '-CAfile',
        file(`${t}-chain.pem`),
      ]);
      assert.notEqual(bad.code, 0);
      // a tsa name that is not the TSA certificate's subject: OpenSSL and we both refuse it
      const misnamed = await token(t, { tsaName: [['CN', 'someone else']] });
      const mresp = file(`${t}-misnamed.tsr`, buildTimeStampResp({ status: 'granted', token: misnamed }));
      const mv = runOpenssl([
        'ts',
        '-verify',
        '-data',
        file('data.bin'),
        '-in',
        mresp,
        '-CAfile',
        file(`${t}-chain.pem`),
      ]);
      assert.notEqual(mv.code, 0);
      const ours = verifyTimeStampToken(misnamed, { data: DATA });
      assert.equal(ours.valid, false);
      assert.match(ours.errors.join(), /tsa name matches the TSA certificate failed/);
    });
  }

  test('openssl ts -reply tokens (RSA TSA) verify here', () => {
    const { tsa, intermediate, root } = H('rsa-2048');
    file('tsa.pem', tsa.cert.toPem());
    file('tsa.key', tsa.key.toPem());
    file('inter.pem', intermediate.cert.toPem());
    file('tsaserial', '01\n');
    const cfg = file(
      'tsa.cnf',
      [
        '[ tsa ]',
        'default_tsa = tsa_config1',
        '[ tsa_config1 ]',
        `dir = ${tmp.path}`,
        'serial = $dir/tsaserial',
        'crypto_device = builtin',
        'signer_cert = $dir/tsa.pem',
        'certs = $dir/inter.pem',
        'signer_key = $dir/tsa.key',
        'signer_digest = sha256',
        'default_policy = 1.2.3.4.1',
        'digests = sha256, sha384, sha512',
        'accuracy = secs:1, millisecs:500, microsecs:100',
        'clock_precision_digits = 3',
        'ordering = yes',
        'tsa_name = yes',
        'ess_cert_id_chain = no',
        'ess_cert_id_alg = sha256',
        '',
      ].join('\n'),
    );
    const query = file(
      'ours.tsq',
      buildTimeStampReq({ hash: 'sha256', data: DATA, nonce: 0x0123456789n, certReq: true }),
    );
    const out = file('openssl.tsr');
    const r = runOpenssl(['ts', '-reply', '-config', cfg, '-queryfile', query, '-out', out]);
    assert.equal(r.code, 0, r.stderr);
    const resp = new Uint8Array(readFileSync(out));
    const parsed = parseTimeStampResp(resp);
    assert.equal(parsed.statusName, 'granted', parsed.statusStrings.join());
    const v = verifyTimeStampToken(resp, { data: DATA, anchors: [root.cert] });
    assert.equal(v.valid, true, v.errors.join('; '));
    assert.equal(v.nonce, 0x0123456789n);
    assert.equal(v.policy, '1.2.3.4.1');
    assert.deepEqual(v.accuracy, { seconds: 1, millis: 500, micros: 100 });
    assert.equal(v.ordering, true);
    assert.ok(v.tsaName?.includes('TSA'));
    assert.match(v.tstInfo!.genTimeText, /^\d{14}(\.\d*[1-9])?Z$/);

    // the bare token form, and a tampered copy
    const tokOut = file('openssl.tst');
    const r2 = runOpenssl([
      'ts',
      '-reply',
      '-config',
      cfg,
      '-queryfile',
      query,
      '-token_out',
      '-out',
      tokOut,
    ]);
    assert.equal(r2.code, 0, r2.stderr);
    const tok = new Uint8Array(readFileSync(tokOut));
    assert.equal(verifyTimeStampToken(tok, { data: DATA, anchors: [root.cert] }).valid, true);
    assert.equal(verifyTimeStampToken(tok, { data: flip(DATA, 3) }).valid, false);
  });
});
