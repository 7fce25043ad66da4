import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { DomainError, type ErrorCode } from '@medsign/errors';
import { buildCsr, ParsedCertificate, PrivateKey } from '@medsign/pki';
import { MemoryApplicationStore } from '@medsign/testkit';
import {
  APPLICATION_TRANSITIONS,
  certificateLifecycle,
  checkTransition,
  embeddedCaBackend,
  type ApplicationState,
  type CertificateLifecycle,
} from '../src/index.js';
import { makeTestCa, type TestCa } from './helpers/memory.js';

const applicant = {
  name: '王五',
  employeeNo: 'E3003',
  department: '儿科',
  idNumber: '11010119900307123X',
  phone: '13912345678',
};

const code = (c: ErrorCode) => (e: unknown) => e instanceof DomainError && e.code === c;

async function csr(type: 'sm2' | 'rsa-2048' = 'sm2') {
  const key = PrivateKey.generate(type);
  return { key, der: await buildCsr({ subject: [['CN', 'x']], signer: key.signer() }) };
}

describe('application state machine', () => {
  test('only the listed transitions pass; final states go nowhere', () => {
    const states = Object.keys(APPLICATION_TRANSITIONS) as ApplicationState[];
    for (const from of states)
      for (const to of states) {
        const allowed = APPLICATION_TRANSITIONS[from].includes(to);
        if (allowed) checkTransition('a', from, to);
        else
          assert.throws(() => checkTransition('a', from, to), code('CA_APPLICATION_STATE'), `${from}→${to}`);
      }
    assert.deepEqual(APPLICATION_TRANSITIONS.issued, []);
    assert.deepEqual(APPLICATION_TRANSITIONS.rejected, []);
  });
});

