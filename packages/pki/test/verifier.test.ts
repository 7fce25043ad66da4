import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { DecodeError, verifyArtifact, type ParsedCertificate } from '../src/index.js';
import { makeHierarchy, type TestHierarchy } from '@medsign/testkit';

const pem = (...certs: ParsedCertificate[]) =>
  new Uint8Array(Buffer.from(certs.map((c) => c.toPem()).join('')));

describe('verifyArtifact: certificates and chains', () => {
  let h: TestHierarchy;
  let other: TestHierarchy;
  before(async () => {
    h = await makeHierarchy('sm2');
    other = await makeHierarchy('sm2', '另一医院');
  });

  test('a chain file (leaf first) verifies against its root', () => {
    const r = verifyArtifact(pem(h.leaf.cert, h.intermediate.cert), { trusted: [h.root.cert] });
    assert.equal(r.kind, 'certificate-chain');
    assert.equal(r.valid, true, r.errors.join('; '));
    assert.ok(r.fields.some((f) => f.key === 'subject' && f.value.includes('张三')));
  });

  test('a DER leaf verifies when the intermediate comes with the trusted certificates', () => {
    const r = verifyArtifact(h.leaf.cert.der, { trusted: [h.root.cert, h.intermediate.cert] });
    assert.equal(r.kind, 'certificate');
    assert.equal(r.valid, true, r.errors.join('; '));
  });

  test("without a trust anchor, or with another hierarchy's root, the result is invalid with a reason", () => {
    const none = verifyArtifact(h.leaf.cert.der);
    assert.equal(none.valid, false);
    assert.match(none.errors.join(), /no trust anchor/);
    const wrong = verifyArtifact(pem(h.leaf.cert, h.intermediate.cert), { trusted: [other.root.cert] });
    assert.equal(wrong.valid, false);
    assert.match(wrong.errors.join(), /no path to a trust anchor/);
  });

  test('a verification time outside the validity fails the validity check', () => {
    const r = verifyArtifact(h.leaf.cert.der, {
      trusted: [h.root.cert, h.intermediate.cert],
      at: new Date('2040-01-01T00:00:00Z'),
    });
    assert.equal(r.valid, false);
    assert.ok(r.checks.some((c) => c.check === 'validity' && !c.ok));
  });

  test('unrecognised bytes raise DecodeError', () => {
    assert.throws(() => verifyArtifact(new Uint8Array(Buffer.from('hello'))), DecodeError);
    assert.throws(
      () => verifyArtifact(new Uint8Array(Buffer.from('-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n'))),
      DecodeError,
    );
  });
});

describe('verifyArtifact: time-stamps', () => {
  test('a GM/T 0010-wrapped SM2 token (TSTInfo as SM2 data) is recognised as a time-stamp token', async () => {
    const { signTimeStampToken, buildTimeStampResp } = await import('../src/index.js');
    const h = await makeHierarchy('sm2');
    const data = new TextEncoder().encode('病历 EMR-1');
    const { sm3 } = await import('@medsign/gm');
    const fields = {
      policy: '1.2.3.4',
      messageImprint: { hash: 'sm3' as const, hashedMessage: sm3(data) },
      serialNumber: 77n,
      genTime: new Date(),
    };
    for (const gmOids of [false, true]) {
      const token = await signTimeStampToken(fields, h.tsa.key.signer(), h.tsa.cert, true, {
        gmOids,
        certificates: [h.intermediate.cert],
      });
      const r = verifyArtifact(token, { data, trusted: [h.root.cert] });
      assert.equal(r.kind, 'timestamp-token', `gmOids ${gmOids}`);
      assert.equal(r.valid, true, r.errors.join('; '));
      const resp = verifyArtifact(buildTimeStampResp({ status: 'granted', token }), {
        data,
        trusted: [h.root.cert],
      });
      assert.equal(resp.kind, 'timestamp-response');
      assert.equal(resp.valid, true, resp.errors.join('; '));
    }
    const refused = verifyArtifact(buildTimeStampResp({ status: 'rejection', failInfo: ['badAlg'] }), {
      data,
    });
    assert.equal(refused.kind, 'timestamp-response');
    assert.equal(refused.valid, false);
    assert.match(refused.errors.join(), /badAlg/);
  });
});
