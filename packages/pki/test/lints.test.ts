/**
 * Certificate lints: every lint has a certificate it passes and one it fails, built the way a CA builds
 * what it lints (buildTbsCertificate, optionally edited through the schema to make what the builder
 * refuses, signed by a throwaway key). Plus: whole hierarchies lint clean, lints ignore the signature,
 * the runner's options and its behaviour on undecodable input.
 */

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { encodeTlv } from '@medsign/gm/der';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, BasicConstraints, TBSCertificate, Time, Version } from '@peculiar/asn1-x509';
import { makeHierarchy, randomSerial } from '@medsign/testkit';
import {
  authorityInfoAccessExtension,
  authorityKeyIdentifierExtension,
  basicConstraintsExtension,
  buildTbsCertificate,
  crlDistributionPointsExtension,
  customExtension,
  extKeyUsageExtension,
  keyIdentifier,
  keyUsageExtension,
  oids,
  ParsedCertificate,
  PrivateKey,
  signatureAlgorithmIdentifier,
  signTbsCertificate,
  subjectAltNameExtension,
  subjectKeyIdentifierExtension,
  organizationCodeExtension,
  CERTIFICATE_LINTS,
  lintCertificate,
  type CertExtension,
  type CertificateTemplate,
  type KeyUsageName,
  type LintProfile,
  type NameAttribute,
  type Signer,
} from '../src/index.js';

const DAY = 86_400_000;

let caKey: PrivateKey; // the throwaway issuer key (SM2)
let rsaKey: PrivateKey;
let sm2Subject: PrivateKey;
let ecSubject: PrivateKey;

const ISSUER: NameAttribute[] = [
  ['C', 'CN'],
  ['O', '测试医院'],
  ['CN', '测试医院 Issuing CA'],
];
const PERSON: NameAttribute[] = [
  ['C', 'CN'],
  ['O', '测试医院'],
  ['OU', '心内科'],
  ['CN', '张三'],
];

/** What a test certificate differs in from the clean SM2 personal signing certificate. */
type Spec = {
  ca?: boolean;
  subject?: NameAttribute[];
  key?: PrivateKey;
  signer?: Signer;
  notBefore?: Date;
  notAfter?: Date;
  serialNumber?: bigint;
  keyUsage?: KeyUsageName[] | null;
  /** Replaces the standard extension of the same OID, or is appended; `null` for an OID drops it. */
  ext?: (CertExtension | { drop: string })[];
  /** Edits the TBS through the schema, to make what buildTbsCertificate refuses to build. */
  edit?: (tbs: TBSCertificate) => void;
};

function extensionsFor(spec: Spec, key: PrivateKey): CertExtension[] {
  const ca = spec.ca ?? false;
  const ku =
    spec.keyUsage === null
      ? []
      : [
          keyUsageExtension(
            spec.keyUsage ?? (ca ? ['keyCertSign', 'cRLSign'] : ['digitalSignature', 'nonRepudiation']),
          ),
        ];
  let exts: CertExtension[] = [
    ...(ca ? [basicConstraintsExtension({ ca: true })] : []),
    ...ku,
    subjectKeyIdentifierExtension(keyIdentifier(key.publicKeyInfo)),
    authorityKeyIdentifierExtension(keyIdentifier(caKey.publicKeyInfo)),
    crlDistributionPointsExtension(['http://crl.example.cn/issuing.crl']),
  ];
  for (const e of spec.ext ?? []) {
    if ('drop' in e) {
      exts = exts.filter((x) => x.oid !== e.drop);
      continue;
    }
    const i = exts.findIndex((x) => x.oid === e.oid);
    if (i >= 0) exts[i] = e;
    else exts.push(e);
  }
  return exts;
}

/** Builds, optionally edits, and signs with a throwaway key: the certificate a CA would lint. */
async function make(spec: Spec = {}): Promise<Uint8Array> {
  const key = spec.key ?? sm2Subject;
  const signer = spec.signer ?? caKey.signer();
  const now = Date.now();
  const template: CertificateTemplate = {
    serialNumber: spec.serialNumber ?? randomSerial(),
    issuer: ISSUER,
    subject: spec.subject ?? (spec.ca ? [...ISSUER.slice(0, 2), ['CN', 'Sub CA']] : PERSON),
    notBefore: spec.notBefore ?? new Date(now - DAY),
    notAfter: spec.notAfter ?? new Date(now + 365 * DAY),
    publicKeyInfo: key.publicKeyInfo,
    extensions: extensionsFor(spec, key),
  };
  let tbs = buildTbsCertificate(template, signer.algorithm);
  if (spec.edit) {
    const asn = AsnConvert.parse(tbs, TBSCertificate);
    spec.edit(asn);
    tbs = new Uint8Array(AsnConvert.serialize(asn));
  }
  return signTbsCertificate(tbs, signer);
}

