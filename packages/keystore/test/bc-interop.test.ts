/**
 * An SM2 signature made through the keystore's Signer verifies in Bouncy Castle (shared/peers/bc):
 * the keystore adds nothing to, and takes nothing from, what gm signs (default ID, Z, DER).
 * Exit 3 from the peer means it could not be set up: a failure in CI, a skip elsewhere.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePem } from '@medsign/gm';
import { runBcPeer } from '@medsign/testkit';
import { MemoryKeyRecordRepository, openSoftwareKeyStore, passphraseKek } from '../src/index.js';
import { FAST_SCRYPT, PASSPHRASE } from './helpers.js';

test('SM2 signature from a keystore Signer verifies with the Bouncy Castle peer', async (t) => {
  const ks = await openSoftwareKeyStore({
    records: new MemoryKeyRecordRepository(),
    kek: passphraseKek(PASSPHRASE, FAST_SCRYPT),
  });
  const h = await ks.generate('sm2', 'bc interop');
  const data = new TextEncoder().encode('电子病历签名 interop check');
  const signature = await (await ks.signer(h.id, 'interop')).sign(data);
  await ks.close();

  const dir = mkdtempSync(join(tmpdir(), 'medsign-keystore-bc-'));
  try {
    writeFileSync(join(dir, 'pub.pem'), encodePem('PUBLIC KEY', h.publicKeyInfo));
    writeFileSync(join(dir, 'data.bin'), data);
    writeFileSync(join(dir, 'sig.der'), signature);
    const r = runBcPeer(['sig-verify', join(dir, 'pub.pem'), join(dir, 'data.bin'), join(dir, 'sig.der')]);
    if (r.code === 3) {
      if (process.env.CI === 'true')
        assert.fail(`Bouncy Castle peer unavailable in CI: ${JSON.stringify(r.json)}`);
      t.skip(`Bouncy Castle peer unavailable: ${JSON.stringify(r.json)}`);
      return;
    }
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(r.json.valid, true, r.stdout);

    // And a tampered message does not verify there.
    writeFileSync(join(dir, 'data.bin'), data.subarray(1));
    const bad = runBcPeer(['sig-verify', join(dir, 'pub.pem'), join(dir, 'data.bin'), join(dir, 'sig.der')]);
    assert.notEqual(bad.json.valid, true, bad.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
