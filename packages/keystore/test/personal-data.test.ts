import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryKeyRecordRepository, openSoftwareKeyStore, passphraseKek } from '../src/index.js';
import { FAST_SCRYPT, PASSPHRASE } from './helpers.js';

const ID = '11010519491231002X';

async function open(records = new MemoryKeyRecordRepository(), passphrase = PASSPHRASE) {
  return openSoftwareKeyStore({ records, kek: passphraseKek(passphrase, FAST_SCRYPT) });
}

test('seal → open round-trips; ciphertexts are randomised and hold no clear value', async () => {
  const ks = await open();
  const a = ks.personalData.seal('idNumber', ID, 'application/1');
  const b = ks.personalData.seal('idNumber', ID, 'application/1');
  assert.notDeepEqual(a, b, 'random IV per seal');
  assert.equal(Buffer.from(a).includes(Buffer.from(ID)), false);
  assert.equal(a.length, 1 + 12 + ID.length + 16);
  assert.equal(ks.personalData.open('idNumber', a, 'application/1'), ID);
  assert.equal(
    ks.personalData.open('phone', ks.personalData.seal('phone', '电话 138', 'x'), 'x'),
    '电话 138',
  );
  await ks.close();
});

test('open refuses another context, another field, tampering, truncation and another KEK', async () => {
  const records = new MemoryKeyRecordRepository();
  const ks = await open(records);
  const sealed = ks.personalData.seal('idNumber', ID, 'certificate/sm2/1f');
  const corrupt = (f: () => unknown) =>
    assert.throws(f, (e: unknown) => (e as { code?: string }).code === 'KEYSTORE_CORRUPT_RECORD');
  corrupt(() => ks.personalData.open('idNumber', sealed, 'certificate/sm2/20'));
  corrupt(() => ks.personalData.open('phone', sealed, 'certificate/sm2/1f'));
  const flipped = new Uint8Array(sealed);
  flipped[20]! ^= 1;
  corrupt(() => ks.personalData.open('idNumber', flipped, 'certificate/sm2/1f'));
  corrupt(() => ks.personalData.open('idNumber', sealed.subarray(0, 20), 'certificate/sm2/1f'));
  const other = await open(new MemoryKeyRecordRepository(), 'another passphrase entirely');
  corrupt(() => other.personalData.open('idNumber', sealed, 'certificate/sm2/1f'));
  await other.close();
  // The same KEK (reopened) opens it: the keys are derived, not stored.
  await ks.close();
  const again = await open(records);
  assert.equal(again.personalData.open('idNumber', sealed, 'certificate/sm2/1f'), ID);
  await again.close();
});

test('index: keyed, deterministic, normalised (trim, case); differs per field and per KEK; closed keystore refuses', async () => {
  const ks = await open();
  const other = await open(new MemoryKeyRecordRepository(), 'another passphrase entirely');
  const i = ks.personalData.index('idNumber', ID);
  assert.match(i, /^[0-9a-f]{64}$/);
  assert.equal(ks.personalData.index('idNumber', ` ${ID.toLowerCase()} `), i);
  assert.notEqual(ks.personalData.index('phone', ID), i);
  assert.notEqual(
    other.personalData.index('idNumber', ID),
    i,
    'a database copy without the KEK cannot test guesses',
  );
  await ks.close();
  await other.close();
  assert.throws(
    () => ks.personalData.index('idNumber', ID),
    (e: unknown) => (e as { code?: string }).code === 'KEYSTORE_CLOSED',
  );
});

test('sealBytes / openBytes: binary originals round-trip, bound to field and context, the same format as seal', async () => {
  const ks = await open();
  const data = new Uint8Array(70_000).map((_, i) => (i * 31) & 0xff);
  const sealed = ks.personalData.sealBytes('signedOriginal', data, 'signature:r1');
  assert.equal(sealed.length, 1 + 12 + data.length + 16);
  assert.deepEqual(ks.personalData.openBytes('signedOriginal', sealed, 'signature:r1'), data);
  assert.deepEqual(
    ks.personalData.openBytes(
      'signedOriginal',
      ks.personalData.sealBytes('signedOriginal', new Uint8Array(), 'c'),
      'c',
    ),
    new Uint8Array(),
  );
  const corrupt = (f: () => unknown) =>
    assert.throws(f, (e: unknown) => (e as { code?: string }).code === 'KEYSTORE_CORRUPT_RECORD');
  corrupt(() => ks.personalData.openBytes('signedOriginal', sealed, 'signature:r2'));
  corrupt(() => ks.personalData.openBytes('appSecret', sealed, 'signature:r1'));
  const flipped = new Uint8Array(sealed);
  flipped[100]! ^= 1;
  corrupt(() => ks.personalData.openBytes('signedOriginal', flipped, 'signature:r1'));
  // Text sealed with seal() opens as its UTF-8 bytes.
  const text = ks.personalData.seal('phone', '电话', 'x');
  assert.equal(Buffer.from(ks.personalData.openBytes('phone', text, 'x')).toString(), '电话');
  assert.throws(() => ks.personalData.sealBytes('signedOriginal', 'text' as never, 'x'), TypeError);
  await ks.close();
  assert.throws(
    () => ks.personalData.sealBytes('signedOriginal', data, 'x'),
    (e: unknown) => (e as { code?: string }).code === 'KEYSTORE_CLOSED',
  );
});
