import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DomainError } from '@medsign/errors';
import { Sm2SignerPool } from '@medsign/gm';
import {
  buildCsr,
  lintCertificate,
  oids,
  ParsedCertificate,
  PrivateKey,
  readIdentityNumbers,
  verifyCertificateChain,
} from '@medsign/pki';
import { runBcPeer } from '@medsign/testkit';
import { issueCertificate, type Profile } from '../src/index.js';
import { makeTestCa, type TestCa } from './helpers/memory.js';

const dir = mkdtempSync(join(tmpdir(), 'medsign-ca-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const doctor = {
  name: '张三',
  employeeNo: 'E1024',
  department: '心内科',
  organization: '测试医院',
  country: 'CN',
  idNumber: '110101199003071234',
};

async function csrFor(key: PrivateKey) {
  return buildCsr({ subject: [['CN', 'ignored: the profile decides the subject']], signer: key.signer() });
}

describe('issuance', () => {
  let t: TestCa;
  before(async () => {
    t = await makeTestCa(['sm2', 'rsa-2048', 'ec-p256']);
  });

  test('with an Sm2SignerPool the lint copies are signed on its threads; the certificate is the same kind', async () => {
    const pool = new Sm2SignerPool({ size: 1 });
    try {
      const results = await Promise.all(
        [1, 2, 3].map(() =>
          issueCertificate(
            {
              profileId: 'doctor',
              publicKeyInfo: PrivateKey.generate('sm2').publicKeyInfo,
              applicant: doctor,
              actor: 'pool',
            },
            { ...t.deps, sm2Pool: pool },
          ),
        ),
      );
      const ca = t.deps.cas.find((c) => c.id === 'sm2')!.certificate;
      for (const r of results) assert.ok(r.certificate.verifySignature(ca.publicKeyInfo));
      // The check after signing runs on the pool too, and still refuses a signature by another key.
      const wrong = PrivateKey.generate('sm2').signer();
      await assert.rejects(
        issueCertificate(
          {
            profileId: 'doctor',
            publicKeyInfo: PrivateKey.generate('sm2').publicKeyInfo,
            applicant: doctor,
            actor: 'pool',
          },
          { ...t.deps, sm2Pool: pool, keys: { signer: async () => wrong } },
        ),
        (e: DomainError) => e.code === 'CA_SIGNATURE_CHECK_FAILED',
      );
    } finally {
      await pool.close();
    }
  });

  for (const [type, caId] of [
    ['sm2', 'sm2'],
    ['rsa-2048', 'rsa'],
    ['ec-p256', 'ec'],
  ] as const) {
    test(`${type}: a doctor certificate from a CSR is issued by the ${caId} CA, stored, audited and verifies in BC`, async () => {
      const key = PrivateKey.generate(type);
      const r = await issueCertificate(
        { profileId: 'doctor', csr: await csrFor(key), applicant: doctor, actor: 'ra-operator-1' },
        t.deps,
      );
      assert.equal(r.caId, caId);
      const cert = r.certificate;
      assert.equal(cert.subjectText, 'C=CN, O=测试医院, OU=心内科, CN=张三, SERIALNUMBER=E1024');
      assert.deepEqual(cert.keyUsage, ['digitalSignature', 'nonRepudiation']);
      assert.deepEqual(cert.crlDistributionPoints, [`http://127.0.0.1:8080/pki/crl/${caId}.crl`]);
      assert.deepEqual(cert.authorityInfoAccess, {
        ocsp: ['http://127.0.0.1:8080/pki/ocsp'],
        caIssuers: [`http://127.0.0.1:8080/pki/ca/${caId}.cer`],
      });
      assert.equal(readIdentityNumbers(cert).residentIdCard?.value, doctor.idNumber);
      assert.equal(BigInt('0x' + r.serial) >= 1n << 120n, true, '128-bit random serial');
      const stored = await t.store.getCertificate(caId, r.serial);
      assert.equal(stored?.status, 'good');
      assert.equal(t.store.intents.get(`${caId}:${r.serial}`)?.state, 'stored');
      assert.ok(
        t.audit.some(
          (e) =>
            e.action === 'cert.issue' && e.target === `${caId}/${r.serial}` && e.actor === 'ra-operator-1',
        ),
      );
      assert.equal(lintCertificate(cert).errors, 0);
      const ca = t.deps.cas.find((c) => c.id === caId)!;
      const chain = verifyCertificateChain(cert, {
        anchors: [ca.chain[0]!],
        intermediates: [ca.certificate],
      });
      assert.equal(chain.valid, true, chain.errors.join('; '));
      writeFileSync(join(dir, `${type}-leaf.pem`), cert.toPem());
      writeFileSync(join(dir, `${type}-chain.pem`), ca.certificate.toPem() + ca.chain[0]!.toPem());
      const bc = runBcPeer(['cert-verify', join(dir, `${type}-leaf.pem`), join(dir, `${type}-chain.pem`)]);
      if (bc.code === 3 && process.env.CI !== 'true') return;
      assert.equal(bc.code, 0, JSON.stringify(bc.json));
    });
  }

  test('server-side key generation: an SPKI instead of a CSR', async () => {
    const key = PrivateKey.generate('sm2');
    const r = await issueCertificate(
      {
        profileId: 'nurse',
        publicKeyInfo: key.publicKeyInfo,
        applicant: { ...doctor, name: '李四' },
        actor: 'ra',
      },
      t.deps,
    );
    assert.match(r.certificate.subjectText, /CN=李四/);
  });

  test('TSA and OCSP-signer profiles carry their EKUs (TSA critical, OCSP with nocheck)', async () => {
    const tsa = await issueCertificate(
      {
        profileId: 'tsa',
        publicKeyInfo: PrivateKey.generate('sm2').publicKeyInfo,
        applicant: { name: '测试医院 TSA', organization: '测试医院', country: 'CN' },
        actor: 'init',
      },
      t.deps,
    );
    assert.deepEqual(tsa.certificate.extKeyUsage, [oids.id_kp_timeStamping]);
    assert.equal(tsa.certificate.extension(oids.id_ce_extKeyUsage)?.critical, true);
    const ocsp = await issueCertificate(
      {
        profileId: 'ocsp-signer',
        publicKeyInfo: PrivateKey.generate('sm2').publicKeyInfo,
        applicant: { name: 'OCSP' },
        actor: 'init',
      },
      t.deps,
    );
    assert.ok(ocsp.certificate.extension(oids.id_pkix_ocsp_nocheck));
  });

  test('custom extensions are rendered from applicant fields', async () => {
    const profile: Profile = {
      ...t.deps.profiles.find((p) => p.id === 'doctor')!,
      id: 'doctor-his',
      customExtensions: [
        {
          oid: '1.2.156.112562.99.1',
          critical: false,
          encoding: 'utf8',
          value: 'HIS:{{hisId}}/{{department}}',
        },
      ],
    };
    const deps = { ...t.deps, profiles: [...t.deps.profiles, profile] };
    const r = await issueCertificate(
      {
        profileId: 'doctor-his',
        publicKeyInfo: PrivateKey.generate('sm2').publicKeyInfo,
        applicant: { ...doctor, hisId: 'D-77' },
        actor: 'ra',
      },
      deps,
    );
    const ext = r.certificate.extension('1.2.156.112562.99.1')!;
    assert.equal(Buffer.from(ext.value.subarray(2)).toString('utf8'), 'HIS:D-77/心内科');
    assert.equal(ext.critical, false);
  });

  test('bad requests are refused with their codes, and nothing is signed or stored', async () => {
    const before = t.store.certs.size;
    const uses = t.keyUses.length;
    const sm2 = PrivateKey.generate('sm2');
    const csr = await csrFor(sm2);
    const tampered = new Uint8Array(csr);
    tampered[tampered.length - 3]! ^= 1;
    const cases: [Parameters<typeof issueCertificate>[0], string][] = [
      [{ profileId: 'surgeon-general', csr, applicant: doctor, actor: 'x' }, 'CA_PROFILE_NOT_FOUND'],
      [{ profileId: 'doctor', csr: tampered, applicant: doctor, actor: 'x' }, 'CA_CSR_INVALID'],
      [
        { profileId: 'doctor', csr: new Uint8Array([1, 2, 3]), applicant: doctor, actor: 'x' },
        'CA_CSR_INVALID',
      ],
      [{ profileId: 'doctor', applicant: doctor, actor: 'x' }, 'CA_CSR_INVALID'],
      [
        {
          profileId: 'seal-maker',
          csr: await csrFor(PrivateKey.generate('ec-p256')),
          applicant: doctor,
          actor: 'x',
        },
        'CA_KEY_NOT_ALLOWED',
      ],
      [{ profileId: 'doctor', csr, applicant: { name: '王五' }, actor: 'x' }, 'CA_SUBJECT_INVALID'],
      [
        { profileId: 'doctor', csr, applicant: doctor, validityDays: 5000, actor: 'x' },
        'CA_VALIDITY_INVALID',
      ],
      [{ profileId: 'doctor', csr, applicant: doctor, caId: 'nope', actor: 'x' }, 'CA_NOT_FOUND'],
    ];
    for (const [req, code] of cases) {
      await assert.rejects(
        issueCertificate(req, t.deps),
        (e: unknown) => e instanceof DomainError && e.code === code,
        code,
      );
    }
    assert.equal(t.store.certs.size, before);
    assert.equal(t.keyUses.length, uses, 'no CA key use for refused requests');
  });

  test('a lint failure stops issuance before the CA key signs', async () => {
    const bad: Profile = {
      ...t.deps.profiles.find((p) => p.id === 'tsa')!,
      id: 'bad-tsa',
      extKeyUsageCritical: false,
    };
    const deps = { ...t.deps, profiles: [bad] };
    const uses = t.keyUses.length;
    await assert.rejects(
      issueCertificate(
        {
          profileId: 'bad-tsa',
          publicKeyInfo: PrivateKey.generate('sm2').publicKeyInfo,
          applicant: { name: 'TSA' },
          actor: 'x',
        },
        deps,
      ),
      (e: unknown) => e instanceof DomainError && e.code === 'CA_LINT_FAILED',
    );
    assert.equal(t.keyUses.length, uses);
    assert.ok(t.audit.some((e) => e.action === 'cert.lint-failed'));
  });

  test('crash safety: a failure after signing leaves the intent open and no stored certificate', async () => {
    const failing = {
      ...t.deps,
      store: Object.assign(Object.create(Object.getPrototypeOf(t.store)), t.store, {
        insertCertificate: async () => {
          throw new Error('disk full');
        },
      }),
    };
    const before = t.store.certs.size;
    await assert.rejects(
      issueCertificate(
        {
          profileId: 'doctor',
          publicKeyInfo: PrivateKey.generate('sm2').publicKeyInfo,
          applicant: doctor,
          actor: 'x',
        },
        failing,
      ),
      /disk full/,
    );
    assert.equal(t.store.certs.size, before);
    const open = [...t.store.intents.values()].filter((i) => i.state === 'signed');
    assert.equal(open.length, 1, 'the signed-but-unstored certificate is recorded for recovery');
  });

  test('a CA signature that does not verify under the CA certificate is refused, the intent failed', async () => {
    const wrong = PrivateKey.generate('sm2').signer();
    const misconfigured = { ...t.deps, keys: { signer: async () => wrong } };
    const before = t.store.certs.size;
    await assert.rejects(
      issueCertificate(
        {
          profileId: 'doctor',
          publicKeyInfo: PrivateKey.generate('sm2').publicKeyInfo,
          applicant: doctor,
          actor: 'x',
        },
        misconfigured,
      ),
      (e: unknown) => e instanceof DomainError && e.code === 'CA_SIGNATURE_CHECK_FAILED',
    );
    assert.equal(t.store.certs.size, before);
    assert.ok([...t.store.intents.values()].some((i) => i.state === 'failed'));
  });

  test('the fixed extensions follow the CA, the profile object and the public base URL', async () => {
    const issue = (deps: typeof t.deps, profileId = 'doctor') =>
      issueCertificate(
        { profileId, publicKeyInfo: PrivateKey.generate('sm2').publicKeyInfo, applicant: doctor, actor: 'x' },
        deps,
      );
    const a = (await issue(t.deps)).certificate;
    const b = (await issue(t.deps)).certificate;
    assert.deepEqual(b.crlDistributionPoints, a.crlDistributionPoints);
    assert.notEqual(
      Buffer.from(a.subjectKeyIdentifier!).toString('hex'),
      Buffer.from(b.subjectKeyIdentifier!).toString('hex'),
    );
    const moved = (await issue({ ...t.deps, urls: { baseUrl: 'https://pki.example.cn' } })).certificate;
    assert.deepEqual(moved.crlDistributionPoints, ['https://pki.example.cn/pki/crl/sm2.crl']);
    assert.deepEqual(moved.authorityInfoAccess.ocsp, ['https://pki.example.cn/pki/ocsp']);
    const doctorProfile = t.deps.profiles.find((p) => p.id === 'doctor')!;
    const signOnly: Profile = { ...doctorProfile, id: 'sign-only', keyUsage: ['digitalSignature'] };
    const c = (await issue({ ...t.deps, profiles: [...t.deps.profiles, signOnly] }, 'sign-only')).certificate;
    assert.deepEqual(c.keyUsage, ['digitalSignature']);
    assert.deepEqual((await issue(t.deps)).certificate.keyUsage, ['digitalSignature', 'nonRepudiation']);
  });

  test('serial collisions are retried', async () => {
    let calls = 0;
    const colliding = {
      ...t.deps,
      randomBytes: (n: number) => (calls++ < 2 ? new Uint8Array(n).fill(7) : t.deps.randomBytes(n)),
    };
    const r1 = await issueCertificate(
      {
        profileId: 'doctor',
        publicKeyInfo: PrivateKey.generate('sm2').publicKeyInfo,
        applicant: doctor,
        actor: 'x',
      },
      colliding,
    );
    assert.ok(r1.serial);
    assert.equal(ParsedCertificate.parse(r1.certificate.der).serialNumber, r1.serial);
  });
});

describe('CaBackend (embedded): the one door the server and CLI use', () => {
  test('issue, revoke, CRL and OCSP go through the same core and ports', async () => {
    const { embeddedCaBackend } = await import('../src/index.js');
    const { buildOcspRequest, ParsedCrl, ParsedOcspResponse } = await import('@medsign/pki');
    const t = await makeTestCa(['sm2']);
    const backend = embeddedCaBackend(t.deps);
    assert.equal(backend.kind, 'embedded');
    const r = await backend.issue({
      profileId: 'doctor',
      publicKeyInfo: PrivateKey.generate('sm2').publicKeyInfo,
      applicant: doctor,
      actor: 'ra',
    });
    await backend.revoke({ caId: r.caId, serial: r.serial, reason: 'certificateHold', actor: 'sec' });
    await backend.resume({ caId: r.caId, serial: r.serial, actor: 'sec' });
    await backend.revoke({ caId: r.caId, serial: r.serial, reason: 'superseded', actor: 'sec' });
    assert.ok(ParsedCrl.parse(await backend.crl({ caId: r.caId, actor: 'x' })).isRevoked(r.serial));
    const answer = await backend.ocsp(
      buildOcspRequest({ issuer: t.deps.cas[0]!.certificate, serials: [r.serial] }),
    );
    assert.deepEqual(answer.statuses, ['revoked']);
    assert.equal(ParsedOcspResponse.parse(answer.der).responseFor(r.serial)?.status, 'revoked');
  });
});
