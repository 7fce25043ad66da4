/** The all-core raw SM2 sign (and verify) rates, the references the server benchmarks compare against (same run, same machine). */

import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { SM2PrivateKey, Sm2SignerPool } from '@medsign/gm';

/** All-core raw SM2 signatures per second: one pool worker per core, enough requests in flight to keep them busy. */
export async function measureRawSign(seconds: number): Promise<number> {
  const pool = new Sm2SignerPool({ size: availableParallelism() });
  try {
    const key = SM2PrivateKey.generate();
    const message = new Uint8Array(256).fill(0x61);
    const run = async (ms: number) => {
      let done = 0;
      const deadline = performance.now() + ms;
      await Promise.all(
        Array.from({ length: pool.size * 8 }, async () => {
          while (performance.now() < deadline) {
            await pool.sign(key, message);
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

/** All-core raw SM2 verifications per second (same shape as {@link measureRawSign}). */
export async function measureRawVerify(seconds: number): Promise<number> {
  const pool = new Sm2SignerPool({ size: availableParallelism() });
  try {
    const key = SM2PrivateKey.generate();
    const message = new Uint8Array(256).fill(0x61);
    const signature = key.sign(message);
    const pub = key.publicKey;
    const run = async (ms: number) => {
      let done = 0;
      const deadline = performance.now() + ms;
      await Promise.all(
        Array.from({ length: pool.size * 8 }, async () => {
          while (performance.now() < deadline) {
            if (!(await pool.verify(pub, message, signature))) throw new Error('raw SM2 verify failed');
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
