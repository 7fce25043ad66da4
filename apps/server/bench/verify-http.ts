/**
 * The verify API over HTTP, and its ceiling on this machine: the same server stack as `bench:sign`
 * (initDataDir + openServices, HTTP on 127.0.0.1, SQLite, HMAC-SM3 request authentication with a new nonce
 * per request, autocannon in the same process) measuring
 *   - POST /api/v1/verify of a P7-detached SM2 signature with its 1 KiB data (signature, chain, status);
 *   - GET /api/v1/signatures/{id}: a trivial authenticated request (auth, nonce, one row read) — what any
 *     request costs here before it does its own work, so the ceiling of the verify rate;
 *   - raw SM2 verify on all cores (one pool worker per core).
 * `node --conditions=medsign-source --import tsx apps/server/bench/verify-http.ts` (BENCH_SECONDS, default
 * 3; BENCH_CONNECTIONS, default 16; MEDSIGN_SIGNER_THREADS=0 for no SM2 worker). Prints a table, then one
 * JSON line.
 */

import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import autocannon from 'autocannon';
import { measureRawVerify } from './raw-sign.js';
import { openBenchServer } from './server.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);

// MEDSIGN_SIGNER_THREADS=0 verifies on the request thread (no SM2 worker pool), for comparison.
const server = await openBenchServer('medsign-bench-verify-http-');
let verify = 0;
let trivial = 0;
let errors = 0;
try {
  const { url, headersFor } = await server.ready();
  const data = randomBytes(1024).toString('base64');
  const signBody = JSON.stringify({
    signer: 'D001',
    data,
    format: 'p7-detached',
    metadata: { docType: 'prescription', docId: 'RX-bench' },
  });
  const signed = (await (
    await fetch(`${url}/api/v1/sign`, {
      method: 'POST',
      headers: headersFor('POST', '/api/v1/sign', signBody),
      body: signBody,
    })
  ).json()) as { id: string; signature: string };
  const verifyBody = JSON.stringify({ data, signature: signed.signature });
  const check = await fetch(`${url}/api/v1/verify`, {
    method: 'POST',
    headers: headersFor('POST', '/api/v1/verify', verifyBody),
    body: verifyBody,
  });
  if (!((await check.json()) as { valid: boolean }).valid) throw new Error('the signature does not verify');
  const readPath = `/api/v1/signatures/${signed.id}`;
  const read = await fetch(`${url}${readPath}`, { headers: headersFor('GET', readPath, undefined) });
  if (read.status !== 200) throw new Error(`GET ${readPath} answered ${read.status}`);

  const cannon = async (method: 'GET' | 'POST', path: string, payload?: string) => {
    const r = await autocannon({
      url: `${url}${path}`,
      connections,
      pipelining: 1,
      duration: seconds,
      requests: [
        {
          method,
          path,
          setupRequest: (req) => ({
            ...req,
            headers: headersFor(method, path, payload),
            ...(payload === undefined ? {} : { body: payload }),
          }),
        },
      ],
    });
    errors += r.non2xx + r.errors + r.timeouts;
    return r['2xx'] / (r.duration || seconds);
  };
  await cannon('POST', '/api/v1/verify', verifyBody); // warm-up
  verify = await cannon('POST', '/api/v1/verify', verifyBody);
  trivial = await cannon('GET', readPath);
} finally {
  await server.close();
}
const raw = await measureRawVerify(seconds);
const cores = availableParallelism();
const r2 = (x: number) => Math.round(x * 100) / 100;
const rows: [string, string][] = [
  ['verify P7-detached SM2 over HTTP (signature, chain, status)', `${verify.toFixed(0)}/s`],
  ['trivial authenticated GET /signatures/{id} (the ceiling)', `${trivial.toFixed(0)}/s`],
  [`raw SM2 verify, all ${cores} cores`, `${raw.toFixed(0)}/s`],
  ['verify_ratio (verify ops ÷ raw SM2 verify)', (verify / raw).toFixed(2)],
  ['ceiling ratio (trivial authenticated ops ÷ raw SM2 verify)', (trivial / raw).toFixed(2)],
];
for (const [k, v] of rows) console.log(`${k.padEnd(68)}${v.padStart(10)}`);
console.log(
  JSON.stringify({
    verify_ops_per_s: r2(verify),
    trivial_auth_ops_per_s: r2(trivial),
    sm2_verify_ops_all_cores: r2(raw),
    verify_ratio: r2(verify / raw),
    ceiling_ratio: r2(trivial / raw),
    errors,
    cores,
    seconds,
  }),
);
