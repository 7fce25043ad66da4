// The time-source adapters over real sockets on loopback: the SNTP client against the test NTP server
// (honest, lying, silent, unsynchronised, wrong origin, kiss-o'-death), gpsd over TCP against the fake
// gpsd, an NMEA device as a named pipe, and both directions against chrony.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createWriteStream, existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { nmeaChecksum } from '@medsign/tsa';
import {
  startFakeGpsd,
  startTestNtpServer,
  tempDir,
  type FakeGpsd,
  type TempDir,
  type TestNtpServer,
} from '@medsign/testkit';
import { gpsdSource, nmeaDeviceSource } from '../src/adapters/gnss-reader.js';
import { parseHostPort, sntpSource } from '../src/adapters/sntp-client.js';

describe('SNTP client', () => {
  let ntp: TestNtpServer;
  before(async () => (ntp = await startTestNtpServer()));
  after(() => ntp.close());

  test('an honest server: offset near zero, a small bound', async () => {
    ntp.honest();
    const s = await sntpSource(ntp.address, { timeoutMs: 1000 }).read();
    assert.equal(s.source, `ntp:${ntp.address}`);
    // Client and server share one clock: the true offset is 0, and it must lie within the bound (a busy
    // event loop widens the round trip, and with it the bound).
    assert.ok(Math.abs(s.offsetMs) <= s.boundMs, `${s.offsetMs} ± ${s.boundMs}`);
    assert.ok(s.boundMs >= 2 && s.boundMs < 20, String(s.boundMs));
    assert.match(s.detail ?? '', /stratum 1, reference GPS/);
  });

  test('a server 3 s ahead: our clock reads 3 s behind (negative offset)', async () => {
    ntp.set({ shiftMs: 3000 });
    const s = await sntpSource(ntp.address, { timeoutMs: 1000 }).read();
    assert.ok(Math.abs(s.offsetMs + 3000) <= s.boundMs, `${s.offsetMs} ± ${s.boundMs}`);
  });

  test('refusals: silent (timeout), unsynchronised, wrong origin, kiss-o’-death', async () => {
    const src = sntpSource(ntp.address, { timeoutMs: 300 });
    ntp.set({ shiftMs: 0, silent: true });
    await assert.rejects(src.read(), /no valid reply within 300 ms$/);
    ntp.set({ silent: false, unsynchronised: true });
    await assert.rejects(src.read(), /unsynchronised \(leap indicator 3\)/);
    ntp.set({ unsynchronised: false, wrongOrigin: true });
    await assert.rejects(
      src.read(),
      /no valid reply within 300 ms \(last reply: origin timestamp does not match/,
    );
    ntp.set({ wrongOrigin: false, kissCode: 'RATE' });
    await assert.rejects(src.read(), /kiss-o'-death RATE/);
    ntp.honest();
  });

  test('nothing listening: a timeout, not a hang', async () => {
    const other = await startTestNtpServer({ silent: true });
    await other.close();
    await assert.rejects(sntpSource(other.address, { timeoutMs: 200 }).read(), /no valid reply|ECONNREFUSED/);
  });

  test('host:port forms', () => {
    assert.deepEqual(parseHostPort('ntp.hospital.local', 123), { host: 'ntp.hospital.local', port: 123 });
    assert.deepEqual(parseHostPort('10.1.1.1:1123', 123), { host: '10.1.1.1', port: 1123 });
    assert.deepEqual(parseHostPort('[::1]:123', 123), { host: '::1', port: 123 });
    assert.throws(() => parseHostPort('10.1.1.1:0', 123), /port/);
    assert.throws(() => parseHostPort('a:b:c', 123), /host:port/);
  });
});

describe('GNSS readers', () => {
  let gpsd: FakeGpsd;
  let dir: TempDir;
  before(async () => {
    gpsd = await startFakeGpsd({ intervalMs: 50 });
    dir = tempDir('medsign-gnss-');
  });
  after(async () => {
    await gpsd.close();
    dir.cleanup();
  });

  const until = async <T>(f: () => Promise<T>, ms = 3000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      try {
        return await f();
      } catch (e) {
        if (Date.now() > end) throw e;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  };

  test('gpsd: TPV reports become samples; losing the fix drops them', async () => {
    const src = gpsdSource(gpsd.address, { maxLatencyMs: 100 });
    try {
      // The first read opens the connection and waits for the first report.
      const s = await src.read();
      assert.equal(s.source, `gpsd:${gpsd.address}`);
      // True offset 0; the reading is off by the report's real latency minus L/2 (loopback: small).
      assert.ok(Math.abs(s.offsetMs) < 500, String(s.offsetMs));
      assert.equal(s.boundMs, 55, 'L/2 + ept');
      gpsd.set({ shiftMs: -2000 });
      await until(async () => {
        const t = await src.read();
        assert.ok(t.offsetMs > 1900, String(t.offsetMs));
      });
      // gpsd restarts: the reader reconnects by itself (after a second) and reads on.
      const before = gpsd.connections;
      gpsd.dropClients();
      await until(async () => assert.equal(gpsd.connections, before + 1));
      gpsd.set({ shiftMs: 0 });
      await until(async () => assert.ok(Math.abs((await src.read()).offsetMs) < 500));
      gpsd.set({ fix: false });
      await until(async () =>
        assert.match(
          await src.read().then(
            () => 'sample',
            (e: Error) => e.message,
          ),
          /no fix/,
        ),
      );
    } finally {
      src.close?.();
    }
  });

  test('NMEA from a named pipe', async () => {
    const fifo = dir.file('gnss0');
    execFileSync('mkfifo', [fifo]);
    const writer = createWriteStream(fifo);
    const src = nmeaDeviceSource(fifo, { maxLatencyMs: 200 });
    try {
      // The first read opens the device and waits for a report; the writer's open completes once a
      // reader has the pipe.
      const first = src.read();
      await new Promise((r) => writer.once('open', r));
      const now = new Date();
      const hh = (n: number) => String(n).padStart(2, '0');
      const body = `GPRMC,${hh(now.getUTCHours())}${hh(now.getUTCMinutes())}${hh(now.getUTCSeconds())}.${String(now.getUTCMilliseconds()).padStart(3, '0')},A,3954.1234,N,11623.5678,E,0.0,,${hh(now.getUTCDate())}${hh(now.getUTCMonth() + 1)}${hh(now.getUTCFullYear() % 100)},,,A`;
      await new Promise((r) =>
        writer.write(`$${body}*${nmeaChecksum(body).toString(16).toUpperCase().padStart(2, '0')}\r\n`, r),
      );
      const s = await first;
      assert.equal(s.source, `nmea:${fifo}`);
      assert.ok(Math.abs(s.offsetMs + 100) < 500, String(s.offsetMs));
      assert.equal(s.boundMs, 100);
    } finally {
      src.close?.();
      writer.destroy();
    }
  });
});

// Independent implementation: chrony (Debian's `chrony` package). chronyd serving its own clock on
// loopback answers our SNTP client; `chronyd -Q` (measure once, never touch the clock) measures the test
// NTP server, so the packets the testkit server encodes are read by someone else's decoder too.
const chronyd = ['/usr/sbin/chronyd', '/usr/bin/chronyd'].find((p) => existsSync(p));
if (!chronyd && process.env.CI === 'true')
  throw new Error('chronyd is missing: CI installs the chrony package');
const asRoot = process.getuid?.() === 0 ? ['-u', 'root'] : [];

describe(
  'interop with chrony',
  { skip: chronyd ? false : 'chronyd not installed (apt-get install chrony)' },
  () => {
    let dir: TempDir;
    before(() => (dir = tempDir('medsign-chrony-')));
    after(() => dir.cleanup());

    test('our SNTP client reads chronyd: its clock is ours, so the offset is within the bound', async () => {
      const probe = createSocket('udp4');
      await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r));
      const port = probe.address().port;
      await new Promise<void>((r) => probe.close(() => r()));
      const conf = dir.file(
        'server.conf',
        `port ${port}\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 8\ncmdport 0\npidfile ${dir.file('chronyd.pid')}\n`,
      );
      const child = spawn(chronyd!, ['-d', '-x', ...asRoot, '-f', conf], { stdio: 'ignore' });
      try {
        const src = sntpSource(`127.0.0.1:${port}`, { timeoutMs: 200 });
        // chronyd needs a moment to bind, and answers "unsynchronised" until its local reference is up.
        let sample;
        let last: unknown;
        for (const end = Date.now() + 10_000; !sample && Date.now() < end;) {
          sample = await src.read().catch((e: unknown) => void (last = e));
          if (!sample) await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(sample, `chronyd answered (last: ${String(last)})`);
        assert.ok(Math.abs(sample.offsetMs) <= sample.boundMs + 1, `${sample.offsetMs} ± ${sample.boundMs}`);
        assert.match(sample.detail ?? '', /stratum 8/);
      } finally {
        child.kill('SIGTERM');
      }
    });

    const measure = async (ntp: TestNtpServer) => {
      const r = await promisify(execFile)(
        chronyd!,
        [
          '-Q',
          '-t',
          '3',
          ...asRoot,
          '-f',
          '/dev/null',
          `server 127.0.0.1 port ${ntp.port} iburst maxsamples 1`,
        ],
        // A refused answer leaves chrony waiting for a better one: 1.5 s is plenty on loopback.
        { encoding: 'utf8', timeout: 1500 },
      ).catch((e: { stderr: string }) => ({ stderr: e.stderr }));
      return r.stderr;
    };

    test('chronyd -Q measures the lying test server: the same lie, the same sign', async () => {
      const ntp = await startTestNtpServer({ shiftMs: 1500 });
      try {
        // chrony: "wrong by +X" means the system clock is X seconds behind the server.
        const m = /System clock wrong by (-?\d+\.\d+) seconds/.exec(await measure(ntp));
        assert.ok(m, 'chronyd measured');
        assert.ok(Math.abs(Number(m[1]) - 1.5) < 0.05, m[1]);
        // … and our client says the same in the TimeSource convention (system − source).
        const ours = await sntpSource(ntp.address, { timeoutMs: 500 }).read();
        assert.ok(Math.abs(ours.offsetMs + Number(m[1]) * 1000) <= ours.boundMs + 10);
      } finally {
        await ntp.close();
      }
    });

    test('chronyd refuses the unsynchronised and the wrong-origin answers too', async () => {
      const ntp = await startTestNtpServer({ unsynchronised: true });
      try {
        assert.doesNotMatch(await measure(ntp), /System clock wrong by/);
        ntp.set({ unsynchronised: false, wrongOrigin: true });
        assert.doesNotMatch(await measure(ntp), /System clock wrong by/);
      } finally {
        await ntp.close();
      }
    });
  },
);
