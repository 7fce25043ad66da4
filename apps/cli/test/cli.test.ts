import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { REPO_ROOT, runMedsignCli as medsign, tempDir } from '@medsign/testkit';

const tmp = tempDir('medsign-cli-');
after(() => tmp.cleanup());
const p = (name: string) => tmp.file(name);

function openssl(args: string[]) {
  return spawnSync('openssl', args, { encoding: 'utf8' });
}

describe('medsign gm sm2', () => {
  writeFileSync(p('msg.txt'), '处方 Rx-2026-0001: amoxicillin 500 mg');

  test('keygen → pubkey → sign → verify, and OpenSSL agrees with the standard ID', () => {
    assert.equal(medsign(['gm', 'sm2', 'keygen', '--out', p('key.pem')]).code, 0);
    assert.match(readFileSync(p('key.pem'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(medsign(['gm', 'sm2', 'pubkey', '--key', p('key.pem'), '--out', p('pub.pem')]).code, 0);
    assert.equal(
      medsign(['gm', 'sm2', 'sign', '--key', p('key.pem'), '--in', p('msg.txt'), '--out', p('sig.der')]).code,
      0,
    );
    const ok = medsign([
      'gm',
      'sm2',
      'verify',
      '--pubkey',
      p('pub.pem'),
      '--sig',
      p('sig.der'),
      '--in',
      p('msg.txt'),
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    const ossl = openssl([
      'dgst',
      '-sm3',
      '-verify',
      p('pub.pem'),
      '-sigopt',
      'distid:1234567812345678',
      '-signature',
      p('sig.der'),
      p('msg.txt'),
    ]);
    assert.equal(ossl.status, 0, ossl.stdout + ossl.stderr);
  });

  test('verify exits 1 for a wrong ID, a changed message or a garbage signature', () => {
    const wrongId = medsign([
      'gm',
      'sm2',
      'verify',
      '--pubkey',
      p('pub.pem'),
      '--sig',
      p('sig.der'),
      '--id',
      'x',
      '--in',
      p('msg.txt'),
    ]);
    assert.equal(wrongId.code, 1);
    const changed = medsign(
      ['gm', 'sm2', 'verify', '--pubkey', p('pub.pem'), '--sig', p('sig.der')],
      'other',
    );
    assert.equal(changed.code, 1);
    writeFileSync(p('garbage.der'), 'not a signature');
    const garbage = medsign([
      'gm',
      'sm2',
      'verify',
      '--pubkey',
      p('pub.pem'),
      '--sig',
      p('garbage.der'),
      '--in',
      p('msg.txt'),
    ]);
    assert.equal(garbage.code, 1);
  });

  test('sign reads stdin and writes stdout; a custom --id round-trips', () => {
    const signed = medsign(['gm', 'sm2', 'sign', '--key', p('key.pem'), '--id', 'doctor-0042'], 'stdin data');
    assert.equal(signed.code, 0);
    writeFileSync(p('sig2.der'), signed.stdout);
    writeFileSync(p('data2.txt'), 'stdin data');
    const ok = medsign([
      'gm',
      'sm2',
      'verify',
      '--pubkey',
      p('pub.pem'),
      '--sig',
      p('sig2.der'),
      '--id',
      'doctor-0042',
      '--in',
      p('data2.txt'),
    ]);
    assert.equal(ok.code, 0);
  });

  test('encrypt → decrypt in each format, and OpenSSL decrypts the DER form', () => {
    for (const format of ['der', 'c1c3c2', 'c1c2c3']) {
      const enc = medsign([
        'gm',
        'sm2',
        'encrypt',
        '--pubkey',
        p('pub.pem'),
        '--format',
        format,
        '--in',
        p('msg.txt'),
        '--out',
        p(`ct.${format}`),
      ]);
      assert.equal(enc.code, 0, enc.stderr);
      const dec = medsign([
        'gm',
        'sm2',
        'decrypt',
        '--key',
        p('key.pem'),
        '--format',
        format,
        '--in',
        p(`ct.${format}`),
      ]);
      assert.equal(dec.code, 0, dec.stderr);
      assert.equal(dec.stdout.toString(), readFileSync(p('msg.txt'), 'utf8'));
    }
    const ossl = spawnSync('openssl', ['pkeyutl', '-decrypt', '-inkey', p('key.pem'), '-in', p('ct.der')]);
    assert.equal(ossl.stdout.toString(), readFileSync(p('msg.txt'), 'utf8'));
  });

  test('decrypt of a tampered ciphertext exits 1; of a non-ciphertext exits 2', () => {
    const ct = readFileSync(p('ct.c1c3c2'));
    ct[ct.length - 1]! ^= 1;
    writeFileSync(p('bad.ct'), ct);
    assert.equal(
      medsign(['gm', 'sm2', 'decrypt', '--key', p('key.pem'), '--format', 'c1c3c2', '--in', p('bad.ct')])
        .code,
      1,
    );
    assert.equal(medsign(['gm', 'sm2', 'decrypt', '--key', p('key.pem'), '--in', p('msg.txt')]).code, 2);
  });

  test('usage errors exit 2 with one line and no stack trace', () => {
    for (const args of [
      ['gm', 'sm2', 'sign'],
      ['gm', 'sm2', 'sign', '--key', p('missing.pem')],
      ['gm', 'sm2', 'sign', '--key', p('msg.txt')],
      ['gm', 'sm2', 'frobnicate'],
      ['gm', 'sm2', 'verify', '--pubkey', p('pub.pem'), '--sig', p('sig.der'), '--bogus'],
      ['gm', 'sm2', 'encrypt', '--pubkey', p('pub.pem'), '--format', 'c2c1c3', '--in', p('msg.txt')],
      ['nonsense'],
    ]) {
      const r = medsign(args);
      assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });
});

describe('medsign gm sm3 / sm4', () => {
  test('sm3 of a file and of stdin', () => {
    writeFileSync(p('abc.txt'), 'abc');
    const expected = '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0';
    assert.equal(
      medsign(['gm', 'sm3', p('abc.txt')])
        .stdout.toString()
        .trim(),
      expected,
    );
    assert.equal(medsign(['gm', 'sm3'], 'abc').stdout.toString().trim(), expected);
  });

  test('sm4 in each mode round-trips; CBC matches openssl enc', () => {
    const key = '0123456789abcdeffedcba9876543210';
    const iv = '000102030405060708090a0b0c0d0e0f';
    for (const [mode, ivArg] of [
      ['ecb', []],
      ['cbc', ['--iv', iv]],
      ['ctr', ['--iv', iv]],
      ['gcm', ['--iv', iv.slice(0, 24)]],
    ] as const) {
      const enc = medsign(
        ['gm', 'sm4', 'encrypt', '--mode', mode, '--key', key, ...ivArg],
        'nursing note 42',
      );
      assert.equal(enc.code, 0, enc.stderr);
      const dec = medsign(['gm', 'sm4', 'decrypt', '--mode', mode, '--key', key, ...ivArg], enc.stdout);
      assert.equal(dec.stdout.toString(), 'nursing note 42');
      if (mode === 'cbc') {
        const ossl = spawnSync('openssl', ['enc', '-sm4-cbc', '-K', key, '-iv', iv], {
          input: 'nursing note 42',
        });
        assert.deepEqual(enc.stdout, ossl.stdout);
      }
    }
    const bad = medsign(
      ['gm', 'sm4', 'decrypt', '--mode', 'gcm', '--key', key, '--iv', iv.slice(0, 24)],
      'x'.repeat(20),
    );
    assert.equal(bad.code, 1);
    assert.equal(medsign(['gm', 'sm4', 'encrypt', '--mode', 'cbc', '--key', key], 'x').code, 2);
    assert.equal(medsign(['gm', 'sm4', 'encrypt', '--mode', 'cbc', '--key', 'zz', '--iv', iv], 'x').code, 2);
  });
});

test(
  'the built `medsign` binary is reachable through npx from the repository root',
  {
    skip:
      !existsSync(join(REPO_ROOT, 'apps/cli/dist/main.js')) && 'apps/cli/dist not built (npm ci builds it)',
  },
  () => {
    const r = spawnSync('npx', ['--no-install', 'medsign', '--version'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\d+\.\d+\.\d+/);
  },
);
