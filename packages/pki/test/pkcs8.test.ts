import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, pbkdf2Sync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecodeError, DecryptError, decodePem, sm3 } from '@medsign/gm';
import {
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeTlv,
  encodeUnsignedInteger,
  readChildren,
  readOid,
  readTlv,
  readUnsignedInteger,
  type Tlv,
} from '@medsign/gm/der';
import { runOpenssl } from '@medsign/testkit';
import { PrivateKey, UnsupportedError, oids, type KeyType } from '@medsign/pki';
import {
  DEFAULT_PBKDF2_ITERATIONS,
  decryptPrivateKey,
  describeEncryptedPrivateKey,
  encryptPrivateKey,
  encryptPrivateKeyPem,
  type PbeCipher,
  type PbeKdf,
} from '../src/pkcs8.js';

const TYPES: KeyType[] = ['sm2', 'rsa-2048', 'ec-p256'];
const FAST = 2048;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const children = (t: Tlv) => readChildren(t.value);

/** HMAC-SM3 from the bare SM3 hash (RFC 2104: H(K⊕opad ‖ H(K⊕ipad ‖ m))), independent of Node's HMAC. */
function hmacSm3Manual(key: Uint8Array, data: Uint8Array): Uint8Array {
  const k = new Uint8Array(64);
  k.set(key.length > 64 ? sm3(key) : key);
  const ipad = k.map((b) => b ^ 0x36);
  const opad = k.map((b) => b ^ 0x5c);
  return sm3(Buffer.concat([opad, sm3(Buffer.concat([ipad, data]))]));
}

/** PBKDF2 (RFC 8018 §5.2) written out over hmacSm3Manual, independent of Node's pbkdf2. */
function pbkdf2Sm3Manual(password: Uint8Array, salt: Uint8Array, iterations: number, length: number) {
  const out = new Uint8Array(length);
  for (let block = 1, off = 0; off < length; block++, off += 32) {
    const counter = Uint8Array.of(block >>> 24, (block >>> 16) & 0xff, (block >>> 8) & 0xff, block & 0xff);
    let u = hmacSm3Manual(password, Buffer.concat([salt, counter]));
    const t = u.slice();
    for (let i = 1; i < iterations; i++) {
      u = hmacSm3Manual(password, u);
      for (let j = 0; j < 32; j++) t[j]! ^= u[j]!;
    }
    out.set(t.subarray(0, Math.min(32, length - off)), off);
  }
  return out;
}

/** EncryptedPrivateKeyInfo with PBES2 built field by field, to make malformed and unsupported variants. */
function pbes2Der(o: {
  kdfOid?: string;
  prf?: Uint8Array | null;
  cipherOid?: string;
  iv?: Uint8Array;
  iterations?: bigint;
  keyLength?: bigint;
  scheme?: string;
}): Uint8Array {
  const pbkdf2Params = encodeSequence(
    encodeOctetString(new Uint8Array(16)),
    encodeUnsignedInteger(o.iterations ?? 2048n),
    ...(o.keyLength !== undefined ? [encodeUnsignedInteger(o.keyLength)] : []),
    ...(o.prf === null
      ? []
      : [o.prf ?? encodeSequence(encodeOid(oids.id_hmacWithSHA256), encodeTlv(5, new Uint8Array(0)))]),
  );
  const alg = encodeSequence(
    encodeOid(o.scheme ?? oids.id_PBES2),
    encodeSequence(
      encodeSequence(encodeOid(o.kdfOid ?? oids.id_PBKDF2), pbkdf2Params),
      encodeSequence(
        encodeOid(o.cipherOid ?? oids.id_aes256_CBC),
        encodeOctetString(o.iv ?? new Uint8Array(16)),
      ),
    ),
  );
  return encodeSequence(alg, encodeOctetString(new Uint8Array(48)));
}

