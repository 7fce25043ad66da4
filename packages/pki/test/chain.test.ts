/**
 * Certification paths: SM2, RSA, RSA-PSS and ECDSA hierarchies validate here and in two independent
 * verifiers (the Bouncy Castle peer, and OpenSSL — link by link with the SM2 ID for SM2); Bouncy Castle's
 * own fixture chains validate here; and each way a path can be wrong fails with a reason that names it.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { encodeSequence, readChildren, readTlv } from '@medsign/gm/der';
import { AsnConvert } from '@peculiar/asn1-schema';
import { makeHierarchy, randomSerial, runBcPeer, runOpenssl, type TestHierarchy } from '@medsign/testkit';
import {
  authorityKeyIdentifierExtension,
  basicConstraintsExtension,
  customExtension,
  isPossibleIssuer,
  issueCertificate,
  keyIdentifier,
  keyUsageExtension,
  nameAttributes,
  oids,
  ParsedCertificate,
  PrivateKey,
  signatureAlgorithmIdentifier,
  subjectKeyIdentifierExtension,
  verifyCertificateChain,
  type CertExtension,
  type KeyType,
  type KeyUsageName,
  type NameAttribute,
  type SignatureAlgorithmName,
} from '../src/index.js';

const DAY = 86_400_000;

type Entity = { key: PrivateKey; cert: ParsedCertificate };

type IssueOptions = {
  subject: NameAttribute[];
  type?: KeyType;
  key?: PrivateKey;
  issuer?: Entity;
  /** Sign with this key instead of the issuer's (a forged or mis-issued certificate). */
  signWith?: PrivateKey;
  alg?: SignatureAlgorithmName;
  ca?: boolean;
  pathLength?: number;
  keyUsage?: KeyUsageName[];
  extensions?: CertExtension[];
  notBefore?: Date;
  notAfter?: Date;
};

/** Issues one certificate with the usual extensions; self-signed without an issuer. */
async function issue(o: IssueOptions): Promise<Entity> {
  const key = o.key ?? PrivateKey.generate(o.type ?? 'sm2');
  const issuerKey = o.issuer?.key ?? key;
  const signKey = o.signWith ?? issuerKey;
  const der = await issueCertificate(
    {
      serialNumber: randomSerial(),
      issuer: o.issuer ? o.issuer.cert.subject : o.subject,
      subject: o.subject,
      notBefore: o.notBefore ?? new Date(Date.now() - DAY),
      notAfter: o.notAfter ?? new Date(Date.now() + 365 * DAY),
      publicKeyInfo: key.publicKeyInfo,
      extensions: [
        basicConstraintsExtension({
          ca: o.ca ?? false,
          ...(o.pathLength !== undefined ? { pathLength: o.pathLength } : {}),
        }),
        keyUsageExtension(
          o.keyUsage ?? (o.ca ? ['keyCertSign', 'cRLSign'] : ['digitalSignature', 'nonRepudiation']),
        ),
        subjectKeyIdentifierExtension(keyIdentifier(key.publicKeyInfo)),
        authorityKeyIdentifierExtension(keyIdentifier(issuerKey.publicKeyInfo)),
        ...(o.extensions ?? []),
      ],
    },
    signKey.signer(o.alg ?? signKey.defaultAlgorithm),
  );
  return { key, cert: ParsedCertificate.parse(der) };
}

const name = (cn: string): NameAttribute[] => [
  ['C', 'CN'],
  ['O', '测试医院'],
  ['CN', cn],
];

let dir = '';
const file = (n: string, cert: ParsedCertificate) => {
  const p = join(dir, n);
  writeFileSync(p, cert.toPem());
  return p;
};

/** BC peer result, or a skip (fail in CI) when the peer cannot be set up (exit 3). */
function bc(t: TestContext, args: string[]): ReturnType<typeof runBcPeer> | undefined {
  const r = runBcPeer(args);
  if (r.code === 3) {
    if (process.env.CI === 'true')
      assert.fail(`Bouncy Castle peer unavailable in CI: ${JSON.stringify(r.json)}`);
    t.skip(`Bouncy Castle peer unavailable: ${JSON.stringify(r.json)}`);
    return undefined;
  }
  return r;
}

const SM2_ID = 'distid:1234567812345678';

