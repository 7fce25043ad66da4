import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { SM2PrivateKey, SM2PublicKey, sm2SignatureToRaw, useSm2Backend } from '../src/index.js';
import { computeZ } from '../src/sm2/z.js';
import { SM2_CURVE, SM2_TEST_CURVE, type CurveParams } from '../src/sm2/curve.js';
import { sm3 } from '../src/sm3.js';
import { concatBytes } from '../src/bytes.js';
import { availableBackends } from './helpers/backends.js';
import { encryptWithK, publicPoint, signWithK, verifyOnCurve } from './helpers/reference.js';
import { h, loadVectors, toHex, utf8 } from './helpers/vectors.js';

type SigKat = {
  tcId: number;
  comment: string;
  curve: string;
  d: string;
  px: string;
  py: string;
  id: string;
  msg: string;
  z: string;
  e: string;
  k: string;
  r: string;
  s: string;
  der?: string;
};
type EncKat = {
  tcId: number;
  comment: string;
  curve: string;
  d: string;
  msg: string;
  k: string;
  c1: string;
  c3: string;
  c2: string;
};
type Kat = { signature: SigKat[]; encryption: EncKat[] };
type VerifyVectors = {
  testGroups: {
    publicKey: string;
    id: string;
    tests: { tcId: number; comment: string; msg: string; sig: string; result: 'valid' | 'invalid' }[];
  }[];
};

const kat = loadVectors<Kat>('sm2-kat.json');
const verifyVectors = loadVectors<VerifyVectors>('sm2-verify.json');
const curveOf = (name: string): CurveParams => (name === SM2_CURVE.name ? SM2_CURVE : SM2_TEST_CURVE);
const big = (hex: string) => BigInt('0x' + hex);

describe('SM2 known answers (fixed k, reference arithmetic)', () => {
  for (const v of kat.signature) {
    test(`#${v.tcId} ${v.comment}`, () => {
      const curve = curveOf(v.curve);
      const pub = publicPoint(curve, big(v.d));
      assert.equal(toHex(pub), '04' + v.px + v.py);
      const z = computeZ(pub, v.id, curve);
      assert.equal(toHex(z), v.z);
      const e = sm3(concatBytes(z, utf8(v.msg)));
      assert.equal(toHex(e), v.e);
      const { r, s } = signWithK(curve, big(v.d), e, big(v.k));
      assert.equal(r, big(v.r));
      assert.equal(s, big(v.s));
      assert.ok(verifyOnCurve(curve, pub, e, r, s));
    });
  }
  for (const v of kat.encryption) {
    test(`#${v.tcId} ${v.comment}`, () => {
      const curve = curveOf(v.curve);
      const pub = publicPoint(curve, big(v.d));
      const ct = encryptWithK(curve, pub, utf8(v.msg), big(v.k));
      assert.equal(toHex(ct), v.c1 + v.c3 + v.c2);
    });
  }
});

for (const backend of availableBackends()) {
  describe(`SM2 vectors through the public API (${backend})`, () => {
    before(() => useSm2Backend(backend));
    const v1 = kat.signature[0]!;
    const v3 = kat.encryption[0]!;

    test('V1: key, Z, e and the example signature verify', () => {
      const key = SM2PrivateKey.fromHex(v1.d);
      assert.equal(key.publicKey.toHex(), '04' + v1.px + v1.py);
      assert.equal(toHex(key.publicKey.computeZ()), v1.z);
      assert.equal(toHex(key.publicKey.digest(v1.msg)), v1.e);
      assert.ok(key.publicKey.verify(v1.msg, h(v1.der!)));
      assert.ok(key.publicKey.verifyDigest(h(v1.e), h(v1.r + v1.s)));
      assert.equal(toHex(sm2SignatureToRaw(h(v1.der!))), v1.r + v1.s);
    });

    test('V1 key signs, and its signatures verify only with the same ID and message', () => {
      const key = SM2PrivateKey.fromHex(v1.d);
      const sig = key.sign(v1.msg);
      assert.ok(key.publicKey.verify(v1.msg, sig));
      assert.ok(!key.publicKey.verify(v1.msg, sig, { id: '' }));
      assert.ok(!key.publicKey.verify('message digesu', sig));
      const custom = key.sign(v1.msg, { id: 'doctor-0042@hospital' });
      assert.ok(key.publicKey.verify(v1.msg, custom, { id: 'doctor-0042@hospital' }));
      assert.ok(!key.publicKey.verify(v1.msg, custom));
    });

    test('V3: the example ciphertext decrypts in all three layouts', () => {
      const key = SM2PrivateKey.fromHex(v3.d);
      const expected = v3.msg;
      const raw = h(v3.c1 + v3.c3 + v3.c2);
      assert.equal(Buffer.from(key.decrypt(raw, { format: 'c1c3c2' })).toString(), expected);
      assert.equal(
        Buffer.from(key.decrypt(h(v3.c1 + v3.c2 + v3.c3), { format: 'c1c2c3' })).toString(),
        expected,
      );
      const der = h(
        '307c0220' + v3.c1.slice(2, 66) + '022100' + v3.c1.slice(66) + '0420' + v3.c3 + '0413' + v3.c2,
      );
      assert.equal(Buffer.from(key.decrypt(der)).toString(), expected);
    });

    test('V3: tampered C3, C2 or C1 is rejected', () => {
      const key = SM2PrivateKey.fromHex(v3.d);
      const flip = (hex: string, i: number) =>
        hex.slice(0, i) + (hex[i] === '0' ? '1' : '0') + hex.slice(i + 1);
      for (const bad of [
        v3.c1 + flip(v3.c3, 5) + v3.c2,
        v3.c1 + v3.c3 + flip(v3.c2, 7),
        flip(v3.c1, 70) + v3.c3 + v3.c2,
        '04' + '00'.repeat(64) + v3.c3 + v3.c2,
      ]) {
        assert.throws(() => key.decrypt(h(bad), { format: 'c1c3c2' }), /DecryptError|decryption failed/);
      }
    });

    for (const group of verifyVectors.testGroups) {
      const pub = SM2PublicKey.fromHex(group.publicKey);
      for (const t of group.tests) {
        test(`verify #${t.tcId} ${t.comment} (id ${JSON.stringify(Buffer.from(group.id, 'hex').toString())})`, () => {
          const ok = pub.verify(h(t.msg), h(t.sig), { id: h(group.id) });
          assert.equal(ok, t.result === 'valid');
        });
      }
    }
  });
}
