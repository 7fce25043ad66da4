/**
 * FileKeyRecordRepository and the keystore on it: atomic no-overwrite writes with mode 0600, reopening
 * with the same passphrase, no plaintext key on disk, tampering and swapping of record files detected.
 */

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToHex, SM2PrivateKey } from '@medsign/gm';
import { PrivateKey, verifySignature } from '@medsign/pki';
import {
  FileKeyRecordRepository,
  KEK_HEADER_ID,
  openSoftwareKeyStore,
  passphraseKek,
  type KeyHandle,
  type KeyRecord,
} from '../src/index.js';
import { FAST_SCRYPT, indexOfBytes, PASSPHRASE, rejectsWith } from './helpers.js';

const posix = process.platform !== 'win32';
const data = new TextEncoder().encode('discharge summary, bed 12');
let root = '';
let n = 0;
const freshDir = () => join(root, `store-${n++}`);

before(() => {
  root = mkdtempSync(join(tmpdir(), 'medsign-keystore-files-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function sampleRecord(id: string): KeyRecord {
  return {
    id,
    label: `label ${id}`,
    algorithm: 'sm2',
    publicKeyInfo: new Uint8Array([1, 2, 3]),
    encrypted: new Uint8Array([4, 5, 6, 7]),
    createdAt: new Date('2024-05-01T08:00:00.123Z'),
    metadata: { role: 'tsa', 科室: '心内科' },
  };
}

describe('FileKeyRecordRepository', () => {
  test('round-trips records; files 0600, directory 0700, no temp files left', async () => {
    const dir = freshDir();
    const repo = new FileKeyRecordRepository(dir);
    assert.deepEqual(await repo.list(), []);
    await repo.put(sampleRecord('b'));
    await repo.put(sampleRecord('a'));
    assert.deepEqual(await repo.get('a'), sampleRecord('a'));
    assert.deepEqual(
      (await repo.list()).map((r) => r.id),
      ['a', 'b'],
    );
    assert.deepEqual(readdirSync(dir).sort(), ['a.json', 'b.json']);
    if (posix) {
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      assert.equal(statSync(join(dir, 'a.json')).mode & 0o777, 0o600);
    }
  });

  test('put refuses to overwrite (KEYSTORE_RECORD_EXISTS), also when racing itself', async () => {
    const repo = new FileKeyRecordRepository(freshDir());
    await repo.put(sampleRecord('x'));
    await rejectsWith(() => repo.put({ ...sampleRecord('x'), label: 'other' }), 'KEYSTORE_RECORD_EXISTS');
    assert.equal((await repo.get('x'))!.label, 'label x');
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => repo.put({ ...sampleRecord('y'), label: `racer ${i}` })),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.equal(readdirSync(repo.directory).filter((f) => f.endsWith('.tmp')).length, 0);
  });

  test('ids that are not safe file names: refused on put, absent on get', async () => {
    const repo = new FileKeyRecordRepository(freshDir());
    for (const id of ['../escape', '.hidden', 'a/b', '', 'x'.repeat(129)]) {
      await rejectsWith(() => repo.put(sampleRecord(id)), 'KEYSTORE_INVALID_ARGUMENT');
      assert.equal(await repo.get(id), undefined);
    }
  });

  test('a damaged file is KEYSTORE_CORRUPT_RECORD', async () => {
    const repo = new FileKeyRecordRepository(freshDir());
    await repo.put(sampleRecord('d'));
    const file = join(repo.directory, 'd.json');
    const good = readFileSync(file, 'utf8');
    for (const bad of [
      '{',
      good.replace('"medsign-keyrecord/1"', '"other/1"'),
      good.replace(/"encrypted": "[^"]*"/, '"encrypted": "@@@"'),
      good.replace('"id": "d"', '"id": "e"'),
    ]) {
      writeFileSync(file, bad);
      await rejectsWith(() => repo.get('d'), 'KEYSTORE_CORRUPT_RECORD');
    }
  });
});

describe('SoftwareKeyStore on files', () => {
  let dir = '';
  let sm2Pkcs8: Uint8Array;
  let sm2Scalar: Uint8Array;
  let rsaPkcs8: Uint8Array;
  let handles: KeyHandle[] = [];

  before(async () => {
    dir = freshDir();
    const sm2 = SM2PrivateKey.generate();
    sm2Pkcs8 = sm2.toPkcs8();
    sm2Scalar = sm2.toBytes();
    rsaPkcs8 = PrivateKey.generate('rsa-2048').toPkcs8();
    const ks = await openSoftwareKeyStore({
      records: new FileKeyRecordRepository(dir),
      kek: passphraseKek(PASSPHRASE, FAST_SCRYPT),
    });
    handles = [
      await ks.importKey(sm2Pkcs8, 'SM2 root (migrated)'),
      await ks.importKey(rsaPkcs8, 'RSA root (migrated)'),
      await ks.generate('ec-p256', 'ECDSA issuing CA'),
      await ks.generate('sm2', 'SM2 issuing CA'),
    ];
    await ks.close();
  });

  test('reopening with the same passphrase gives the same keys, and they sign', async () => {
    const ks = await openSoftwareKeyStore({
      records: new FileKeyRecordRepository(dir),
      kek: passphraseKek(PASSPHRASE),
    });
    assert.deepEqual(await ks.list(), handles);
    for (const h of handles) {
      const s = await ks.signer(h.id, 'reopen test');
      assert.deepEqual(s.publicKeyInfo, h.publicKeyInfo);
      assert.ok(verifySignature(h.publicKeyInfo, s.algorithm, data, await s.sign(data)), h.label);
    }
    await ks.close();
  });

  test('a wrong passphrase is KEYSTORE_WRONG_PASSPHRASE', async () => {
    await rejectsWith(
      () =>
        openSoftwareKeyStore({
          records: new FileKeyRecordRepository(dir),
          kek: passphraseKek('wrong passphrase'),
        }),
      'KEYSTORE_WRONG_PASSPHRASE',
    );
  });

  test('no file holds a plaintext key: PKCS#8 DER, the SM2 scalar (raw, hex, base64) or the passphrase', () => {
    const files = readdirSync(dir);
    assert.deepEqual(files.sort(), [...handles.map((h) => `${h.id}.json`), `${KEK_HEADER_ID}.json`].sort());
    for (const f of files) {
      const bytes = new Uint8Array(readFileSync(join(dir, f)));
      const text = Buffer.from(bytes).toString('utf8');
      if (posix) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
      for (const secret of [sm2Pkcs8, sm2Scalar, rsaPkcs8]) {
        assert.equal(indexOfBytes(bytes, secret), -1, `raw key bytes in ${f}`);
        assert.ok(!text.toLowerCase().includes(bytesToHex(secret)), `hex key bytes in ${f}`);
        assert.ok(
          !text.includes(Buffer.from(secret).toString('base64').slice(0, 40)),
          `base64 key bytes in ${f}`,
        );
      }
      // The 32-byte scalar at any of the three base64 alignments.
      for (let shift = 0; shift < 3; shift++) {
        const b64 = Buffer.concat([Buffer.alloc(shift), Buffer.from(sm2Scalar)]).toString('base64');
        assert.ok(!text.includes(b64.slice(4, 40)), `base64 scalar in ${f}`);
      }
      assert.ok(!text.includes(PASSPHRASE) && !text.includes('battery'), `passphrase in ${f}`);
    }
  });

  test('a tampered record file is KEYSTORE_CORRUPT_RECORD', async () => {
    const copy = freshDir();
    rmSync(copy, { recursive: true, force: true });
    const { cpSync } = await import('node:fs');
    cpSync(dir, copy, { recursive: true });
    const file = join(copy, `${handles[0]!.id}.json`);
    const json = JSON.parse(readFileSync(file, 'utf8')) as { encrypted: string };
    const blob = Buffer.from(json.encrypted, 'base64');
    blob[blob.length - 20]! ^= 0x80;
    json.encrypted = blob.toString('base64');
    writeFileSync(file, JSON.stringify(json));
    const ks = await openSoftwareKeyStore({
      records: new FileKeyRecordRepository(copy),
      kek: passphraseKek(PASSPHRASE),
    });
    await rejectsWith(() => ks.signer(handles[0]!.id, 'p'), 'KEYSTORE_CORRUPT_RECORD');
    await (await ks.signer(handles[1]!.id, 'p')).sign(data);
    await ks.close();
  });

  test('blobs swapped between two SM2 record files are KEYSTORE_CORRUPT_RECORD', async () => {
    const copy = freshDir();
    const { cpSync } = await import('node:fs');
    cpSync(dir, copy, { recursive: true });
    const [a, b] = [handles[0]!, handles[3]!].map((h) => join(copy, `${h.id}.json`)) as [string, string];
    const ja = JSON.parse(readFileSync(a, 'utf8')) as { encrypted: string };
    const jb = JSON.parse(readFileSync(b, 'utf8')) as { encrypted: string };
    [ja.encrypted, jb.encrypted] = [jb.encrypted, ja.encrypted];
    writeFileSync(a, JSON.stringify(ja));
    writeFileSync(b, JSON.stringify(jb));
    const ks = await openSoftwareKeyStore({
      records: new FileKeyRecordRepository(copy),
      kek: passphraseKek(PASSPHRASE),
    });
    await rejectsWith(() => ks.signer(handles[0]!.id, 'p'), 'KEYSTORE_CORRUPT_RECORD');
    await rejectsWith(() => ks.signer(handles[3]!.id, 'p'), 'KEYSTORE_CORRUPT_RECORD');
    await ks.close();
  });
});
