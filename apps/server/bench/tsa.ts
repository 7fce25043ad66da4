/**
 * `npm run bench:tsa`: the time-stamp authority through the real server: a `medsign start` process on
 * loopback (SM2 and ECDSA units, SQLite archive with synchronous=FULL, SM2 signing on one worker thread
 * per core) driven by autocannon from this process with RFC 3161 requests (nonce, certReq), first the SM2
 * unit (SM3 imprints), then the ECDSA unit (SHA-256). Reported: tokens/s, p50/p99 latency, and the
 * all-core raw SM2 sign rate measured in the same run on the same machine (Sm2SignerPool over every core,
 * server idle, half before and half after the SM2 phase): tsa_ratio = SM2 tokens/s ÷ raw SM2 signatures/s (target ≥ 0.8: a token should cost little
 * beyond its signature). Also the server process's CPU time per token (Linux /proc), which shows where a
 * shared machine's cores went. Prints a table, then one JSON line (always last). BENCH_SECONDS sets each timed
 * phase (default 5), BENCH_CONNECTIONS the concurrent HTTP connections (default 32).
 */

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import autocannon from 'autocannon';
import { buildTimeStampReq, parseTimeStampResp, type HashName } from '@medsign/pki';
import { startMedsignServer, tempDir } from '@medsign/testkit';
import { initDataDir } from '../src/init.js';
import { measureRawSign } from './raw-sign.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const cores = availableParallelism();

type Load = {
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU time the server process used per token (all its threads), µs; null where /proc is missing. */
  cpuUsPerToken: number | null;
  /** Cores the server process kept busy on average during the phase. */
  serverCores: number | null;
};

/** CPU time (user + system) of a process so far, ms, from /proc (Linux); null elsewhere. */
function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // clock ticks of 10 ms (USER_HZ 100)
  } catch {
    return null;
  }
}

/** Tokens per second from one unit over HTTP. */
async function measureUnit(url: string, pid: number, path: string, hash: HashName): Promise<Load> {
  const bodies = Array.from({ length: 64 }, (_, i) =>
    Buffer.from(
      buildTimeStampReq({
        hash,
        data: new Uint8Array(randomBytes(64 + i)),
        nonce: BigInt(`0x${randomBytes(8).toString('hex')}`) | 1n,
        certReq: true,
      }),
    ),
  );
  // Sanity: the served answer is a granted token.
  const check = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/timestamp-query' },
    body: bodies[0],
  });
  const resp = parseTimeStampResp(new Uint8Array(await check.arrayBuffer()));
  if (resp.statusName !== 'granted')
    throw new Error(`${path}: ${resp.statusName} ${resp.failInfo.join()} ${resp.statusStrings.join()}`);
  const cannon = (duration: number) =>
    autocannon({
      url: `${url}${path}`,
      connections,
      pipelining: 1,
      duration,
      requests: bodies.map((body) => ({
        method: 'POST' as const,
        path,
        headers: { 'content-type': 'application/timestamp-query' },
        body,
      })),
    });
  await cannon(Math.max(0.2, Math.min(1, seconds / 5)));
  const cpuBefore = processCpuMs(pid);
  const r = await cannon(seconds);
  const cpuAfter = processCpuMs(pid);
  const cpuMs = cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore;
  const duration = r.duration || seconds;
  return {
    perSecond: r['2xx'] / duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.non2xx + r.errors + r.timeouts,
    cpuUsPerToken: cpuMs === null || r['2xx'] === 0 ? null : Math.round((cpuMs * 1000) / r['2xx']),
    serverCores: cpuMs === null ? null : Math.round((cpuMs / 1000 / duration) * 100) / 100,
  };
}

const dir = tempDir('medsign-bench-tsa-');
let sm2: Load;
let ecdsa: Load;
let rawSign: number;
let serverExit: number | null = 0;
try {
  await initDataDir({ dataDir: dir.path, env: {}, algorithms: ['ecdsa'] });
  const server = await startMedsignServer(['--data', dir.path, '--port', '0'], 'bench:tsa server');
  try {
    ecdsa = await measureUnit(server.url, server.child.pid!, '/tsa/ecdsa', 'sha256');
    // The ceiling the SM2 unit is compared with, with the server idle: half before, half after the SM2
    // phase, so that a machine whose load drifts during the run skews the ratio less.
    const before = await measureRawSign(seconds / 2);
    sm2 = await measureUnit(server.url, server.child.pid!, '/tsa/sm2', 'sm3');
    rawSign = (before + (await measureRawSign(seconds / 2))) / 2;
  } finally {
    serverExit = await server.stop();
  }
  if (serverExit !== 0) throw new Error(`server exited ${serverExit}:\n${server.output()}`);
} finally {
  dir.cleanup();
}

const r2 = (v: number) => Math.round(v * 100) / 100;
const ratio = sm2.perSecond / rawSign;
console.log(
  `medsign TSA benchmark — node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, ${cores} core(s), ${seconds} s per phase, ${connections} connections`,
);
const rows: [string, string, string][] = [
  ['TSA SM2 unit (POST /tsa/sm2, SM3, nonce, certReq)', `${sm2.perSecond.toFixed(0)}/s`, ''],
  ['  latency p50 / p99', `${sm2.p50} / ${sm2.p99} ms`, ''],
  ['  server CPU per token / cores busy', `${sm2.cpuUsPerToken ?? '-'} µs / ${sm2.serverCores ?? '-'}`, ''],
  ['TSA ECDSA unit (POST /tsa/ecdsa, SHA-256)', `${ecdsa.perSecond.toFixed(0)}/s`, ''],
  ['  latency p50 / p99', `${ecdsa.p50} / ${ecdsa.p99} ms`, ''],
  [
    '  server CPU per token / cores busy',
    `${ecdsa.cpuUsPerToken ?? '-'} µs / ${ecdsa.serverCores ?? '-'}`,
    '',
  ],
  [`raw SM2 sign, all ${cores} cores`, `${rawSign.toFixed(0)}/s`, ''],
  ['tsa_ratio (SM2 tokens ÷ raw SM2 sign)', ratio.toFixed(2), '≥ 0.8'],
];
console.log('measure                                            result            target');
for (const [name, value, target] of rows) console.log(`${name.padEnd(50)} ${value.padStart(15)}   ${target}`);
if (sm2.errors + ecdsa.errors)
  console.log(`note: ${sm2.errors + ecdsa.errors} requests failed or were not 2xx`);
console.log(
  JSON.stringify({
    tsa_sm2_tokens_per_s: r2(sm2.perSecond),
    tsa_sm2_p50_ms: sm2.p50,
    tsa_sm2_p99_ms: sm2.p99,
    tsa_ecdsa_tokens_per_s: r2(ecdsa.perSecond),
    tsa_ecdsa_p50_ms: ecdsa.p50,
    tsa_ecdsa_p99_ms: ecdsa.p99,
    tsa_sm2_server_cpu_us_per_token: sm2.cpuUsPerToken,
    tsa_ecdsa_server_cpu_us_per_token: ecdsa.cpuUsPerToken,
    tsa_sm2_server_cores: sm2.serverCores,
    sm2_sign_ops_all_cores: r2(rawSign),
    tsa_ratio: r2(ratio),
    errors: sm2.errors + ecdsa.errors,
    cores,
    seconds,
    connections,
  }),
);
