/**
 * Fuzzing the PKI parsers with fast-check: random bytes, and valid DER (certificates, CSR, CRL, OCSP
 * request/response, CMS in RFC 5652 and GM/T 0010 form, time-stamp request/response/TSTInfo) mutated by bit flips,
 * truncation, insertion, deletion and length-byte changes. Every parser may only throw DecodeError,
 * UnsupportedError, RangeError or TypeError; getters of whatever parses follow the same rule; verification
 * functions and the linter never throw — they return false / invalid.
 *
 * `npm test` runs about 3 300 cases in a few seconds; FUZZ_RUNS=n runs every property n times
 * (`npm run fuzz` uses 20 000, about 30 s). FUZZ_DEBUG=1 prints each offending error with its stack.
 */

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import fc from 'fast-check';
import { readTlv } from '@medsign/gm/der';
import { issueTestCertificate, makeHierarchy, type TestHierarchy } from '@medsign/testkit';
import {
  authorityInfoAccessExtension,
  buildCrl,
  buildTimeStampReq,
  buildTimeStampResp,
  buildTstInfo,
  ParsedCms,
  parseTimeStampReq,
  parseTimeStampResp,
  parseTstInfo,
  signCms,
  signTimeStampToken,
  verifyCms,
  verifyTimeStampToken,
  buildCsr,
  buildOcspRequest,
  buildOcspResponse,
  certificatePoliciesExtension,
  crlDistributionPointsExtension,
  DecodeError,
  extKeyUsageExtension,
  identityCodeExtension,
  lintCertificate,
  oids,
  ParsedCertificate,
  ParsedCrl,
  ParsedCsr,
  ParsedOcspRequest,
  ParsedOcspResponse,
  PrivateKey,
  readIdentityCode,
  readIdentityNumbers,
  subjectAltNameExtension,
  UnsupportedError,
  verifyArtifact,
  verifyCertificateChain,
  verifyCrl,
  verifyOcspResponse,
} from '../src/index.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? '') || 0;
/** Scaled run counts: modest in `npm test`, FUZZ_RUNS each in a long run. */
const runs = (normal: number) => (RUNS > 0 ? RUNS : normal);

const ALLOWED = [DecodeError, UnsupportedError, RangeError, TypeError] as const;

/** Runs fn; an error other than the allowed kinds fails the property with its type and message. */
function onlyAllowedErrors<T>(what: string, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (ALLOWED.some((c) => e instanceof c)) return undefined;
    const err = e as Error;
    if (process.env.FUZZ_DEBUG) console.error(`${what} threw`, e);
    throw new Error(
      `${what} threw ${err?.constructor?.name ?? typeof e}: ${err?.message}\n${err?.stack ?? ''}`,
    );
  }
}

/** Runs fn, which must not throw at all (verification on attacker bytes). */
function neverThrows<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const err = e as Error;
    if (process.env.FUZZ_DEBUG) console.error(`${what} must not throw`, e);
    throw new Error(
      `${what} must not throw, threw ${err?.constructor?.name}: ${err?.message}\n${err?.stack ?? ''}`,
    );
  }
}

/** Reads every getter of a parsed object (getters decode lazily, so they are parsers too). */
function touchGetters(what: string, obj: object): void {
  let proto = Object.getPrototypeOf(obj) as object | null;
  while (proto && proto !== Object.prototype) {
    for (const [key, desc] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
      if (desc.get) onlyAllowedErrors(`${what}.${key}`, () => (obj as Record<string, unknown>)[key]);
    }
    proto = Object.getPrototypeOf(proto) as object | null;
  }
}

type Parser = { name: string; parse: (bytes: Uint8Array) => unknown };

