/**
 * The verification caches (verified CA signatures, certificates parsed once per DER, extension values
 * decoded once) and the pool-backed verifiers (verifyCmsAsync, verifyCertificateChainAsync): with every
 * cache warm from a good message, a tampered signature, a foreign CA bearing our CA's names, a CA
 * certificate with a bad signature and an expired leaf still fail — sync and on SM2 worker threads, with
 * the same checks.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Sm2SignerPool } from '@medsign/gm';
import { issueTestCertificate, makeHierarchy, type TestHierarchy } from '@medsign/testkit';
import {
  ParsedCertificate,
  ParsedCms,
  signCms,
  verifyCertificateChain,
  verifyCertificateChainAsync,
  verifyCms,
  verifyCmsAsync,
  type CmsVerifyResult,
} from '../src/index.js';

const CONTENT = new TextEncoder().encode('处方 RX-1: 阿司匹林 100 mg');
const DAY = 86_400_000;

/** A copy with the byte at `at` XOR-ed. */
function flip(der: Uint8Array, at: number): Uint8Array {
  const copy = new Uint8Array(der);
  copy[at]! ^= 0x01;
  return copy;
}

describe('verification caches and pool-backed verification', () => {
  let h: TestHierarchy;
  let foreign: TestHierarchy;
  let pool: Sm2SignerPool;

  before(async () => {
    h = await makeHierarchy('sm2');
    foreign = await makeHierarchy('sm2'); // the same names as ours, other keys
    pool = new Sm2SignerPool({ size: 1 });
  });
  after(() => pool.close());

  const sign = (leaf: TestHierarchy['leaf'], issuing: ParsedCertificate) =>
    signCms({
      content: CONTENT,
      detached: true,
      signers: [{ signer: leaf.key.signer(), certificate: leaf.cert }],
      certificates: [leaf.cert, issuing],
    });

  /** verifyCms and verifyCmsAsync (on the pool) agree, check for check; returns the sync result. */
  async function both(der: Uint8Array): Promise<CmsVerifyResult> {
    const opts = {
      content: CONTENT,
      anchors: [h.root.cert],
      extraCertificates: [h.intermediate.cert],
      at: new Date(),
    };
    const sync = verifyCms(der, opts);
    const onPool = await verifyCmsAsync(der, { ...opts, sm2Pool: pool });
    const withoutPool = await verifyCmsAsync(der, opts);
    for (const r of [onPool, withoutPool]) {
      assert.equal(r.valid, sync.valid);
      assert.deepEqual(r.errors, sync.errors);
      assert.deepEqual(r.signers[0]?.checks, sync.signers[0]?.checks);
      assert.deepEqual(r.signers[0]?.chain?.checks, sync.signers[0]?.chain?.checks);
    }
    return sync;
  }

  test('a good message verifies again and again (caches warm), sync and on the pool alike', async () => {
    const der = await sign(h.leaf, h.intermediate.cert);
    for (let i = 0; i < 3; i++) {
      const r = await both(der);
      assert.equal(r.valid, true, r.errors.join('; '));
      assert.equal(r.signers[0]!.chain!.path.length, 3);
    }
  });

  test('a tampered signature fails with the caches warm', async () => {
    const der = await sign(h.leaf, h.intermediate.cert);
    assert.equal((await both(der)).valid, true);
    const sig = ParsedCms.parse(der).signerInfos[0]!.signature;
    const at = Buffer.from(der).indexOf(Buffer.from(sig));
    assert.ok(at > 0);
    // A byte inside r of the SM2 signature (past the SEQUENCE and INTEGER headers).
    const r = await both(flip(der, at + 10));
    assert.equal(r.valid, false);
    assert.equal(r.signers[0]!.checks.find((c) => c.check === 'signature')?.ok, false);
    // … and the untampered message still verifies.
    assert.equal((await both(der)).valid, true);
  });

  test('a foreign CA with our CA names fails with the caches warm', async () => {
    assert.equal((await both(await sign(h.leaf, h.intermediate.cert))).valid, true);
    const r = await both(await sign(foreign.leaf, foreign.intermediate.cert));
    assert.equal(r.valid, false);
    assert.equal(r.signers[0]!.chain!.valid, false);
    // The foreign issuing CA offered directly as an intermediate under our root.
    for (const chain of [
      verifyCertificateChain(foreign.leaf.cert, {
        anchors: [h.root.cert],
        intermediates: [foreign.intermediate.cert],
      }),
      await verifyCertificateChainAsync(foreign.leaf.cert, {
        anchors: [h.root.cert],
        intermediates: [foreign.intermediate.cert],
        sm2Pool: pool,
      }),
    ]) {
      // Key identifiers keep it from chaining at all; were they absent, the signature would fail.
      assert.equal(chain.valid, false);
      assert.ok(
        chain.errors.some((e) => /no path to a trust anchor|signature does not verify/.test(e)),
        chain.errors.join('; '),
      );
    }
  });

  test('a CA certificate with a bad signature is not taken for the cached good one', async () => {
    const good = { anchors: [h.root.cert], intermediates: [h.intermediate.cert] };
    assert.equal(verifyCertificateChain(h.leaf.cert, good).valid, true);
    const der = h.intermediate.cert.der;
    const tampered = ParsedCertificate.parse(flip(der, der.length - 3));
    const chain = verifyCertificateChain(h.leaf.cert, { ...good, intermediates: [tampered] });
    assert.equal(chain.valid, false);
    assert.ok(
      chain.errors.some((e) => /signature does not verify/.test(e)),
      chain.errors.join('; '),
    );
    // A root whose self-signature fails is not taken for the cached good root either.
    const root = h.root.cert.der;
    const badRoot = ParsedCertificate.parse(flip(root, root.length - 3));
    const r = verifyCertificateChain(h.leaf.cert, {
      anchors: [badRoot],
      intermediates: [h.intermediate.cert],
    });
    assert.equal(r.valid, false);
  });

  test('an expired leaf, and a warm chain checked after it expires, fail', async () => {
    const expired = await issueTestCertificate({
      subject: [
        ['C', 'CN'],
        ['CN', '过期'],
      ],
      key: h.leaf.key,
      issuer: h.intermediate,
      notBefore: new Date(Date.now() - 10 * DAY),
      notAfter: new Date(Date.now() - DAY),
    });
    const r = await both(await sign(expired, h.intermediate.cert));
    assert.equal(r.valid, false);
    assert.ok(r.signers[0]!.chain!.checks.some((c) => c.check === 'validity' && !c.ok));
    const opts = { anchors: [h.root.cert], intermediates: [h.intermediate.cert] };
    assert.equal(verifyCertificateChain(h.leaf.cert, opts).valid, true);
    const later = verifyCertificateChain(h.leaf.cert, {
      ...opts,
      at: new Date(Date.now() + 100 * 365 * DAY),
    });
    assert.equal(later.valid, false);
    assert.equal(later.checks.filter((c) => c.check === 'validity' && !c.ok).length, 3);
  });

  test('certificates parsed once per DER; malformed DER throws every time; values handed out are copies', () => {
    const der = new Uint8Array(h.leaf.cert.der);
    const a = ParsedCertificate.parseShared(der);
    assert.equal(ParsedCertificate.parseShared(new Uint8Array(der)), a);
    der.fill(0);
    assert.deepEqual(a.der, h.leaf.cert.der, 'the cached certificate owns its bytes');
    assert.notEqual(ParsedCertificate.parseShared(h.intermediate.cert.der), a);
    const bad = h.leaf.cert.der.slice(0, -5);
    assert.throws(() => ParsedCertificate.parseShared(bad));
    assert.throws(() => ParsedCertificate.parseShared(bad));
    const ku = a.keyUsage!;
    ku.length = 0;
    assert.ok(a.keyUsage!.length > 0);
    const ski = a.subjectKeyIdentifier!;
    ski.fill(0);
    assert.notDeepEqual(a.subjectKeyIdentifier, ski);
  });
});
