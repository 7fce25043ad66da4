import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { SM2PrivateKey, Sm2SignerPool } from '../src/index.js';

const pool = new Sm2SignerPool({ size: 2 });
after(() => pool.close());

test('pool signatures verify in the main thread, with default and custom IDs', async () => {
  const key = SM2PrivateKey.generate();
  const sig = await pool.sign(key, 'order 17');
  assert.ok(key.publicKey.verify('order 17', sig));
  const custom = await pool.sign(key, 'order 17', { id: 'nurse-7' });
  assert.ok(key.publicKey.verify('order 17', custom, { id: 'nurse-7' }));
  assert.ok(!key.publicKey.verify('order 17', custom));
  const empty = await pool.sign(key, 'order 17', { id: '' });
  assert.ok(key.publicKey.verify('order 17', empty, { id: '' }));
  const e = key.publicKey.digest('order 17');
  assert.ok(key.publicKey.verifyDigest(e, await pool.signDigest(key, e)));
});

test('pool verification matches the main thread and resolves false for garbage', async () => {
  const key = SM2PrivateKey.generate();
  const sig = key.sign('lab report');
  assert.equal(await pool.verify(key.publicKey, 'lab report', sig), true);
  assert.equal(await pool.verify(key.publicKey, 'lab report!', sig), false);
  assert.equal(await pool.verify(key.publicKey, 'lab report', new Uint8Array([1, 2, 3])), false);
  assert.equal(await pool.verify(key.publicKey, 'lab report', sig, { id: 'other' }), false);
});

test('many concurrent requests across several keys all complete and keep the event loop free', async () => {
  const keys = Array.from({ length: 5 }, () => SM2PrivateKey.generate());
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const jobs = Array.from({ length: 400 }, (_, i) => pool.sign(keys[i % keys.length]!, `doc ${i}`));
  const sigs = await Promise.all(jobs);
  clearInterval(timer);
  sigs.forEach((sig, i) => assert.ok(keys[i % keys.length]!.publicKey.verify(`doc ${i}`, sig)));
  assert.ok(ticks > 3, `the event loop ran ${ticks} timer ticks while 400 signatures were made`);
});

test('a bad digest is rejected; a closed pool refuses work', async () => {
  const key = SM2PrivateKey.generate();
  await assert.rejects(pool.signDigest(key, new Uint8Array(31)), RangeError);
  const other = new Sm2SignerPool({ size: 1 });
  await other.close();
  await assert.rejects(other.sign(key, 'x'), /closed/);
  assert.throws(() => new Sm2SignerPool({ size: 0 }), RangeError);
});
