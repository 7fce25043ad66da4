/**
 * CMS SignedData (RFC 5652 and GM/T 0010): signing, parsing, verification, signature time-stamps,
 * negative cases, and interop both ways with the Bouncy Castle peer (all key types) and the OpenSSL CLI
 * (RSA/ECDSA; OpenSSL 3.0 cannot do SM2 CMS with the standard ID). A BC peer setup failure (exit 3)
 * fails in CI and skips elsewhere.
 */

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeOctetString, encodeOid, encodeSequence, readTlv } from '@medsign/gm/der';
import {
  issueTestCertificate,
  makeHierarchy,
  makeBcFixtures,
  peerOrSkip,
  requirePeer,
  runOpenssl,
  tempDir,
  type PeerResult,
  type TempDir,
  type TestHierarchy,
} from '@medsign/testkit';
import { digest, type HashName } from '../src/algorithms.js';
import { ParsedCertificate } from '../src/certificate.js';
import {
  encodeAttribute,
  messageDigestAttribute,
  readSigningCertificate,
  type CmsAttribute,
} from '../src/cms-attributes.js';
import { encodeContext, encodeSetOf, outerSequence, retag, tlvBytes } from '../src/der-input.js';
import { ParsedCms, signCms, verifyCmsSigner, type CmsSignerInput } from '../src/cms.js';
import { addTimestampToken, verifyCms } from '../src/cms-verify.js';
import { DecodeError } from '../src/errors.js';
import { verifySignature, type KeyType, type Signer } from '../src/keys.js';
import * as oid from '../src/oids.js';
import { signTimeStampToken } from '../src/tsp.js';

const CONTENT = new TextEncoder().encode('门诊病历 #20240101-0042: 诊断 高血压; signed by 张三\n');
const TYPES: KeyType[] = ['sm2', 'rsa-2048', 'ec-p256'];
const hashOf = (t: KeyType): HashName => (t === 'sm2' ? 'sm3' : 'sha256');

let tmp: TempDir;
const file = (name: string, bytes?: Uint8Array | string) => tmp.file(name, bytes);
const h: Partial<Record<KeyType, TestHierarchy>> = {};
const H = (t: KeyType) => h[t]!;
let fixtures = '';
const signerOf = (e: TestHierarchy['leaf']): CmsSignerInput => ({
  signer: e.key.signer(),
  certificate: e.cert,
});

/** A copy with one byte XOR-ed at `at`. */
function flip(der: Uint8Array, at: number): Uint8Array {
  const copy = Uint8Array.from(der);
  copy[at]! ^= 0x01;
  return copy;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  const i = Buffer.from(haystack).indexOf(Buffer.from(needle));
  assert.ok(i >= 0, 'needle not found');
  return i;
}

/** Replaces SignerInfo 0 (fields rebuilt by `edit`) and re-wraps the SignedData, keeping everything else. */
function replaceSignerInfo(cmsDer: Uint8Array, edit: (fields: Uint8Array[]) => Uint8Array[]): Uint8Array {
  const top = outerSequence(cmsDer, 'ContentInfo');
  const sd = outerSequence(tlvBytes(readTlv(top[1]!.value, 0)), 'SignedData');
  const signerSet = sd[sd.length - 1]!;
  const si = readTlv(signerSet.value, 0);
  const fields = outerSequence(tlvBytes(si), 'SignerInfo').map(tlvBytes);
  const newSd = encodeSequence(
    ...sd.slice(0, -1).map(tlvBytes),
    encodeSetOf([encodeSequence(...edit(fields))]),
  );
  return encodeSequence(tlvBytes(top[0]!), encodeContext(0, newSd));
}

/** Re-signs SignerInfo 0 with modified signed attributes: the signature is valid, the attributes lie. */
async function resignWith(
  cmsDer: Uint8Array,
  signer: Signer,
  mutate: (a: CmsAttribute[]) => CmsAttribute[],
): Promise<Uint8Array> {
  const si = ParsedCms.parse(cmsDer).signerInfos[0]!;
  const set = encodeSetOf(mutate(si.signedAttributes!).map(encodeAttribute));
  const signature = await signer.sign(set);
  return replaceSignerInfo(cmsDer, (fields) =>
    fields.map((f) => (f[0] === 0xa0 ? retag(set, 0xa0) : f[0] === 0x04 ? encodeOctetString(signature) : f)),
  );
}