describe('PBKDF2 with HMAC-SM3', () => {
  test('the manual HMAC-SM3 matches the GM/T reference value (gm-standards.md §3.1)', () => {
    const mac = hmacSm3Manual(Buffer.from('0123456789abcdeffedcba9876543210', 'hex'), Buffer.from('abc'));
    assert.equal(hex(mac), '28d8a61be67d8bf7652c4eda7092b612f88be62184f55005c57ddf076e764199');
  });

  for (const [pass, salt, iter, len] of [
    ['password', 'salt', 1, 32],
    ['password', 'salt', 2, 32],
    ['passwordPASSWORDpassword', 'saltSALTsaltSALTsaltSALTsaltSALTsalt', 100, 48],
    ['口令', '盐', 7, 16],
  ] as const) {
    test(`node pbkdf2Sync(…, 'sm3') = independent loop: ${iter} iterations, ${len} bytes`, () => {
      const p = Buffer.from(pass, 'utf8');
      const s = Buffer.from(salt, 'utf8');
      assert.equal(hex(pbkdf2Sync(p, s, iter, len, 'sm3')), hex(pbkdf2Sm3Manual(p, s, iter, len)));
    });
  }
});

describe('encryptPrivateKey / decryptPrivateKey round trips', () => {
  const keys = new Map<KeyType, PrivateKey>();
  before(() => {
    for (const t of TYPES) keys.set(t, PrivateKey.generate(t));
  });

  for (const type of TYPES) {
    for (const kdf of ['pbkdf2-hmac-sha256', 'pbkdf2-hmac-sm3'] as PbeKdf[]) {
      for (const cipher of ['aes-256-cbc', 'sm4-cbc'] as PbeCipher[]) {
        test(`${type}: ${kdf} + ${cipher}`, () => {
          const key = keys.get(type)!;
          const der = encryptPrivateKey(key, 'correct horse 电池', { kdf, cipher, iterations: FAST });
          const info = describeEncryptedPrivateKey(der);
          assert.deepEqual(info, {
            scheme: 'PBES2',
            kdf: 'pbkdf2',
            prf: kdf === 'pbkdf2-hmac-sha256' ? 'sha256' : 'sm3',
            cipher,
            iterations: FAST,
            saltLength: 16,
          });
          const back = decryptPrivateKey(der, 'correct horse 电池');
          assert.deepEqual(back.toPkcs8(), key.toPkcs8());
        });
      }
    }
  }

  test('PKCS#8 DER input and PEM output ("ENCRYPTED PRIVATE KEY")', () => {
    const key = keys.get('ec-p256')!;
    const pem = encryptPrivateKeyPem(key.toPkcs8(), 'pw', { iterations: FAST });
    assert.equal(decodePem(pem).label, 'ENCRYPTED PRIVATE KEY');
    assert.deepEqual(decryptPrivateKey(pem, 'pw').publicKeyInfo, key.publicKeyInfo);
    assert.deepEqual(decryptPrivateKey(Buffer.from(pem), 'pw').publicKeyInfo, key.publicKeyInfo);
  });

  test('defaults: PBKDF2-HMAC-SHA256, AES-256-CBC, 600,000 iterations, 16-byte salt; SM3 default documented', () => {
    assert.ok(DEFAULT_PBKDF2_ITERATIONS >= 100_000);
    const key = keys.get('sm2')!;
    const der = encryptPrivateKey(key, 'pw');
    assert.deepEqual(describeEncryptedPrivateKey(der), {
      scheme: 'PBES2',
      kdf: 'pbkdf2',
      prf: 'sha256',
      cipher: 'aes-256-cbc',
      iterations: DEFAULT_PBKDF2_ITERATIONS,
      saltLength: 16,
    });
    assert.deepEqual(decryptPrivateKey(der, 'pw').toPkcs8(), key.toPkcs8());
    const sm = encryptPrivateKey(key, 'pw', { kdf: 'pbkdf2-hmac-sm3', cipher: 'sm4-cbc' });
    assert.equal(describeEncryptedPrivateKey(sm).iterations, DEFAULT_PBKDF2_ITERATIONS);
  });

  test('two encryptions of one key differ (random salt and IV)', () => {
    const key = keys.get('sm2')!;
    const a = encryptPrivateKey(key, 'pw', { iterations: FAST });
    const b = encryptPrivateKey(key, 'pw', { iterations: FAST });
    assert.notDeepEqual(a, b);
  });

  test('SM4-CBC + HMAC-SM3 decrypts independently (field walk + node pbkdf2 sm3 + sm4-cbc)', () => {
    // OpenSSL 3.0 cannot check this combination: `openssl pkcs8 -v2prf hmacWithSM3` answers "Unknown PRF
    // algorithm" and it has no name for OID 1.2.156.10197.1.401.2 when reading. So decrypt by hand here.
    const key = keys.get('sm2')!;
    const der = encryptPrivateKey(key, '口令 pw', {
      kdf: 'pbkdf2-hmac-sm3',
      cipher: 'sm4-cbc',
      iterations: 3000,
    });
    const [alg, data] = children(readTlv(der));
    const [schemeOid, params] = children(alg!);
    assert.equal(readOid(schemeOid!, 'scheme'), '1.2.840.113549.1.5.13');
    const [kdf, enc] = children(params!);
    const [kdfOid, kdfParams] = children(kdf!);
    assert.equal(readOid(kdfOid!, 'kdf'), '1.2.840.113549.1.5.12');
    const [salt, iter, prf] = children(kdfParams!);
    assert.equal(salt!.value.length, 16);
    const [prfOid, prfNull] = children(prf!);
    assert.equal(readOid(prfOid!, 'prf'), '1.2.156.10197.1.401.2');
    assert.equal(prfNull!.tag, 0x05, 'HMAC-SM3 prf carries NULL parameters (GmSSL requires them)');
    const [encOid, iv] = children(enc!);
    assert.equal(readOid(encOid!, 'cipher'), '1.2.156.10197.1.104.2');
    const k = pbkdf2Sync(
      Buffer.from('口令 pw'),
      salt!.value,
      Number(readUnsignedInteger(iter!, 'i')),
      16,
      'sm3',
    );
    const d = createDecipheriv('sm4-cbc', k, iv!.value);
    const plain = Buffer.concat([d.update(data!.value), d.final()]);
    assert.deepEqual(new Uint8Array(plain), key.toPkcs8());
  });
});

