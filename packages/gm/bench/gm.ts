/**
 * `npm run bench:gm`: single-core SM2 / SM3 / SM4 throughput for both SM2 backends, with `openssl speed`
 * run in the same process session as the reference. Prints a table, then one JSON line (always last).
 * BENCH_SECONDS sets the time per measurement (default 2).
 */

import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { SM2PrivateKey, sm3, sm4Encrypt, useSm2Backend } from '../src/index.js';
import { tryNativeBackend, type Sm2BackendName } from '../src/sm2/select.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 2);

/** Runs fn repeatedly for about `seconds` and returns operations per second. */
function measure(fn: () => void): number {
  for (let i = 0; i < 20; i++) fn();
  let ops = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 10; i++) fn();
    ops += 10;
    now = performance.now();
  }
  return ops / ((now - start) / 1000);
}

function opensslSpeed(args: string[]): string {
  return execFileSync(
    'openssl',
    ['speed', '-mr', '-seconds', String(Math.max(1, Math.round(seconds))), ...args],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
}

function opensslSm2(): { sign: number; verify: number } {
  const line = opensslSpeed(['sm2'])
    .split('\n')
    .find((l) => l.startsWith('+F7:'));
  if (!line) throw new Error('openssl speed sm2 printed no +F7 line');
  const parts = line.split(':');
  return { sign: Number(parts[4]), verify: Number(parts[5]) };
}

/** Bytes per second for an EVP cipher/digest at one block size, converted to operations per second. */
function opensslEvp(name: string, bytes: number): number {
  const line = opensslSpeed(['-bytes', String(bytes), '-evp', name])
    .split('\n')
    .find((l) => l.startsWith('+F:'));
  if (!line) throw new Error(`openssl speed -evp ${name} printed no +F line`);
  return Number(line.split(':')[3]) / bytes;
}

type Row = { op: string; native?: number; portable?: number; openssl?: number };
const rows: Row[] = [];
const row = (op: string) => {
  let r = rows.find((x) => x.op === op);
  if (!r) rows.push((r = { op }));
  return r;
};

const backends: Sm2BackendName[] = tryNativeBackend().backend ? ['native', 'portable'] : ['portable'];
const message = new Uint8Array(32).fill(0x61);

for (const backend of backends) {
  useSm2Backend(backend);
  const key = SM2PrivateKey.generate();
  const pub = key.publicKey;
  const sig = key.sign(message);
  const ct = pub.encrypt(message);
  row('sm2 keygen')[backend] = measure(() => SM2PrivateKey.generate());
  row('sm2 sign')[backend] = measure(() => key.sign(message));
  row('sm2 verify')[backend] = measure(() => pub.verify(message, sig));
  row('sm2 encrypt (32 B)')[backend] = measure(() => pub.encrypt(message));
  row('sm2 decrypt (32 B)')[backend] = measure(() => key.decrypt(ct));
}

const ref = opensslSm2();
row('sm2 sign').openssl = ref.sign;
row('sm2 verify').openssl = ref.verify;

const kib = new Uint8Array(1024).fill(1);
const mib = new Uint8Array(1024 * 1024).fill(1);
const sm4 = {
  mode: 'cbc' as const,
  key: new Uint8Array(16).fill(2),
  iv: new Uint8Array(16).fill(3),
  padding: false,
};
row('sm3 1 KiB').native = measure(() => sm3(kib));
row('sm3 1 MiB').native = measure(() => sm3(mib));
row('sm4-cbc 1 KiB').native = measure(() => sm4Encrypt(kib, sm4));
row('sm4-cbc 1 MiB').native = measure(() => sm4Encrypt(mib, sm4));
row('sm3 1 KiB').openssl = opensslEvp('sm3', 1024);
row('sm4-cbc 1 KiB').openssl = opensslEvp('sm4-cbc', 1024);

const fmt = (v: number | undefined) => (v === undefined ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? a / b : undefined);
console.log(
  `medsign gm benchmark — node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, single core, ops/s`,
);
console.log('operation            native     portable   openssl    native/openssl');
for (const r of rows) {
  const q = ratio(r.native, r.openssl);
  console.log(
    `${r.op.padEnd(20)} ${fmt(r.native).padStart(9)}  ${fmt(r.portable).padStart(9)}  ${fmt(r.openssl).padStart(9)}  ${q === undefined ? '-' : q.toFixed(2)}`,
  );
}
const sign = row('sm2 sign');
const verify = row('sm2 verify');
const round = (v: number | undefined) => (v === undefined ? null : Math.round(v * 100) / 100);
console.log(
  JSON.stringify({
    backend: backends[0],
    sm2_sign_ops: round(sign.native ?? sign.portable),
    sm2_verify_ops: round(verify.native ?? verify.portable),
    openssl_sm2_sign_ops: round(ref.sign),
    openssl_sm2_verify_ops: round(ref.verify),
    sm2_sign_ratio: round(ratio(sign.native, ref.sign)),
    sm2_verify_ratio: round(ratio(verify.native, ref.verify)),
    portable_sm2_sign_ops: round(sign.portable),
    portable_sm2_verify_ops: round(verify.portable),
    sm3_1k_ops: round(row('sm3 1 KiB').native),
    sm4_cbc_1k_ops: round(row('sm4-cbc 1 KiB').native),
  }),
);
