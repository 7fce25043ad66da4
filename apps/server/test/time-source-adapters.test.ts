// The time-source adapters over real sockets on loopback: the SNTP client against the test NTP server
// (honest, lying, silent, unsynchronised, wrong origin, kiss-o'-death), gpsd over TCP against the fake
// gpsd, and an NMEA device as a named pipe.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
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
    assert.ok(Math.abs(s.offsetMs) < 10, String(s.offsetMs));
    assert.ok(s.boundMs >= 2 && s.boundMs < 20, String(s.boundMs));
    assert.match(s.detail ?? '', /stratum 1, reference GPS/);
  });

  test('a server 3 s ahead: our clock reads 3 s behind (negative offset)', async () => {
    ntp.set({ shiftMs: 3000 });
    const s = await sntpSource(ntp.address, { timeoutMs: 1000 }).read();
    assert.ok(Math.abs(s.offsetMs + 3000) < 10, String(s.offsetMs));
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
      await assert.rejects(src.read(), /no report|gpsd/);
      const s = await until(() => src.read());
      assert.equal(s.source, `gpsd:${gpsd.address}`);
      assert.ok(Math.abs(s.offsetMs) < 60, String(s.offsetMs));
      assert.equal(s.boundMs, 55, 'L/2 + ept');
      gpsd.set({ shiftMs: -2000 });
      await until(async () => {
        const t = await src.read();
        assert.ok(t.offsetMs > 1900, String(t.offsetMs));
      });
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
      // The first read opens the device; the writer's open completes once a reader has the pipe.
      await assert.rejects(src.read(), /no report/);
      await new Promise((r) => writer.once('open', r));
      const now = new Date();
      const hh = (n: number) => String(n).padStart(2, '0');
      const body = `GPRMC,${hh(now.getUTCHours())}${hh(now.getUTCMinutes())}${hh(now.getUTCSeconds())}.${String(now.getUTCMilliseconds()).padStart(3, '0')},A,3954.1234,N,11623.5678,E,0.0,,${hh(now.getUTCDate())}${hh(now.getUTCMonth() + 1)}${hh(now.getUTCFullYear() % 100)},,,A`;
      writer.write(`$${body}*${nmeaChecksum(body).toString(16).toUpperCase().padStart(2, '0')}\r\n`);
      const s = await until(() => src.read());
      assert.equal(s.source, `nmea:${fifo}`);
      assert.ok(Math.abs(s.offsetMs + 100) < 60, String(s.offsetMs));
      assert.equal(s.boundMs, 100);
    } finally {
      src.close?.();
      writer.destroy();
    }
  });
});
