/**
 * `npm run bench:ca`: the CA through the real server stack (initDataDir + openServices, the HTTP app):
 *   1. issuances per second of an SM2 doctor certificate, lint and storage included, on SQLite and — when
 *      MEDSIGN_BENCH_PG_URL or MEDSIGN_TEST_PG_URL names a role that may CREATE DATABASE — PostgreSQL;
 *      subject keys are made beforehand (server-side key generation style), so key generation is not timed;
 *      the services run with the default configuration (SM2 signing on signerThreads = cores − 1 workers);
 *   2. the time to generate a CRL of BENCH_CRL_ENTRIES (default 100,000) revoked certificates, the rows
 *      inserted in bulk beforehand (untimed);
 *   3. OCSP responses per second over HTTP (autocannon, loopback, POST /pki/ocsp, RFC 5019-style requests
 *      without nonce over a spread of serials), against the all-core raw SM2 sign rate of the same run
 *      (Sm2SignerPool over every core): ocsp_ratio = OCSP responses/s ÷ raw SM2 signatures/s. Nonce-less
 *      requests may be answered from the pre-signed cache (ocsp-cache.ts in @medsign/ca); the same load
 *      with a nonce, which must be signed per request, is reported beside it (ocsp_nonce_per_s).
 * Prints a table, then one JSON line (always last). BENCH_SECONDS sets each timed phase (default 5);
 * BENCH_CONCURRENCY the issuances in flight (default 16).
 */

import { randomBytes } from 'node:crypto';
import { availableParallelism, cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import pg from 'pg';
import { generateCrl, issueCertificate, revokeCertificate, type IssueRequest } from '@medsign/ca';
import { buildOcspRequest, ParsedCrl, ParsedOcspResponse, PrivateKey } from '@medsign/pki';
import { tempDir } from '@medsign/testkit';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { initDataDir } from '../src/init.js';
import { openServices, type Services } from '../src/services.js';
import { measureRawSign } from './raw-sign.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const crlEntries = Number(process.env.BENCH_CRL_ENTRIES ?? 100_000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const pgBase = process.env.MEDSIGN_BENCH_PG_URL ?? process.env.MEDSIGN_TEST_PG_URL;
const CA_ID = 'sm2-issuing';

const applicant = {
  name: '张三',
  employeeNo: 'E1001',
  department: '心内科',
  organization: '测试医院',
  country: 'CN',
};

/** Subject keys made before timing (server-side key generation is not what this measures). */
const spkis = Array.from({ length: 64 }, () => PrivateKey.generate('sm2').publicKeyInfo);

function request(i: number): IssueRequest {
  return {
    profileId: 'doctor',
    publicKeyInfo: spkis[i % spkis.length]!,
    applicant: { ...applicant, employeeNo: `E${100000 + i}` },
    actor: 'bench',
  };
}

/** A fresh data directory on `db` (default SQLite in the directory), initialised and opened. */
async function openFresh(db?: string): Promise<{ services: Services; cleanup: () => void }> {
  const dir = tempDir('medsign-bench-');
  await initDataDir({ dataDir: dir.path, env: {}, ...(db ? { db } : {}) });
  const services = await openServices(loadConfig({ dataDir: dir.path, env: {} }));
  return { services, cleanup: dir.cleanup };
}

/** Issuances per second with `concurrency` in flight for `seconds`. */
async function measureIssuance(services: Services): Promise<number> {
  let n = 0;
  for (let i = 0; i < 20; i++) await issueCertificate(request(n++), services.ca);
  let done = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await issueCertificate(request(n++), services.ca);
        done++;
      }
    }),
  );
  return done / ((performance.now() - start) / 1000);
}

