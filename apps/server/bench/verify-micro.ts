/**
 * In-process microbenchmark of the verify path (no HTTP): verifyDocument with the deps the server builds
 * (services.sign.verify), on a P7-detached SM2 signature made by the server. `node --conditions=medsign-source
 * --import tsx apps/server/bench/verify-micro.ts` (BENCH_SECONDS, default 3). Prints verifies/s: sequential
 * and with 16 in flight.
 */
import { randomBytes } from 'node:crypto';
import { signDocument, verifyDocument } from '@medsign/sign';
import { tempDir } from '@medsign/testkit';
import { loadConfig } from '../src/config.js';
import { initDataDir } from '../src/init.js';
import { openServices } from '../src/services.js';
import { addBenchApp } from './server.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const dir = tempDir('medsign-bench-verify-');
await initDataDir({ dataDir: dir.path, env: {} });
const services = await openServices(loadConfig({ dataDir: dir.path, env: {} }));
try {
  const deps = services.sign.deps;
  const { app: his } = await addBenchApp(deps);
  const data = randomBytes(1024).toString('base64');
  const signed = await signDocument(
    { signer: 'D001', data, format: 'p7-detached', metadata: { docType: 'prescription', docId: 'RX-bench' } },
    { appId: his.id },
    deps,
  );
  const req = { data, signature: Buffer.from(signed.record.signature).toString('base64') };
  const first = await verifyDocument(req, services.sign.verify);
  if (!first.valid) throw new Error(`does not verify: ${first.errors.join('; ')}`);
  const run = async (inFlight: number) => {
    const end = Date.now() + seconds * 1000;
    let n = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (Date.now() < end) {
          const r = await verifyDocument(req, services.sign.verify);
          if (!r.valid) throw new Error('invalid');
          n++;
        }
      }),
    );
    return n / seconds;
  };
  await run(1);
  console.log(`verifyDocument sequential      ${(await run(1)).toFixed(0)}/s`);
  console.log(`verifyDocument 16 in flight    ${(await run(16)).toFixed(0)}/s`);
} finally {
  await services.close();
  dir.cleanup();
}