/** Every parser @medsign/pki exports for received bytes. */
const PARSERS: Parser[] = [
  { name: 'ParsedCertificate.parse', parse: (b) => ParsedCertificate.parse(b) },
  { name: 'ParsedCsr.parse', parse: (b) => ParsedCsr.parse(b) },
  { name: 'ParsedCrl.parse', parse: (b) => ParsedCrl.parse(b) },
  { name: 'ParsedOcspRequest.parse', parse: (b) => ParsedOcspRequest.parse(b) },
  { name: 'ParsedOcspResponse.parse', parse: (b) => ParsedOcspResponse.parse(b) },
  { name: 'ParsedCms.parse', parse: (b) => ParsedCms.parse(b) },
  { name: 'parseTimeStampReq', parse: (b) => parseTimeStampReq(b) },
  { name: 'parseTimeStampResp', parse: (b) => parseTimeStampResp(b) },
  { name: 'parseTstInfo', parse: (b) => parseTstInfo(b) },
  { name: 'readIdentityCode', parse: (b) => readIdentityCode(b) },
];

/** Offsets of every DER length byte in a valid encoding (the first length octet of each TLV). */
function lengthOffsets(der: Uint8Array): number[] {
  const out: number[] = [];
  const walk = (start: number, end: number, depth: number) => {
    let pos = start;
    while (pos < end && depth < 32) {
      let tlv;
      try {
        tlv = readTlv(der.subarray(0, end), pos);
      } catch {
        return;
      }
      out.push(pos + 1);
      const headerLength = tlv.end - pos - tlv.value.length;
      if (tlv.tag & 0x20) walk(pos + headerLength, tlv.end, depth + 1);
      pos = tlv.end;
    }
  };
  walk(0, der.length, 0);
  return out;
}

