import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecodeError, DecryptError, decodePemBlocks } from '@medsign/gm';
import {
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeTlv,
  encodeUnsignedInteger,
  readChildren,
  readTlv,
  readUnsignedInteger,
  type Tlv,
} from '@medsign/gm/der';
import { makeHierarchy, runOpenssl, type TestHierarchy } from '@medsign/testkit';
import { PrivateKey, UnsupportedError, oids, verifySignature, type KeyType } from '@medsign/pki';
import { DEFAULT_PKCS12_ITERATIONS, exportPkcs12, importPkcs12 } from '../src/pkcs12.js';
import { tlvBytes } from '../src/der-input.js';
import { pbePassword, pkcs12Kdf } from '../src/pkcs8.js';
import { rc2CbcDecrypt, rc2CbcEncrypt, rc2EcbDecrypt, rc2EcbEncrypt } from '../src/rc2.js';

const TYPES: KeyType[] = ['sm2', 'rsa-2048', 'ec-p256'];
const FAST = 2048;
const h = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const kids = (t: Tlv) => readChildren(t.value);

type Rc2Vector = {
  tcId: number;
  comment: string;
  mode: 'ecb' | 'cbc';
  key: string;
  effectiveBits: number;
  iv?: string;
  pt: string;
  ct: string;
  result: 'valid' | 'invalid';
};
const rc2Vectors = JSON.parse(readFileSync(new URL('./vectors/rc2.json', import.meta.url), 'utf8')) as {
  tests: Rc2Vector[];
};

describe('RC2 (RFC 2268)', () => {
  for (const v of rc2Vectors.tests) {
    test(`tcId ${v.tcId}: ${v.comment}`, () => {
      const key = h(v.key);
      if (v.mode === 'ecb') {
        assert.equal(hex(rc2EcbEncrypt(key, v.effectiveBits, h(v.pt))), v.ct);
        assert.equal(hex(rc2EcbDecrypt(key, v.effectiveBits, h(v.ct))), v.pt);
        return;
      }
      const iv = h(v.iv!);
      if (v.result === 'invalid') {
        assert.throws(() => rc2CbcDecrypt(key, v.effectiveBits, iv, h(v.ct)), DecryptError);
        return;
      }
      assert.equal(hex(rc2CbcEncrypt(key, v.effectiveBits, iv, h(v.pt))), v.ct);
      assert.equal(hex(rc2CbcDecrypt(key, v.effectiveBits, iv, h(v.ct))), v.pt);
    });
  }

  test('decrypting a Buffer view leaves the caller’s bytes alone', () => {
    const ct = Buffer.from(
      rc2CbcEncrypt(h('0102030405'), 40, new Uint8Array(8), Buffer.from('x'.repeat(40))),
    );
    const copy = Buffer.from(ct);
    rc2CbcDecrypt(h('0102030405'), 40, new Uint8Array(8), ct.subarray(0));
    assert.deepEqual(ct, copy);
  });

  test('argument checks', () => {
    assert.throws(() => rc2EcbEncrypt(new Uint8Array(0), 40, new Uint8Array(8)), RangeError);
    assert.throws(() => rc2EcbEncrypt(new Uint8Array(5), 0, new Uint8Array(8)), RangeError);
    assert.throws(
      () => rc2CbcDecrypt(new Uint8Array(5), 40, new Uint8Array(7), new Uint8Array(8)),
      RangeError,
    );
  });
});

/** Finds the pieces of a PFX this test rewrites: the authSafe octets and the MacData fields (views into der). */
function pfxParts(der: Uint8Array) {
  const top = kids(readTlv(der));
  const authSafe = kids(kids(top[1]!)[1]!)[0]!.value;
  const [digestInfo, salt, iter] = kids(top[2]!);
  return {
    top,
    authSafe,
    mac: kids(digestInfo!)[1]!.value,
    macSalt: salt!.value,
    macIterations: Number(readUnsignedInteger(iter!, 'iterations')),
  };
}

/** Recomputes an HMAC-SHA256 PKCS#12 MAC in place after the test changed authSafe bytes. */
function remac(der: Uint8Array, password: string): Uint8Array {
  const p = pfxParts(der);
  const key = pkcs12Kdf('sha256', pbePassword(password).bmp, p.macSalt, 'mac', p.macIterations, 32);
  p.mac.set(createHmac('sha256', key).update(p.authSafe).digest());
  return der;
}

