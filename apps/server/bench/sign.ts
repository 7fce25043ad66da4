/**
 * `npm run bench:sign`: the signing API through the real server stack (initDataDir + openServices, the HTTP
 * app on 127.0.0.1, SQLite): P7-detached SM2 signatures of a 1 KiB document with HMAC-SM3 request
 * authentication, nonce and rate checks, the keystore's audited key use, an RFC 3161 time-stamp token from
 * the installation's own TSA (in process: a second SM2 signature, archived) embedded as an unsigned
 * attribute, the durable signature record and its audit event — each request a new nonce and signature
 * (autocannon's setupRequest). Phases of BENCH_SECONDS (default 5), BENCH_CONNECTIONS in flight (default 16):
 *   - sign + time-stamp at the max rate (the doctor granted a signing authorisation: no PIN per request);
 *     latency p50/p99 at 50 % of that rate;
 *   - sign without a time-stamp (one SM2 signature per operation), and with a PIN per request (scrypt);
 *   - verify: POST /verify of a P7-detached SM2 signature with its data (signature, chain to our root,
 *     status at our CA);
 *   - the all-core raw SM2 sign and verify rates of the same run (one pool worker per core).
 * sign_ts_ratio = sign_ts ops/s ÷ (raw SM2 signs/s ÷ 2) — two SM2 signatures per operation;
 * verify_ratio = verify ops/s ÷ raw SM2 verifies/s. Prints a table, then one JSON line (always last).
 */

import { randomBytes } from 'node:crypto';
import { availableParallelism, cpus } from 'node:os';
import autocannon from 'autocannon';
import { measureRawSign, measureRawVerify } from './raw-sign.js';
import { openBenchServer } from './server.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);

// MEDSIGN_SIGNER_THREADS passes through (SM2 worker threads; default: cores − 1) so it can be compared.
const server = await openBenchServer('medsign-bench-sign-');
const { services } = server;
type Run = { perSecond: number; p50: number; p99: number; errors: number };
let max: Run;
let tsMax: Run;
let tsHalf: Run;
let withPin: Run;
let verify: Run;
try {
  const { url, headersFor: signedHeaders } = await server.ready();
  const data = randomBytes(1024).toString('base64');
  const body = (o: { pin?: boolean; timestamp?: boolean } = {}) =>
    JSON.stringify({
      signer: 'D001',
      ...(o.pin ? { pin: '123456' } : {}),
      data,
      format: 'p7-detached',
      ...(o.timestamp ? { timestamp: true } : {}),
      metadata: { docType: 'prescription', docId: 'RX-bench' },
    });
  const headersFor = (path: string, payload: string) => signedHeaders('POST', path, payload);
  // Sanity: one request answers a time-stamped signature; it is also what the verify phase verifies.
  const check = await fetch(`${url}/api/v1/sign`, {
    method: 'POST',
    headers: headersFor('/api/v1/sign', body({ timestamp: true })),
    body: body({ timestamp: true }),
  });
  if (check.status !== 200) throw new Error(`sign answered ${check.status}: ${await check.text()}`);
  if (!((await check.json()) as { token: string | null }).token) throw new Error('no time-stamp token');
  const plain = await fetch(`${url}/api/v1/sign`, {
    method: 'POST',
    headers: headersFor('/api/v1/sign', body()),
    body: body(),
  });
  const verifyBody = JSON.stringify({
    data,
    signature: ((await plain.json()) as { signature: string }).signature,
  });
  const verified = await fetch(`${url}/api/v1/verify`, {
    method: 'POST',
    headers: headersFor('/api/v1/verify', verifyBody),
    body: verifyBody,
  });
  if (!((await verified.json()) as { valid: boolean }).valid)
    throw new Error('the benchmark signature does not verify');

  const cannon = async (
    duration: number,
    opts: { rate?: number; path?: string; payload?: string } = {},
  ): Promise<Run> => {
    const path = opts.path ?? '/api/v1/sign';
    const payload = opts.payload ?? body();
    const r = await autocannon({
      url: `${url}${path}`,
      connections: opts.rate ? Math.min(connections, 8) : connections,
      pipelining: 1,
      duration,
      ...(opts.rate ? { overallRate: Math.max(1, Math.floor(opts.rate)) } : {}),
      requests: [
        {
          method: 'POST',
          path,
          setupRequest: (req) => ({ ...req, headers: headersFor(path, payload), body: payload }),
        },
      ],
    });
    return {
      perSecond: r['2xx'] / (r.duration || duration),
      p50: r.latency.p50,
      p99: r.latency.p99,
      errors: r.non2xx + r.errors + r.timeouts,
    };
  };
  const ts = body({ timestamp: true });
  await cannon(Math.max(0.2, Math.min(1, seconds / 5)), { payload: ts });
  tsMax = await cannon(seconds, { payload: ts });
  tsHalf = await cannon(seconds, { payload: ts, rate: tsMax.perSecond / 2 });
  max = await cannon(seconds);
  // Verify before the PIN phase: the scrypt requests still in flight when that phase ends keep the cores busy for
  // seconds after it, and would be counted against whatever phase came next.
  verify = await cannon(seconds, { path: '/api/v1/verify', payload: verifyBody });
  withPin = await cannon(Math.max(0.5, seconds / 2), { payload: body({ pin: true }) });
  if (!(await services.store.audit.verify()).ok) throw new Error('audit chain broken after the run');
} finally {
  await server.close();
}