describe('OpenSSL interop', () => {
  let dir: string;
  const files = new Map<string, { pem: string; spki: Uint8Array }>();
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'medsign-pkcs8-'));
    for (const [name, args] of [
      ['rsa', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']],
      ['ec', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']],
      ['sm2', ['-algorithm', 'SM2']],
    ] as const) {
      const path = join(dir, `${name}.pem`);
      const r = runOpenssl(['genpkey', ...args, '-out', path]);
      assert.equal(r.code, 0, r.stderr);
      const pub = runOpenssl(['pkey', '-in', path, '-pubout', '-outform', 'DER', '-out', `${path}.spki`]);
      assert.equal(pub.code, 0, pub.stderr);
      files.set(name, { pem: path, spki: new Uint8Array(readFileSync(`${path}.spki`)) });
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const VARIANTS: { name: string; args: string[]; expect: Record<string, unknown> }[] = [
    {
      name: '-v2 aes-256-cbc -v2prf hmacWithSHA256',
      args: ['-v2', 'aes-256-cbc', '-v2prf', 'hmacWithSHA256'],
      expect: { scheme: 'PBES2', prf: 'sha256', cipher: 'aes-256-cbc' },
    },
    { name: '-v2 aes-128-cbc', args: ['-v2', 'aes-128-cbc'], expect: { cipher: 'aes-128-cbc' } },
    {
      name: '-v2 aes-192-cbc -v2prf hmacWithSHA1 (prf omitted = default HMAC-SHA1)',
      args: ['-v2', 'aes-192-cbc', '-v2prf', 'hmacWithSHA1'],
      expect: { prf: 'sha1', cipher: 'aes-192-cbc' },
    },
    { name: '-v2 des3', args: ['-v2', 'des3'], expect: { cipher: 'des-ede3-cbc' } },
    { name: '-v2 sm4-cbc (HMAC-SHA256 prf)', args: ['-v2', 'sm4-cbc'], expect: { cipher: 'sm4-cbc' } },
    { name: '-scrypt', args: ['-scrypt'], expect: { kdf: 'scrypt', cipher: 'aes-256-cbc' } },
    {
      name: '-v1 PBE-SHA1-3DES (PKCS#12 PBE)',
      args: ['-v1', 'PBE-SHA1-3DES'],
      expect: { scheme: 'PKCS12-PBE', cipher: 'des-ede3-cbc' },
    },
    {
      name: '-v1 PBE-SHA1-RC2-40 (legacy provider)',
      args: ['-v1', 'PBE-SHA1-RC2-40', '-provider', 'legacy', '-provider', 'default'],
      expect: { scheme: 'PKCS12-PBE', cipher: 'rc2-cbc' },
    },
  ];

  for (const name of ['rsa', 'ec', 'sm2']) {
    for (const v of VARIANTS) {
      test(`openssl pkcs8 -topk8 ${v.name} (${name}) decrypts here`, (t) => {
        const f = files.get(name)!;
        const out = join(dir, `${name}-enc.pem`);
        const r = runOpenssl(['pkcs8', '-topk8', '-in', f.pem, ...v.args, '-passout', 'pass:x', '-out', out]);
        if (r.code !== 0 && v.args.includes('legacy'))
          return t.skip(`OpenSSL legacy provider unavailable: ${r.stderr}`);
        assert.equal(r.code, 0, r.stderr);
        const pem = readFileSync(out, 'utf8');
        const info = describeEncryptedPrivateKey(pem);
        for (const [k, val] of Object.entries(v.expect)) assert.equal(info[k as keyof typeof info], val, k);
        const key = decryptPrivateKey(pem, 'x');
        assert.deepEqual(key.publicKeyInfo, f.spki);
        assert.throws(() => decryptPrivateKey(pem, 'y'), DecryptError);
      });
    }
  }

  for (const type of TYPES) {
    for (const cipher of ['aes-256-cbc', 'sm4-cbc'] as PbeCipher[]) {
      test(`ours (${type}, ${cipher} + HMAC-SHA256) decrypts with openssl pkcs8`, () => {
        const key = PrivateKey.generate(type);
        const path = join(dir, `ours-${type}-${cipher}.pem`);
        writeFileSync(path, encryptPrivateKeyPem(key, 'x', { cipher, iterations: FAST }));
        const r = runOpenssl(['pkcs8', '-in', path, '-passin', 'pass:x']);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(decodePem(r.stdout).der, key.toPkcs8());
        assert.notEqual(runOpenssl(['pkcs8', '-in', path, '-passin', 'pass:wrong']).code, 0);
      });
    }
  }

  test('ours with HMAC-SM3: OpenSSL 3.0 has no HMAC-SM3 prf (checked; round trip + independent decryption cover it)', () => {
    const key = PrivateKey.generate('sm2');
    const path = join(dir, 'ours-sm3.pem');
    writeFileSync(
      path,
      encryptPrivateKeyPem(key, 'x', { kdf: 'pbkdf2-hmac-sm3', cipher: 'sm4-cbc', iterations: FAST }),
    );
    const r = runOpenssl(['pkcs8', '-in', path, '-passin', 'pass:x']);
    // If a later OpenSSL learns the prf, it must agree with us.
    if (r.code === 0) assert.deepEqual(decodePem(r.stdout).der, key.toPkcs8());
    else assert.match(r.stderr, /unsupported|error/i);
  });
});

describe('errors', () => {
  let key: PrivateKey;
  let der: Uint8Array;
  before(() => {
    key = PrivateKey.generate('sm2');
    der = encryptPrivateKey(key, 'right', { iterations: FAST });
  });

  test('wrong passphrase → DecryptError that names the cause and leaks no key bytes', () => {
    const err = (() => {
      try {
        decryptPrivateKey(der, 'wrong');
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    assert.ok(err instanceof DecryptError);
    assert.match(err.message, /wrong passphrase or corrupted file/);
    assert.ok(!/[0-9a-f]{16}/i.test(err.message), 'no hex dumps in the message');
    assert.ok(!String(err.stack).includes(hex(key.toPkcs8())));
  });

  test('many wrong passphrases: always DecryptError, never another error', () => {
    for (let i = 0; i < 300; i++) assert.throws(() => decryptPrivateKey(der, `wrong-${i}`), DecryptError);
  });

  test('fuzz: single-byte corruptions only ever raise DecodeError, DecryptError or UnsupportedError', () => {
    const small = encryptPrivateKey(key, 'right', { iterations: 10 });
    let seed = 777;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
    for (let i = 0; i < 500; i++) {
      const bad = Uint8Array.from(small);
      bad[Math.floor(rnd() * bad.length)]! ^= 1 + Math.floor(rnd() * 255);
      try {
        decryptPrivateKey(bad, 'right');
        // Every byte matters: salt, iterations, OIDs and ciphertext change the key or the plaintext, and
        // an IV flip changes the first plaintext block (the PKCS#8 header), which then fails to parse.
        assert.fail('a corrupted EncryptedPrivateKeyInfo was accepted');
      } catch (e) {
        assert.ok(
          e instanceof DecodeError || e instanceof DecryptError || e instanceof UnsupportedError,
          `unexpected ${(e as Error).name}: ${(e as Error).message}`,
        );
      }
    }
  });

  test('tampered ciphertext → DecryptError', () => {
    const bad = Uint8Array.from(der);
    bad[bad.length - 1]! ^= 0x01;
    assert.throws(() => decryptPrivateKey(bad, 'right'), DecryptError);
  });

  test('truncated, trailing bytes, indefinite length, wrong PEM label → DecodeError', () => {
    assert.throws(() => decryptPrivateKey(der.subarray(0, der.length - 1), 'right'), DecodeError);
    assert.throws(() => decryptPrivateKey(Buffer.concat([der, Uint8Array.of(0)]), 'right'), DecodeError);
    const outer = readTlv(der);
    const indefinite = Buffer.concat([Uint8Array.of(0x30, 0x80), outer.value, Uint8Array.of(0, 0)]);
    assert.throws(() => decryptPrivateKey(indefinite, 'right'), DecodeError);
    assert.throws(() => decryptPrivateKey(key.toPem(), 'right'), DecodeError);
  });

  test('unknown cipher, KDF, PRF or PBES1 scheme → UnsupportedError', () => {
    assert.throws(
      () => decryptPrivateKey(pbes2Der({ cipherOid: '1.2.840.113549.3.2' }), 'x'),
      UnsupportedError,
    );
    assert.throws(
      () => decryptPrivateKey(pbes2Der({ kdfOid: '1.2.840.113549.1.5.99' }), 'x'),
      UnsupportedError,
    );
    const md5Prf = encodeSequence(encodeOid('1.2.840.113549.2.5'), encodeTlv(5, new Uint8Array(0)));
    assert.throws(() => decryptPrivateKey(pbes2Der({ prf: md5Prf }), 'x'), UnsupportedError);
    assert.throws(
      () => decryptPrivateKey(pbes2Der({ scheme: '1.2.840.113549.1.5.3' }), 'x'),
      (e: Error) => e instanceof UnsupportedError && /PBES1/.test(e.message),
    );
  });

  test('absurd iteration count → UnsupportedError before any work', () => {
    const start = Date.now();
    assert.throws(() => decryptPrivateKey(pbes2Der({ iterations: 2n ** 31n }), 'x'), UnsupportedError);
    assert.ok(Date.now() - start < 1000);
  });

  test('malformed parameters → DecodeError', () => {
    assert.throws(() => decryptPrivateKey(pbes2Der({ iv: new Uint8Array(8) }), 'x'), DecodeError);
    assert.throws(() => decryptPrivateKey(pbes2Der({ keyLength: 16n }), 'x'), DecodeError);
    assert.throws(() => decryptPrivateKey(pbes2Der({ iterations: 0n }), 'x'), DecodeError);
  });

  test('a well-formed PBES2 file with the default (absent) prf is read as HMAC-SHA1', () => {
    assert.equal(describeEncryptedPrivateKey(pbes2Der({ prf: null })).prf, 'sha1');
    assert.throws(() => decryptPrivateKey(pbes2Der({ prf: null }), 'x'), DecryptError);
  });

  test('bad arguments: empty passphrase, unknown kdf/cipher, bad iterations, non-PKCS#8 bytes', () => {
    assert.throws(() => encryptPrivateKey(key, ''), RangeError);
    assert.throws(() => encryptPrivateKey(key, 'x', { kdf: 'md5' as PbeKdf }), RangeError);
    assert.throws(() => encryptPrivateKey(key, 'x', { cipher: 'des' as PbeCipher }), RangeError);
    assert.throws(() => encryptPrivateKey(key, 'x', { iterations: 0 }), RangeError);
    assert.throws(() => encryptPrivateKey(Uint8Array.of(1, 2, 3), 'x'), DecodeError);
  });

  test('encrypting PKCS#8 given as a Buffer does not wipe the caller’s buffer', () => {
    const buf = Buffer.from(key.toPkcs8());
    const copy = Buffer.from(buf);
    encryptPrivateKey(buf, 'x', { iterations: 1000 });
    assert.deepEqual(buf, copy);
  });
});
