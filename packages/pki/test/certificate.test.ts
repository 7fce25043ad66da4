/**
 * X.509 certificates: build → sign → parse for SM2, RSA (PKCS#1 v1.5 and PSS) and ECDSA; Chinese UTF-8
 * names byte for byte; custom extensions; every getter of ParsedCertificate (cross-checked with Node's
 * X509Certificate and the openssl CLI); the builder's refusals; strict-DER negatives.
 */

import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { DecodeError, encodePem, Sm2SignerPool } from '@medsign/gm';
import { encodeSequence, encodeTlv, readChildren, readTlv } from '@medsign/gm/der';
import { runBcPeer, runOpenssl } from '@medsign/testkit';
import {
  authorityInfoAccessExtension,
  authorityKeyIdentifierExtension,
  basicConstraintsExtension,
  buildName,
  buildTbsCertificate,
  certificatePoliciesExtension,
  crlDistributionPointsExtension,
  customExtension,
  encodeName,
  encodeNameAttributes,
  extKeyUsageExtension,
  formatName,
  issueCertificate,
  keyIdentifier,
  keyUsageExtension,
  nameAttributes,
  oids,
  ParsedCertificate,
  PrivateKey,
  signTbsCertificate,
  subjectAltNameExtension,
  subjectKeyIdentifierExtension,
  type CertificateTemplate,
  readSpki,
  type NameAttribute,
  type SignatureAlgorithmName,
} from '../src/index.js';

const SUBJECT: NameAttribute[] = [
  ['C', 'CN'],
  ['ST', '北京市'],
  ['L', '海淀区'],
  ['O', '北京协和医院'],
  ['OU', '心内科（一病区）'],
  ['CN', '张三'],
  ['SERIALNUMBER', '110105194912310021'],
  ['E', 'zhangsan@example.cn'],
];
const ISSUER: NameAttribute[] = [
  ['C', 'CN'],
  ['O', '测试医院'],
  ['CN', '测试医院 Issuing CA'],
];

let caKey: PrivateKey;
let subjectKey: PrivateKey;

