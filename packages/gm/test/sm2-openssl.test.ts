/**
 * SM2 interop with the OpenSSL 3 command line (gm-standards §2.2, §2.6, §2.9): key encodings both ways,
 * signatures both ways with the default and custom IDs (OpenSSL's own default is the EMPTY ID), and
 * GM/T 0009 DER ciphertexts both ways. Each run works in a fresh temporary directory.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  convertSm2Ciphertext,
  SM2_DEFAULT_ID,
  SM2PrivateKey,
  SM2PublicKey,
  useSm2Backend,
} from '../src/index.js';
import { availableBackends } from './helpers/backends.js';
import { toHex, utf8 } from './helpers/vectors.js';

const ROUNDS = 10;
const CUSTOM_ID = 'doctor-0042@example';

function opensslProblem(): string | undefined {
  const r = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  if (r.error) return `openssl CLI not found (${r.error.message})`;
  if (r.status !== 0 || !/^OpenSSL 3\./.test(r.stdout)) return `need OpenSSL 3.x, got ${r.stdout.trim()}`;
  return undefined;
}

const problem = opensslProblem();
if (problem && process.env.CI === 'true') throw new Error(`SM2 OpenSSL interop cannot run in CI: ${problem}`);

let dir = '';
const path = (name: string) => join(dir, name);

/** Runs openssl in the temp dir; never through a shell. */
function openssl(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs openssl and requires exit 0. */
function opensslOk(args: string[]): string {
  const r = openssl(args);
  assert.equal(r.status, 0, `openssl ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

const write = (name: string, data: Uint8Array | string) => writeFileSync(path(name), data);
const read = (name: string) => new Uint8Array(readFileSync(path(name)));
const readText = (name: string) => readFileSync(path(name), 'utf8');
const randomMessage = (min = 0, max = 300) => new Uint8Array(randomBytes(randomInt(min, max + 1)));

/** `-sigopt` value for an ID: `distid:` for text without NUL, `hexdistid:` for anything else. */
function distid(id: Uint8Array | string): string {
  if (typeof id === 'string') return `distid:${id}`;
  return `hexdistid:${toHex(id)}`;
}

/** A printable ID (1–40 bytes) that fits on a command line. */
function randomTextId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@.-_+';
  let s = '';
  const len = randomInt(1, 41);
  for (let i = 0; i < len; i++) s += alphabet[randomInt(alphabet.length)];
  return s;
}

/** A binary ID (1–40 random bytes, NULs included). */
const randomBinaryId = () => new Uint8Array(randomBytes(randomInt(1, 41)));

describe('SM2 interop with the OpenSSL 3 CLI', { skip: problem }, () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'medsign-sm2-openssl-'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('key encodings', () => {
    test('our PKCS#8 and SEC1 load in OpenSSL, which re-emits them byte for byte', () => {
      for (let i = 0; i < 3; i++) {
        const key = SM2PrivateKey.generate();
        write('ours-p8.pem', key.toPem());
        write('ours-sec1.pem', key.toPem('sec1'));
        for (const file of ['ours-p8.pem', 'ours-sec1.pem']) {
          assert.equal(opensslOk(['pkey', '-in', file, '-pubout']), key.publicKey.toPem(), file);
        }
        // OpenSSL writes PKCS#8 for `pkey` and SEC1 for `ec`; both must equal ours exactly.
        assert.equal(opensslOk(['pkey', '-in', 'ours-sec1.pem']), key.toPem());
        const sec1 = opensslOk(['ec', '-in', 'ours-p8.pem', '-param_enc', 'named_curve']);
        assert.equal(sec1.replace(/SM2 PRIVATE KEY/g, 'EC PRIVATE KEY'), key.toPem('sec1'));
        // The scalar OpenSSL reads is ours.
        const text = opensslOk(['pkey', '-in', 'ours-p8.pem', '-noout', '-text']);
        const priv = /priv:\s*([0-9a-f:\s]+?)\s*pub:/i.exec(text)?.[1]?.replace(/[:\s]/g, '');
        assert.ok(priv, text);
        assert.equal(BigInt('0x' + priv), BigInt('0x' + key.toHex()));
      }
    });

    test('keys from `openssl genpkey -algorithm SM2` and `openssl ec` load and derive the same public key', () => {
      for (let i = 0; i < 3; i++) {
        opensslOk(['genpkey', '-algorithm', 'SM2', '-out', 'gen.pem']);
        opensslOk(['pkey', '-in', 'gen.pem', '-pubout', '-out', 'gen-pub.pem']);
        opensslOk(['ec', '-in', 'gen.pem', '-param_enc', 'named_curve', '-out', 'gen-sec1.pem']);
        const pub = SM2PublicKey.fromPem(readText('gen-pub.pem'));
        const fromP8 = SM2PrivateKey.fromPem(readText('gen.pem'));
        // OpenSSL 3.0 labels SM2 SEC1 keys "SM2 PRIVATE KEY" (not "EC PRIVATE KEY").
        const fromSec1 = SM2PrivateKey.fromPem(readText('gen-sec1.pem'));
        assert.ok(fromP8.publicKey.equals(pub));
        assert.ok(fromSec1.publicKey.equals(pub));
        assert.equal(fromSec1.toHex(), fromP8.toHex());
        assert.equal(fromP8.toPem(), readText('gen.pem'));
        assert.equal(pub.toPem(), readText('gen-pub.pem'));
        opensslOk(['pkey', '-pubin', '-in', 'gen-pub.pem', '-outform', 'DER', '-out', 'gen-pub.der']);
        assert.ok(SM2PublicKey.fromSpki(read('gen-pub.der')).equals(pub));
      }
    });
  });

  for (const backend of availableBackends()) {
    describe(`signatures (${backend} backend)`, () => {
      before(() => useSm2Backend(backend));

      test('signed here with the default ID, verified by `openssl dgst -sm3 -verify -sigopt distid:…`', () => {
        for (let i = 0; i < ROUNDS; i++) {
          const key = SM2PrivateKey.generate();
          const msg = randomMessage();
          write('pub.pem', key.publicKey.toPem());
          write('msg', msg);
          write('sig.der', key.sign(msg));
          const args = ['dgst', '-sm3', '-verify', 'pub.pem', '-signature', 'sig.der'];
          const r = openssl([...args, '-sigopt', `distid:${SM2_DEFAULT_ID}`, 'msg']);
          assert.equal(r.status, 0, r.stderr);
          assert.match(r.stdout, /Verified OK/);
          if (i < 2) {
            // OpenSSL's own default is the empty ID, so without -sigopt it must reject.
            assert.equal(openssl([...args, 'msg']).status, 1);
            assert.equal(openssl([...args, '-sigopt', 'distid:1234567812345679', 'msg']).status, 1);
          }
        }
      });

      test('signed here with custom IDs (text and binary), verified by OpenSSL only with that ID', () => {
        for (let i = 0; i < ROUNDS; i++) {
          const key = SM2PrivateKey.generate();
          const msg = randomMessage();
          const id: Uint8Array | string =
            i === 0 ? CUSTOM_ID : i % 2 === 0 ? randomTextId() : randomBinaryId();
          write('pub.pem', key.publicKey.toPem());
          write('msg', msg);
          write('sig.der', key.sign(msg, { id }));
          const args = ['dgst', '-sm3', '-verify', 'pub.pem', '-signature', 'sig.der'];
          const ok = openssl([...args, '-sigopt', distid(id), 'msg']);
          assert.equal(ok.status, 0, `id ${JSON.stringify(id)}: ${ok.stderr}`);
          assert.match(ok.stdout, /Verified OK/);
          if (i < 3) {
            assert.equal(openssl([...args, '-sigopt', `distid:${SM2_DEFAULT_ID}`, 'msg']).status, 1);
            assert.equal(openssl([...args, 'msg']).status, 1);
          }
        }
      });

      test('an empty ID here equals OpenSSL without -sigopt', () => {
        const key = SM2PrivateKey.generate();
        const msg = randomMessage(1);
        write('pub.pem', key.publicKey.toPem());
        write('msg', msg);
        write('sig.der', key.sign(msg, { id: '' }));
        const r = openssl(['dgst', '-sm3', '-verify', 'pub.pem', '-signature', 'sig.der', 'msg']);
        assert.equal(r.status, 0, r.stderr);
      });

      test('signed by `openssl dgst -sm3 -sign -sigopt distid:…`, verified here (default and custom IDs)', () => {
        for (let i = 0; i < ROUNDS; i++) {
          const key = SM2PrivateKey.generate();
          const msg = randomMessage();
          const id: string | Uint8Array =
            i % 3 === 0
              ? SM2_DEFAULT_ID
              : i % 3 === 1
                ? i === 1
                  ? CUSTOM_ID
                  : randomTextId()
                : randomBinaryId();
          write('key.pem', i % 2 === 0 ? key.toPem() : key.toPem('sec1'));
          write('msg', msg);
          opensslOk(['dgst', '-sm3', '-sign', 'key.pem', '-sigopt', distid(id), '-out', 'sig.der', 'msg']);
          const sig = read('sig.der');
          const pub = key.publicKey;
          assert.ok(pub.verify(msg, sig, { id }), `id ${JSON.stringify(id)}`);
          if (id === SM2_DEFAULT_ID) assert.ok(pub.verify(msg, sig));
          assert.ok(!pub.verify(msg, sig, { id: id === SM2_DEFAULT_ID ? CUSTOM_ID : SM2_DEFAULT_ID }));
          assert.ok(!pub.verify(msg, sig, { id: '' }));
          if (msg.length > 0) {
            const other = msg.slice();
            other[0]! ^= 1;
            assert.ok(!pub.verify(other, sig, { id }));
          }
        }
      });

      test('OpenSSL without -sigopt signs with the empty ID (gm-standards §2.9)', () => {
        const key = SM2PrivateKey.generate();
        write('key.pem', key.toPem());
        write('msg', utf8('message digest'));
        opensslOk(['dgst', '-sm3', '-sign', 'key.pem', '-out', 'sig.der', 'msg']);
        const sig = read('sig.der');
        assert.ok(key.publicKey.verify('message digest', sig, { id: '' }));
        assert.ok(!key.publicKey.verify('message digest', sig));
      });
    });

    describe(`encryption (${backend} backend)`, () => {
      before(() => useSm2Backend(backend));

      test('encrypted here (DER), decrypted by `openssl pkeyutl -decrypt`', () => {
        for (let i = 0; i < ROUNDS; i++) {
          const key = SM2PrivateKey.generate();
          const msg = randomMessage(1);
          write('key.pem', i % 2 === 0 ? key.toPem() : key.toPem('sec1'));
          write('ct.der', key.publicKey.encrypt(msg, { format: 'der' }));
          opensslOk(['pkeyutl', '-decrypt', '-inkey', 'key.pem', '-in', 'ct.der', '-out', 'pt.bin']);
          assert.equal(toHex(read('pt.bin')), toHex(msg));
        }
      });

      test('encrypted here (raw layouts converted to DER), decrypted by OpenSSL', () => {
        const key = SM2PrivateKey.generate();
        write('key.pem', key.toPem());
        for (const format of ['c1c3c2', 'c1c2c3'] as const) {
          const msg = randomMessage(1);
          const ct = key.publicKey.encrypt(msg, { format });
          write('ct.der', convertSm2Ciphertext(ct, format, 'der'));
          opensslOk(['pkeyutl', '-decrypt', '-inkey', 'key.pem', '-in', 'ct.der', '-out', 'pt.bin']);
          assert.equal(toHex(read('pt.bin')), toHex(msg), format);
        }
      });

      test('encrypted by `openssl pkeyutl -encrypt`, decrypted here in all three layouts', () => {
        for (let i = 0; i < ROUNDS; i++) {
          const key = SM2PrivateKey.generate();
          const msg = randomMessage(1);
          write('pub.pem', key.publicKey.toPem());
          write('msg', msg);
          opensslOk(['pkeyutl', '-encrypt', '-pubin', '-inkey', 'pub.pem', '-in', 'msg', '-out', 'ct.der']);
          const der = read('ct.der');
          assert.equal(toHex(key.decrypt(der)), toHex(msg));
          assert.equal(toHex(key.decrypt(der, { format: 'der' })), toHex(msg));
          const c1c3c2 = convertSm2Ciphertext(der, 'der', 'c1c3c2');
          const c1c2c3 = convertSm2Ciphertext(der, 'der', 'c1c2c3');
          assert.equal(c1c3c2.length, 97 + msg.length);
          assert.equal(toHex(key.decrypt(c1c3c2, { format: 'c1c3c2' })), toHex(msg));
          assert.equal(toHex(key.decrypt(c1c2c3, { format: 'c1c2c3' })), toHex(msg));
          // OpenSSL's INTEGERs are minimal, like ours: converting back gives the same bytes.
          assert.equal(toHex(convertSm2Ciphertext(c1c3c2, 'c1c3c2', 'der')), toHex(der));
          assert.throws(() => SM2PrivateKey.generate().decrypt(der), { name: 'DecryptError' });
        }
      });
    });
  }
});