function statusOf(der: Uint8Array | ParsedCertificate, name: string, profile?: LintProfile) {
  const report = lintCertificate(der, { only: [name], ...(profile ? { profile } : {}) });
  const r = report.results.find((x) => x.name === name);
  assert.ok(r, `${name} did not run: ${JSON.stringify(report.results)}`);
  return r;
}

const TSA_EKU = extKeyUsageExtension([oids.id_kp_timeStamping], true);
const bcRaw = (bc: BasicConstraints): CertExtension =>
  customExtension(oids.id_ce_basicConstraints, true, new Uint8Array(AsnConvert.serialize(bc)));

/** One passing and one failing certificate per lint. */
type Case = { good: Spec; bad: Spec; profile?: LintProfile };
const CASES: Record<string, Case> = {
  e_version_not_v3_with_extensions: {
    good: {},
    bad: { edit: (t) => (t.version = Version.v2) },
  },
  e_ext_duplicate: {
    good: {},
    bad: { edit: (t) => t.extensions!.push(t.extensions![0]!) },
  },
  e_serial_negative: {
    good: {},
    bad: { edit: (t) => (t.serialNumber = new Uint8Array([0x80, 0x11, 0x22, 0x33, 1, 2, 3, 4]).buffer) },
  },
  e_serial_zero: { good: {}, bad: { edit: (t) => (t.serialNumber = new Uint8Array([0]).buffer) } },
  e_serial_too_long: {
    good: { serialNumber: (1n << 159n) - 1n },
    bad: { edit: (t) => (t.serialNumber = new Uint8Array(21).fill(0x11).buffer) },
  },
  w_serial_low_entropy: { good: {}, bad: { serialNumber: 0x12345n } },
  e_validity_inverted: {
    good: {},
    bad: {
      edit: (t) => {
        t.validity.notBefore = new Time({ utcTime: new Date(Date.now() + DAY) });
        t.validity.notAfter = new Time({ utcTime: new Date(Date.now() - DAY) });
      },
    },
  },
  e_validity_time_type: {
    good: { notAfter: new Date('2051-06-01T00:00:00Z') },
    bad: { edit: (t) => (t.validity.notAfter = new Time({ generalTime: new Date('2030-01-01T00:00:00Z') })) },
  },
  e_validity_time_format: {
    good: { notAfter: new Date('2051-06-01T00:00:00Z') },
    bad: {
      edit: (t) => (t.validity.notAfter = new Time({ generalTime: new Date('2051-06-01T00:00:00.25Z') })),
    },
  },
  e_aki_missing: { good: {}, bad: { ext: [{ drop: oids.id_ce_authorityKeyIdentifier }] } },
  e_aki_no_key_identifier: {
    good: {},
    // AuthorityKeyIdentifier ::= SEQUENCE { authorityCertSerialNumber [2] 01 } — no keyIdentifier
    bad: {
      ext: [customExtension(oids.id_ce_authorityKeyIdentifier, false, Uint8Array.of(0x30, 3, 0x82, 1, 1))],
    },
  },
  e_aki_critical: {
    good: {},
    bad: { ext: [{ ...akiPlaceholder(), critical: true }] },
  },
  e_ca_ski_missing: {
    good: { ca: true },
    bad: { ca: true, ext: [{ drop: oids.id_ce_subjectKeyIdentifier }] },
  },
  w_ee_ski_missing: { good: {}, bad: { ext: [{ drop: oids.id_ce_subjectKeyIdentifier }] } },
  e_ski_critical: { good: {}, bad: { ext: [{ ...skiPlaceholder(), critical: true }] } },
  e_ca_basic_constraints_not_critical: {
    good: { ca: true },
    bad: { ca: true, ext: [{ ...basicConstraintsExtension({ ca: true }), critical: false }] },
  },
  e_key_cert_sign_without_ca: {
    good: { ca: true },
    bad: { keyUsage: ['digitalSignature', 'keyCertSign'] },
  },
  e_ca_without_key_cert_sign: { good: { ca: true }, bad: { ca: true, keyUsage: ['cRLSign'] } },
  e_path_len_without_ca: {
    good: { ca: true, ext: [basicConstraintsExtension({ ca: true, pathLength: 0 })] },
    bad: { ext: [bcRaw(new BasicConstraints({ cA: false, pathLenConstraint: 0 }))] },
  },
  e_ca_key_usage_missing: { good: { ca: true }, bad: { ca: true, keyUsage: null } },
  e_ca_key_usage_not_critical: {
    good: { ca: true },
    bad: { ca: true, ext: [{ ...keyUsageExtension(['keyCertSign', 'cRLSign']), critical: false }] },
  },
  e_ca_subject_empty: { good: { ca: true }, bad: { ca: true, subject: [] } },
  e_eku_key_usage_inconsistent: {
    good: { keyUsage: ['digitalSignature'], ext: [extKeyUsageExtension([oids.id_kp_clientAuth])] },
    bad: { keyUsage: ['keyEncipherment'], ext: [extKeyUsageExtension([oids.id_kp_codeSigning])] },
  },
  e_tsa_eku_not_critical: {
    good: { ext: [TSA_EKU] },
    bad: { ext: [extKeyUsageExtension([oids.id_kp_timeStamping], false)] },
  },
  e_tsa_eku_not_sole: {
    good: { ext: [TSA_EKU] },
    bad: { ext: [extKeyUsageExtension([oids.id_kp_timeStamping, oids.id_kp_clientAuth], true)] },
  },
  e_tsa_key_usage: {
    good: { keyUsage: ['digitalSignature'], ext: [TSA_EKU] },
    bad: { keyUsage: ['digitalSignature', 'keyEncipherment'], ext: [TSA_EKU] },
  },
  e_ocsp_signing_without_digital_signature: {
    good: { keyUsage: ['digitalSignature'], ext: [extKeyUsageExtension([oids.id_kp_OCSPSigning])] },
    bad: { keyUsage: ['nonRepudiation'], ext: [extKeyUsageExtension([oids.id_kp_OCSPSigning])] },
  },
  e_country_name_invalid: {
    good: {},
    bad: {
      subject: [
        ['C', 'CHN'],
        ['CN', '张三'],
      ],
    },
  },
  e_subject_empty_without_san: {
    good: { subject: [], ext: [subjectAltNameExtension({ email: ['zhangsan@example.cn'] }, true)] },
    bad: { subject: [], ext: [subjectAltNameExtension({ email: ['zhangsan@example.cn'] }, false)] },
  },
  e_signature_algorithm_mismatch: {
    good: {},
    bad: { edit: (t) => (t.signature = signatureAlgorithmIdentifier('SHA256withECDSA')) },
  },
  e_signature_algorithm_unsupported: {
    good: {},
    bad: { edit: (t) => (t.signature = new AlgorithmIdentifier({ algorithm: '1.2.3.4.5' })) },
  },
  e_sm2_key_without_sm3_with_sm2: {
    good: {},
    bad: { signer: undefined /* set in before(): RSA signer */ },
  },
  e_gm_identity_extension_malformed: {
    good: { ext: [organizationCodeExtension('12345678-9')] },
    bad: {
      ext: [customExtension(oids.id_gmt0015_organizationCode, false, encodeTlv(0x02, Uint8Array.of(1)))],
    },
  },
  w_gm_identity_extension_critical: {
    good: { ext: [organizationCodeExtension('12345678-9')] },
    bad: { ext: [{ ...organizationCodeExtension('12345678-9'), critical: true }] },
  },
  e_gm_personal_key_not_sm2: { profile: 'sm2-personal', good: {}, bad: { key: undefined /* EC key */ } },
  e_gm_personal_signature_not_sm3_with_sm2: {
    profile: 'sm2-personal',
    good: {},
    bad: { signer: undefined /* RSA */ },
  },
  e_gm_personal_key_usage: {
    profile: 'sm2-personal',
    good: { keyUsage: ['keyEncipherment', 'dataEncipherment', 'keyAgreement'] },
    bad: { keyUsage: ['digitalSignature', 'keyEncipherment'] },
  },
  e_gm_personal_common_name_missing: {
    profile: 'sm2-personal',
    good: {},
    bad: {
      subject: [
        ['C', 'CN'],
        ['O', '测试医院'],
      ],
    },
  },
  e_gm_personal_is_ca: { profile: 'sm2-personal', good: {}, bad: { ca: true } },
  e_gm_personal_validity_too_long: {
    profile: 'sm2-personal',
    good: { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2031-01-01T00:00:00Z') },
    bad: { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2031-01-01T00:00:01Z') },
  },
  w_gm_personal_no_revocation_pointer: {
    profile: 'sm2-personal',
    good: {
      ext: [
        { drop: oids.id_ce_cRLDistributionPoints },
        authorityInfoAccessExtension({ ocsp: ['http://ocsp.example.cn'] }),
      ],
    },
    bad: { ext: [{ drop: oids.id_ce_cRLDistributionPoints }] },
  },
};

// Placeholders resolved once the keys exist (the extension values depend on them).
function akiPlaceholder(): CertExtension {
  return { oid: oids.id_ce_authorityKeyIdentifier, critical: true, value: new Uint8Array() };
}
function skiPlaceholder(): CertExtension {
  return { oid: oids.id_ce_subjectKeyIdentifier, critical: true, value: new Uint8Array() };
}

describe('certificate lints', () => {
  before(() => {
    caKey = PrivateKey.generate('sm2');
    rsaKey = PrivateKey.generate('rsa-2048');
    sm2Subject = PrivateKey.generate('sm2');
    ecSubject = PrivateKey.generate('ec-p256');
    CASES.e_aki_critical!.bad = {
      ext: [{ ...authorityKeyIdentifierExtension(keyIdentifier(caKey.publicKeyInfo)), critical: true }],
    };
    CASES.e_ski_critical!.bad = {
      ext: [{ ...subjectKeyIdentifierExtension(keyIdentifier(sm2Subject.publicKeyInfo)), critical: true }],
    };
    CASES.e_sm2_key_without_sm3_with_sm2!.bad = { signer: rsaKey.signer() };
    CASES.e_gm_personal_signature_not_sm3_with_sm2!.bad = { signer: rsaKey.signer() };
    CASES.e_gm_personal_key_not_sm2!.bad = { key: ecSubject };
  });

  test('every lint has a zlint-style name, a citation, a description and a test case', () => {
    const names = CERTIFICATE_LINTS.map((l) => l.name);
    assert.equal(new Set(names).size, names.length, 'lint names are unique');
    for (const l of CERTIFICATE_LINTS) {
      assert.match(l.name, /^[ewn]_[a-z0-9_]+$/);
      assert.ok(l.citation.length > 0 && l.description.length > 0, l.name);
      assert.ok(CASES[l.name], `no test case for ${l.name}`);
    }
    assert.deepEqual(Object.keys(CASES).sort(), [...names].sort());
  });

  for (const [name, c] of Object.entries(CASES)) {
    test(`${name}: passes a conforming certificate, fails a broken one`, async () => {
      const good = statusOf(await make(c.good), name, c.profile);
      assert.equal(good.status, 'pass', `${name} on the good certificate: ${good.detail}`);
      const bad = statusOf(await make(c.bad), name, c.profile);
      assert.equal(bad.status, 'fail', `${name} on the bad certificate`);
      assert.ok(bad.detail && bad.detail.length > 0, `${name} says why it failed`);
    });
  }

  test('a clean SM2 personal signing certificate has no findings under the sm2-personal profile', async () => {
    const report = lintCertificate(await make(), { profile: 'sm2-personal' });
    const failed = report.results.filter((r) => r.status === 'fail');
    assert.deepEqual(failed, []);
    assert.equal(report.errors, 0);
    assert.equal(report.warnings, 0);
    assert.ok(report.results.some((r) => r.name === 'e_gm_personal_key_usage' && r.status === 'pass'));
  });

  test('sm2-personal key usage: signing or encryption set, nothing else, never absent', async () => {
    const status = async (spec: Spec) =>
      statusOf(await make(spec), 'e_gm_personal_key_usage', 'sm2-personal');
    assert.equal((await status({ keyUsage: ['digitalSignature'] })).detail, 'signing certificate');
    assert.equal((await status({ keyUsage: ['nonRepudiation'] })).status, 'pass');
    assert.equal((await status({ keyUsage: ['keyAgreement'] })).detail, 'encryption certificate');
    assert.equal((await status({ keyUsage: null })).detail, 'no keyUsage');
    assert.match(
      (await status({ keyUsage: ['digitalSignature', 'cRLSign'] })).detail ?? '',
      /asserts cRLSign/,
    );
  });

  test('lints that do not apply say na', async () => {
    const ee = lintCertificate(await make());
    const na = (n: string) => ee.results.find((r) => r.name === n)?.status;
    assert.equal(na('e_ca_ski_missing'), 'na');
    assert.equal(na('e_tsa_eku_not_critical'), 'na');
    assert.equal(na('e_gm_identity_extension_malformed'), 'na');
    assert.equal(na('e_subject_empty_without_san'), 'na');
    const root = lintCertificate(
      await make({
        ca: true,
        subject: ISSUER,
        ext: [{ drop: oids.id_ce_authorityKeyIdentifier }],
      }),
    );
    assert.equal(root.results.find((r) => r.name === 'e_aki_missing')?.status, 'na', 'self-issued root');
    assert.equal(root.errors, 0);
  });

  test('profile lints run only when the profile is asked for', async () => {
    const report = lintCertificate(await make());
    assert.ok(!report.results.some((r) => r.name.startsWith('e_gm_personal_')));
  });

  test('errors and warnings count failed e_ and w_ lints', async () => {
    const der = await make({ serialNumber: 7n, ext: [{ drop: oids.id_ce_authorityKeyIdentifier }] });
    const report = lintCertificate(der);
    assert.equal(report.errors, 1, JSON.stringify(report.results.filter((r) => r.status === 'fail')));
    assert.equal(report.warnings, 1);
    assert.deepEqual(
      report.results.filter((r) => r.status === 'fail').map((r) => r.name),
      ['w_serial_low_entropy', 'e_aki_missing'],
    );
  });

  for (const type of ['sm2', 'rsa-2048', 'ec-p256'] as const) {
    test(`testkit ${type} hierarchy lints without errors or warnings`, async () => {
      const h = await makeHierarchy(type);
      for (const [role, e] of Object.entries(h)) {
        const report = lintCertificate(e.cert);
        const failed = report.results.filter((r) => r.status === 'fail');
        assert.deepEqual(failed, [], `${type} ${role}`);
      }
    });
  }

  test('lints ignore the signature: the same TBS signed by another key gives the same report', async () => {
    const der = await make({ ca: true });
    const cert = ParsedCertificate.parse(der);
    const resigned = await signTbsCertificate(cert.tbsDer, PrivateKey.generate('sm2').signer());
    const corrupted = Uint8Array.from(der);
    corrupted[corrupted.length - 3]! ^= 0xff;
    const base = lintCertificate(der);
    assert.deepEqual(lintCertificate(resigned), base);
    assert.deepEqual(lintCertificate(corrupted), base);
  });

  test('the throwaway-key flow: lint a copy, sign the same TBS for real', async () => {
    const realCa = PrivateKey.generate('sm2');
    const tbs = buildTbsCertificate(
      {
        serialNumber: randomSerial(),
        issuer: ISSUER,
        subject: PERSON,
        notBefore: new Date(Date.now() - DAY),
        notAfter: new Date(Date.now() + 365 * DAY),
        publicKeyInfo: sm2Subject.publicKeyInfo,
        extensions: extensionsFor({}, sm2Subject),
      },
      'SM3withSM2',
    );
    const copy = await signTbsCertificate(tbs, PrivateKey.generate('sm2').signer());
    assert.equal(lintCertificate(copy, { profile: 'sm2-personal' }).errors, 0);
    const real = ParsedCertificate.parse(await signTbsCertificate(tbs, realCa.signer()));
    assert.deepEqual(real.tbsDer, ParsedCertificate.parse(copy).tbsDer);
    assert.ok(real.verifySignature(realCa.publicKeyInfo));
  });

  test('a lint that cannot read an extension fails with the reason instead of throwing', async () => {
    const der = await make({ ext: [customExtension(oids.id_ce_keyUsage, true, Uint8Array.of(0x05, 0x00))] });
    const r = statusOf(der, 'e_key_cert_sign_without_ca');
    assert.equal(r.status, 'fail');
    assert.match(r.detail ?? '', /could not evaluate/);
  });

  test('an undecodable certificate yields e_certificate_decodes (and names a repeated extension)', async () => {
    const dup = await make({ edit: (t) => t.extensions!.push(t.extensions![1]!) });
    const report = lintCertificate(dup);
    assert.deepEqual(
      report.results.map((r) => [r.name, r.status]),
      [
        ['e_certificate_decodes', 'fail'],
        ['e_ext_duplicate', 'fail'],
      ],
    );
    assert.equal(report.errors, 2);
    const junk = lintCertificate(Uint8Array.of(0x30, 0x03, 0x02, 0x01));
    assert.equal(junk.results[0]?.name, 'e_certificate_decodes');
    assert.equal(junk.errors, 1);
  });

  test('PEM input and the only option', async () => {
    const cert = ParsedCertificate.parse(await make());
    const report = lintCertificate(cert.toPem(), { only: ['e_serial_zero', 'e_aki_missing'] });
    assert.deepEqual(
      report.results.map((r) => r.name),
      ['e_serial_zero', 'e_aki_missing'],
    );
    assert.throws(() => lintCertificate(cert, { only: ['e_no_such_lint'] }), RangeError);
  });
});