before(async () => {
  tmp = tempDir('medsign-cms-');
  for (const t of TYPES) h[t] = await makeHierarchy(t);
  file('data.bin', CONTENT);
  for (const t of TYPES) file(`${t}-root.pem`, H(t).root.cert.toPem());
  fixtures = makeBcFixtures(file('bc')) ?? '';
});

after(() => tmp?.cleanup());

describe('signCms → verifyCms', () => {
  for (const t of TYPES) {
    for (const detached of [false, true]) {
      test(`${t}, ${detached ? 'detached' : 'attached'}, signed attributes`, async () => {
        const { leaf, intermediate, root } = H(t);
        const der = await signCms({
          content: CONTENT,
          detached,
          signers: [signerOf(leaf)],
          certificates: [leaf.cert, intermediate.cert],
        });
        const cms = ParsedCms.parse(der);
        assert.equal(cms.contentType, oid.id_signedData);
        assert.equal(cms.eContentType, oid.id_data);
        assert.equal(cms.version, 1);
        assert.equal(cms.detached, detached);
        assert.equal(cms.certificates.length, 2);
        const r = verifyCms(cms, { ...(detached ? { content: CONTENT } : {}), anchors: [root.cert] });
        assert.deepEqual(r.errors, []);
        assert.equal(r.valid, true);
        const s = r.signers[0]!;
        assert.equal(s.subject, leaf.cert.subjectText);
        assert.equal(s.digestAlgorithm, hashOf(t));
        assert.equal(s.signatureAlgorithm, leaf.key.defaultAlgorithm);
        assert.ok(s.signingTime instanceof Date);
        assert.equal(s.chain?.valid, true);
        if (!detached) assert.deepEqual(r.content, CONTENT);
      });
    }
  }

  test('the signature covers the signed attributes as a DER SET (RFC 5652 §5.4)', async () => {
    const { leaf } = H('sm2');
    const cms = ParsedCms.parse(
      await signCms({ content: CONTENT, detached: true, signers: [signerOf(leaf)] }),
    );
    const si = cms.signerInfos[0]!;
    assert.equal(si.signedAttributesDer![0], 0xa0);
    const asSet = retag(si.signedAttributesDer!, 0x31);
    assert.equal(verifySignature(leaf.cert.publicKeyInfo, 'SM3withSM2', asSet, si.signature), true);
    assert.equal(
      verifySignature(leaf.cert.publicKeyInfo, 'SM3withSM2', si.signedAttributesDer!, si.signature),
      false,
    );
    // signingCertificateV2 carries the SM3 hash of the signer certificate for SM2 …
    const essValue = si.signedAttributes!.find((a) => a.oid === oid.id_aa_signingCertificateV2)!.values[0]!;
    const [id] = readSigningCertificate(essValue, 2);
    assert.equal(id!.hash, 'sm3');
    assert.deepEqual(id!.certHash, digest('sm3', leaf.cert.der));
    assert.ok(id!.issuerSerial);
    const md = si.signedAttributes!.find((a) => a.oid === oid.id_messageDigest)!.values[0]!;
    assert.deepEqual(md.subarray(2), digest('sm3', CONTENT));
  });

  test('SHA-256 signers omit the DEFAULT hashAlgorithm in ESSCertIDv2', async () => {
    const { leaf } = H('rsa-2048');
    const cms = ParsedCms.parse(
      await signCms({ content: CONTENT, detached: false, signers: [signerOf(leaf)] }),
    );
    const v = cms.signerInfos[0]!.signedAttributes!.find((a) => a.oid === oid.id_aa_signingCertificateV2)!
      .values[0]!;
    const [id] = readSigningCertificate(v, 2);
    assert.equal(id!.hash, 'sha256');
    // SEQUENCE { SEQUENCE { ESSCertIDv2 { OCTET STRING … } } }: the certHash comes first.
    const ess = outerSequence(tlvBytes(outerSequence(v, 'x')[0]!), 'y');
    assert.equal(ess[0]!.tag, 0x30);
    assert.equal(outerSequence(tlvBytes(ess[0]!), 'z')[0]!.tag, 0x04);
  });

  test('omitSigningTime leaves the signingTime attribute out (PAdES) and still verifies', async () => {
    const { leaf, intermediate, root } = H('ec-p256');
    const der = await signCms({
      content: CONTENT,
      detached: true,
      signers: [signerOf(leaf)],
      certificates: [leaf.cert, intermediate.cert],
      omitSigningTime: true,
    });
    const cms = ParsedCms.parse(der);
    assert.deepEqual(
      cms.signerInfos[0]!.signedAttributes!.map((a) => a.oid),
      [oid.id_contentType, oid.id_messageDigest, oid.id_aa_signingCertificateV2],
    );
    const r = verifyCms(cms, { content: CONTENT, anchors: [root.cert] });
    assert.deepEqual(r.errors, []);
    assert.equal(r.signers[0]!.signingTime, undefined);
  });

  test('without signed attributes the signature is over the content', async () => {
    for (const t of TYPES) {
      const { leaf } = H(t);
      const der = await signCms({
        content: CONTENT,
        detached: true,
        signers: [signerOf(leaf)],
        signedAttributes: false,
      });
      const si = ParsedCms.parse(der).signerInfos[0]!;
      assert.equal(si.signedAttributes, undefined);
      assert.equal(
        verifySignature(leaf.cert.publicKeyInfo, leaf.key.defaultAlgorithm, CONTENT, si.signature),
        true,
      );
      assert.equal(verifyCms(der, { content: CONTENT }).valid, true, t);
      assert.equal(verifyCms(der, { content: CONTENT.subarray(1) }).valid, false, t);
    }
  });

  test('GM/T 0010 form: SM OIDs, versions 1, SM3 digest, sm2-1 signature algorithm', async () => {
    const { leaf, intermediate, root } = H('sm2');
    const der = await signCms({
      content: CONTENT,
      detached: false,
      signers: [signerOf(leaf)],
      gmOids: true,
      certificates: [leaf.cert, intermediate.cert],
    });
    assert.equal(Buffer.from(der.subarray(4, 16)).toString('hex'), '060a2a811ccf550601040202');
    const cms = ParsedCms.parse(der);
    assert.equal(cms.gmOids, true);
    assert.equal(cms.contentType, oid.id_gm_signedData);
    assert.equal(cms.eContentType, oid.id_gm_data);
    assert.equal(cms.version, 1);
    assert.deepEqual(
      cms.digestAlgorithms.map((a) => a.algorithm),
      [oid.id_sm3],
    );
    const si = cms.signerInfos[0]!;
    assert.equal(si.version, 1);
    assert.equal(si.sid.kind, 'issuerAndSerialNumber');
    assert.equal(si.digestAlgorithm.algorithm, oid.id_sm3);
    assert.equal(si.signatureAlgorithm.algorithm, oid.id_sm2_1);
    assert.equal(si.signatureAlgorithm.parameters, undefined);
    const ct = si.signedAttributes!.find((a) => a.oid === oid.id_contentType)!.values[0]!;
    assert.deepEqual(ct, encodeOid(oid.id_gm_data));
    const r = verifyCms(der, { anchors: [root.cert] });
    assert.equal(r.valid, true, r.errors.join('\n'));
    assert.equal(r.signers[0]!.signatureAlgorithm, 'SM3withSM2');
    await assert.rejects(
      signCms({ content: CONTENT, detached: false, signers: [signerOf(H('rsa-2048').leaf)], gmOids: true }),
      RangeError,
    );
  });

  test('RFC 5652 form with SM2 uses SM3withSM2 (1.2.156.10197.1.501)', async () => {
    const cms = ParsedCms.parse(
      await signCms({ content: CONTENT, detached: true, signers: [signerOf(H('sm2').leaf)] }),
    );
    assert.equal(cms.signerInfos[0]!.signatureAlgorithm.algorithm, oid.id_sm2_with_sm3);
    assert.equal(cms.contentType, oid.id_signedData);
  });

  test('several signers of different key types, one by subjectKeyIdentifier (SignedData v3)', async () => {
    const signers: CmsSignerInput[] = [
      signerOf(H('sm2').leaf),
      { ...signerOf(H('rsa-2048').leaf), sid: 'subjectKeyIdentifier' },
      signerOf(H('ec-p256').leaf),
    ];
    const der = await signCms({
      content: CONTENT,
      detached: false,
      signers,
      certificates: TYPES.flatMap((t) => [H(t).leaf.cert, H(t).intermediate.cert]),
    });
    const cms = ParsedCms.parse(der);
    assert.equal(cms.version, 3);
    assert.equal(cms.signerInfos.length, 3);
    assert.equal(cms.digestAlgorithms.length, 2);
    assert.ok(cms.signerInfos.some((s) => s.sid.kind === 'subjectKeyIdentifier' && s.version === 3));
    const r = verifyCms(der, { anchors: TYPES.map((t) => H(t).root.cert) });
    assert.equal(r.valid, true, r.errors.join('\n'));
    assert.deepEqual(
      r.signers.map((s) => s.subject).sort(),
      TYPES.map((t) => H(t).leaf.cert.subjectText).sort(),
    );
  });

  test('a signer key must match its certificate', async () => {
    await assert.rejects(
      signCms({
        content: CONTENT,
        detached: false,
        signers: [{ signer: H('sm2').tsa.key.signer(), certificate: H('sm2').leaf.cert }],
      }),
      RangeError,
    );
  });

  test('a given content digest is signed like the content (detached, signed attributes only)', async () => {
    for (const t of TYPES) {
      const { leaf, root } = H(t);
      const der = await signCms({
        content: new Uint8Array(),
        contentDigest: digest(hashOf(t), CONTENT),
        detached: true,
        signers: [signerOf(leaf)],
      });
      const r = verifyCms(der, { content: CONTENT, anchors: [root.cert, H(t).intermediate.cert] });
      assert.deepEqual(r.errors, [], t);
      assert.equal(verifyCms(der, { content: new TextEncoder().encode('other') }).valid, false);
    }
    const leaf = H('sm2').leaf;
    const wrongLength = signCms({
      content: CONTENT,
      contentDigest: new Uint8Array(20),
      detached: true,
      signers: [signerOf(leaf)],
    });
    await assert.rejects(wrongLength, RangeError);
    const attached = signCms({
      content: CONTENT,
      contentDigest: digest('sm3', CONTENT),
      detached: false,
      signers: [signerOf(leaf)],
    });
    await assert.rejects(attached, RangeError);
  });

  test('PEM input is accepted', async () => {
    const der = await signCms({ content: CONTENT, detached: false, signers: [signerOf(H('sm2').leaf)] });
    const pem = ParsedCms.parse(der).toPem();
    assert.match(pem, /^-----BEGIN CMS-----/);
    assert.equal(verifyCms(pem).valid, true);
    assert.equal(verifyCms(pem.replace(/CMS-----/g, 'PKCS7-----')).valid, true);
  });
});

