/**
 * GM/T 0015 identity extensions: exact encodings (EXPLICIT IdentityCode as XiPKI emits), tolerant
 * reading (IMPLICIT, bare strings, other string types), the reader's OID order, custom extensions, and
 * a round trip through a real certificate that OpenSSL parses.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bytesToHex, DecodeError } from '@medsign/gm';
import { encodeTlv } from '@medsign/gm/der';
import { issueTestCertificate, runOpenssl } from '@medsign/testkit';
import {
  customExtension,
  icRegistrationNumberExtension,
  identityCodeExtension,
  insuranceNumberExtension,
  isValidOid,
  oids,
  organizationCodeExtension,
  passportNumberExtension,
  PrivateKey,
  readGmIdentityExtension,
  readGmStringExtension,
  readIdentityCode,
  readIdentityNumbers,
  residentIdCardExtension,
  taxationNumberExtension,
  unifiedSocialCreditCodeExtension,
  type CertExtension,
} from '../src/index.js';

const hex = (b: Uint8Array) => bytesToHex(b);
const ascii = (s: string) => new TextEncoder().encode(s);
const ext = (oid: string, value: Uint8Array, critical = false): CertExtension => ({ oid, critical, value });

const ID = '11010519491231002X';

describe('GM/T 0015 identity extension builders', () => {
  test('IdentityCode is emitted with EXPLICIT context tags, one per CHOICE alternative', () => {
    const card = identityCodeExtension({ kind: 'residentIdCard', value: ID });
    assert.equal(card.oid, '1.2.156.10260.4.1.1');
    assert.equal(card.critical, false);
    assert.equal(hex(card.value), 'a014' + '1312' + hex(ascii(ID)));
    const officer = identityCodeExtension({ kind: 'militaryOfficerCard', value: '军字第12345号' });
    const utf8 = new TextEncoder().encode('军字第12345号');
    assert.equal(hex(officer.value), hex(encodeTlv(0xa1, encodeTlv(0x0c, utf8))));
    const passport = identityCodeExtension({ kind: 'passport', value: 'E12345678' });
    assert.equal(hex(passport.value), 'a20b1309' + hex(ascii('E12345678')));
  });

  test('string extensions carry the string type their table gives, non-critical', () => {
    const cases: [CertExtension, string, number][] = [
      [insuranceNumberExtension('3201001234'), oids.id_gmt0015_insuranceNumber, 0x13],
      [icRegistrationNumberExtension('110000012345678'), oids.id_gmt0015_icRegistrationNumber, 0x13],
      [organizationCodeExtension('12345678-9'), oids.id_gmt0015_organizationCode, 0x13],
      [taxationNumberExtension('110105123456789'), oids.id_gmt0015_taxationNumber, 0x13],
      [residentIdCardExtension(ID), oids.id_gmt0015_residentIdCard, 0x13],
      [passportNumberExtension('E12345678'), oids.id_gmt0015_passportNumber, 0x0c],
      [unifiedSocialCreditCodeExtension('91110000100000000X'), oids.id_gmt0015_unifiedSocialCreditCode, 0x13],
    ];
    for (const [e, oid, tag] of cases) {
      assert.equal(e.oid, oid);
      assert.equal(e.critical, false);
      assert.equal(e.value[0], tag, oid);
      assert.equal(readGmIdentityExtension(e), new TextDecoder().decode(e.value.subarray(2)));
    }
    assert.equal(oids.id_gmt0015_unifiedSocialCreditCode, '1.2.156.10260.4.4');
  });

  test('builders refuse values their string type cannot hold', () => {
    assert.throws(() => residentIdCardExtension('身份证'), RangeError);
    assert.throws(() => organizationCodeExtension(''), RangeError);
    assert.throws(() => passportNumberExtension(''), RangeError);
    assert.throws(() => identityCodeExtension({ kind: 'passport', value: 'E1234_5678' }), RangeError);
    assert.throws(
      () => identityCodeExtension({ kind: 'driverLicence' as 'passport', value: 'X' }),
      RangeError,
    );
    assert.throws(() => insuranceNumberExtension(42 as unknown as string), TypeError);
  });
});

describe('GM/T 0015 identity extension readers', () => {
  test('IdentityCode: EXPLICIT, IMPLICIT and a bare string are all read', () => {
    const explicit = identityCodeExtension({ kind: 'passport', value: 'E12345678' }).value;
    assert.deepEqual(readIdentityCode(explicit), {
      kind: 'passport',
      value: 'E12345678',
      tagging: 'explicit',
    });
    assert.deepEqual(readIdentityCode(encodeTlv(0x80, ascii(ID))), {
      kind: 'residentIdCard',
      value: ID,
      tagging: 'implicit',
    });
    assert.deepEqual(readIdentityCode(encodeTlv(0x81, new TextEncoder().encode('军官证 001'))), {
      kind: 'militaryOfficerCard',
      value: '军官证 001',
      tagging: 'implicit',
    });
    assert.deepEqual(readIdentityCode(encodeTlv(0x13, ascii(ID))), {
      kind: 'residentIdCard',
      value: ID,
      tagging: 'untagged',
    });
    assert.deepEqual(readIdentityCode(encodeTlv(0x0c, ascii(ID))).tagging, 'untagged');
  });

  test('IdentityCode: malformed values are DecodeErrors', () => {
    const bad = [
      Uint8Array.of(),
      encodeTlv(0xa3, encodeTlv(0x13, ascii('X'))), // no fourth alternative
      encodeTlv(0x02, Uint8Array.of(1)), // not a string
      Uint8Array.of(...encodeTlv(0x13, ascii(ID)), 0), // trailing byte
      encodeTlv(0xa0, Uint8Array.of(...encodeTlv(0x13, ascii('1')), 0x05, 0x00)), // two inner values
      encodeTlv(0x80, ascii('a_b')), // outside PrintableString
      encodeTlv(0x81, Uint8Array.of(0xff, 0xfe)), // invalid UTF-8
      encodeTlv(0x13, Uint8Array.of()), // empty
      Uint8Array.of(0xa0, 0x80, 0x13, 0x01, 0x31, 0x00, 0x00), // indefinite length
    ];
    for (const b of bad) assert.throws(() => readIdentityCode(b), DecodeError, hex(b));
  });

  test('string readers accept PrintableString, UTF8String and IA5String and reject the rest', () => {
    assert.equal(readGmStringExtension(encodeTlv(0x13, ascii('A1'))), 'A1');
    assert.equal(readGmStringExtension(encodeTlv(0x0c, new TextEncoder().encode('护照Ｅ1'))), '护照Ｅ1');
    assert.equal(readGmStringExtension(encodeTlv(0x16, ascii('a_b'))), 'a_b');
    assert.throws(() => readGmStringExtension(encodeTlv(0x1e, Uint8Array.of(0, 0x41))), DecodeError);
    assert.throws(() => readGmStringExtension(encodeTlv(0x16, Uint8Array.of(0xc3, 0xa9))), DecodeError);
    assert.throws(() => readGmIdentityExtension(ext('1.2.3', encodeTlv(0x13, ascii('A')))), RangeError);
  });

  test('readIdentityNumbers: ID card 4.1.1.1 before 4.1.1; 4.1.1 as CHOICE or bare string', () => {
    const both = readIdentityNumbers([
      identityCodeExtension({ kind: 'residentIdCard', value: '110105194912310011' }),
      residentIdCardExtension(ID),
    ]);
    assert.deepEqual(both.residentIdCard, { value: ID, oid: oids.id_gmt0015_residentIdCard });
    const bare = readIdentityNumbers([ext(oids.id_gmt0015_identityCode, encodeTlv(0x13, ascii(ID)))]);
    assert.deepEqual(bare.residentIdCard, { value: ID, oid: oids.id_gmt0015_identityCode });
    const officer = readIdentityNumbers([
      identityCodeExtension({ kind: 'militaryOfficerCard', value: '001' }),
    ]);
    assert.deepEqual(officer.militaryOfficerCard, { value: '001', oid: oids.id_gmt0015_identityCode });
    assert.equal(officer.residentIdCard, undefined);
  });

  test('readIdentityNumbers: passport 4.1.1.2 before the 4.1.1 CHOICE', () => {
    const r = readIdentityNumbers([
      identityCodeExtension({ kind: 'passport', value: 'G00000001' }),
      passportNumberExtension('E12345678'),
    ]);
    assert.deepEqual(r.passport, { value: 'E12345678', oid: oids.id_gmt0015_passportNumber });
    const old = readIdentityNumbers([identityCodeExtension({ kind: 'passport', value: 'G00000001' })]);
    assert.deepEqual(old.passport, { value: 'G00000001', oid: oids.id_gmt0015_identityCode });
  });

  test('readIdentityNumbers: organisations 4.4 → 4.1.4 → 4.1.3; insurance and tax numbers', () => {
    const all = [
      icRegistrationNumberExtension('110000012345678'),
      organizationCodeExtension('12345678-9'),
      unifiedSocialCreditCodeExtension('91110000100000000X'),
      insuranceNumberExtension('3201001234'),
      taxationNumberExtension('110105123456789'),
    ];
    const r = readIdentityNumbers(all);
    assert.deepEqual(r.organization, {
      value: '91110000100000000X',
      oid: oids.id_gmt0015_unifiedSocialCreditCode,
    });
    assert.deepEqual(r.socialInsurance, { value: '3201001234', oid: oids.id_gmt0015_insuranceNumber });
    assert.deepEqual(r.taxation, { value: '110105123456789', oid: oids.id_gmt0015_taxationNumber });
    assert.deepEqual(
      readIdentityNumbers(all.slice(0, 2)).organization?.oid,
      oids.id_gmt0015_organizationCode,
    );
    assert.deepEqual(
      readIdentityNumbers(all.slice(0, 1)).organization?.oid,
      oids.id_gmt0015_icRegistrationNumber,
    );
    assert.deepEqual(readIdentityNumbers([]), { problems: [] });
  });

  test('readIdentityNumbers skips unreadable extensions, names them, and falls back', () => {
    const r = readIdentityNumbers([
      ext(oids.id_gmt0015_unifiedSocialCreditCode, encodeTlv(0x02, Uint8Array.of(1))),
      organizationCodeExtension('12345678-9'),
      ext(oids.id_gmt0015_identityCode, Uint8Array.of(0xa0, 0x05)),
    ]);
    assert.deepEqual(r.organization, { value: '12345678-9', oid: oids.id_gmt0015_organizationCode });
    assert.equal(r.problems.length, 2);
    assert.match(r.problems.join('\n'), /1\.2\.156\.10260\.4\.4: UnifiedSocialCreditCode/);
    assert.match(r.problems.join('\n'), /1\.2\.156\.10260\.4\.1\.1: /);
  });
});

describe('custom extensions', () => {
  test('customExtension keeps the OID, criticality and a copy of the DER value', () => {
    const value = encodeTlv(0x30, encodeTlv(0x0c, new TextEncoder().encode('医保编号')));
    const e = customExtension('1.2.156.112233.1.5', true, value);
    assert.deepEqual(e, { oid: '1.2.156.112233.1.5', critical: true, value });
    value[0] = 0;
    assert.equal(e.value[0], 0x30, 'the value was copied');
  });

  test('customExtension validates the OID', () => {
    for (const bad of ['', '1', '3.1', '1.40', '1.2.03', '1..2', 'a.b', '1.2.', ' 1.2']) {
      assert.equal(isValidOid(bad), false, bad);
      assert.throws(() => customExtension(bad, false, Uint8Array.of(5, 0)), RangeError, bad);
    }
    assert.equal(isValidOid('2.999.1'), true);
    assert.equal(isValidOid('1.39.0'), true);
  });

  test('customExtension requires exactly one well-formed DER element', () => {
    const bad = [
      Uint8Array.of(),
      Uint8Array.of(0x05, 0x00, 0x05, 0x00), // two elements
      Uint8Array.of(0x30, 0x80, 0x00, 0x00), // indefinite length
      Uint8Array.of(0x04, 0x81, 0x01, 0x00), // non-minimal length
      Uint8Array.of(0x30, 0x05, 0x05, 0x00), // truncated
      Uint8Array.of(0x30, 0x03, 0x04, 0x05, 0x00), // inner overrun
    ];
    for (const b of bad) assert.throws(() => customExtension('1.2.3.4', false, b), DecodeError, hex(b));
    assert.throws(
      () => customExtension('1.2.3.4', 'yes' as unknown as boolean, Uint8Array.of(5, 0)),
      TypeError,
    );
    assert.throws(() => customExtension('1.2.3.4', false, [5, 0] as unknown as Uint8Array), TypeError);
  });

  test('identity and custom extensions round-trip through a certificate that OpenSSL parses', async () => {
    const key = PrivateKey.generate('sm2');
    const exts = [
      identityCodeExtension({ kind: 'residentIdCard', value: ID }),
      residentIdCardExtension(ID),
      organizationCodeExtension('12345678-9'),
      customExtension('1.2.156.112233.1.5', false, encodeTlv(0x0c, new TextEncoder().encode('医保'))),
    ];
    const { cert } = await issueTestCertificate({
      subject: [
        ['C', 'CN'],
        ['CN', '张三'],
      ],
      key,
      extensions: exts,
    });
    for (const e of exts) assert.deepEqual(cert.extension(e.oid), e);
    const ids = readIdentityNumbers(cert);
    assert.deepEqual(ids.residentIdCard, { value: ID, oid: oids.id_gmt0015_residentIdCard });
    assert.deepEqual(ids.organization, { value: '12345678-9', oid: oids.id_gmt0015_organizationCode });
    const r = runOpenssl(['x509', '-inform', 'DER', '-noout', '-text'], cert.der);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /1\.2\.156\.10260\.4\.1\.1\.1:/);
    assert.match(r.stdout, /1\.2\.156\.112233\.1\.5:/);
  });
});