const rawSign = await measureRawSign(seconds);
const rawVerify = await measureRawVerify(seconds);
const cores = availableParallelism();
const r2 = (v: number) => Math.round(v * 100) / 100;
console.log(
  `medsign signing benchmark — node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, ${cores} core(s), ${seconds} s per phase, SQLite`,
);
const rows: [string, string][] = [
  ['P7-detached SM2 sign + time-stamp + record over HTTP (authorisation)', `${tsMax.perSecond.toFixed(0)}/s`],
  ['  latency at 50 % of that rate, p50 / p99', `${tsHalf.p50} / ${tsHalf.p99} ms`],
  ['the same without a time-stamp', `${max.perSecond.toFixed(0)}/s`],
  ['without a time-stamp, with a PIN per request (scrypt)', `${withPin.perSecond.toFixed(0)}/s`],
  ['verify P7-detached SM2 over HTTP (signature, chain, status)', `${verify.perSecond.toFixed(0)}/s`],
  [`raw SM2 sign, all ${cores} cores`, `${rawSign.toFixed(0)}/s`],
  [`raw SM2 verify, all ${cores} cores`, `${rawVerify.toFixed(0)}/s`],
  ['sign_ts_ratio (ops ÷ (raw SM2 sign ÷ 2))', (tsMax.perSecond / (rawSign / 2)).toFixed(2)],
  ['sign_ratio (no time-stamp: ops ÷ raw SM2 sign)', (max.perSecond / rawSign).toFixed(2)],
  ['verify_ratio (verify ops ÷ raw SM2 verify)', (verify.perSecond / rawVerify).toFixed(2)],
];
for (const [name, value] of rows) console.log(`${name.padEnd(70)} ${value.padStart(14)}`);
const errors = tsMax.errors + tsHalf.errors + max.errors + withPin.errors + verify.errors;
if (errors) console.log(`note: ${errors} requests failed or were not 2xx`);
console.log(
  JSON.stringify({
    sign_ts_ops_per_s: r2(tsMax.perSecond),
    sign_ts_p50_ms: tsHalf.p50,
    sign_ts_p99_ms: tsHalf.p99,
    sm2_sign_ops_all_cores: r2(rawSign),
    sign_ts_ratio: r2(tsMax.perSecond / (rawSign / 2)),
    verify_ops_per_s: r2(verify.perSecond),
    sm2_verify_ops_all_cores: r2(rawVerify),
    verify_ratio: r2(verify.perSecond / rawVerify),
    sign_ops_per_s: r2(max.perSecond),
    sign_ratio: r2(max.perSecond / rawSign),
    sign_pin_ops_per_s: r2(withPin.perSecond),
    errors,
    cores,
    seconds,
  }),
);