/** Inserts `count` revoked certificates of CA_ID straight into the table, in one transaction (untimed setup). */
async function insertRevoked(services: Services, count: number): Promise<void> {
  const db = services.store.database.db;
  const now = new Date().toISOString();
  const later = new Date(Date.now() + 365 * 86_400_000).toISOString();
  const blob = (n: number) =>
    services.store.database.dialect === 'postgres' ? Buffer.alloc(n, 1) : new Uint8Array(n).fill(1);
  const reasons = ['keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation'];
  const batch = 1000;
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < count; i += batch) {
      const rows = [];
      for (let j = i; j < Math.min(count, i + batch); j++) {
        const b = randomBytes(16);
        b[0] = (b[0]! & 0x7f) | 0x01;
        rows.push({
          ca_id: CA_ID,
          serial: b.toString('hex').replace(/^0+/, ''),
          subject: `CN=bench ${j}`,
          subject_der: blob(8),
          profile: 'doctor',
          status: 'revoked',
          not_before: now,
          not_after: later,
          der: blob(16),
          fingerprint: randomBytes(32).toString('hex'),
          department: null,
          employee_no: null,
          revoked_at: now,
          revocation_reason: reasons[j % reasons.length]!,
          created_at: now,
        });
      }
      await trx.insertInto('certificates').values(rows).execute();
    }
  });
}

/** Seconds to generate the full CRL (best of three after a warm-up, so one GC pause does not decide it). */
async function measureCrl(services: Services): Promise<{ seconds: number; entries: number }> {
  const crl = ParsedCrl.parse(await generateCrl({ caId: CA_ID, actor: 'bench' }, services.ca));
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await generateCrl({ caId: CA_ID, actor: 'bench' }, services.ca);
    best = Math.min(best, (performance.now() - t) / 1000);
  }
  return { seconds: best, entries: crl.entries.length };
}

/** OCSP responses per second over HTTP against a served app on 127.0.0.1. */
async function measureOcsp(
  services: Services,
): Promise<{ perSecond: number; noncePerSecond: number; errors: number }> {
  // Certificates to ask about: good and revoked ones.
  const issued = [];
  for (let i = 0; i < 50; i++) issued.push(await issueCertificate(request(i), services.ca));
  for (const r of issued.slice(0, 10))
    await revokeCertificate(
      { caId: r.caId, serial: r.serial, reason: 'keyCompromise', actor: 'bench' },
      services.ca,
    );
  const issuer = services.ca.cas.find((c) => c.id === CA_ID)!.certificate;
  const bodies = issued.map((r) => Buffer.from(buildOcspRequest({ issuer, serials: [r.serial] })));
  // What `openssl ocsp` sends by default: a nonce, so every answer must be signed afresh.
  const nonceBodies = issued.map((r) =>
    Buffer.from(buildOcspRequest({ issuer, serials: [r.serial], nonce: new Uint8Array(randomBytes(16)) })),
  );

  // No CRL schedule here: publishing the 100,000-entry CRL would run during the OCSP measurement.
  const app = await buildApp(services, { logger: false, crlSchedule: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const url = `http://127.0.0.1:${port}`;
    // Sanity: the served answer is a successful, signed OCSP response.
    const check = await fetch(`${url}/pki/ocsp`, {
      method: 'POST',
      headers: { 'content-type': 'application/ocsp-request' },
      body: bodies[0],
    });
    const parsed = ParsedOcspResponse.parse(new Uint8Array(await check.arrayBuffer()));
    if (parsed.status !== 'successful' || parsed.responses[0]?.status !== 'revoked')
      throw new Error(`unexpected OCSP answer: ${parsed.status} ${parsed.responses[0]?.status}`);
    const cannon = (duration: number, list = bodies) =>
      autocannon({
        url: `${url}/pki/ocsp`,
        connections: 32,
        pipelining: 1,
        duration,
        requests: list.map((body) => ({
          method: 'POST' as const,
          path: '/pki/ocsp',
          headers: { 'content-type': 'application/ocsp-request' },
          body,
        })),
      });
    await cannon(Math.max(0.2, Math.min(1, seconds / 5)));
    const result = await cannon(seconds);
    const nonce = await cannon(seconds, nonceBodies);
    return {
      perSecond: result['2xx'] / (result.duration || seconds),
      noncePerSecond: nonce['2xx'] / (nonce.duration || seconds),
      errors: [result, nonce].reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0),
    };
  } finally {
    await app.close();
  }
}