type Mutation =
  | { kind: 'flip'; pos: number; bit: number }
  | { kind: 'truncate'; pos: number }
  | { kind: 'insert'; pos: number; bytes: Uint8Array }
  | { kind: 'delete'; pos: number; count: number }
  | { kind: 'length'; index: number; value: number }
  | { kind: 'set'; pos: number; value: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), pos: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), pos: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    pos: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), pos: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({
    kind: fc.constant('length' as const),
    index: fc.nat(),
    value: fc.oneof(
      fc.constantFrom(0x00, 0x7f, 0x80, 0x81, 0x82, 0x84, 0x85, 0xff),
      fc.integer({ min: 0, max: 255 }),
    ),
  }),
  fc.record({ kind: fc.constant('set' as const), pos: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
);

function mutate(seed: Uint8Array, offsets: number[], mutations: Mutation[]): Uint8Array {
  let b = Uint8Array.from(seed);
  for (const m of mutations) {
    const at = (p: number) => (b.length === 0 ? 0 : p % b.length);
    switch (m.kind) {
      case 'flip':
        if (b.length) b[at(m.pos)]! ^= 1 << m.bit;
        break;
      case 'truncate':
        b = b.subarray(0, at(m.pos));
        break;
      case 'insert': {
        const p = at(m.pos);
        b = Uint8Array.of(...b.subarray(0, p), ...m.bytes, ...b.subarray(p));
        break;
      }
      case 'delete': {
        const p = at(m.pos);
        b = Uint8Array.of(...b.subarray(0, p), ...b.subarray(p + m.count));
        break;
      }
      case 'length': {
        // Length offsets refer to the seed; after earlier edits they are only approximately right,
        // which is fine for a fuzzer.
        const p = offsets.length ? offsets[m.index % offsets.length]! : 0;
        if (p < b.length) b[p] = m.value;
        break;
      }
      case 'set':
        if (b.length) b[at(m.pos)] = m.value;
        break;
    }
  }
  return b;
}

type Seed = { name: string; der: Uint8Array; offsets: number[] };

describe('PKI parsers under fuzzing', () => {
  let h: TestHierarchy;
  let seeds: Seed[] = [];

  before(async () => {
    h = await makeHierarchy('sm2');
    const rsa = await makeHierarchy('rsa-2048');
    const rich = await issueTestCertificate({
      subject: [
        ['C', 'CN'],
        ['O', '测试医院'],
        ['CN', '张三'],
      ],
      key: PrivateKey.generate('sm2'),
      issuer: h.intermediate,
      extensions: [
        extKeyUsageExtension([oids.id_kp_clientAuth, oids.id_kp_emailProtection]),
        subjectAltNameExtension({
          email: ['a@example.cn'],
          dns: ['x.example.cn'],
          uri: ['https://x.cn'],
          ip: ['10.0.0.1'],
        }),
        crlDistributionPointsExtension(['http://crl.example.cn/1.crl']),
        authorityInfoAccessExtension({
          ocsp: ['http://ocsp.example.cn'],
          caIssuers: ['http://ca.example.cn/c.cer'],
        }),
        certificatePoliciesExtension([{ oid: '1.2.156.112233.1', cps: 'https://ca.example.cn/cps' }]),
        identityCodeExtension({ kind: 'residentIdCard', value: '11010519491231002X' }),
      ],
    });
    const now = new Date();
    const csr = await buildCsr({
      subject: [
        ['C', 'CN'],
        ['CN', '李四'],
      ],
      signer: PrivateKey.generate('sm2').signer(),
      extensions: [subjectAltNameExtension({ email: ['b@example.cn'] })],
      challengePassword: 'secret',
    });
    const crl = await buildCrl({
      issuer: h.intermediate.cert,
      signer: h.intermediate.key.signer(),
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + 86_400_000),
      crlNumber: 7n,
      entries: [
        { serialNumber: 0x1001n, revocationDate: now, reason: 'keyCompromise', invalidityDate: now },
        { serialNumber: h.leaf.cert.serialNumber, revocationDate: now },
      ],
    });
    const ocspReq = buildOcspRequest({
      issuer: h.intermediate.cert,
      serials: [h.leaf.cert.serialNumber],
      nonce: new Uint8Array(32).fill(7),
    });
    const ocspResp = await buildOcspResponse({
      issuer: h.intermediate.cert,
      responder: { signer: h.intermediate.key.signer(), certificate: h.intermediate.cert },
      responderIdBy: 'key',
      producedAt: now,
      responses: [{ serialNumber: h.leaf.cert.serialNumber, status: 'good', thisUpdate: now }],
      nonce: new Uint8Array(32).fill(7),
    });
    const content = new TextEncoder().encode('门诊病历 2026-0001：诊断与处方');
    const cms = await signCms({
      content,
      detached: false,
      signers: [{ signer: rich.key.signer(), certificate: rich.cert }],
      certificates: [rich.cert, h.intermediate.cert],
    });
    const cmsGm = await signCms({
      content,
      detached: true,
      gmOids: true,
      signers: [{ signer: rich.key.signer(), certificate: rich.cert }],
    });
    const tsq = buildTimeStampReq({ hash: 'sm3', data: content, nonce: 42n, certReq: true });
    const tstFields = {
      policy: '1.2.156.112233.2.1',
      messageImprint: { hash: 'sm3' as const, hashedMessage: new Uint8Array(32).fill(9) },
      serialNumber: 99n,
      genTime: now,
      nonce: 42n,
    };
    const tst = await signTimeStampToken(tstFields, h.tsa.key.signer(), h.tsa.cert);
    const tsr = buildTimeStampResp({ status: 'granted', token: tst });
    const raw: [string, Uint8Array][] = [
      ['cms attached', cms],
      ['cms GM/T 0010 detached', cmsGm],
      ['timestamp request', tsq],
      ['timestamp response', tsr],
      ['TSTInfo', buildTstInfo(tstFields)],
      ['sm2 certificate', rich.cert.der],
      ['sm2 CA certificate', h.intermediate.cert.der],
      ['rsa certificate', rsa.leaf.cert.der],
      ['csr', csr],
      ['crl', crl],
      ['ocsp request', ocspReq],
      ['ocsp response', ocspResp],
    ];
    seeds = raw.map(([name, der]) => ({ name, der, offsets: lengthOffsets(der) }));
  });

  /** Feeds bytes to every parser; whatever parses gets its getters read and its verifiers run. */
  function exercise(bytes: Uint8Array): void {
    for (const p of PARSERS) {
      const parsed = onlyAllowedErrors(p.name, () => p.parse(bytes));
      if (parsed && typeof parsed === 'object') touchGetters(p.name, parsed);
      if (parsed instanceof ParsedCertificate) {
        const cert = parsed;
        onlyAllowedErrors('readIdentityNumbers', () => readIdentityNumbers(cert));
        neverThrows('verifySignature', () => cert.verifySignature(h.intermediate.cert.publicKeyInfo));
        neverThrows('lintCertificate', () => lintCertificate(cert, { profile: 'sm2-personal' }));
        const chain = neverThrows('verifyCertificateChain', () =>
          verifyCertificateChain(cert, {
            anchors: [h.root.cert],
            intermediates: [h.intermediate.cert, cert],
          }),
        );
        assert.equal(typeof chain.valid, 'boolean');
      }
      if (parsed instanceof ParsedCrl) {
        const crl = parsed;
        neverThrows('verifyCrl', () => verifyCrl(crl, h.intermediate.cert));
      }
      if (parsed instanceof ParsedOcspResponse) {
        const resp = parsed;
        neverThrows('verifyOcspResponse', () => verifyOcspResponse(resp, h.intermediate.cert));
      }
      if (parsed instanceof ParsedCsr) {
        const csr = parsed;
        neverThrows('verifyProofOfPossession', () => csr.verifyProofOfPossession());
      }
    }
    neverThrows('verifyCms', () => verifyCms(bytes, { anchors: [h.root.cert] }));
    neverThrows('verifyTimeStampToken', () => verifyTimeStampToken(bytes, { anchors: [h.root.cert] }));
    neverThrows('lintCertificate(bytes)', () => lintCertificate(bytes));
    // The universal verifier raises DecodeError for input it cannot recognise (documented), else reports.
    onlyAllowedErrors('verifyArtifact', () => verifyArtifact(bytes, { trusted: [h.root.cert] }));
  }

  test('the seeds themselves parse and verify', () => {
    for (const s of seeds) exercise(s.der);
    const crl = ParsedCrl.parse(seeds.find((s) => s.name === 'crl')!.der);
    assert.equal(verifyCrl(crl, h.intermediate.cert).valid, true);
    assert.ok(lengthOffsets(seeds[0]!.der).length > 20);
  });

  test('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => exercise(bytes)),
      { numRuns: runs(300) },
    );
  });

  test('random bytes behind a plausible DER header', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0x30, 0x31, 0xa0, 0x04, 0x02),
        fc.uint8Array({ maxLength: 300 }),
        (tag, body) => {
          const len = body.length;
          const header =
            len < 0x80 ? [tag, len] : len < 0x100 ? [tag, 0x81, len] : [tag, 0x82, len >> 8, len & 0xff];
          exercise(Uint8Array.of(...header, ...body));
        },
      ),
      { numRuns: runs(200) },
    );
  });

  test('mutated valid DER (bit flips, truncation, insertion, deletion, length bytes)', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (which, mutations) => {
        const seed = seeds[which % seeds.length]!;
        exercise(mutate(seed.der, seed.offsets, mutations));
      }),
      { numRuns: runs(2500) },
    );
  });

  test('a single length-byte change in a certificate is always rejected or still parses cleanly', () => {
    const seed = seeds[0]!;
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 255 }), (index, value) => {
        const bytes = mutate(seed.der, seed.offsets, [{ kind: 'length', index, value }]);
        exercise(bytes);
      }),
      { numRuns: runs(300) },
    );
  });
});
