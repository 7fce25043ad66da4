// Sealed secrets: round trip under the same KEK, bound to their context, refused under another KEK or tampered.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryKeyRecordRepository, openSoftwareKeyStore, passphraseKek } from '../src/index.js';
import { FAST_SCRYPT, PASSPHRASE, rejectsWith } from './helpers.js';

test('sealSecret / openSecret: round trip, context binding, other KEK, tampering, closed', async () => {
  const records = new MemoryKeyRecordRepository();
  const ks = await openSoftwareKeyStore({ records, kek: passphraseKek(PASSPHRASE, FAST_SCRYPT) });
  const secret = new TextEncoder().encode('app secret 0123456789');
  const sealed = ks.sealSecret(secret, 'app_1');
  assert.ok(!Buffer.from(sealed).includes(Buffer.from(secret)));
  assert.deepEqual(ks.openSecret(sealed, 'app_1'), secret);
  // The same KEK opened again (another process) opens it too.
  const again = await openSoftwareKeyStore({ records, kek: passphraseKek(PASSPHRASE, FAST_SCRYPT) });
  assert.deepEqual(again.openSecret(sealed, 'app_1'), secret);
  await rejectsWith(async () => ks.openSecret(sealed, 'app_2'), 'KEYSTORE_CORRUPT_RECORD');
  const flipped = new Uint8Array(sealed);
  flipped[20]! ^= 1;
  await rejectsWith(async () => ks.openSecret(flipped, 'app_1'), 'KEYSTORE_CORRUPT_RECORD');
  const other = await openSoftwareKeyStore({
    records: new MemoryKeyRecordRepository(),
    kek: passphraseKek('another passphrase', FAST_SCRYPT),
  });
  await rejectsWith(async () => other.openSecret(sealed, 'app_1'), 'KEYSTORE_CORRUPT_RECORD');
  await ks.close();
  await rejectsWith(async () => ks.openSecret(sealed, 'app_1'), 'KEYSTORE_CLOSED');
});
