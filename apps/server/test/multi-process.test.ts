// Two real `medsign start` processes on one PostgreSQL database issue concurrently (issue 4, Storage):
// serials stay unique, every certificate is stored exactly once, no intent is left open, and the audit
// log stays one valid hash chain that `medsign audit verify` accepts; racing revocations of one
// certificate through both processes succeed once, and CRL numbers never repeat; time-stamp serials are
// unique across both and every token is archived.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildTimeStampReq, ParsedCrl, PrivateKey, verifyTimeStampToken } from '@medsign/pki';
import { openStore } from '@medsign/store';
import {
  runMedsignCliText,
  startMedsignServer,
  tempDir,
  type MedsignServerProcess,
  type TempDir,
} from '@medsign/testkit';
import pg from 'pg';
import { initDataDir } from '../src/init.js';

const pgUrl = process.env.MEDSIGN_TEST_PG_URL;
if (!pgUrl && process.env.CI === 'true') throw new Error('MEDSIGN_TEST_PG_URL must be set in CI');

const PER_SERVER = 100;
const IN_FLIGHT = 8;
const REVOKED = 20;
const TOKENS = 100;
const NEW_PASSWORD = 'multi-process-Passw0rd!';

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

type Server = MedsignServerProcess;

const startProcess = (dataDir: string, name: string) =>
  startMedsignServer(['--data', dataDir, '--port', '0'], name);
const stopProcess = (server: Server) => server.stop();