function template(over: Partial<CertificateTemplate> = {}): CertificateTemplate {
  return {
    serialNumber: 0x0123456789abcdef01n,
    issuer: ISSUER,
    subject: SUBJECT,
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2028-01-01T00:00:00Z'),
    publicKeyInfo: subjectKey.publicKeyInfo,
    ...over,
  };
}

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('certificates', () => {
  before(() => {
    caKey = PrivateKey.generate('sm2');
    subjectKey = PrivateKey.generate('sm2');
  });

  test('Chinese UTF-8 names round-trip exactly: subject bytes, formatName, attributes', async () => {
    const der = await issueCertificate(template(), caKey.signer());
    const cert = ParsedCertificate.parse(der);
    assert.equal(toHex(cert.subjectDer), toHex(encodeName(buildName(SUBJECT))));
    assert.equal(toHex(cert.issuerDer), toHex(encodeName(buildName(ISSUER))));
    assert.deepEqual(nameAttributes(cert.subject), SUBJECT);
    assert.equal(
      cert.subjectText,
      'C=CN, ST=北京市, L=海淀区, O=北京协和医院, OU=心内科（一病区）, CN=张三, SERIALNUMBER=110105194912310021, E=zhangsan@example.cn',
    );
    assert.equal(formatName(cert.issuer), cert.issuerText);
    // The CN is a UTF8String (0x0c) holding exactly the UTF-8 bytes of 张三; C is a PrintableString.
    const cn = new TextEncoder().encode('张三');
    assert.ok(toHex(cert.subjectDer).includes(toHex(encodeTlv(0x0c, cn))));
    assert.ok(toHex(cert.subjectDer).includes('13024' + '34e'));
    // OpenSSL reads the same name.
    const r = runOpenssl(
      ['x509', '-inform', 'DER', '-noout', '-subject', '-nameopt', 'utf8,sep_comma_plus'],
      der,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /O=北京协和医院/);
    assert.match(r.stdout, /CN=张三/);
  });

  test('formatName escapes the characters RFC 4514 reserves', () => {
    const name = buildName([
      ['O', 'A, B + C'],
      ['CN', 'x"y'],
    ]);
    assert.equal(formatName(name), 'O=A\\, B \\+ C, CN=x\\"y');
  });

  test('every getter, cross-checked with Node X509Certificate', async () => {
    const ski = keyIdentifier(subjectKey.publicKeyInfo);
    const aki = keyIdentifier(caKey.publicKeyInfo);
    const der = await issueCertificate(
      template({
        extensions: [
          basicConstraintsExtension({ ca: false }),
          keyUsageExtension(['digitalSignature', 'nonRepudiation']),
          extKeyUsageExtension([oids.id_kp_clientAuth, oids.id_kp_emailProtection]),
          subjectKeyIdentifierExtension(ski),
          authorityKeyIdentifierExtension(aki),
          subjectAltNameExtension({
            email: ['zhangsan@example.cn'],
            dns: ['his.example.cn'],
            uri: ['https://x.cn'],
          }),
          crlDistributionPointsExtension(['http://crl.example.cn/1.crl']),
          authorityInfoAccessExtension({
            ocsp: ['http://ocsp.example.cn'],
            caIssuers: ['http://ca.example.cn/ca.cer'],
          }),
          certificatePoliciesExtension([{ oid: '1.2.156.112233.1.1', cps: 'https://ca.example.cn/cps' }]),
        ],
      }),
      caKey.signer(),
    );
    const cert = ParsedCertificate.parse(der);
    const node = new X509Certificate(Buffer.from(der));
    assert.equal(cert.version, 3);
    assert.equal(cert.serialNumber, '123456789abcdef01');
    assert.equal(cert.serialNumber, node.serialNumber.toLowerCase().replace(/^0+/, ''));
    assert.equal(cert.notBefore.toISOString(), '2026-01-01T00:00:00.000Z');
    assert.equal(cert.notAfter.toISOString(), '2028-01-01T00:00:00.000Z');
    assert.equal(new Date(node.validFrom).getTime(), cert.notBefore.getTime());
    assert.deepEqual(cert.publicKey, { family: 'sm2', curve: 'sm2p256v1', bits: 256 });
    assert.deepEqual(cert.signatureAlgorithm, { name: 'SM3withSM2' });
    assert.equal(cert.algorithmsMatch, true);
    assert.ok(cert.signatureValue.length >= 70 && cert.signatureValue[0] === 0x30);
    assert.deepEqual(cert.basicConstraints, { ca: false });
    assert.deepEqual(cert.keyUsage, ['digitalSignature', 'nonRepudiation']);
    assert.deepEqual(cert.extKeyUsage, [oids.id_kp_clientAuth, oids.id_kp_emailProtection]);
    assert.deepEqual(cert.subjectKeyIdentifier, ski);
    assert.deepEqual(cert.authorityKeyIdentifier, aki);
    assert.deepEqual(cert.subjectAltNames, [
      'email:zhangsan@example.cn',
      'DNS:his.example.cn',
      'URI:https://x.cn',
    ]);
    assert.deepEqual(cert.crlDistributionPoints, ['http://crl.example.cn/1.crl']);
    assert.deepEqual(cert.authorityInfoAccess, {
      ocsp: ['http://ocsp.example.cn'],
      caIssuers: ['http://ca.example.cn/ca.cer'],
    });
    assert.deepEqual(cert.policies, ['1.2.156.112233.1.1']);
    assert.equal(cert.extensions.length, 9);
    assert.equal(cert.extension(oids.id_ce_keyUsage)?.critical, true);
    assert.equal(cert.extension('1.2.3.4'), undefined);
    assert.equal(cert.isSelfIssued, false);
    assert.equal(cert.verifySignature(caKey.publicKeyInfo), true);
    assert.equal(cert.verifySignature(subjectKey.publicKeyInfo), false);
    assert.equal(cert.verifySignature(Uint8Array.of(0x30, 0)), false);
    assert.equal(cert.isValidAt(new Date('2027-01-01T00:00:00Z')), true);
    assert.equal(cert.isValidAt(new Date('2025-12-31T23:59:59Z')), false);
    assert.equal(cert.isValidAt(new Date('2028-01-01T00:00:01Z')), false);
    assert.equal(cert.fingerprint(), createHash('sha256').update(der).digest('hex'));
    assert.equal(cert.fingerprint('sha256'), node.fingerprint256.replace(/:/g, '').toLowerCase());
    assert.equal(cert.fingerprint('sha1'), node.fingerprint.replace(/:/g, '').toLowerCase());
    assert.equal(cert.fingerprint('sm3').length, 64);
    assert.equal(cert.toPem(), encodePem('CERTIFICATE', der));
    assert.deepEqual(ParsedCertificate.parse(cert.toPem()).der, der);
    assert.deepEqual(ParsedCertificate.parse(new TextEncoder().encode(cert.toPem())).der, der);
    // tbsDer, issuerDer, subjectDer, publicKeyInfo are views of the received bytes.
    assert.deepEqual(cert.publicKeyInfo, subjectKey.publicKeyInfo);
    assert.ok(toHex(der).includes(toHex(cert.tbsDer)));
  });

  test('a self-signed certificate is self-issued and verifies with its own key', async () => {
    const der = await issueCertificate(template({ issuer: SUBJECT, subject: SUBJECT }), subjectKey.signer());
    const cert = ParsedCertificate.parse(der);
    assert.equal(cert.isSelfIssued, true);
    assert.equal(cert.verifySignature(cert.publicKeyInfo), true);
  });

  test('custom extensions (any OID, either criticality) round-trip byte for byte', async () => {
    const exts = [
      customExtension('1.2.156.112233.9.1', false, encodeTlv(0x0c, new TextEncoder().encode('病历号 A-001'))),
      customExtension('1.2.156.112233.9.2', true, encodeSequence(encodeTlv(0x02, Uint8Array.of(7)))),
      customExtension('2.999.3', false, Uint8Array.of(0x05, 0x00)),
    ];
    const cert = ParsedCertificate.parse(
      await issueCertificate(template({ extensions: exts }), caKey.signer()),
    );
    assert.deepEqual(cert.extensions, exts);
  });

  for (const [type, alg] of [
    ['rsa-2048', 'SHA256withRSA'],
    ['rsa-2048', 'SHA256withRSAPSS'],
    ['rsa-2048', 'SHA384withRSAPSS'],
    ['ec-p256', 'SHA256withECDSA'],
    ['ec-p384', 'SHA384withECDSA'],
    ['sm2', 'SM3withSM2'],
  ] as const) {
    test(`${alg} (${type}): issued, parsed, verified here and by a peer`, async (t) => {
      const key = PrivateKey.generate(type);
      const der = await issueCertificate(
        template({ issuer: ISSUER, subject: ISSUER, publicKeyInfo: key.publicKeyInfo }),
        key.signer(alg as SignatureAlgorithmName),
      );
      const cert = ParsedCertificate.parse(der);
      assert.equal(cert.signatureAlgorithm.name, alg);
      if (alg.endsWith('PSS'))
        assert.equal(cert.signatureAlgorithm.saltLength, alg.startsWith('SHA256') ? 32 : 48);
      assert.equal(cert.verifySignature(key.publicKeyInfo), true);
      const file = join(mkdtempSync(join(tmpdir(), 'medsign-cert-')), 'self.pem');
      writeFileSync(file, encodePem('CERTIFICATE', der));
      if (type === 'sm2') {
        // OpenSSL 3.0 cannot check an SM2 self-signature with the standard ID (-check_ss_sig ignores
        // -vfyopt distid), so the Bouncy Castle peer checks this one.
        const bc = runBcPeer(['cert-verify', file, file]);
        if (bc.code === 3) {
          if (process.env.CI === 'true') assert.fail(`BC peer unavailable in CI: ${JSON.stringify(bc.json)}`);
          t.skip(`BC peer unavailable: ${JSON.stringify(bc.json)}`);
          return;
        }
        assert.equal(bc.code, 0, bc.stdout + bc.stderr);
        return;
      }
      const r = runOpenssl(['verify', '-no_check_time', '-check_ss_sig', '-CAfile', file, file]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const node = new X509Certificate(Buffer.from(der));
      assert.equal(node.verify(node.publicKey), true);
    });
  }

  test('validity is written in whole seconds (regression: GeneralizedTime got fractional seconds)', async () => {
    const der = await issueCertificate(
      template({
        notBefore: new Date('2026-01-01T00:00:00.999Z'),
        notAfter: new Date('2051-01-01T00:00:00.250Z'),
      }),
      caKey.signer(),
    );
    const cert = ParsedCertificate.parse(der);
    assert.equal(cert.notBefore.toISOString(), '2026-01-01T00:00:00.000Z');
    assert.equal(cert.notAfter.toISOString(), '2051-01-01T00:00:00.000Z');
    const text = Buffer.from(cert.tbsDer).toString('latin1');
    assert.ok(text.includes('260101000000Z'), 'UTCTime before 2050');
    assert.ok(text.includes('20510101000000Z'), 'GeneralizedTime from 2050, no fraction');
  });

  test('getters over malformed extension values throw DecodeError (regression: schema errors leaked)', async () => {
    const notThis = Uint8Array.of(0x05, 0x00); // valid DER, but no extension's syntax
    const ids = [
      oids.id_ce_basicConstraints,
      oids.id_ce_keyUsage,
      oids.id_ce_extKeyUsage,
      oids.id_ce_subjectKeyIdentifier,
      oids.id_ce_authorityKeyIdentifier,
      oids.id_ce_subjectAltName,
      oids.id_ce_cRLDistributionPoints,
      oids.id_pe_authorityInfoAccess,
      oids.id_ce_certificatePolicies,
    ];
    const cert = ParsedCertificate.parse(
      await issueCertificate(
        template({ extensions: ids.map((id) => customExtension(id, false, notThis)) }),
        caKey.signer(),
      ),
    );
    const getters: (keyof ParsedCertificate)[] = [
      'basicConstraints',
      'keyUsage',
      'extKeyUsage',
      'subjectKeyIdentifier',
      'authorityKeyIdentifier',
      'subjectAltNames',
      'crlDistributionPoints',
      'authorityInfoAccess',
      'policies',
    ];
    for (const g of getters) assert.throws(() => cert[g], DecodeError, g);
  });

  test('withSignature reads a re-signed TBS without parsing it again, and refuses anything else', async () => {
    const tbs = buildTbsCertificate(
      template({ extensions: [keyUsageExtension(['digitalSignature'])] }),
      caKey.signer().algorithm,
    );
    const throwaway = PrivateKey.generate('sm2');
    const draft = ParsedCertificate.parse(await signTbsCertificate(tbs, throwaway.signer()));
    const der = await signTbsCertificate(tbs, caKey.signer());
    const fast = ParsedCertificate.withSignature(draft, der);
    const full = ParsedCertificate.parse(der);
    assert.equal(toHex(fast.der), toHex(full.der));
    assert.equal(toHex(fast.signatureValue), toHex(full.signatureValue));
    assert.equal(fast.signatureAlgorithm.name, full.signatureAlgorithm.name);
    assert.equal(fast.algorithmsMatch, true);
    assert.equal(fast.subjectText, full.subjectText);
    assert.equal(fast.serialNumber, full.serialNumber);
    assert.equal(toHex(fast.subjectDer), toHex(full.subjectDer));
    assert.equal(toHex(fast.issuerDer), toHex(full.issuerDer));
    assert.equal(toHex(fast.publicKeyInfo), toHex(full.publicKeyInfo));
    assert.deepEqual(fast.keyUsage, full.keyUsage);
    assert.equal(fast.fingerprint('sm3'), full.fingerprint('sm3'));
    assert.equal(fast.verifySignature(caKey.publicKeyInfo), true);
    assert.equal(fast.verifySignature(throwaway.publicKeyInfo), false);

    // Another TBS (a different serial) is refused, not trusted.
    const other = await signTbsCertificate(
      buildTbsCertificate(template({ serialNumber: 7n }), caKey.signer().algorithm),
      caKey.signer(),
    );
    assert.throws(() => ParsedCertificate.withSignature(draft, other), DecodeError);
    // Malformed outer parts: not DER, a BIT STRING with unused bits, an algorithm that is not a SEQUENCE.
    const outer = readTlv(der);
    const [t, alg, sig] = readChildren(outer.value);
    const part = (x: typeof t) => outer.value.subarray(x!.start, x!.end);
    const sigValue = part(sig).slice();
    sigValue[sigValue.length - sig!.value.length] = 1;
    assert.throws(() => ParsedCertificate.withSignature(draft, der.subarray(0, der.length - 1)), DecodeError);
    assert.throws(
      () => ParsedCertificate.withSignature(draft, encodeSequence(part(t), part(alg), sigValue)),
      DecodeError,
    );
    assert.throws(
      () =>
        ParsedCertificate.withSignature(
          draft,
          encodeSequence(part(t), encodeTlv(0x05, new Uint8Array(0)), part(sig)),
        ),
      DecodeError,
    );
  });

  test('verifySignatureAsync on an Sm2SignerPool answers as verifySignature does', async () => {
    const pool = new Sm2SignerPool({ size: 1 });
    try {
      const cert = ParsedCertificate.parse(await issueCertificate(template(), caKey.signer()));
      assert.equal(await cert.verifySignatureAsync(caKey.publicKeyInfo, { sm2Pool: pool }), true);
      assert.equal(await cert.verifySignatureAsync(subjectKey.publicKeyInfo, { sm2Pool: pool }), false);
      assert.equal(await cert.verifySignatureAsync(caKey.publicKeyInfo), true);
      const rsa = PrivateKey.generate('rsa-2048');
      const rsaCert = ParsedCertificate.parse(await issueCertificate(template(), rsa.signer()));
      assert.equal(await rsaCert.verifySignatureAsync(rsa.publicKeyInfo, { sm2Pool: pool }), true);
      assert.equal(await rsaCert.verifySignatureAsync(caKey.publicKeyInfo, { sm2Pool: pool }), false);
    } finally {
      await pool.close();
    }
  });

  test('buildTbsCertificate refuses what RFC 5280 forbids', () => {
    const alg = 'SM3withSM2';
    assert.throws(() => buildTbsCertificate(template({ serialNumber: 0n }), alg), RangeError);
    assert.throws(() => buildTbsCertificate(template({ serialNumber: -5n }), alg), RangeError);
    assert.throws(() => buildTbsCertificate(template({ serialNumber: 1n << 160n }), alg), RangeError);
    assert.doesNotThrow(() => buildTbsCertificate(template({ serialNumber: (1n << 159n) - 1n }), alg));
    const d = new Date('2027-01-01T00:00:00Z');
    assert.throws(() => buildTbsCertificate(template({ notBefore: d, notAfter: d }), alg), RangeError);
    const ku = keyUsageExtension(['digitalSignature']);
    assert.throws(() => buildTbsCertificate(template({ extensions: [ku, ku] }), alg), RangeError);
    assert.throws(() => buildName([['C', '中国']]), RangeError);
    assert.throws(() => buildName([['XX', 'y']]), RangeError);
  });

  test('buildTbsCertificate writes exactly what the ASN.1 schema serializer writes', async () => {
    const { AsnConvert, OctetString } = await import('@peculiar/asn1-schema');
    const x509 = await import('@peculiar/asn1-x509');
    const { signatureAlgorithmIdentifier } = await import('../src/algorithms.js');
    /** The reference: the TBSCertificate through @peculiar/asn1-x509 (the encoder used before). */
    const reference = (t: CertificateTemplate, alg: SignatureAlgorithmName) => {
      const name = (n: CertificateTemplate['issuer']) =>
        n instanceof Uint8Array
          ? AsnConvert.parse(n, x509.Name)
          : n instanceof x509.Name
            ? n
            : buildName(n as NameAttribute[]);
      let hex = t.serialNumber.toString(16);
      if (hex.length % 2) hex = '0' + hex;
      if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = '00' + hex;
      const tbs = new x509.TBSCertificate({
        version: x509.Version.v3,
        serialNumber: new Uint8Array(Buffer.from(hex, 'hex')).buffer,
        signature: signatureAlgorithmIdentifier(alg),
        issuer: name(t.issuer),
        validity: new x509.Validity({ notBefore: t.notBefore, notAfter: t.notAfter }),
        subject: name(t.subject),
        subjectPublicKeyInfo: AsnConvert.parse(t.publicKeyInfo, x509.SubjectPublicKeyInfo),
      });
      if (t.extensions?.length)
        tbs.extensions = new x509.Extensions(
          t.extensions.map(
            (e) =>
              new x509.Extension({
                extnID: e.oid,
                critical: e.critical,
                extnValue: new OctetString(e.value),
              }),
          ),
        );
      return toHex(new Uint8Array(AsnConvert.serialize(tbs)));
    };
    const keys = [subjectKey, PrivateKey.generate('rsa-2048'), PrivateKey.generate('ec-p384')];
    const exts = [
      basicConstraintsExtension({ ca: false }),
      keyUsageExtension(['digitalSignature', 'nonRepudiation']),
      subjectKeyIdentifierExtension(keyIdentifier(subjectKey.publicKeyInfo)),
      crlDistributionPointsExtension(['http://127.0.0.1:8080/pki/crl/sm2.crl']),
      customExtension('1.2.156.112562.2.1.1.1', true, encodeTlv(0x0c, new TextEncoder().encode('心内科'))),
    ];
    const cases: [Partial<CertificateTemplate>, SignatureAlgorithmName][] = [
      [{}, 'SM3withSM2'],
      [{ serialNumber: 1n, extensions: exts }, 'SM3withSM2'],
      [
        { serialNumber: 0xff00n, extensions: exts.slice(0, 2), publicKeyInfo: keys[1]!.publicKeyInfo },
        'SHA256withRSA',
      ],
      [{ serialNumber: (1n << 159n) - 1n, publicKeyInfo: keys[2]!.publicKeyInfo }, 'SHA384withECDSA'],
      // GeneralizedTime from 2050 on; a sub-second notBefore is cut to whole seconds.
      [
        { notBefore: new Date('2049-12-31T23:59:59.900Z'), notAfter: new Date('2051-06-01T12:00:00Z') },
        'SM3withSM2',
      ],
      [
        { issuer: encodeName(buildName(ISSUER as NameAttribute[])), extensions: exts.slice(4) },
        'SHA256withRSAPSS',
      ],
    ];
    for (const [over, alg] of cases) {
      const t = template(over);
      const expected = reference(
        { ...t, notBefore: new Date(Math.floor(t.notBefore.getTime() / 1000) * 1000) },
        alg,
      );
      assert.equal(toHex(buildTbsCertificate(t, alg)), expected, JSON.stringify(Object.keys(over)));
    }
    // A name or SPKI given as bytes must be one DER SEQUENCE of the right shape.
    assert.throws(
      () => buildTbsCertificate(template({ issuer: Uint8Array.of(0x31, 0x00) }), 'SM3withSM2'),
      DecodeError,
    );
    assert.throws(
      () =>
        buildTbsCertificate(
          template({ publicKeyInfo: encodeSequence(encodeTlv(0x05, new Uint8Array(0))) }),
          'SM3withSM2',
        ),
      DecodeError,
    );
    assert.throws(
      () => buildTbsCertificate(template({ publicKeyInfo: Uint8Array.of(0x30, 0x81, 0x00) }), 'SM3withSM2'),
      DecodeError,
    );
  });

  test('encodeNameAttributes writes the bytes of encodeName(buildName(…)) and refuses the same values', () => {
    const names: NameAttribute[][] = [
      SUBJECT,
      ISSUER,
      [
        ['C', 'CN'],
        ['serialNumber', 'E1024'],
        ['E', 'doctor@hospital.cn'],
        ['DC', 'cn'],
        ['2.5.4.97', '12100000400000398X'],
        ['CN', '张三 (心内科)'],
      ],
    ];
    for (const attrs of names)
      assert.equal(toHex(encodeNameAttributes(attrs)), toHex(encodeName(buildName(attrs))));
    for (const bad of [[['C', '中国']], [['XX', 'y']], [['CN', '']], [['E', '张@x']]] as NameAttribute[][])
      assert.throws(() => encodeNameAttributes(bad), RangeError);
  });

  test('readSpki: algorithm, parameters and key bits of SM2, RSA and EC keys; malformed SPKIs are DecodeErrors', async () => {
    const { AsnConvert } = await import('@peculiar/asn1-schema');
    const { SubjectPublicKeyInfo } = await import('@peculiar/asn1-x509');
    for (const type of ['sm2', 'rsa-2048', 'ec-p256'] as const) {
      const spki = PrivateKey.generate(type).publicKeyInfo;
      const ref = AsnConvert.parse(spki, SubjectPublicKeyInfo);
      const parts = readSpki(spki);
      assert.equal(parts.algorithm, ref.algorithm.algorithm);
      assert.equal(toHex(parts.publicKey), toHex(new Uint8Array(ref.subjectPublicKey)));
      // RSA keys carry NULL parameters, which the schema parser reads as absent.
      assert.equal(
        parts.parameters && toHex(parts.parameters),
        ref.algorithm.parameters
          ? toHex(new Uint8Array(ref.algorithm.parameters))
          : type === 'rsa-2048'
            ? '0500'
            : undefined,
      );
    }
    const good = subjectKey.publicKeyInfo;
    const [alg, bits] = readChildren(readTlv(good).value);
    const algDer = readTlv(good).value.subarray(alg!.start, alg!.end);
    const unusedBits = encodeSequence(algDer, encodeTlv(0x03, Uint8Array.of(1, ...bits!.value.subarray(1))));
    for (const bad of [
      good.subarray(0, good.length - 1),
      Uint8Array.of(...good, 0),
      unusedBits,
      encodeSequence(algDer),
      encodeSequence(encodeTlv(0x05, new Uint8Array(0))),
    ])
      assert.throws(() => readSpki(bad), DecodeError);
  });

  describe('strict DER: malformed certificates are DecodeErrors', () => {
    let der: Uint8Array;
    before(async () => {
      der = await issueCertificate(template(), caKey.signer());
    });

    /** The certificate with its outer length written in long form (non-minimal). */
    function nonMinimalOuterLength(d: Uint8Array): Uint8Array {
      const tlv = readTlv(d);
      const len = tlv.value.length;
      return Uint8Array.of(0x30, 0x83, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff, ...tlv.value);
    }

    /** The certificate with the outer SEQUENCE in indefinite-length form (BER, not DER). */
    function indefinite(d: Uint8Array): Uint8Array {
      return Uint8Array.of(0x30, 0x80, ...readTlv(d).value, 0, 0);
    }

    /** Non-minimal length inside the TBS (the serial number INTEGER's length in long form). */
    function nonMinimalInner(d: Uint8Array): Uint8Array {
      const outer = readTlv(d);
      const [tbs, alg, sig] = readChildren(outer.value);
      const parts = readChildren(tbs!.value);
      const raw = (t: { value: Uint8Array; start: number; end: number }, base: Uint8Array) =>
        base.subarray(t.start, t.end);
      const serial = parts[1]!;
      const longSerial = Uint8Array.of(0x02, 0x81, serial.value.length, ...serial.value);
      const newTbs = encodeSequence(
        raw(parts[0]!, tbs!.value),
        longSerial,
        ...parts.slice(2).map((p) => raw(p, tbs!.value)),
      );
      return encodeSequence(newTbs, raw(alg!, outer.value), raw(sig!, outer.value));
    }

    /** The serial number re-encoded with a superfluous leading zero octet (a non-minimal INTEGER). */
    function nonMinimalSerial(d: Uint8Array): Uint8Array {
      const outer = readTlv(d);
      const [tbs, alg, sig] = readChildren(outer.value);
      const parts = readChildren(tbs!.value);
      const raw = (t: { start: number; end: number }) => tbs!.value.subarray(t.start, t.end);
      const serial = parts[1]!;
      const padded = encodeTlv(0x02, Uint8Array.of(0, ...serial.value));
      const newTbs = encodeSequence(raw(parts[0]!), padded, ...parts.slice(2).map(raw));
      return encodeSequence(
        newTbs,
        outer.value.subarray(alg!.start, alg!.end),
        outer.value.subarray(sig!.start, sig!.end),
      );
    }

    const cases: [string, (d: Uint8Array) => Uint8Array][] = [
      ['non-minimal serialNumber INTEGER', nonMinimalSerial],
      ['empty input', () => new Uint8Array()],
      ['truncated by one byte', (d) => d.subarray(0, d.length - 1)],
      ['truncated to the header', (d) => d.subarray(0, 4)],
      ['a trailing byte', (d) => Uint8Array.of(...d, 0)],
      ['a second certificate appended', (d) => Uint8Array.of(...d, ...d)],
      ['indefinite outer length', indefinite],
      ['non-minimal outer length', nonMinimalOuterLength],
      ['non-minimal length inside the TBS', nonMinimalInner],
      ['wrong outer tag (SET)', (d) => Uint8Array.of(0x31, ...d.subarray(1))],
      ['wrong outer tag (OCTET STRING)', (d) => Uint8Array.of(0x04, ...d.subarray(1))],
      [
        'only two outer fields',
        (d) => {
          const outer = readTlv(d);
          const [tbs, alg] = readChildren(outer.value);
          return encodeSequence(
            outer.value.subarray(tbs!.start, tbs!.end),
            outer.value.subarray(alg!.start, alg!.end),
          );
        },
      ],
      ['PEM with another label', (d) => new TextEncoder().encode(encodePem('X509 CRL', d))],
    ];
    for (const [what, mutate] of cases) {
      test(what, () => {
        assert.throws(() => ParsedCertificate.parse(mutate(der)), DecodeError);
      });
    }

    test('a repeated extension is a DecodeError', async () => {
      const { AsnConvert } = await import('@peculiar/asn1-schema');
      const { TBSCertificate } = await import('@peculiar/asn1-x509');
      const cert = ParsedCertificate.parse(
        await issueCertificate(
          template({ extensions: [keyUsageExtension(['digitalSignature'])] }),
          caKey.signer(),
        ),
      );
      const tbs = AsnConvert.parse(cert.tbsDer, TBSCertificate);
      tbs.extensions!.push(tbs.extensions![0]!);
      const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
      const outer = readTlv(cert.der);
      const [, alg, sig] = readChildren(outer.value);
      const bad = encodeSequence(
        tbsDer,
        outer.value.subarray(alg!.start, alg!.end),
        outer.value.subarray(sig!.start, sig!.end),
      );
      assert.throws(() => ParsedCertificate.parse(bad), /appears twice/);
    });
  });
});
