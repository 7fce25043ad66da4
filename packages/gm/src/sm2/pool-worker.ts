/** Worker side of Sm2SignerPool: keeps key objects for recently used keys and answers one request at a time. */

import { parentPort } from 'node:worker_threads';
import { bytesToHex, wipe } from '../bytes.js';
import { SM2PrivateKey, SM2PublicKey } from './keys.js';
import type { PoolRequest, PoolResponse } from './pool.js';

const MAX_CACHED = 64;
const privateKeys = new Map<string, SM2PrivateKey>();
const publicKeys = new Map<string, SM2PublicKey>();

function remember<K>(map: Map<string, K>, id: string, make: () => K, drop: (k: K) => void): K {
  let v = map.get(id);
  if (v) {
    map.delete(id);
  } else {
    v = make();
    if (map.size >= MAX_CACHED) {
      const [oldId, old] = map.entries().next().value as [string, K];
      map.delete(oldId);
      drop(old);
    }
  }
  map.set(id, v);
  return v;
}

function handle(req: PoolRequest): Uint8Array | boolean {
  const opts = req.id ? { id: req.id } : {};
  if (req.op === 'sign') {
    try {
      const key = remember(
        privateKeys,
        bytesToHex(req.pub),
        () => SM2PrivateKey.fromBytes(req.d),
        (k) => k.destroy(),
      );
      return req.prehashed ? key.signDigest(req.message) : key.sign(req.message, opts);
    } finally {
      wipe(req.d);
    }
  }
  try {
    const key = remember(
      publicKeys,
      bytesToHex(req.pub),
      () => SM2PublicKey.fromBytes(req.pub),
      (k) => k.release(),
    );
    return req.prehashed
      ? key.verifyDigest(req.message, req.signature)
      : key.verify(req.message, req.signature, opts);
  } catch {
    return false;
  }
}

parentPort!.on('message', (req: PoolRequest) => {
  let res: PoolResponse;
  try {
    res = { seq: req.seq, ok: true, value: handle(req) };
  } catch (e) {
    res = { seq: req.seq, ok: false, error: e instanceof Error ? e.message : 'SM2 worker error' };
  }
  parentPort!.postMessage(res);
});