/** Overwrites the first or last occurrence of `needle` in `hay` with `replacement` (same length). */
function replaceBytes(hay: Uint8Array, needle: Uint8Array, replacement: Uint8Array, which: 'first' | 'last') {
  const buf = Buffer.from(hay.buffer, hay.byteOffset, hay.length);
  const at = which === 'first' ? buf.indexOf(needle) : buf.lastIndexOf(needle);
  assert.ok(at >= 0, 'pattern present');
  hay.set(replacement, at);
}

describe('PKCS#12', () => {
  let dir: string;
  const pki = new Map<KeyType, TestHierarchy>();
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'medsign-p12-'));
    for (const t of TYPES) {
      const hier = await makeHierarchy(t);
      pki.set(t, hier);
      writeFileSync(join(dir, `${t}-key.pem`), hier.leaf.key.toPem());
      writeFileSync(join(dir, `${t}-leaf.pem`), hier.leaf.cert.toPem());
      writeFileSync(join(dir, `${t}-chain.pem`), hier.intermediate.cert.toPem() + hier.root.cert.toPem());
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs `openssl pkcs12 -export` for one hierarchy with extra arguments; returns the DER. */
  function opensslExport(type: KeyType, extra: string[], password = 'x'): Uint8Array | string {
    const out = join(dir, `${type}-openssl.p12`);
    const r = runOpenssl([
      'pkcs12',
      '-export',
      '-inkey',
      join(dir, `${type}-key.pem`),
      '-in',
      join(dir, `${type}-leaf.pem`),
      '-certfile',
      join(dir, `${type}-chain.pem`),
      '-passout',
      `pass:${password}`,
      '-out',
      out,
      ...extra,
    ]);
    if (r.code !== 0) return r.stderr;
    return new Uint8Array(readFileSync(out));
  }

  async function checkImported(type: KeyType, der: Uint8Array, password = 'x') {
    const hier = pki.get(type)!;
    const got = importPkcs12(der, password);
    assert.deepEqual(got.certificate.der, hier.leaf.cert.der);
    assert.deepEqual(got.privateKey.publicKeyInfo, hier.leaf.key.publicKeyInfo);
    assert.deepEqual(
      got.chain.map((c) => c.der),
      [hier.intermediate.cert.der, hier.root.cert.der],
    );
    // The imported key signs, and the leaf certificate verifies it.
    const signer = got.privateKey.signer();
    const data = Buffer.from('处方 prescription');
    const sig = await signer.sign(data);
    assert.ok(verifySignature(got.certificate.publicKeyInfo, signer.algorithm, data, sig));
    return got;
  }

  const OPENSSL_VARIANTS: { name: string; args: string[]; info: RegExp[] }[] = [
    {
      name: 'default (PBES2 AES-256-CBC, HMAC-SHA256 MAC)',
      args: ['-name', '张三 signing key'],
      info: [/MAC: sha256/, /PBES2, PBKDF2, AES-256-CBC/],
    },
    {
      name: '-legacy (RC2-40 certificates, 3DES key, SHA-1 MAC)',
      args: ['-legacy'],
      info: [/MAC: sha1/, /pbeWithSHA1And40BitRC2-CBC/, /pbeWithSHA1And3-KeyTripleDES-CBC/],
    },
    {
      name: '-legacy with 128-bit RC2 for both bags',
      args: ['-legacy', '-certpbe', 'PBE-SHA1-RC2-128', '-keypbe', 'PBE-SHA1-RC2-128'],
      info: [/pbeWithSHA1And128BitRC2-CBC/],
    },
    {
      name: '-legacy with 2-key 3DES',
      args: ['-legacy', '-certpbe', 'PBE-SHA1-2DES', '-keypbe', 'PBE-SHA1-2DES'],
      info: [/pbeWithSHA1And2-KeyTripleDES-CBC/],
    },
    {
      name: '3DES bags + SHA-1 MAC without the legacy provider',
      args: ['-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1'],
      info: [/MAC: sha1/, /pbeWithSHA1And3-KeyTripleDES-CBC/],
    },
    { name: 'unencrypted certificates (-certpbe NONE)', args: ['-certpbe', 'NONE'], info: [/PKCS7 Data/] },
  ];

  for (const type of TYPES) {
    for (const v of OPENSSL_VARIANTS) {
      test(`imports openssl pkcs12 -export ${v.name} (${type})`, async (t) => {
        const der = opensslExport(type, v.args);
        if (typeof der === 'string') {
          if (v.args.includes('-legacy')) return t.skip(`this OpenSSL cannot write legacy PKCS#12: ${der}`);
          assert.fail(der);
        }
        const info = runOpenssl([
          'pkcs12',
          '-in',
          join(dir, `${type}-openssl.p12`),
          '-passin',
          'pass:x',
          '-info',
          '-noout',
          '-legacy',
        ]);
        for (const re of v.info) assert.match(info.stderr + info.stdout, re);
        const got = await checkImported(type, der);
        // OpenSSL sets localKeyID to the SHA-1 of the certificate.
        const leafSha1 = createHash('sha1').update(pki.get(type)!.leaf.cert.der).digest();
        assert.deepEqual(got.localKeyId, new Uint8Array(leafSha1));
        if (v.args.includes('-name')) assert.equal(got.friendlyName, '张三 signing key');
        assert.throws(() => importPkcs12(der, 'y'), DecryptError);
      });
    }
  }

  test('imports openssl files with an empty password and with a non-ASCII password', async () => {
    const empty = opensslExport('ec-p256', [], '');
    assert.ok(typeof empty !== 'string', String(empty));
    await checkImported('ec-p256', empty, '');
    const chinese = opensslExport('sm2', ['-legacy'], '口令123');
    assert.ok(typeof chinese !== 'string', String(chinese));
    await checkImported('sm2', chinese, '口令123');
    assert.throws(() => importPkcs12(chinese, '口令124'), DecryptError);
  });

  for (const type of TYPES) {
    test(`export (${type}) → openssl pkcs12 -in … -nodes prints our key and certificates`, async () => {
      const hier = pki.get(type)!;
      const der = exportPkcs12({
        privateKey: hier.leaf.key,
        certificate: hier.leaf.cert,
        chain: [hier.intermediate.cert, hier.root.cert],
        password: 'x',
        friendlyName: 'medsign 测试',
      });
      const path = join(dir, `${type}-ours.p12`);
      writeFileSync(path, der);
      const info = runOpenssl(['pkcs12', '-in', path, '-passin', 'pass:x', '-info', '-noout']);
      assert.equal(info.code, 0, info.stderr);
      const text = info.stderr + info.stdout;
      assert.match(text, new RegExp(`MAC: sha256, Iteration ${DEFAULT_PKCS12_ITERATIONS}`));
      assert.match(
        text,
        /PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration \d+, PRF hmacWithSHA256/,
      );
      assert.match(text, /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration \d+, PRF hmacWithSHA256/);

      const r = runOpenssl(['pkcs12', '-in', path, '-passin', 'pass:x', '-nodes']);
      assert.equal(r.code, 0, r.stderr);
      const blocks = decodePemBlocks(r.stdout);
      const keyBlock = blocks.find((b) => b.label === 'PRIVATE KEY');
      assert.ok(keyBlock, 'openssl printed the private key');
      const printed = PrivateKey.fromPem(
        `-----BEGIN PRIVATE KEY-----\n${Buffer.from(keyBlock.der).toString('base64')}\n-----END PRIVATE KEY-----\n`,
      );
      assert.deepEqual(printed.publicKeyInfo, hier.leaf.key.publicKeyInfo);
      const certs = blocks.filter((b) => b.label === 'CERTIFICATE').map((b) => hex(b.der));
      assert.deepEqual(
        certs.sort(),
        [hier.leaf.cert.der, hier.intermediate.cert.der, hier.root.cert.der].map(hex).sort(),
      );
      // OpenSSL prints a BMPString friendlyName lossily (low byte of each character), so compare with
      // what it prints for a file it made itself with the same name.
      const own = opensslExport(type, ['-name', 'medsign 测试']);
      assert.ok(typeof own !== 'string', String(own));
      const ownText = runOpenssl([
        'pkcs12',
        '-in',
        join(dir, `${type}-openssl.p12`),
        '-passin',
        'pass:x',
        '-nodes',
      ]);
      const friendly = (out: string) => /friendlyName: (.*)/.exec(out)?.[1];
      assert.ok(friendly(r.stdout)?.startsWith('medsign '));
      assert.equal(friendly(r.stdout), friendly(ownText.stdout));
      const localKeyId = createHash('sha1')
        .update(hier.leaf.cert.der)
        .digest('hex')
        .toUpperCase()
        .match(/../g)!
        .join(' ');
      assert.equal(
        r.stdout.split(`localKeyID: ${localKeyId}`).length - 1,
        2,
        'key and certificate share localKeyID',
      );

      const back = await checkImported(type, der);
      assert.equal(back.friendlyName, 'medsign 测试');
    });
  }

  test('export with a non-ASCII password opens in openssl with the same password', () => {
    const hier = pki.get('sm2')!;
    const der = exportPkcs12({
      privateKey: hier.leaf.key,
      certificate: hier.leaf.cert,
      password: '密码',
      iterations: FAST,
    });
    const path = join(dir, 'utf8.p12');
    writeFileSync(path, der);
    const r = runOpenssl(['pkcs12', '-in', path, '-passin', 'pass:密码', '-nodes']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(importPkcs12(der, '密码').privateKey.publicKeyInfo, hier.leaf.key.publicKeyInfo);
  });

  describe('negative cases', () => {
    let good: Uint8Array;
    before(() => {
      const hier = pki.get('ec-p256')!;
      good = exportPkcs12({
        privateKey: hier.leaf.key,
        certificate: hier.leaf.cert,
        chain: [hier.intermediate.cert],
        password: 'pw',
        iterations: FAST,
      });
    });

    test('wrong password → DecryptError (MAC check)', () => {
      assert.throws(
        () => importPkcs12(good, 'PW'),
        (e: Error) => e instanceof DecryptError && /wrong password/.test(e.message),
      );
      assert.throws(() => importPkcs12(good, ''), DecryptError);
    });

    test('tampered MAC → DecryptError', () => {
      const bad = Uint8Array.from(good);
      pfxParts(bad).mac[0]! ^= 0x80;
      assert.throws(() => importPkcs12(bad, 'pw'), DecryptError);
    });

    test('tampered content under an intact MAC → DecryptError before any decryption', () => {
      const bad = Uint8Array.from(good);
      const p = pfxParts(bad);
      p.authSafe[p.authSafe.length - 1]! ^= 0x01;
      assert.throws(() => importPkcs12(bad, 'pw'), DecryptError);
    });

    test('truncated, trailing bytes, indefinite length → DecodeError', () => {
      assert.throws(() => importPkcs12(good.subarray(0, good.length - 1), 'pw'), DecodeError);
      assert.throws(() => importPkcs12(good.subarray(0, 100), 'pw'), DecodeError);
      assert.throws(() => importPkcs12(Buffer.concat([good, Uint8Array.of(0)]), 'pw'), DecodeError);
      const outer = readTlv(good);
      assert.throws(
        () =>
          importPkcs12(Buffer.concat([Uint8Array.of(0x30, 0x80), outer.value, Uint8Array.of(0, 0)]), 'pw'),
        DecodeError,
      );
    });

    test('a bag with an unknown PBE OID (under a valid MAC) → UnsupportedError naming the OID', () => {
      const bad = Uint8Array.from(good);
      const p = pfxParts(bad);
      // The last PBES2 OID in authSafe is the shrouded key bag's; make it 1.2.840.113549.1.5.99.
      replaceBytes(p.authSafe, encodeOid(oids.id_PBES2), encodeOid('1.2.840.113549.1.5.99'), 'last');
      remac(bad, 'pw');
      assert.throws(
        () => importPkcs12(bad, 'pw'),
        (e: Error) => e instanceof UnsupportedError && e.message.includes('1.2.840.113549.1.5.99'),
      );
    });

    test('an unknown scheme on the encrypted certificate ContentInfo (under a valid MAC) → UnsupportedError', () => {
      const bad = Uint8Array.from(good);
      const p = pfxParts(bad);
      replaceBytes(p.authSafe, encodeOid(oids.id_PBES2), encodeOid('1.2.840.113549.1.5.77'), 'first');
      remac(bad, 'pw');
      assert.throws(
        () => importPkcs12(bad, 'pw'),
        (e: Error) => e instanceof UnsupportedError && e.message.includes('1.2.840.113549.1.5.77'),
      );
    });

    test('no MAC → UnsupportedError unless allowMissingMac', async () => {
      const der = opensslExport('rsa-2048', ['-nomac']);
      assert.ok(typeof der !== 'string', String(der));
      assert.throws(
        () => importPkcs12(der, 'x'),
        (e: Error) => e instanceof UnsupportedError && /no MAC/.test(e.message),
      );
      const got = importPkcs12(der, 'x', { allowMissingMac: true });
      assert.deepEqual(got.certificate.der, pki.get('rsa-2048')!.leaf.cert.der);
      assert.throws(() => importPkcs12(der, 'y', { allowMissingMac: true }), DecryptError);
    });

    test('fuzz: corruptions, outside and (re-MACed) inside authSafe, only raise typed errors', () => {
      const hier = pki.get('ec-p256')!;
      const base = exportPkcs12({
        privateKey: hier.leaf.key,
        certificate: hier.leaf.cert,
        chain: [hier.intermediate.cert],
        password: 'pw',
        iterations: 1,
      });
      const { authSafe } = pfxParts(base);
      const start = authSafe.byteOffset - base.byteOffset;
      let seed = 12345;
      const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
      const outcomes = new Map<string, number>();
      for (let i = 0; i < 600; i++) {
        const bad = Uint8Array.from(base);
        // Even rounds hit authSafe and fix the MAC up, so the parsers behind the MAC see garbage too.
        const inside = i % 2 === 0;
        const at = inside ? start + Math.floor(rnd() * authSafe.length) : Math.floor(rnd() * bad.length);
        bad[at]! ^= 1 + Math.floor(rnd() * 255);
        if (inside) remac(bad, 'pw');
        try {
          importPkcs12(bad, 'pw');
          outcomes.set('accepted', (outcomes.get('accepted') ?? 0) + 1);
        } catch (e) {
          assert.ok(
            e instanceof DecodeError || e instanceof DecryptError || e instanceof UnsupportedError,
            `unexpected ${(e as Error).name}: ${(e as Error).message}`,
          );
          outcomes.set((e as Error).name, (outcomes.get((e as Error).name) ?? 0) + 1);
        }
      }
      // Flips in unauthenticated-but-unused spots (e.g. an attribute value) may still import; most fail.
      assert.ok((outcomes.get('accepted') ?? 0) < 60, JSON.stringify([...outcomes]));
    });

    test('export refuses a key that does not match the certificate, and an empty password', () => {
      const hier = pki.get('sm2')!;
      assert.throws(
        () => exportPkcs12({ privateKey: hier.root.key, certificate: hier.leaf.cert, password: 'x' }),
        RangeError,
      );
      assert.throws(
        () => exportPkcs12({ privateKey: hier.leaf.key, certificate: hier.leaf.cert, password: '' }),
        RangeError,
      );
    });

    test('a PFX without the matching certificate → DecodeError', () => {
      const hier = pki.get('ec-p256')!;
      const der = opensslExport('ec-p256', ['-nocerts']);
      assert.ok(typeof der !== 'string', String(der));
      assert.throws(
        () => importPkcs12(der, 'x'),
        (e: Error) => e instanceof DecodeError && /matches/.test(e.message),
      );
      assert.ok(hier);
    });
  });

  test('PBMAC1 (RFC 9579) MAC is verified', () => {
    const hier = pki.get('sm2')!;
    const der = exportPkcs12({
      privateKey: hier.leaf.key,
      certificate: hier.leaf.cert,
      password: 'pw',
      iterations: FAST,
    });
    const p = pfxParts(der);
    const salt = new Uint8Array(16).fill(7);
    const build = (password: string) => {
      const key = pbkdf2Sync(Buffer.from(password), salt, 4096, 32, 'sha256');
      const mac = createHmac('sha256', key).update(p.authSafe).digest();
      const hmacAlg = encodeSequence(encodeOid(oids.id_hmacWithSHA256), encodeTlv(5, new Uint8Array(0)));
      const pbmac1 = encodeSequence(
        encodeOid(oids.id_PBMAC1),
        encodeSequence(
          encodeSequence(
            encodeOid(oids.id_PBKDF2),
            encodeSequence(
              encodeOctetString(salt),
              encodeUnsignedInteger(4096n),
              encodeUnsignedInteger(32n),
              hmacAlg,
            ),
          ),
          hmacAlg,
        ),
      );
      const macData = encodeSequence(
        encodeSequence(pbmac1, encodeOctetString(mac)),
        encodeOctetString(new Uint8Array(8)),
        encodeUnsignedInteger(1n),
      );
      const authSafeCi = tlvBytes(p.top[1]!);
      return encodeSequence(encodeUnsignedInteger(3n), authSafeCi, macData);
    };
    const ok = build('pw');
    assert.deepEqual(importPkcs12(ok, 'pw').certificate.der, hier.leaf.cert.der);
    assert.throws(() => importPkcs12(ok, 'wrong'), DecryptError);
    assert.throws(() => importPkcs12(build('other'), 'pw'), DecryptError);
  });
});