describe('signature time-stamps (RFC 3161 Appendix A)', () => {
  for (const t of TYPES) {
    test(`${t}: addTimestampToken → verifyCms reports the time-stamp`, async () => {
      const { leaf, tsa, intermediate, root } = H(t);
      const der = await signCms({
        content: CONTENT,
        detached: true,
        signers: [signerOf(leaf)],
        certificates: [leaf.cert, intermediate.cert],
      });
      const si = ParsedCms.parse(der).signerInfos[0]!;
      const genTime = new Date(Date.now() - 1234);
      const token = await signTimeStampToken(
        {
          policy: '1.2.156.1.3.4',
          messageImprint: { hash: hashOf(t), hashedMessage: digest(hashOf(t), si.signature) },
          serialNumber: 99n,
          genTime,
        },
        tsa.key.signer(),
        tsa.cert,
        true,
      );
      const stamped = addTimestampToken(der, 0, token);
      const r = verifyCms(stamped, { content: CONTENT, anchors: [root.cert] });
      assert.equal(r.valid, true, r.errors.join('\n'));
      assert.equal(r.signers[0]!.timestamp?.valid, true);
      assert.equal(r.signers[0]!.timestamp?.genTime?.getTime(), genTime.getTime());
      // every byte before the unsigned attributes is kept
      const si2 = ParsedCms.parse(stamped).signerInfos[0]!;
      assert.deepEqual(si2.signedAttributesDer, si.signedAttributesDer);
      assert.equal(si2.unsignedAttributes?.[0]?.oid, oid.id_aa_timeStampToken);

      // a token over some other bytes is refused when adding, and fails verification when forced in
      const other = await signTimeStampToken(
        {
          policy: '1.2.156.1.3.4',
          messageImprint: { hash: hashOf(t), hashedMessage: digest(hashOf(t), CONTENT) },
          serialNumber: 100n,
          genTime,
        },
        tsa.key.signer(),
        tsa.cert,
      );
      assert.throws(() => addTimestampToken(der, 0, other), RangeError);
      assert.throws(() => addTimestampToken(der, 1, token), RangeError);
      const forced = replaceSignerInfo(der, (f) => [
        ...f,
        encodeSetOf([encodeAttribute({ oid: oid.id_aa_timeStampToken, values: [other] })], 0xa1),
      ]);
      const bad = verifyCms(forced, { content: CONTENT });
      assert.equal(bad.valid, false);
      assert.match(bad.errors.join('\n'), /time-stamp.*message imprint/);
    });
  }
});