async function createPgDatabase(): Promise<{ url: string; drop: () => Promise<void> } | undefined> {
  if (!pgBase) return undefined;
  const name = `medsign_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = async (text: string) => {
    const c = new pg.Client({ connectionString: pgBase });
    await c.connect();
    try {
      await c.query(text);
    } finally {
      await c.end();
    }
  };
  await admin(`create database "${name}"`);
  const u = new URL(pgBase);
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: () => admin(`drop database if exists "${name}" with (force)`) };
}

const notes: string[] = [];

// 1. issuance on SQLite, then (same data directory) the CRL and OCSP phases.
const sqlite = await openFresh();
let issuanceSqlite: number;
let crl: { seconds: number; entries: number };
let ocsp: Awaited<ReturnType<typeof measureOcsp>>;
try {
  issuanceSqlite = await measureIssuance(sqlite.services);
  if (!(await sqlite.services.store.audit.verify()).ok)
    throw new Error('audit chain broken after the issuance run');
  await insertRevoked(sqlite.services, crlEntries);
  crl = await measureCrl(sqlite.services);
  ocsp = await measureOcsp(sqlite.services);
} finally {
  await sqlite.services.close();
  sqlite.cleanup();
}

// 1b. issuance on PostgreSQL.
let issuancePg: number | null = null;
const pgDb = await createPgDatabase();
if (!pgDb)
  notes.push(
    'PostgreSQL skipped: set MEDSIGN_BENCH_PG_URL or MEDSIGN_TEST_PG_URL (a role that may CREATE DATABASE)',
  );
else {
  try {
    const fresh = await openFresh(pgDb.url);
    try {
      issuancePg = await measureIssuance(fresh.services);
    } finally {
      await fresh.services.close();
      fresh.cleanup();
    }
  } finally {
    await pgDb.drop();
  }
}

// 3b. the all-core raw SM2 sign rate of this run.
const rawSign = await measureRawSign(seconds);

const cores = availableParallelism();
const r2 = (v: number) => Math.round(v * 100) / 100;
console.log(
  `medsign CA benchmark — node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, ${cores} core(s), ${seconds} s per phase`,
);
for (const note of notes) console.log(`note: ${note}`);
const rows: [string, string, string][] = [
  ['issuance, SQLite (SM2 doctor, lint+store+audit)', `${issuanceSqlite.toFixed(0)}/s`, '≥ 1000/s'],
  ['issuance, PostgreSQL', issuancePg === null ? 'skipped' : `${issuancePg.toFixed(0)}/s`, ''],
  [
    `CRL of ${crl.entries} entries (generate + sign)`,
    `${crl.seconds.toFixed(3)} s`,
    crlEntries === 100_000 ? '< 2 s' : '',
  ],
  ['OCSP over HTTP (POST /pki/ocsp, no nonce)', `${ocsp.perSecond.toFixed(0)}/s`, ''],
  ['OCSP over HTTP with a nonce (signed per request)', `${ocsp.noncePerSecond.toFixed(0)}/s`, ''],
  [`raw SM2 sign, all ${cores} cores`, `${rawSign.toFixed(0)}/s`, ''],
  ['ocsp_ratio (OCSP ÷ raw SM2 sign)', (ocsp.perSecond / rawSign).toFixed(2), '≥ 0.8'],
];
console.log('measure                                            result         target');
for (const [name, value, target] of rows) console.log(`${name.padEnd(50)} ${value.padStart(12)}   ${target}`);
if (ocsp.errors) console.log(`note: ${ocsp.errors} OCSP requests failed or were not 2xx`);
console.log(
  JSON.stringify({
    issuance_per_s: r2(issuanceSqlite),
    issuance_per_s_pg: issuancePg === null ? null : r2(issuancePg),
    crl_entries: crl.entries,
    crl_100k_s: Math.round(crl.seconds * 1000) / 1000,
    ocsp_per_s: r2(ocsp.perSecond),
    ocsp_nonce_per_s: r2(ocsp.noncePerSecond),
    ocsp_nonce_ratio: r2(ocsp.noncePerSecond / rawSign),
    ocsp_errors: ocsp.errors,
    sm2_sign_all_cores: r2(rawSign),
    ocsp_ratio: r2(ocsp.perSecond / rawSign),
    cores,
    seconds,
  }),
);