async function api(
  url: string,
  path: string,
  body: unknown,
  token?: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}/api/v1${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function login(url: string, password: string): Promise<string> {
  const r = await api(url, '/auth/login', { username: 'admin', password });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.token as string;
}

/** Issues `count` SM2 doctor certificates through one server, `IN_FLIGHT` requests at a time. */
async function issueMany(url: string, token: string, tag: string, count: number): Promise<string[]> {
  const serials: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const spki = Buffer.from(PrivateKey.generate('sm2').publicKeyInfo).toString('base64');
      const r = await api(
        url,
        '/certificates',
        {
          profile: 'doctor',
          publicKeyInfo: spki,
          applicant: { name: `Doctor ${tag}-${i}`, employeeNo: `${tag}${i}`, department: 'Cardiology' },
        },
        token,
      );
      assert.equal(r.status, 201, `${tag}-${i}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.caId, 'sm2-issuing');
      serials.push(r.json.serial as string);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return serials;
}

describe(
  'two server processes on one PostgreSQL',
  { skip: pgUrl ? false : 'MEDSIGN_TEST_PG_URL not set' },
  () => {
    let dir: TempDir;
    let dbName: string;
    let dbUrl: string;
    const servers: Server[] = [];

    before(async () => {
      dir = tempDir('medsign-multi-');
      dbName = `medsign_test_${process.pid}_${randomBytes(6).toString('hex')}`;
      await adminQuery(`create database "${dbName}"`);
      const u = new URL(pgUrl!);
      u.pathname = `/${dbName}`;
      dbUrl = u.toString();
    });

    after(async () => {
      // Never leave a server behind, even when an assertion failed half-way.
      for (const s of servers) await stopProcess(s).catch(() => undefined);
      await adminQuery(`drop database if exists "${dbName}" with (force)`);
      dir.cleanup();
    });

    test(`each issues ${PER_SERVER} certificates concurrently: unique serials, one audit chain`, async () => {
      const dataDir = join(dir.path, 'data');
      const init = await initDataDir({ dataDir, db: dbUrl, env: {} });
      assert.ok(init.admin, 'init creates the first administrator');

      // Same data directory (config with the database URL, the shared keystore key file), own ports.
      servers.push(...(await Promise.all([startProcess(dataDir, 'A'), startProcess(dataDir, 'B')])));
      const [a, b] = servers as [Server, Server];
      assert.notEqual(a.url, b.url);

      // The one-time password is changed through A; the session store is shared, so B accepts the new one.
      const tokenA = await login(a.url, init.admin.password);
      const changed = await api(
        a.url,
        '/auth/password',
        { oldPassword: init.admin.password, newPassword: NEW_PASSWORD },
        tokenA,
      );
      assert.equal(changed.status, 204, JSON.stringify(changed.json));
      const tokenB = await login(b.url, NEW_PASSWORD);

      const [fromA, fromB] = await Promise.all([
        issueMany(a.url, tokenA, 'A', PER_SERVER),
        issueMany(b.url, tokenB, 'B', PER_SERVER),
      ]);
      const all = [...fromA, ...fromB];
      assert.equal(new Set(all).size, 2 * PER_SERVER, 'every serial is distinct');

      // Both revoke the same certificates at once: per serial exactly one wins, the other gets 409; CRLs
      // fetched from both meanwhile carry distinct CRL numbers from the shared counter.
      const revoked = [...fromA.slice(0, REVOKED / 2), ...fromB.slice(0, REVOKED / 2)];
      // CRL number → the CRLs seen under it (a cached CRL is served again, so count distinct DER).
      const crls = new Map<bigint, Set<string>>();
      const fetchCrl = async (url: string) => {
        const res = await fetch(`${url}/pki/crl/sm2-issuing.crl`);
        assert.equal(res.status, 200);
        const der = new Uint8Array(await res.arrayBuffer());
        const n = ParsedCrl.parse(der).crlNumber!;
        crls.set(n, (crls.get(n) ?? new Set()).add(Buffer.from(der).toString('hex')));
      };
      const outcomes = await Promise.all(
        revoked.map(async (serial) => {
          const [ra, rb] = await Promise.all([
            api(a.url, `/certificates/sm2-issuing/${serial}/revoke`, { reason: 'keyCompromise' }, tokenA),
            api(b.url, `/certificates/sm2-issuing/${serial}/revoke`, { reason: 'superseded' }, tokenB),
            fetchCrl(a.url),
            fetchCrl(b.url),
          ]);
          return [ra.status, rb.status].sort().join(',');
        }),
      );
      assert.deepEqual(new Set(outcomes), new Set(['200,409']), outcomes.join(' '));
      await Promise.all([fetchCrl(a.url), fetchCrl(b.url)]);
      for (const [n, ders] of crls) assert.equal(ders.size, 1, `CRL number ${n} used for ${ders.size} CRLs`);
      assert.ok(crls.size >= 2, 'both processes generated CRLs');

      // Time-stamps through both at once: token serials are unique across the processes (the archive's
      // primary key decides), and every token is archived.
      const stamp = async (url: string, i: number) => {
        const res = await fetch(`${url}/tsa`, {
          method: 'POST',
          headers: { 'content-type': 'application/timestamp-query' },
          body: buildTimeStampReq({
            hash: 'sm3',
            data: new TextEncoder().encode(`report ${i}`),
            certReq: true,
          }),
        });
        const v = verifyTimeStampToken(new Uint8Array(await res.arrayBuffer()), {
          data: new TextEncoder().encode(`report ${i}`),
        });
        assert.equal(v.valid, true, v.errors.join('; '));
        return v.serial!;
      };
      const tokenSerials = await Promise.all(
        Array.from({ length: 2 * TOKENS }, (_, i) => stamp(i % 2 ? a.url : b.url, i)),
      );
      assert.equal(new Set(tokenSerials).size, 2 * TOKENS, 'every token serial is distinct');
      // Once the publications the revocations started are done, both serve the same newest CRLs from the
      // database — full and delta — and they list every revoked serial.
      for (const kind of ['', '-delta']) {
        let same: Uint8Array | undefined;
        for (let attempt = 0; attempt < 50 && !same; attempt++) {
          const [da, db] = await Promise.all(
            [a.url, b.url].map(async (u) => {
              const res = await fetch(`${u}/pki/crl/sm2-issuing${kind}.crl`);
              assert.equal(res.status, 200);
              return new Uint8Array(await res.arrayBuffer());
            }),
          );
          if (Buffer.from(da!).equals(Buffer.from(db!))) same = da;
          else await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(same, `A and B serve the same${kind} CRL`);
        const crl = ParsedCrl.parse(same);
        for (const serial of revoked)
          assert.ok(crl.isRevoked(serial), `${kind || 'full'} CRL lists ${serial}`);
      }

      assert.deepEqual(await Promise.all(servers.map(stopProcess)), [0, 0], 'both stop cleanly on SIGTERM');

      const store = await openStore(dbUrl);
      try {
        const stored = await store.certificates.search({
          caId: 'sm2-issuing',
          profile: 'doctor',
          limit: 1000,
        });
        assert.equal(stored.items.length, 2 * PER_SERVER);
        assert.deepEqual(stored.items.map((c) => c.serial).sort(), [...all].sort());
        assert.deepEqual(await store.intents.listUnfinished(), [], 'no intent left pending or signed');
        const verification = await store.audit.verify();
        assert.equal(verification.ok, true, JSON.stringify(verification.firstBreak));
        const events = await store.audit.list({ limit: 100_000 });
        assert.equal(verification.checked, events.length);
        assert.deepEqual(
          events.map((e) => e.seq),
          events.map((_, i) => i + 1),
          'one chain with no gaps or forks',
        );
        assert.deepEqual(await store.tsaTokens.countByUnit(), [{ unit: 'sm2', count: 2 * TOKENS }]);
        for (const serial of tokenSerials.slice(0, 5)) assert.ok(await store.tsaTokens.get(serial));
        // one TSA key session per process, opened before its first token and closed at the stop
        const sessions = events.filter((e) => e.action.startsWith('key.session-'));
        assert.deepEqual(sessions.map((e) => e.action).sort(), [
          'key.session-close',
          'key.session-close',
          'key.session-open',
          'key.session-open',
        ]);
        const signed = sessions
          .filter((e) => e.action === 'key.session-close')
          .reduce((n, e) => n + Number(e.detail.signatures), 0);
        assert.equal(signed, 2 * TOKENS);
        const issued = events.filter((e) => e.action === 'cert.issue' && e.actor === 'admin');
        assert.equal(issued.length, 2 * PER_SERVER);
        assert.deepEqual(issued.map((e) => e.target!.split('/')[1]).sort(), [...all].sort());
        const revocations = events.filter((e) => e.action === 'cert.revoke');
        assert.deepEqual(revocations.map((e) => e.target!.split('/')[1]).sort(), [...revoked].sort());
        const revokedNow = await store.certificates.search({
          caId: 'sm2-issuing',
          status: 'revoked',
          limit: 1000,
        });
        assert.deepEqual(revokedNow.items.map((c) => c.serial).sort(), [...revoked].sort());
      } finally {
        await store.close();
      }

      // Every (CA, serial) appears once in the inventory and once in the serial ledger.
      const client = new pg.Client({ connectionString: dbUrl });
      await client.connect();
      try {
        const dupCerts = await client.query(
          'select ca_id, serial from certificates group by ca_id, serial having count(*) > 1',
        );
        assert.equal(dupCerts.rowCount, 0);
        const reserved = await client.query(
          "select count(*)::int as n from serials where ca_id = 'sm2-issuing' and serial = any($1)",
          [all],
        );
        assert.equal(reserved.rows[0].n, 2 * PER_SERVER);
      } finally {
        await client.end();
      }

      const cli = runMedsignCliText(['audit', 'verify', '--data', dataDir]);
      assert.equal(cli.code, 0, cli.stdout + cli.stderr);
      // A fresh CRL lists every revocation, whichever process made it, under a number after all the others.
      const crlFile = join(dir.path, 'final.crl');
      const crl = runMedsignCliText(['crl', '--ca', 'sm2-issuing', '--out', crlFile, '--data', dataDir]);
      assert.equal(crl.code, 0, crl.stdout + crl.stderr);
      const finalCrl = ParsedCrl.parse(new Uint8Array(readFileSync(crlFile)));
      assert.deepEqual(finalCrl.entries.map((e) => e.serialNumber).sort(), [...revoked].sort());
      assert.ok([...crls.keys()].every((n) => n < finalCrl.crlNumber!));
    });
  },
);