describe('certificate lifecycle on memory ports', () => {
  let ca: TestCa;
  let apps: MemoryApplicationStore;
  let life: CertificateLifecycle;
  const generated: string[] = [];

  before(async () => {
    ca = await makeTestCa(['sm2', 'rsa-2048']);
    apps = new MemoryApplicationStore();
    ca.store.applications = apps;
    const userKeys = new Map<string, PrivateKey>();
    life = certificateLifecycle({
      backend: embeddedCaBackend(ca.deps),
      applications: apps,
      certificates: ca.store,
      userKeys: {
        generate: async (type, label) => {
          const k = PrivateKey.generate(type);
          userKeys.set(label, k);
          generated.push(label);
          return { id: label, publicKeyInfo: k.publicKeyInfo };
        },
      },
      audit: ca.deps.audit,
      clock: ca.deps.clock,
      profiles: ca.deps.profiles,
      newId: randomUUID,
    });
  });

  test('apply (CSR) → approve by another operator → issued, linked, audited', async () => {
    const { key, der } = await csr();
    const app = await life.apply({ profileId: 'doctor', applicant, csr: der, actor: 'ra1' });
    assert.equal(app.state, 'pending');
    await assert.rejects(life.approve({ id: app.id, actor: 'ra1' }), code('CA_APPLICATION_SELF_REVIEW'));
    const { application, issued } = await life.approve({ id: app.id, actor: 'sec1', reason: 'ok' });
    assert.equal(application.state, 'issued');
    assert.deepEqual(application.certificate, { caId: issued.caId, serial: issued.serial });
    assert.equal((await apps.get(app.id))!.state, 'issued');
    assert.deepEqual(issued.certificate.publicKeyInfo, key.publicKeyInfo);
    assert.equal(issued.caId, 'sm2');
    const actions = ca.audit.map((e) => e.action);
    for (const a of ['application.submit', 'application.approve', 'cert.issue', 'application.issued'])
      assert.ok(actions.includes(a), a);
    // Approving (or rejecting) again is a state error.
    await assert.rejects(life.approve({ id: app.id, actor: 'sec2' }), code('CA_APPLICATION_STATE'));
    await assert.rejects(
      life.reject({ id: app.id, actor: 'sec2', reason: 'x' }),
      code('CA_APPLICATION_STATE'),
    );
    // The stored certificate keeps its applicant (for renewal), not in the record getCertificate returns.
    assert.equal((await ca.store.getCertificate(issued.caId, issued.serial))!.applicant, undefined);
    assert.equal((await ca.store.getApplicant(issued.caId, issued.serial))!.idNumber, applicant.idNumber);
  });

  test('duplicate pending application, reject needs a reason, rejected cannot be approved', async () => {
    const a = { ...applicant, employeeNo: 'E4004' };
    const app = await life.apply({ profileId: 'nurse', applicant: a, csr: (await csr()).der, actor: 'ra1' });
    await assert.rejects(
      life.apply({ profileId: 'nurse', applicant: a, csr: (await csr()).der, actor: 'ra2' }),
      code('CA_APPLICATION_DUPLICATE'),
    );
    // A duplicate with a server-side key is refused before the key is generated.
    const keys = generated.length;
    await assert.rejects(
      life.apply({ profileId: 'nurse', applicant: a, serverKeyType: 'sm2', actor: 'ra2' }),
      code('CA_APPLICATION_DUPLICATE'),
    );
    assert.equal(generated.length, keys);
    // Another profile for the same person is a different application.
    await life.apply({ profileId: 'doctor', applicant: a, csr: (await csr()).der, actor: 'ra1' });
    await assert.rejects(life.reject({ id: app.id, actor: 'sec1' }), code('CA_APPLICATION_INVALID'));
    await assert.rejects(
      life.reject({ id: app.id, actor: 'ra1', reason: 'no' }),
      code('CA_APPLICATION_SELF_REVIEW'),
    );
    const rejected = await life.reject({ id: app.id, actor: 'sec1', reason: '资料不全' });
    assert.equal(rejected.state, 'rejected');
    assert.equal(rejected.review?.reason, '资料不全');
    await assert.rejects(life.approve({ id: app.id, actor: 'sec1' }), code('CA_APPLICATION_STATE'));
    // Once rejected, a new application for the same person and profile is accepted.
    await life.apply({ profileId: 'nurse', applicant: a, csr: (await csr()).der, actor: 'ra1' });
    await assert.rejects(life.approve({ id: 'nope', actor: 'sec1' }), code('CA_APPLICATION_NOT_FOUND'));
  });

  test('bad input: unknown profile, malformed CSR, missing fields, both or neither key source', async () => {
    const der = (await csr()).der;
    const keysBefore = generated.length;
    await assert.rejects(
      life.apply({ profileId: 'surgeon', applicant, csr: der, actor: 'ra1' }),
      code('CA_PROFILE_NOT_FOUND'),
    );
    await assert.rejects(
      life.apply({
        profileId: 'doctor',
        applicant: { ...applicant, employeeNo: 'E9' },
        csr: der.subarray(0, 40),
        actor: 'ra1',
      }),
      code('CA_CSR_INVALID'),
    );
    const tampered = new Uint8Array(der);
    tampered[tampered.length - 5]! ^= 1;
    await assert.rejects(
      life.apply({
        profileId: 'doctor',
        applicant: { ...applicant, employeeNo: 'E9' },
        csr: tampered,
        actor: 'ra1',
      }),
      code('CA_CSR_INVALID'),
    );
    await assert.rejects(
      life.apply({ profileId: 'doctor', applicant: { name: '赵六' }, csr: der, actor: 'ra1' }),
      code('CA_SUBJECT_INVALID'),
    );
    await assert.rejects(
      life.apply({ profileId: 'doctor', applicant, actor: 'ra1' }),
      code('CA_APPLICATION_INVALID'),
    );
    await assert.rejects(
      life.apply({ profileId: 'doctor', applicant, csr: der, serverKeyType: 'sm2', actor: 'ra1' }),
      code('CA_APPLICATION_INVALID'),
    );
    await assert.rejects(
      life.apply({ profileId: 'seal-maker', applicant, serverKeyType: 'rsa-2048', actor: 'ra1' }),
      code('CA_KEY_NOT_ALLOWED'),
    );
    assert.equal(generated.length, keysBefore, 'no key generated for a refused application');
  });

  test('a backend refusal sends the application back to pending (audited); it can then be rejected', async () => {
    const app = await life.apply({
      profileId: 'doctor',
      applicant: { ...applicant, employeeNo: 'E5005' },
      csr: (await csr('rsa-2048')).der,
      caId: 'sm2-nope',
      actor: 'ra1',
    });
    await assert.rejects(life.approve({ id: app.id, actor: 'sec1' }), code('CA_NOT_FOUND'));
    const back = (await apps.get(app.id))!;
    assert.equal(back.state, 'pending');
    assert.equal(back.review, undefined);
    assert.ok(ca.audit.some((e) => e.action === 'application.issue-failed' && e.target === app.id));
    assert.equal((await life.reject({ id: app.id, actor: 'sec1', reason: 'wrong CA' })).state, 'rejected');
  });

  test('server-side key ("cloud certificate"): the keystore generates the key; the certificate carries it', async () => {
    const app = await life.apply({
      profileId: 'pharmacist',
      applicant: { ...applicant, employeeNo: 'E6006' },
      serverKeyType: 'sm2',
      actor: 'ra1',
    });
    assert.equal(app.key.kind, 'server-key');
    const { issued } = await life.approve({ id: app.id, actor: 'sec1' });
    assert.deepEqual(
      issued.certificate.publicKeyInfo,
      app.key.kind === 'server-key' ? app.key.publicKeyInfo : null,
    );
  });

  test('renew: same key (supersede), new CSR, refused for revoked, held and unknown certificates', async () => {
    const { key, der } = await csr();
    const app = await life.apply({
      profileId: 'doctor',
      applicant: { ...applicant, employeeNo: 'E7007' },
      csr: der,
      actor: 'ra1',
    });
    const { issued } = await life.approve({ id: app.id, actor: 'sec1' });
    const same = await life.renew({
      caId: issued.caId,
      serial: issued.serial,
      supersede: true,
      actor: 'sec1',
    });
    assert.deepEqual(same.certificate.publicKeyInfo, key.publicKeyInfo);
    assert.deepEqual(same.replaces, { caId: issued.caId, serial: issued.serial });
    assert.equal(same.superseded, true);
    const old = (await ca.store.getCertificate(issued.caId, issued.serial))!;
    assert.equal(old.status, 'revoked');
    assert.equal(old.revocationReason, 'superseded');
    const renewedRecord = ca.store.certs.get(`${same.caId}/${same.serial}`)!;
    assert.deepEqual(renewedRecord.replaces, same.replaces);
    assert.equal(renewedRecord.applicant?.idNumber, applicant.idNumber, 'the applicant carries over');
    assert.equal(same.certificate.subjectText, issued.certificate.subjectText);
    await assert.rejects(
      life.renew({ caId: issued.caId, serial: issued.serial, actor: 'sec1' }),
      code('CA_RENEW_NOT_ALLOWED'),
    );
    await assert.rejects(
      life.renew({ caId: 'sm2', serial: 'abc123', actor: 'sec1' }),
      code('CA_CERT_NOT_FOUND'),
    );

    const fresh = await csr('rsa-2048');
    const renewed = await life.renew({ caId: same.caId, serial: same.serial, csr: fresh.der, actor: 'sec1' });
    assert.equal(renewed.caId, 'rsa', 'a new RSA key goes to the RSA CA');
    assert.equal(renewed.superseded, false);
    assert.equal((await ca.store.getCertificate(same.caId, same.serial))!.status, 'good');
    await embeddedCaBackend(ca.deps).revoke({
      caId: renewed.caId,
      serial: renewed.serial,
      reason: 'certificateHold',
      actor: 'sec1',
    });
    await assert.rejects(
      life.renew({ caId: renewed.caId, serial: renewed.serial, actor: 'sec1' }),
      code('CA_RENEW_NOT_ALLOWED'),
    );
    assert.ok(
      ParsedCertificate.parse(renewed.certificate.der).verifySignature(
        ca.deps.cas.find((c) => c.id === 'rsa')!.certificate.publicKeyInfo,
      ),
    );
    assert.ok(
      ca.audit.some(
        (e) => e.action === 'cert.renew' && e.detail?.replaces === `${issued.caId}/${issued.serial}`,
      ),
    );
  });
});
