/** The all-core raw SM2 sign (and verify) rates, the references the server benchmarks compare against (same run, same machine). */

import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { SM2PrivateKey, Sm2SignerPool } from '@medsign/gm';

/**
 * Operations per second of `op` on a pool of one worker per core, with enough in flight to keep them busy:
 * a short warm-up, then `seconds` measured.
 */
async function allCoreRate(
  seconds: number,
  op: (pool: Sm2SignerPool, key: SM2PrivateKey, message: Uint8Array) => () => Promise<unknown>,
): Promise<number> {
  const pool = new Sm2SignerPool({ size: availableParallelism() });
  try {
    const once = op(pool, SM2PrivateKey.generate(), new Uint8Array(256).fill(0x61));
    const run = async (ms: number) => {
      let done = 0;
      const deadline = performance.now() + ms;
      await Promise.all(
        Array.from({ length: pool.size * 8 }, async () => {
          while (performance.now() < deadline) {
            await once();
            done++;
          }
        }),
      );
      return done;
    };
    await run(Math.min(500, seconds * 200));
    const start = performance.now();
    const done = await run(seconds * 1000);
    return done / ((performance.now() - start) / 1000);
  } finally {
    await pool.close();
  }
}

/** All-core raw SM2 signatures per second. */
export function measureRawSign(seconds: number): Promise<number> {
  return allCoreRate(seconds, (pool, key, message) => () => pool.sign(key, message));
}

/** All-core raw SM2 verifications per second. */
export function measureRawVerify(seconds: number): Promise<number> {
  return allCoreRate(seconds, (pool, key, message) => {
    const signature = key.sign(message);
    const pub = key.publicKey;
    return async () => {
      if (!(await pool.verify(pub, message, signature))) throw new Error('raw SM2 verify failed');
    };
  });
}