describe('negative cases', () => {
  test('tampered content (detached and attached)', async () => {
    const { leaf } = H('sm2');
    const detached = await signCms({ content: CONTENT, detached: true, signers: [signerOf(leaf)] });
    const tampered = flip(CONTENT, 3);
    const r = verifyCms(detached, { content: tampered });
    assert.equal(r.valid, false);
    assert.match(r.errors.join(), /messageDigest/);
    // the signature over the attributes is still fine: only the digest check fails
    assert.equal(r.signers[0]!.checks.find((c) => c.check === 'signature')?.ok, true);

    const attached = await signCms({ content: CONTENT, detached: false, signers: [signerOf(leaf)] });
    const at = indexOf(attached, CONTENT);
    const r2 = verifyCms(flip(attached, at + 5));
    assert.equal(r2.valid, false);
    assert.match(r2.errors.join(), /messageDigest/);
    // given content that differs from the encapsulated content
    assert.equal(verifyCms(attached, { content: tampered }).valid, false);
  });

  test('detached signature without content', async () => {
    const der = await signCms({ content: CONTENT, detached: true, signers: [signerOf(H('sm2').leaf)] });
    const r = verifyCms(der);
    assert.equal(r.valid, false);
    assert.match(r.errors.join(), /content not given/);
  });

  test('wrong messageDigest under a valid signature', async () => {
    const { leaf } = H('ec-p256');
    const der = await signCms({ content: CONTENT, detached: false, signers: [signerOf(leaf)] });
    const lie = await resignWith(der, leaf.key.signer(), (attrs) =>
      attrs.map((a) =>
        a.oid === oid.id_messageDigest ? messageDigestAttribute(digest('sha256', flip(CONTENT, 0))) : a,
      ),
    );
    const r = verifyCms(lie);
    assert.equal(r.valid, false);
    const checks = r.signers[0]!.checks;
    assert.equal(checks.find((c) => c.check === 'signature')?.ok, true);
    assert.equal(checks.find((c) => c.check === 'messageDigest attribute')?.ok, false);
  });

  test('wrong contentType attribute under a valid signature', async () => {
    const { leaf } = H('sm2');
    const der = await signCms({ content: CONTENT, detached: false, signers: [signerOf(leaf)] });
    const lie = await resignWith(der, leaf.key.signer(), (attrs) =>
      attrs.map((a) =>
        a.oid === oid.id_contentType ? { oid: a.oid, values: [encodeOid(oid.id_ct_TSTInfo)] } : a,
      ),
    );
    const r = verifyCms(lie);
    assert.equal(r.valid, false);
    assert.equal(r.signers[0]!.checks.find((c) => c.check === 'signature')?.ok, true);
    assert.match(r.errors.join(), /contentType attribute failed: 1\.2\.840\.113549\.1\.9\.16\.1\.4 differs/);
    // and a repeated attribute is refused
    const twice = await resignWith(der, leaf.key.signer(), (attrs) => [
      ...attrs,
      { oid: oid.id_contentType, values: [encodeOid(oid.id_data)] },
    ]);
    assert.equal(verifyCms(twice).valid, false);
  });

  test('a byte flipped in the signed attributes or in the signature', async () => {
    for (const t of TYPES) {
      const { leaf } = H(t);
      const der = await signCms({ content: CONTENT, detached: false, signers: [signerOf(leaf)] });
      const si = ParsedCms.parse(der).signerInfos[0]!;
      const st = si.signedAttributes!.find((a) => a.oid === oid.id_signingTime)!.values[0]!;
      const stAt = indexOf(der, st) + st.length - 2; // the last seconds digit
      const copy = Uint8Array.from(der);
      copy[stAt] = copy[stAt] === 0x39 ? 0x38 : copy[stAt]! + 1;
      const r = verifyCms(copy);
      assert.equal(r.valid, false, t);
      assert.equal(r.signers[0]!.checks.find((c) => c.check === 'signature')?.ok, false, t);
      assert.equal(r.signers[0]!.checks.find((c) => c.check === 'messageDigest attribute')?.ok, true, t);

      const sigAt = indexOf(der, si.signature) + Math.floor(si.signature.length / 2);
      assert.equal(verifyCms(flip(der, sigAt)).valid, false, t);
    }
  });

  test('signer certificate that does not match the SignerIdentifier', async () => {
    const { leaf, tsa } = H('sm2');
    const der = await signCms({
      content: CONTENT,
      detached: false,
      signers: [signerOf(leaf)],
      certificates: [tsa.cert],
    });
    const r = verifyCms(der);
    assert.equal(r.valid, false);
    assert.match(r.errors.join(), /signer certificate failed: no certificate matches issuer .*serial/);
    assert.equal(verifyCms(der, { extraCertificates: [leaf.cert] }).valid, true);

    // a certificate with the same issuer and serial but another key
    const impostor = await issueTestCertificate({
      subject: [['CN', 'impostor']],
      key: H('sm2').tsa.key,
      issuer: H('sm2').intermediate,
    });
    const sidBySki = await signCms({
      content: CONTENT,
      detached: false,
      signers: [{ ...signerOf(leaf), sid: 'subjectKeyIdentifier' }],
      certificates: [impostor.cert],
    });
    assert.equal(verifyCms(sidBySki).valid, false);
  });

  test('a certificate chain that does not reach the anchors', async () => {
    const der = await signCms({ content: CONTENT, detached: false, signers: [signerOf(H('sm2').leaf)] });
    const r = verifyCms(der, { anchors: [H('rsa-2048').root.cert] });
    assert.equal(r.valid, false);
    assert.match(r.errors.join(), /certificate chain failed/);
  });

  test('malformed DER → DecodeError from parse; verifyCms reports it and never throws', async () => {
    const der = await signCms({ content: CONTENT, detached: false, signers: [signerOf(H('sm2').leaf)] });
    const outer = readTlv(der, 0);
    const indefinite = Buffer.concat([Uint8Array.of(0x30, 0x80), outer.value, Uint8Array.of(0, 0)]);
    const notSigned = encodeSequence(encodeOid(oid.id_data), encodeContext(0, encodeOctetString(CONTENT)));
    const cases: Record<string, Uint8Array> = {
      truncated: der.subarray(0, der.length - 1),
      'trailing bytes': Buffer.concat([der, Uint8Array.of(0)]),
      'indefinite length': indefinite,
      'not SignedData': notSigned,
      empty: new Uint8Array(),
      'not DER at all': new TextEncoder().encode('hello'),
    };
    for (const [name, bad] of Object.entries(cases)) {
      assert.throws(() => ParsedCms.parse(bad), DecodeError, name);
      const r = verifyCms(bad);
      assert.equal(r.valid, false, name);
      assert.match(r.errors[0]!, /malformed CMS/, name);
    }
    // random single-byte corruptions never throw out of verifyCms
    for (let i = 0; i < 300; i++) {
      const at = Math.floor(Math.random() * der.length);
      const copy = Uint8Array.from(der);
      copy[at] = Math.floor(Math.random() * 256);
      assert.doesNotThrow(() => verifyCms(copy));
    }
    assert.equal(verifyCmsSigner(ParsedCms.parse(der), 5).valid, false);
  });
});

