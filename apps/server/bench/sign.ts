/**
 * `npm run bench:sign`: the signing API through the real server stack (initDataDir + openServices, the HTTP
 * app on 127.0.0.1, SQLite): P7-detached SM2 signatures of a 1 KiB document with HMAC-SM3 request
 * authentication, nonce and rate checks, the keystore's audited key use, the durable signature record and
 * its audit event — each request a new nonce and signature (autocannon's setupRequest).
 *   - max rate: as many requests in flight as BENCH_CONNECTIONS (default 16) for BENCH_SECONDS (default 5),
 *     the doctor having granted a signing authorisation (no PIN per request: the PIN's scrypt is measured
 *     separately, `sign_pin_ops_per_s`);
 *   - latency p50/p99 at 50 % of that rate;
 *   - the all-core raw SM2 sign rate of the same run; sign_ratio = ops/s ÷ raw SM2 signs/s (one SM2
 *     signature per operation). With a TSA wired (not yet), an operation carries a second SM2 signature —
 *     the token — and `sign_ts_ops_per_s` / `sign_ts_ratio` (÷ raw/2) will be reported; they are null now.
 * Prints a table, then one JSON line (always last).
 */

import { randomBytes } from 'node:crypto';
import { availableParallelism, cpus } from 'node:os';
import autocannon from 'autocannon';
import {
  AUTH_HEADERS,
  bodyDigest,
  createApp,
  enrolSigner,
  grantAuthorisation,
  signRequest,
} from '@medsign/sign';
import { tempDir } from '@medsign/testkit';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { initDataDir } from '../src/init.js';
import { openServices } from '../src/services.js';
import { measureRawSign } from './raw-sign.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);

const dir = tempDir('medsign-bench-sign-');
await initDataDir({ dataDir: dir.path, env: {} });
const services = await openServices(loadConfig({ dataDir: dir.path, env: {} }));
const app = await buildApp(services, { logger: false });
type Run = { perSecond: number; p50: number; p99: number; errors: number };
let max: Run;
let half: Run;
let withPin: Run;
try {
  const { app: his, secret } = await createApp(
    { name: 'bench HIS', systemType: 'HIS', rateLimit: 1_000_000 },
    'bench',
    services.sign.deps,
  );
  await enrolSigner(
    { name: '张三', employeeNo: 'D001', departmentCode: '0101', pin: '123456' },
    'bench',
    services.sign.deps,
  );
  await grantAuthorisation(
    { signer: 'D001', pin: '123456', durationMinutes: 600 },
    his.id,
    services.sign.deps,
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const data = randomBytes(1024).toString('base64');
  const body = (pin: boolean) =>
    JSON.stringify({
      signer: 'D001',
      ...(pin ? { pin: '123456' } : {}),
      data,
      format: 'p7-detached',
      metadata: { docType: 'prescription', docId: 'RX-bench' },
    });
  const headersFor = (payload: string) => {
    const timestamp = Math.floor(Date.now() / 1000);
    const nonce = randomBytes(18).toString('base64url');
    return {
      'content-type': 'application/json',
      [AUTH_HEADERS.appId]: his.id,
      [AUTH_HEADERS.timestamp]: String(timestamp),
      [AUTH_HEADERS.nonce]: nonce,
      [AUTH_HEADERS.signature]: signRequest(secret, {
        method: 'POST',
        path: '/api/v1/sign',
        bodyDigest: bodyDigest(payload),
        timestamp,
        nonce,
        appId: his.id,
      }),
    };
  };
  // Sanity: one request answers a signature.
  const check = await fetch(`${url}/api/v1/sign`, {
    method: 'POST',
    headers: headersFor(body(false)),
    body: body(false),
  });
  if (check.status !== 200) throw new Error(`sign answered ${check.status}: ${await check.text()}`);

  const cannon = async (duration: number, opts: { rate?: number; pin?: boolean } = {}): Promise<Run> => {
    const payload = body(opts.pin ?? false);
    const r = await autocannon({
      url: `${url}/api/v1/sign`,
      connections: opts.rate ? Math.min(connections, 8) : connections,
      pipelining: 1,
      duration,
      ...(opts.rate ? { overallRate: Math.max(1, Math.floor(opts.rate)) } : {}),
      requests: [
        {
          method: 'POST',
          path: '/api/v1/sign',
          setupRequest: (req) => ({ ...req, headers: headersFor(payload), body: payload }),
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
  await cannon(Math.max(0.2, Math.min(1, seconds / 5)));
  max = await cannon(seconds);
  half = await cannon(seconds, { rate: max.perSecond / 2 });
  withPin = await cannon(Math.max(0.5, seconds / 2), { pin: true });
  if (!(await services.store.audit.verify()).ok) throw new Error('audit chain broken after the run');
} finally {
  await app.close();
  await services.close();
  dir.cleanup();
}

const rawSign = await measureRawSign(seconds);
const cores = availableParallelism();
const r2 = (v: number) => Math.round(v * 100) / 100;
console.log(
  `medsign signing benchmark — node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, ${cores} core(s), ${seconds} s per phase, SQLite`,
);
console.log(
  'note: no TSA is wired into signing yet: operations carry no time-stamp token (sign_ts_* are null)',
);
const rows: [string, string][] = [
  ['P7-detached SM2 sign + record over HTTP (authorisation, no PIN)', `${max.perSecond.toFixed(0)}/s`],
  ['  latency at 50 % of that rate, p50 / p99', `${half.p50} / ${half.p99} ms`],
  ['the same with a PIN per request (scrypt)', `${withPin.perSecond.toFixed(0)}/s`],
  [`raw SM2 sign, all ${cores} cores`, `${rawSign.toFixed(0)}/s`],
  ['sign_ratio (ops ÷ raw SM2 sign)', (max.perSecond / rawSign).toFixed(2)],
];
for (const [name, value] of rows) console.log(`${name.padEnd(66)} ${value.padStart(14)}`);
const errors = max.errors + half.errors + withPin.errors;
if (errors) console.log(`note: ${errors} requests failed or were not 2xx`);
console.log(
  JSON.stringify({
    sign_ops_per_s: r2(max.perSecond),
    sign_p50_ms: half.p50,
    sign_p99_ms: half.p99,
    sign_pin_ops_per_s: r2(withPin.perSecond),
    sm2_sign_ops_all_cores: r2(rawSign),
    sign_ratio: r2(max.perSecond / rawSign),
    sign_ts_ops_per_s: null,
    sign_ts_ratio: null,
    errors,
    cores,
    seconds,
  }),
);