describe('certification paths', () => {
  const hierarchies = new Map<string, TestHierarchy>();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'medsign-chain-'));
    for (const type of ['sm2', 'rsa-2048', 'ec-p256'] as const)
      hierarchies.set(type, await makeHierarchy(type));
    // RSA-PSS: testkit signs PKCS#1 v1.5, so this hierarchy is built here.
    const root = await issue({
      subject: name('PSS Root CA'),
      type: 'rsa-2048',
      ca: true,
      alg: 'SHA256withRSAPSS',
    });
    const intermediate = await issue({
      subject: name('PSS Issuing CA'),
      type: 'rsa-2048',
      issuer: root,
      ca: true,
      pathLength: 0,
      alg: 'SHA256withRSAPSS',
    });
    const leaf = await issue({
      subject: name('张三 PSS'),
      type: 'rsa-2048',
      issuer: intermediate,
      alg: 'SHA256withRSAPSS',
    });
    hierarchies.set('rsa-pss', { root, intermediate, leaf, tsa: leaf });
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const type of ['sm2', 'rsa-2048', 'rsa-pss', 'ec-p256']) {
    describe(`${type} hierarchy`, () => {
      test('validates here, leaf → intermediate → root', () => {
        const h = hierarchies.get(type)!;
        const r = verifyCertificateChain(h.leaf.cert, {
          anchors: [h.root.cert],
          intermediates: [h.intermediate.cert],
        });
        assert.deepEqual(r.errors, []);
        assert.equal(r.valid, true);
        assert.deepEqual(
          r.path.map((c) => c.subjectText),
          [h.leaf.cert, h.intermediate.cert, h.root.cert].map((c) => c.subjectText),
        );
        assert.ok(r.checks.some((c) => c.check === 'trust anchor self-signature' && c.ok));
        if (type === 'rsa-pss') assert.equal(h.leaf.cert.signatureAlgorithm.name, 'SHA256withRSAPSS');
      });

      test('the Bouncy Castle peer validates it', (t) => {
        const h = hierarchies.get(type)!;
        const r = bc(t, [
          'cert-verify',
          file(`${type}-leaf.pem`, h.leaf.cert),
          file(`${type}-inter.pem`, h.intermediate.cert),
          file(`${type}-root.pem`, h.root.cert),
        ]);
        if (!r) return;
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.equal(r.json.valid, true);
      });

      test('OpenSSL validates it', () => {
        const h = hierarchies.get(type)!;
        const leaf = file(`${type}-leaf.pem`, h.leaf.cert);
        const inter = file(`${type}-inter.pem`, h.intermediate.cert);
        const root = file(`${type}-root.pem`, h.root.cert);
        if (type === 'sm2') {
          // OpenSSL 3.0 applies -vfyopt distid only to the certificate named last, so SM2 goes link by link.
          for (const [issuer, cert] of [
            [inter, leaf],
            [root, inter],
          ] as const) {
            const r = runOpenssl(['verify', '-vfyopt', SM2_ID, '-partial_chain', '-CAfile', issuer, cert]);
            assert.equal(r.code, 0, `${cert}: ${r.stdout}${r.stderr}`);
          }
          return;
        }
        const r = runOpenssl(['verify', '-CAfile', root, '-untrusted', inter, leaf]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /: OK/);
      });
    });
  }

  describe('Bouncy Castle make-fixtures chains', () => {
    let fx = '';
    let unavailable: string | undefined;
    before(() => {
      fx = join(dir, 'bc-fixtures');
      const r = runBcPeer(['make-fixtures', fx]);
      if (r.code !== 0) unavailable = `make-fixtures exit ${r.code}: ${JSON.stringify(r.json)}`;
    });

    for (const family of ['sm2', 'rsa', 'ecdsa']) {
      test(`${family}: end-entity and TSA certificates validate here`, (t) => {
        if (unavailable) {
          if (process.env.CI === 'true') assert.fail(unavailable);
          t.skip(unavailable);
          return;
        }
        const load = (n: string) =>
          ParsedCertificate.parse(readFileSync(join(fx, `${family}-${n}.pem`), 'utf8'));
        const root = load('root');
        const inter = load('intermediate');
        const ee = load('ee');
        const opts = { anchors: [root], intermediates: [inter] };
        const r = verifyCertificateChain(ee, opts);
        assert.deepEqual(r.errors, []);
        assert.equal(r.path.length, 3);
        assert.match(ee.subjectText, /张三/);
        const tsa = verifyCertificateChain(load('tsa'), {
          ...opts,
          requiredExtKeyUsage: oids.id_kp_timeStamping,
        });
        assert.deepEqual(tsa.errors, []);
        // The chain file (leaf first) supplies the same certificates.
        assert.equal(isPossibleIssuer(ee, inter), true);
        assert.equal(isPossibleIssuer(ee, root), false);
      });
    }
  });

  describe('invalid paths fail with a reason', () => {
    let h: TestHierarchy;
    let opts: { anchors: ParsedCertificate[]; intermediates: ParsedCertificate[] };
    before(() => {
      h = hierarchies.get('sm2')!;
      opts = { anchors: [h.root.cert], intermediates: [h.intermediate.cert] };
    });

    const expectInvalid = (r: ReturnType<typeof verifyCertificateChain>, reason: RegExp) => {
      assert.equal(r.valid, false);
      assert.ok(
        r.errors.some((e) => reason.test(e)),
        `expected an error matching ${reason}, got ${JSON.stringify(r.errors)}`,
      );
    };

    test('expired', () => {
      const at = new Date(h.leaf.cert.notAfter.getTime() + DAY);
      expectInvalid(
        verifyCertificateChain(h.leaf.cert, { ...opts, at }),
        /张三: validity failed \(valid .* checked at/,
      );
    });

    test('not yet valid', () => {
      const at = new Date(h.leaf.cert.notBefore.getTime() - DAY);
      expectInvalid(verifyCertificateChain(h.leaf.cert, { ...opts, at }), /张三: validity failed/);
    });

    test('wrong issuer: names and key identifiers chain, but another CA key signed', async (t) => {
      const other = PrivateKey.generate('sm2');
      const forged = await issue({ subject: name('伪造'), issuer: h.intermediate, signWith: other });
      expectInvalid(
        verifyCertificateChain(forged.cert, opts),
        /伪造: signature failed \(signature does not verify with the key of .*Issuing CA\)/,
      );
      const r = bc(t, [
        'cert-verify',
        file('forged.pem', forged.cert),
        file('sm2-inter.pem', h.intermediate.cert),
        file('sm2-root.pem', h.root.cert),
      ]);
      if (r) assert.equal(r.code, 1, `BC must reject it too: ${r.stdout}`);
    });

    test('issuer with cA FALSE', async (t) => {
      const child = await issue({ subject: name('EE 签发的证书'), issuer: h.leaf });
      const r = verifyCertificateChain(child.cert, {
        ...opts,
        intermediates: [h.intermediate.cert, h.leaf.cert],
      });
      expectInvalid(r, /张三: issuer is a CA \(basicConstraints cA\) failed/);
      const peer = bc(t, [
        'cert-verify',
        file('child.pem', child.cert),
        file('ee.pem', h.leaf.cert),
        file('sm2-inter.pem', h.intermediate.cert),
        file('sm2-root.pem', h.root.cert),
      ]);
      if (peer) assert.equal(peer.code, 1, `BC must reject it too: ${peer.stdout}`);
    });

    test('issuer without keyCertSign', async () => {
      const crlOnly = await issue({
        subject: name('CRL-only CA'),
        issuer: h.root,
        ca: true,
        keyUsage: ['cRLSign'],
      });
      const child = await issue({ subject: name('child'), issuer: crlOnly });
      expectInvalid(
        verifyCertificateChain(child.cert, { anchors: [h.root.cert], intermediates: [crlOnly.cert] }),
        /CRL-only CA: issuer key usage keyCertSign failed \(key usage is cRLSign\)/,
      );
    });

    test('path length exceeded', async (t) => {
      const sub = await issue({ subject: name('Sub-issuing CA'), issuer: h.intermediate, ca: true });
      const child = await issue({ subject: name('too deep'), issuer: sub });
      const r = verifyCertificateChain(child.cert, {
        ...opts,
        intermediates: [h.intermediate.cert, sub.cert],
      });
      expectInvalid(
        r,
        /Issuing CA: path length constraint failed \(1 intermediate\(s\) below a pathLen of 0\)/,
      );
      const peer = bc(t, [
        'cert-verify',
        file('deep.pem', child.cert),
        file('sub.pem', sub.cert),
        file('sm2-inter.pem', h.intermediate.cert),
        file('sm2-root.pem', h.root.cert),
      ]);
      if (peer) assert.equal(peer.code, 1, `BC must reject it too: ${peer.stdout}`);
    });

    test('outer signatureAlgorithm differs from the inner one (re-wrapped)', () => {
      const der = h.leaf.cert.der;
      const outer = readTlv(der);
      const [tbs, , sig] = readChildren(outer.value);
      const otherAlg = new Uint8Array(AsnConvert.serialize(signatureAlgorithmIdentifier('SHA256withECDSA')));
      const rewrapped = ParsedCertificate.parse(
        encodeSequence(
          outer.value.subarray(tbs!.start, tbs!.end),
          otherAlg,
          outer.value.subarray(sig!.start, sig!.end),
        ),
      );
      assert.equal(rewrapped.algorithmsMatch, false);
      expectInvalid(
        verifyCertificateChain(rewrapped, opts),
        /张三: algorithm identifiers match failed \(outer signatureAlgorithm differs/,
      );
    });

    test('unknown critical extension', async () => {
      const leaf = await issue({
        subject: name('带未知关键扩展'),
        issuer: h.intermediate,
        extensions: [customExtension('1.2.156.112233.7.7', true, Uint8Array.of(0x05, 0x00))],
      });
      expectInvalid(
        verifyCertificateChain(leaf.cert, opts),
        /no unknown critical extensions failed \(unknown critical: 1\.2\.156\.112233\.7\.7\)/,
      );
      const nonCritical = await issue({
        subject: name('带未知非关键扩展'),
        issuer: h.intermediate,
        extensions: [customExtension('1.2.156.112233.7.7', false, Uint8Array.of(0x05, 0x00))],
      });
      assert.equal(verifyCertificateChain(nonCritical.cert, opts).valid, true);
    });

    test('a TSA certificate must carry the required EKU', () => {
      const required = { ...opts, requiredExtKeyUsage: oids.id_kp_timeStamping };
      assert.equal(verifyCertificateChain(h.tsa.cert, required).valid, true);
      expectInvalid(
        verifyCertificateChain(h.leaf.cert, required),
        /张三: extended key usage 1\.3\.6\.1\.5\.5\.7\.3\.8 failed \(EKU is absent\)/,
      );
    });

    test('no path to a trust anchor', async () => {
      const stranger = await makeHierarchy('sm2', '别的医院');
      expectInvalid(
        verifyCertificateChain(h.leaf.cert, {
          anchors: [stranger.root.cert],
          intermediates: [stranger.intermediate.cert],
        }),
        /no path to a trust anchor/,
      );
      expectInvalid(
        verifyCertificateChain(h.leaf.cert, { anchors: [h.root.cert] }),
        /no path to a trust anchor/,
      );
    });

    test('an anchor whose self-signature does not verify', async () => {
      const fake = await issue({
        subject: nameAttributes(h.root.cert.subject),
        signWith: PrivateKey.generate('sm2'),
        ca: true,
        key: h.root.key,
      });
      expectInvalid(
        verifyCertificateChain(h.leaf.cert, { anchors: [fake.cert], intermediates: [h.intermediate.cert] }),
        /trust anchor self-signature failed/,
      );
    });

    test('malformed extension values in a path are reported, not thrown', async () => {
      const badBc = await issue({
        subject: name('坏扩展 CA'),
        issuer: h.root,
        ca: true,
        extensions: [],
      });
      // Re-issue with a basicConstraints value that is valid DER but not a BasicConstraints.
      const broken = await issueCertificate(
        {
          serialNumber: randomSerial(),
          issuer: h.root.cert.subject,
          subject: badBc.cert.subject,
          notBefore: new Date(Date.now() - DAY),
          notAfter: new Date(Date.now() + DAY),
          publicKeyInfo: badBc.key.publicKeyInfo,
          extensions: [customExtension(oids.id_ce_basicConstraints, true, Uint8Array.of(0x05, 0x00))],
        },
        h.root.key.signer(),
      );
      const brokenCa = ParsedCertificate.parse(broken);
      const child = await issue({
        subject: name('child of broken'),
        issuer: { key: badBc.key, cert: brokenCa },
      });
      let r: ReturnType<typeof verifyCertificateChain> | undefined;
      assert.doesNotThrow(() => {
        r = verifyCertificateChain(child.cert, { anchors: [h.root.cert], intermediates: [brokenCa] });
      });
      assert.equal(r!.valid, false);
      assert.match(r!.errors.join('\n'), /could not be evaluated/);
    });
  });
});
