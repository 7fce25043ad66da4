import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DomainError } from '@medsign/errors';
import {
  buildOcspRequest,
  ParsedCrl,
  ParsedOcspResponse,
  PrivateKey,
  verifyCrl,
  verifyOcspResponse,
} from '@medsign/pki';
import { runBcPeer } from '@medsign/testkit';
import {
  generateCrl,
  issueCertificate,
  respondOcsp,
  resumeCertificate,
  revokeCertificate,
  type IssueResult,
} from '../src/index.js';
import { makeTestCa, type TestCa } from './helpers/memory.js';

const dir = mkdtempSync(join(tmpdir(), 'medsign-ca-rev-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const applicant = { name: '赵六', employeeNo: 'E7', department: '急诊科' };

function peerOk(args: string[]) {
  const r = runBcPeer(args);
  if (r.code === 3 && process.env.CI !== 'true') return;
  assert.equal(r.code, 0, JSON.stringify(r.json));
}

for (const type of ['sm2', 'rsa-2048'] as const) {
  describe(`revocation, CRL and OCSP (${type})`, () => {
    let t: TestCa;
    let a: IssueResult;
    let b: IssueResult;
    let c: IssueResult;
    const issue = () =>
      issueCertificate(
        {
          profileId: 'doctor',
          publicKeyInfo: PrivateKey.generate(type).publicKeyInfo,
          applicant,
          actor: 'ra',
        },
        t.deps,
      );
    before(async () => {
      t = await makeTestCa([type]);
      [a, b, c] = [await issue(), await issue(), await issue()];
      writeFileSync(join(dir, `${type}-ca.pem`), t.deps.cas[0]!.certificate.toPem());
    });

    test('revoke, hold, resume — and the refusals', async () => {
      const caId = a.caId;
      await revokeCertificate(
        { caId, serial: a.serial, reason: 'keyCompromise', actor: 'sec-admin' },
        t.deps,
      );
      await assert.rejects(
        revokeCertificate({ caId, serial: a.serial, reason: 'superseded', actor: 'x' }, t.deps),
        (e: unknown) => e instanceof DomainError && e.code === 'CA_ALREADY_REVOKED',
      );
      await revokeCertificate(
        { caId, serial: b.serial.toUpperCase(), reason: 'certificateHold', actor: 'sec-admin' },
        t.deps,
      );
      await assert.rejects(
        resumeCertificate({ caId, serial: c.serial, actor: 'x' }, t.deps),
        (e: unknown) => e instanceof DomainError && e.code === 'CA_NOT_ON_HOLD',
      );
      await assert.rejects(
        revokeCertificate({ caId, serial: 'abc123', reason: 'keyCompromise', actor: 'x' }, t.deps),
        (e: unknown) => e instanceof DomainError && e.code === 'CA_CERT_NOT_FOUND',
      );
      await assert.rejects(
        revokeCertificate({ caId, serial: c.serial, reason: 'bored', actor: 'x' }, t.deps),
        (e: unknown) => e instanceof DomainError && e.code === 'CA_REASON_INVALID',
      );
      await assert.rejects(
        revokeCertificate({ caId, serial: 'zz', reason: 'keyCompromise', actor: 'x' }, t.deps),
        (e: unknown) => e instanceof DomainError,
      );
      assert.ok(t.audit.some((e) => e.action === 'cert.revoke' && e.actor === 'sec-admin'));
      assert.ok(t.audit.some((e) => e.action === 'cert.hold'));
    });

    test('the CRL lists the revoked and the held certificate and verifies here and in BC', async () => {
      const der = await generateCrl({ caId: a.caId, actor: 'scheduler' }, t.deps);
      const crl = ParsedCrl.parse(der);
      assert.ok(crl.isRevoked(a.serial));
      assert.equal(crl.isRevoked(b.serial)?.reason, 'certificateHold');
      assert.equal(crl.isRevoked(c.serial), undefined);
      assert.equal(crl.crlNumber, 1n);
      assert.equal(verifyCrl(crl, t.deps.cas[0]!.certificate).valid, true);
      writeFileSync(join(dir, `${type}.crl`), der);
      peerOk(['crl-verify', join(dir, `${type}.crl`), join(dir, `${type}-ca.pem`)]);
      await resumeCertificate({ caId: b.caId, serial: b.serial, actor: 'sec-admin' }, t.deps);
      const next = ParsedCrl.parse(await generateCrl({ caId: a.caId, actor: 'scheduler' }, t.deps));
      assert.equal(next.isRevoked(b.serial), undefined, 'resumed certificates leave the CRL');
      assert.equal(next.crlNumber, 2n);
    });

    test('OCSP answers good, revoked and unknown with the nonce, and BC accepts the response', async () => {
      const ca = t.deps.cas[0]!.certificate;
      const nonce = new Uint8Array(16).fill(9);
      const req = buildOcspRequest({ issuer: ca, serials: [a.serial, c.serial, 'abcdef'], nonce });
      const der = await respondOcsp(req, t.deps);
      const resp = ParsedOcspResponse.parse(der);
      assert.equal(resp.responseFor(a.serial)?.status, 'revoked');
      assert.equal(resp.responseFor(a.serial)?.reason, 'keyCompromise');
      assert.equal(resp.responseFor(c.serial)?.status, 'good');
      assert.equal(resp.responseFor('abcdef')?.status, 'unknown');
      const v = verifyOcspResponse(resp, ca, { nonce });
      assert.equal(v.valid, true, v.errors.join('; '));
      writeFileSync(join(dir, `${type}-ocsp.der`), der);
      peerOk(['ocsp-verify', join(dir, `${type}-ocsp.der`), join(dir, `${type}-ca.pem`)]);
    });

    test("a malformed OCSP request gets malformedRequest; another CA's certificates get unauthorized", async () => {
      assert.equal(
        ParsedOcspResponse.parse(await respondOcsp(new Uint8Array([0x30, 0x03, 1, 2, 3]), t.deps)).status,
        'malformedRequest',
      );
      const other = await makeTestCa([type]);
      const req = buildOcspRequest({ issuer: other.deps.cas[0]!.certificate, serials: ['1234'] });
      assert.equal(ParsedOcspResponse.parse(await respondOcsp(req, t.deps)).status, 'unauthorized');
    });
  });
}
