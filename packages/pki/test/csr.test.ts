import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTlv } from '@medsign/gm/der';
import { runOpenssl } from '@medsign/testkit';
import {
  DecodeError,
  PrivateKey,
  keyUsageExtension,
  oids,
  readSubjectAltNames,
  subjectAltNameExtension,
  type KeyType,
} from '@medsign/pki';
import { buildCsr, ParsedCsr } from '../src/csr.js';

const TYPES: KeyType[] = ['sm2', 'rsa-2048', 'ec-p256'];
const DISTID = 'distid:1234567812345678';

/** Malformed variants of a DER structure: each must be rejected with a DecodeError. */
function malformed(der: Uint8Array): Record<string, Uint8Array> {
  const outer = readTlv(der, 0);
  const header = der.subarray(0, outer.value.byteOffset - der.byteOffset);
  return {
    truncated: der.subarray(0, der.length - 1),
    'trailing bytes': Buffer.concat([der, Uint8Array.of(0)]),
    'indefinite length': Buffer.concat([Uint8Array.of(header[0]!, 0x80), outer.value, Uint8Array.of(0, 0)]),
    'wrong outer tag': Buffer.concat([Uint8Array.of(0x31), der.subarray(1)]),
  };
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'medsign-csr-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

for (const type of TYPES) {
  describe(`CSR ${type}`, () => {
    let key: PrivateKey;
    let der: Uint8Array;
    before(async () => {
      key = PrivateKey.generate(type);
      der = await buildCsr({
        subject: [
          ['C', 'CN'],
          ['O', '某某医院'],
          ['OU', '心内科'],
          ['CN', '张三'],
        ],
        signer: key.signer(),
        extensions: [
          subjectAltNameExtension({ email: ['zhangsan@hospital.cn'] }),
          keyUsageExtension(['digitalSignature', 'nonRepudiation']),
        ],
        challengePassword: 'pass word',
      });
    });

    test('parses back: subject, key, requested extensions, challengePassword, algorithm', () => {
      const csr = ParsedCsr.parse(der);
      assert.equal(csr.subjectText, 'C=CN, O=某某医院, OU=心内科, CN=张三');
      assert.deepEqual(csr.publicKeyInfo, key.publicKeyInfo);
      assert.equal(csr.extensions.length, 2);
      assert.deepEqual(
        [...readSubjectAltNames(csr.extension(oids.id_ce_subjectAltName)!.value)],
        ['email:zhangsan@hospital.cn'],
      );
      assert.equal(csr.extension(oids.id_ce_keyUsage)?.critical, true);
      assert.equal(csr.challengePassword, 'pass word');
      assert.equal(csr.signatureAlgorithm.name, key.defaultAlgorithm);
      assert.equal(ParsedCsr.parse(csr.toPem()).der.length, der.length);
    });

    test('proof of possession verifies; tampered request or signature does not', () => {
      const csr = ParsedCsr.parse(der);
      assert.equal(csr.verifyProofOfPossession(), true);
      // Flip one byte inside the subject (the CN value is near the end of the Name).
      const subjectEnd = csr.subjectDer.byteOffset - der.byteOffset + csr.subjectDer.length;
      const t1 = der.slice();
      t1[subjectEnd - 1]! ^= 0x01;
      assert.equal(ParsedCsr.parse(t1).verifyProofOfPossession(), false);
      const t2 = der.slice();
      t2[t2.length - 5]! ^= 0x01;
      let tampered: ParsedCsr | undefined;
      try {
        tampered = ParsedCsr.parse(t2);
      } catch (e) {
        assert.ok(e instanceof DecodeError);
      }
      if (tampered) assert.equal(tampered.verifyProofOfPossession(), false);
      if (type === 'sm2') assert.equal(csr.verifyProofOfPossession({ sm2Id: 'another-id' }), false);
    });

    test('openssl req -verify accepts our CSR', () => {
      const file = join(dir, `ours-${type}.pem`);
      writeFileSync(file, ParsedCsr.parse(der).toPem());
      const args = ['req', '-verify', '-in', file, '-noout', ...(type === 'sm2' ? ['-vfyopt', DISTID] : [])];
      const r = runOpenssl(args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout + r.stderr, /verify OK/);
      const text = runOpenssl(['req', '-in', file, '-noout', '-text']);
      assert.match(text.stdout, /Requested Extensions/);
      assert.match(text.stdout, /zhangsan@hospital\.cn/);
    });

    test('a CSR made by openssl req -new parses and its proof of possession verifies', () => {
      const keyFile = join(dir, `key-${type}.pem`);
      writeFileSync(keyFile, key.toPem());
      const out = join(dir, `openssl-${type}.pem`);
      const args = [
        'req',
        '-new',
        '-key',
        keyFile,
        '-subj',
        '/C=CN/O=Test Hospital/CN=OpenSSL Made',
        '-addext',
        'subjectAltName=DNS:ehr.hospital.example',
        '-out',
        out,
        ...(type === 'sm2' ? ['-sm3', '-sigopt', DISTID] : ['-sha256']),
      ];
      const r = runOpenssl(args);
      assert.equal(r.code, 0, r.stderr);
      const csr = ParsedCsr.parse(readFileSync(out, 'utf8'));
      assert.equal(csr.subjectText, 'C=CN, O=Test Hospital, CN=OpenSSL Made');
      assert.deepEqual(csr.publicKeyInfo, key.publicKeyInfo);
      assert.deepEqual(
        [...readSubjectAltNames(csr.extension(oids.id_ce_subjectAltName)!.value)],
        ['DNS:ehr.hospital.example'],
      );
      assert.equal(csr.verifyProofOfPossession(), true);
      const t = csr.der.slice();
      t[csr.infoDer.length - 3]! ^= 0x20;
      assert.equal(ParsedCsr.parse(t).verifyProofOfPossession(), false);
    });

    test('malformed DER is rejected with a DecodeError saying why', () => {
      for (const [what, bad] of Object.entries(malformed(der))) {
        assert.throws(
          () => ParsedCsr.parse(bad),
          (e: unknown) => e instanceof DecodeError && e.message.length > 10,
          what,
        );
      }
    });
  });
}

describe('CSR details', () => {
  test('SM2 CSR signed by openssl without distid (empty ID) fails with the default ID, passes with ""', () => {
    const key = PrivateKey.generate('sm2');
    const keyFile = join(dir, 'sm2-noid.key');
    writeFileSync(keyFile, key.toPem());
    const out = join(dir, 'sm2-noid.csr');
    const r = runOpenssl(['req', '-new', '-key', keyFile, '-subj', '/CN=no id', '-sm3', '-out', out]);
    assert.equal(r.code, 0, r.stderr);
    const csr = ParsedCsr.parse(readFileSync(out, 'utf8'));
    assert.equal(csr.verifyProofOfPossession(), false);
    assert.equal(csr.verifyProofOfPossession({ sm2Id: '' }), true);
  });

  test('NEW CERTIFICATE REQUEST label is accepted; other labels are not', async () => {
    const key = PrivateKey.generate('ec-p256');
    const der = await buildCsr({ subject: [['CN', 'x']], signer: key.signer() });
    const pem = ParsedCsr.parse(der).toPem();
    const csr = ParsedCsr.parse(pem.replace(/CERTIFICATE REQUEST/g, 'NEW CERTIFICATE REQUEST'));
    assert.equal(csr.verifyProofOfPossession(), true);
    assert.throws(() => ParsedCsr.parse(pem.replace(/CERTIFICATE REQUEST/g, 'CERTIFICATE')), DecodeError);
  });

  test('no attributes: an empty [0] set is written (RFC 2986 makes it mandatory)', async () => {
    const key = PrivateKey.generate('ec-p256');
    const der = await buildCsr({ subject: [['CN', 'x']], signer: key.signer() });
    const csr = ParsedCsr.parse(der);
    assert.deepEqual([...csr.infoDer.subarray(-2)], [0xa0, 0x00]);
    assert.equal(csr.attributes.length, 0);
    assert.equal(csr.challengePassword, undefined);
  });

  test('attributes are in DER SET OF order; a non-printable challengePassword is a UTF8String', async () => {
    const key = PrivateKey.generate('ec-p256');
    const der = await buildCsr({
      subject: [['CN', 'x']],
      signer: key.signer(),
      extensions: [keyUsageExtension(['digitalSignature'])],
      challengePassword: '口令',
    });
    const csr = ParsedCsr.parse(der);
    assert.equal(csr.challengePassword, '口令');
    const encoded = csr.attributes.map((a) => a.oid);
    assert.deepEqual(encoded, [oids.id_pkcs9_challengePassword, oids.id_pkcs9_extensionRequest]);
    assert.equal(csr.attributes[0]!.values[0]![0], 0x0c);
  });

  test('version other than v1 and duplicate requested extensions are rejected', async () => {
    const key = PrivateKey.generate('ec-p256');
    const der = await buildCsr({ subject: [['CN', 'x']], signer: key.signer() });
    const csr = ParsedCsr.parse(der);
    const off = csr.infoDer.byteOffset - der.byteOffset;
    const info = readTlv(der, off);
    const versionAt = info.value.byteOffset - der.byteOffset + 2;
    const bad = der.slice();
    bad[versionAt] = 1;
    assert.throws(() => ParsedCsr.parse(bad), /version/);
    await assert.rejects(
      buildCsr({
        subject: [['CN', 'x']],
        signer: key.signer(),
        extensions: [keyUsageExtension(['digitalSignature']), keyUsageExtension(['keyCertSign'])],
      }),
      RangeError,
    );
  });
});
