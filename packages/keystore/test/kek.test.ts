/**
 * KEK sources: scrypt passphrase (default cost recorded in the header), key files (created 0600,
 * insecure modes refused), environment variables (hex or base64); wrong secrets are reported at open.
 */

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifySignature } from '@medsign/pki';
import {
  createKeyFile,
  DEFAULT_SCRYPT_PARAMS,
  envKek,
  KEK_HEADER_ID,
  keyFileKek,
  MemoryKeyRecordRepository,
  openSoftwareKeyStore,
  passphraseKek,
  type KekSource,
  type KeyRecordRepository,
} from '../src/index.js';
import { PASSPHRASE, rejectsWith } from './helpers.js';

const posix = process.platform !== 'win32';
const data = new TextEncoder().encode('lab report 42');
let dir = '';

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'medsign-kek-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Opens, makes an SM2 key and signs; returns the key id. */
async function makeKey(records: KeyRecordRepository, kek: KekSource): Promise<string> {
  const ks = await openSoftwareKeyStore({ records, kek });
  const h = await ks.generate('sm2', `k${Math.random()}`);
  await (await ks.signer(h.id, 'p')).sign(data);
  await ks.close();
  return h.id;
}

async function signsWith(records: KeyRecordRepository, kek: KekSource, id: string): Promise<void> {
  const ks = await openSoftwareKeyStore({ records, kek });
  const s = await ks.signer(id, 'p');
  assert.ok(verifySignature(s.publicKeyInfo, s.algorithm, data, await s.sign(data)));
  await ks.close();
}

describe('passphrase (scrypt)', () => {
  test('default cost N=2^15, r=8, p=1 and a 32-byte salt go into the header; reopen works', async () => {
    const records = new MemoryKeyRecordRepository();
    const t0 = performance.now();
    const id = await makeKey(records, passphraseKek(PASSPHRASE));
    const ms = performance.now() - t0;
    const header = (await records.get(KEK_HEADER_ID))!;
    assert.equal(header.metadata.kdf, 'scrypt');
    assert.deepEqual(
      { N: Number(header.metadata.N), r: Number(header.metadata.r), p: Number(header.metadata.p) },
      { ...DEFAULT_SCRYPT_PARAMS },
    );
    assert.equal(header.metadata.salt?.length, 64);
    assert.equal(header.metadata.check?.length, 64);
    assert.ok(!JSON.stringify(header).includes('battery'));
    await signsWith(records, passphraseKek(PASSPHRASE), id);
    // Unicode passphrases are NFC-normalised: the decomposed form opens the same keystore.
    await signsWith(records, passphraseKek(PASSPHRASE.normalize('NFD')), id);
    await rejectsWith(
      () => openSoftwareKeyStore({ records, kek: passphraseKek(PASSPHRASE + ' ') }),
      'KEYSTORE_WRONG_PASSPHRASE',
    );
    assert.ok(ms < 5000, `scrypt at default cost took ${ms} ms`);
  });

  test('an empty passphrase is KEYSTORE_KEK_UNAVAILABLE; bad scrypt parameters are refused', async () => {
    await rejectsWith(
      () => openSoftwareKeyStore({ records: new MemoryKeyRecordRepository(), kek: passphraseKek('') }),
      'KEYSTORE_KEK_UNAVAILABLE',
    );
    await rejectsWith(
      () =>
        openSoftwareKeyStore({
          records: new MemoryKeyRecordRepository(),
          kek: passphraseKek(PASSPHRASE, { N: 1000, r: 8, p: 1 }),
        }),
      'KEYSTORE_INVALID_ARGUMENT',
    );
  });
});