describe('Bouncy Castle peer', () => {
  const bcValid = (r: PeerResult | undefined, what: string) => {
    if (!r) return;
    assert.equal(r.code, 0, `${what}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.valid, true, what);
  };

  test('BC verifies our SM2 CMS: both OID styles, attached/detached, with and without signed attributes', async (t) => {
    if (!requirePeer(t)) return;
    const { leaf, intermediate } = H('sm2');
    for (const gmOids of [false, true])
      for (const detached of [false, true])
        for (const signedAttributes of [true, false]) {
          const der = await signCms({
            content: CONTENT,
            detached,
            signedAttributes,
            gmOids,
            signers: [signerOf(leaf)],
            certificates: [leaf.cert, intermediate.cert],
          });
          const what = `sm2 gm=${gmOids} detached=${detached} attrs=${signedAttributes}`;
          bcValid(
            peerOrSkip(t, [
              'cms-verify',
              file('sig.p7s', der),
              ...(detached ? [file('data.bin')] : []),
              '--ca',
              file('sm2-root.pem'),
            ]),
            what,
          );
        }
  });

  test('BC verifies our RSA and ECDSA CMS, multi-signer CMS and time-stamped CMS', async (t) => {
    if (!requirePeer(t)) return;
    for (const type of TYPES) {
      const { leaf, intermediate, tsa } = H(type);
      for (const detached of [false, true]) {
        if (type === 'sm2' && !detached) continue;
        const der = await signCms({
          content: CONTENT,
          detached,
          signers: [signerOf(leaf)],
          certificates: [leaf.cert, intermediate.cert],
        });
        const si = ParsedCms.parse(der).signerInfos[0]!;
        const token = await signTimeStampToken(
          {
            policy: '1.2.3.4.1',
            messageImprint: { hash: hashOf(type), hashedMessage: digest(hashOf(type), si.signature) },
            serialNumber: 4242n,
            genTime: new Date(),
          },
          tsa.key.signer(),
          tsa.cert,
          true,
          { certificates: [intermediate.cert] },
        );
        const final = detached ? addTimestampToken(der, 0, token) : der;
        const args = [
          'cms-verify',
          file('sig.p7s', final),
          ...(detached ? [file('data.bin')] : []),
          '--ca',
          file(`${type}-root.pem`),
        ];
        const r = peerOrSkip(t, args);
        bcValid(r, `${type} detached=${detached}`);
        if (r && detached)
          assert.equal((r.json.signers as { timestampPresent: boolean }[])[0]!.timestampPresent, true);
      }
    }
    const multi = await signCms({
      content: CONTENT,
      detached: true,
      signers: TYPES.map((x) => signerOf(H(x).leaf)),
      certificates: TYPES.flatMap((x) => [H(x).leaf.cert, H(x).intermediate.cert]),
    });
    bcValid(
      peerOrSkip(t, [
        'cms-verify',
        file('multi.p7s', multi),
        file('data.bin'),
        ...TYPES.flatMap((x) => ['--ca', file(`${x}-root.pem`)]),
      ]),
      'multi-signer',
    );
  });

  test('BC rejects our CMS when the content is tampered', async (t) => {
    if (!requirePeer(t)) return;
    const der = await signCms({ content: CONTENT, detached: true, signers: [signerOf(H('sm2').leaf)] });
    const r = peerOrSkip(t, ['cms-verify', file('sig.p7s', der), file('other.bin', flip(CONTENT, 1))]);
    if (r) assert.equal(r.code, 1);
  });

  const families = [
    ['sm2', 'sm2'],
    ['rsa', 'rsa-2048'],
    ['ecdsa', 'ec-p256'],
  ] as const;
  for (const [x] of families) {
    test(`BC fixtures (${x}) verify here; tampered copies do not`, (t) => {
      if (!requirePeer(t)) return;
      const fx = (n: string) => readFileSync(join(fixtures, n));
      const data = fx('data.txt');
      const root = ParsedCertificate.parse(fx(`${x}-root.pem`));
      const names = [`${x}-cms-detached.p7s`, `${x}-cms-attached.p7s`, `${x}-cms-detached-ts.p7s`];
      if (x === 'sm2') names.push('sm2-cms-detached-gmt0010.p7s', 'sm2-cms-attached-gmt0010.p7s');
      for (const n of names) {
        const der = fx(n);
        const detached = !n.includes('attached');
        const r = verifyCms(der, { ...(detached ? { content: data } : {}), anchors: [root] });
        assert.equal(r.valid, true, `${n}: ${r.errors.join('; ')}`);
        if (n.includes('gmt0010')) {
          assert.equal(r.gmOids, true);
          assert.equal(r.signers[0]!.signatureAlgorithm, 'SM3withSM2');
        }
        if (n.includes('-ts')) assert.equal(r.signers[0]!.timestamp?.valid, true, n);
        // tampered: a flipped byte in the content, and in the signature value
        const si = ParsedCms.parse(der).signerInfos[0]!;
        const badSig = flip(der, indexOf(der, si.signature) + 10);
        assert.equal(
          verifyCms(badSig, detached ? { content: data } : {}).valid,
          false,
          `${n} signature flipped`,
        );
        if (detached)
          assert.equal(verifyCms(der, { content: flip(data, 7) }).valid, false, `${n} content flipped`);
        else assert.equal(verifyCms(flip(der, indexOf(der, data) + 7)).valid, false, `${n} content flipped`);
      }
    });
  }
});

describe('OpenSSL CLI (RSA and ECDSA)', () => {
  for (const type of ['rsa-2048', 'ec-p256'] as const) {
    test(`${type}: openssl cms -verify accepts ours; ours accepts openssl cms -sign`, async () => {
      const { leaf, intermediate, root } = H(type);
      for (const detached of [true, false]) {
        const der = await signCms({
          content: CONTENT,
          detached,
          signers: [signerOf(leaf)],
          certificates: [leaf.cert, intermediate.cert],
        });
        const args = ['cms', '-verify', '-binary', '-in', file('ours.der', der), '-inform', 'DER'];
        if (detached) args.push('-content', file('data.bin'));
        args.push('-CAfile', file(`${type}-root.pem`), '-purpose', 'any', '-out', file('out.bin'));
        const r = runOpenssl(args);
        assert.equal(r.code, 0, `openssl cms -verify (detached=${detached}): ${r.stderr}`);
        assert.deepEqual(new Uint8Array(readFileSync(file('out.bin'))), CONTENT);
      }
      // the other way: OpenSSL signs
      file('leaf.pem', leaf.cert.toPem());
      file('leaf.key', leaf.key.toPem());
      file('inter.pem', intermediate.cert.toPem());
      for (const nodetach of [false, true]) {
        const args = [
          'cms',
          '-sign',
          '-binary',
          '-in',
          file('data.bin'),
          '-signer',
          file('leaf.pem'),
          '-inkey',
          file('leaf.key'),
        ];
        args.push('-certfile', file('inter.pem'), '-outform', 'DER', '-out', file('theirs.der'));
        if (nodetach) args.push('-nodetach');
        const s = runOpenssl(args);
        assert.equal(s.code, 0, s.stderr);
        const theirs = new Uint8Array(readFileSync(file('theirs.der')));
        const v = verifyCms(theirs, { ...(nodetach ? {} : { content: CONTENT }), anchors: [root.cert] });
        assert.equal(v.valid, true, `nodetach=${nodetach}: ${v.errors.join('; ')}`);
        assert.equal(verifyCms(theirs, { content: flip(CONTENT, 2) }).valid, false);
      }
    });
  }
});