describe('key file', () => {
  test('created with mode 0600 and 32 bytes; the same file reopens; a new file is refused', async () => {
    const path = join(dir, 'secrets', 'kek.bin');
    const records = new MemoryKeyRecordRepository();
    const id = await makeKey(records, keyFileKek(path, { create: true }));
    assert.equal(readFileSync(path).length, 32);
    if (posix) assert.equal(statSync(path).mode & 0o777, 0o600);
    await signsWith(records, keyFileKek(path), id);
    assert.equal((await records.get(KEK_HEADER_ID))!.metadata.kdf, 'none');

    const other = join(dir, 'other.bin');
    await createKeyFile(other);
    await rejectsWith(() => openSoftwareKeyStore({ records, kek: keyFileKek(other) }), 'KEYSTORE_WRONG_KEK');
    await rejectsWith(() => createKeyFile(other), 'KEYSTORE_INVALID_ARGUMENT');
  });

  test('a missing key file for an existing keystore is an error, even with create', async () => {
    const path = join(dir, 'gone.bin');
    const records = new MemoryKeyRecordRepository();
    await makeKey(records, keyFileKek(path, { create: true }));
    rmSync(path);
    await rejectsWith(
      () => openSoftwareKeyStore({ records, kek: keyFileKek(path, { create: true }) }),
      'KEYSTORE_KEK_UNAVAILABLE',
    );
    assert.ok(!existsSync(path), 'no replacement key file was created');
    await rejectsWith(
      () => openSoftwareKeyStore({ records: new MemoryKeyRecordRepository(), kek: keyFileKek(path) }),
      'KEYSTORE_KEK_UNAVAILABLE',
    );
  });

  test('mode 0644 (or any group/other bit) is KEYSTORE_INSECURE_KEY_FILE', { skip: !posix }, async () => {
    const path = join(dir, 'loose.bin');
    const records = new MemoryKeyRecordRepository();
    const id = await makeKey(records, keyFileKek(path, { create: true }));
    for (const mode of [0o644, 0o640, 0o604, 0o620]) {
      chmodSync(path, mode);
      const e = await rejectsWith(
        () => openSoftwareKeyStore({ records, kek: keyFileKek(path) }),
        'KEYSTORE_INSECURE_KEY_FILE',
      );
      assert.match(e.message, /chmod 600/);
      assert.match(e.message, new RegExp(mode.toString(8)));
    }
    chmodSync(path, 0o400);
    await signsWith(records, keyFileKek(path), id);
  });

  test('a directory is not a key file', async () => {
    await rejectsWith(
      () => openSoftwareKeyStore({ records: new MemoryKeyRecordRepository(), kek: keyFileKek(dir) }),
      'KEYSTORE_INSECURE_KEY_FILE',
    );
  });

  test('hex and base64 text key files are read; anything else is KEYSTORE_INVALID_KEK without its content', async () => {
    const key = randomBytes(32);
    const hexPath = join(dir, 'kek.hex');
    writeFileSync(hexPath, key.toString('hex') + '\n', { mode: 0o600 });
    const b64Path = join(dir, 'kek.b64');
    writeFileSync(b64Path, key.toString('base64') + '\n', { mode: 0o600 });
    const records = new MemoryKeyRecordRepository();
    const id = await makeKey(records, keyFileKek(hexPath));
    await signsWith(records, keyFileKek(b64Path), id);
    await signsWith(records, envKek('K', { K: key.toString('hex') }), id);

    const badPath = join(dir, 'kek.bad');
    writeFileSync(badPath, 'hunter2-not-a-key', { mode: 0o600 });
    const e = await rejectsWith(
      () => openSoftwareKeyStore({ records: new MemoryKeyRecordRepository(), kek: keyFileKek(badPath) }),
      'KEYSTORE_INVALID_KEK',
    );
    assert.ok(!e.message.includes('hunter2'));
  });
});

describe('environment variable', () => {
  test('hex or base64 (standard or URL-safe) opens the same keystore', async () => {
    const key = randomBytes(32);
    const records = new MemoryKeyRecordRepository();
    const id = await makeKey(
      records,
      envKek('MEDSIGN_KEK', { MEDSIGN_KEK: key.toString('hex').toUpperCase() }),
    );
    await signsWith(records, envKek('MEDSIGN_KEK', { MEDSIGN_KEK: key.toString('base64') }), id);
    await signsWith(records, envKek('MEDSIGN_KEK', { MEDSIGN_KEK: key.toString('base64url') }), id);
  });

  test('process.env is the default environment', async () => {
    const name = `MEDSIGN_TEST_KEK_${process.pid}`;
    process.env[name] = randomBytes(32).toString('hex');
    try {
      const records = new MemoryKeyRecordRepository();
      const id = await makeKey(records, envKek(name));
      await signsWith(records, envKek(name), id);
    } finally {
      delete process.env[name];
    }
  });

  test('unset, malformed and wrong values are told apart, and the value never appears in the message', async () => {
    const records = new MemoryKeyRecordRepository();
    await makeKey(records, envKek('K', { K: randomBytes(32).toString('hex') }));
    await rejectsWith(
      () => openSoftwareKeyStore({ records, kek: envKek('K', {}) }),
      'KEYSTORE_KEK_UNAVAILABLE',
    );
    const short = randomBytes(16).toString('hex');
    const e1 = await rejectsWith(
      () => openSoftwareKeyStore({ records, kek: envKek('K', { K: short }) }),
      'KEYSTORE_INVALID_KEK',
    );
    assert.ok(!e1.message.includes(short));
    const wrong = randomBytes(32).toString('hex');
    const e2 = await rejectsWith(
      () => openSoftwareKeyStore({ records, kek: envKek('K', { K: wrong }) }),
      'KEYSTORE_WRONG_KEK',
    );
    assert.ok(!e2.message.includes(wrong));
  });
});

describe('source kind mismatches', () => {
  test('a passphrase keystore refuses an env key and vice versa (KEYSTORE_WRONG_KEK)', async () => {
    const byPass = new MemoryKeyRecordRepository();
    await makeKey(byPass, passphraseKek(PASSPHRASE, { N: 1024, r: 8, p: 1 }));
    const env = envKek('K', { K: randomBytes(32).toString('hex') });
    await rejectsWith(() => openSoftwareKeyStore({ records: byPass, kek: env }), 'KEYSTORE_WRONG_KEK');
    const byEnv = new MemoryKeyRecordRepository();
    await makeKey(byEnv, env);
    await rejectsWith(
      () => openSoftwareKeyStore({ records: byEnv, kek: passphraseKek(PASSPHRASE) }),
      'KEYSTORE_WRONG_KEK',
    );
  });
});
