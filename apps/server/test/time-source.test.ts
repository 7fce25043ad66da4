// The time source end to end: configuration (keys, environment, one-line errors), and the real
// `medsign start` process bound to a lying NTP server on loopback — healthz ok → the server lies beyond
// the accuracy → healthz reports the time source not usable, the TSA answers timeNotAvailable, an audit
// event is written and the history records it → it stops lying (the TSA grants again) → usable again by itself (audit `time-source.restored`); the same for a
// server that stops answering. Polls every 200 ms, so the whole file runs in a few seconds.
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildTimeStampReq, parseTimeStampResp } from '@medsign/pki';
import { openStore } from '@medsign/store';
import {
  startMedsignServer,
  startTestNtpServer,
  tempDir,
  type MedsignServerProcess,
  type TempDir,
  type TestNtpServer,
} from '@medsign/testkit';
import { storeTimeSink } from '../src/adapters/time-source.js';
import { loadConfig } from '../src/config.js';
import { initDataDir } from '../src/init.js';
import { openServices } from '../src/services.js';

describe('time-source configuration', () => {
  let dir: TempDir;
  before(() => (dir = tempDir('medsign-tscfg-')));
  after(() => dir.cleanup());

  test('defaults: no source (the system clock is trusted), accuracy 1 s', () => {
    const c = loadConfig({ dataDir: dir.path, env: {} });
    assert.deepEqual(c.timeSource, {
      ntp: [],
      accuracyMs: 1000,
      pollSeconds: 16,
      windowSeconds: 64,
      sampleSeconds: 300,
      gnssLatencyMs: 500,
      historyDays: 400,
    });
  });

  test('file keys and environment overrides', () => {
    const file = dir.file(
      'a.yaml',
      'timeSource:\n  ntp: [10.1.1.1, "ntp2.hospital.local:1123", "[fd00::1]:123"]\n  gnss: nmea:/dev/ttyUSB0\n  accuracyMs: 200\n  pollSeconds: 8\n',
    );
    const c = loadConfig({ dataDir: dir.path, configFile: file, env: { MEDSIGN_TIME_WINDOW_SECONDS: '30' } });
    assert.deepEqual(c.timeSource.ntp, ['10.1.1.1', 'ntp2.hospital.local:1123', '[fd00::1]:123']);
    assert.deepEqual(c.timeSource.gnss, { kind: 'nmea', path: '/dev/ttyUSB0' });
    assert.equal(c.timeSource.accuracyMs, 200);
    assert.equal(c.timeSource.windowSeconds, 30);
    const e = loadConfig({
      dataDir: dir.path,
      configFile: file,
      env: { MEDSIGN_TIME_NTP: '127.0.0.1:1230, 127.0.0.1:1231', MEDSIGN_TIME_GNSS: 'gpsd:127.0.0.1' },
    });
    assert.deepEqual(e.timeSource.ntp, ['127.0.0.1:1230', '127.0.0.1:1231']);
    assert.deepEqual(e.timeSource.gnss, { kind: 'gpsd', address: '127.0.0.1' });
  });

  const bad: Array<[string, Record<string, string>, string | undefined, RegExp]> = [
    [
      'accuracy out of range',
      { MEDSIGN_TIME_ACCURACY_MS: '0' },
      undefined,
      /^timeSource\.accuracyMs: must be a number 1–60000 \(from MEDSIGN_TIME_ACCURACY_MS\)$/,
    ],
    [
      'poll not a number',
      { MEDSIGN_TIME_POLL_SECONDS: 'often' },
      undefined,
      /timeSource\.pollSeconds: must be a number/,
    ],
    [
      'window shorter than the poll',
      {},
      'timeSource: { pollSeconds: 10, windowSeconds: 5 }',
      /windowSeconds: must be at least pollSeconds \(10\)/,
    ],
    [
      'bad NTP port',
      { MEDSIGN_TIME_NTP: '10.1.1.1:99999' },
      undefined,
      /timeSource\.ntp: "10\.1\.1\.1:99999": port must be 1–65535 \(from MEDSIGN_TIME_NTP\)/,
    ],
    ['ntp not a list', {}, 'timeSource: { ntp: { a: 1 } }', /timeSource\.ntp: must be a list of host:port/],
    [
      'gnss of an unknown kind',
      { MEDSIGN_TIME_GNSS: 'serial:/dev/ttyS0' },
      undefined,
      /timeSource\.gnss: must be nmea:\/dev\/DEVICE or gpsd:HOST\[:PORT\]/,
    ],
    ['relative NMEA path', { MEDSIGN_TIME_GNSS: 'nmea:ttyS0' }, undefined, /absolute device path/],
    ['unknown key', {}, 'timeSource: { ntpServers: [a] }', /timeSource\.ntpServers: unknown key/],
    ['not a mapping', {}, 'timeSource: [a]', /timeSource: must be a mapping/],
  ];
  for (const [name, env, yaml, message] of bad) {
    test(`refused: ${name}`, () => {
      const configFile = yaml ? dir.file(`${name.replace(/\W+/g, '-')}.yaml`, yaml + '\n') : undefined;
      assert.throws(
        () => loadConfig({ dataDir: dir.path, env, ...(configFile ? { configFile } : {}) }),
        (e: Error & { code?: string; detail?: string }) => {
          assert.equal(e.code, 'CONFIG_INVALID');
          assert.match(e.detail ?? e.message, message);
          return true;
        },
      );
    });
  }
});

describe('the history and audit sink', () => {
  test('samples and changes go to the history; changes (a switch with its previous source) to the audit log', async () => {
    const dir = tempDir('medsign-tssink-');
    const store = await openStore(`sqlite:${join(dir.path, 'medsign.db')}`);
    try {
      const t = new Date('2026-12-04T08:00:00.000Z');
      const sink = storeTimeSink(store, { node: 'medsign1', historyDays: 1, now: () => t });
      // An old sample the first write prunes (older than historyDays).
      await store.timeSourceHistory.append({
        at: new Date('2026-12-01T00:00:00.000Z'),
        node: 'medsign1',
        kind: 'sample',
        usable: true,
        source: 'ntp:a',
        previousSource: null,
        offsetMs: 1,
        boundMs: 1,
        detail: 'old',
      });
      await sink.sample({ at: t, usable: true, source: 'ntp:a', offsetMs: 0.5, boundMs: 1.25, detail: 'ok' });
      await sink.change({
        at: t,
        kind: 'switched',
        usable: true,
        source: 'ntp:b',
        previousSource: 'ntp:a',
        offsetMs: 0.123456,
        boundMs: 0.5,
        detail: 'ntp:b: offset +0.1 ms ± 0.5 ms, within 1000 ms',
      });
      const history = await store.timeSourceHistory.list({ limit: 10 });
      assert.deepEqual(history.map((h) => [h.kind, h.source, h.previousSource, h.node]).sort(), [
        ['sample', 'ntp:a', null, 'medsign1'],
        ['switched', 'ntp:b', 'ntp:a', 'medsign1'],
      ]);
      const [event] = await store.audit.list({ limit: 10 });
      assert.equal(event!.action, 'time-source.switched');
      assert.equal(event!.actor, 'system:time-source');
      assert.equal(event!.target, 'ntp:b');
      assert.deepEqual(event!.detail, {
        node: 'medsign1',
        usable: true,
        detail: 'ntp:b: offset +0.1 ms ± 0.5 ms, within 1000 ms',
        offsetMs: 0.123,
        boundMs: 0.5,
        previousSource: 'ntp:a',
      });
    } finally {
      await store.close();
      dir.cleanup();
    }
  });
});

type Health = { status: string; checks: Array<{ name: string; ok: boolean; detail: string }> };

async function timeCheck(url: string) {
  const res = await fetch(`${url}/healthz`);
  const body = (await res.json()) as Health;
  return {
    httpStatus: res.status,
    status: body.status,
    check: body.checks.find((c) => c.name === 'time-source')!,
  };
}

/** One time-stamp request to the TSA of the server: granted, or the failInfo it was refused with. */
async function stamp(url: string): Promise<string> {
  const res = await fetch(`${url}/tsa`, {
    method: 'POST',
    headers: { 'content-type': 'application/timestamp-query' },
    body: buildTimeStampReq({ hash: 'sm3', data: new TextEncoder().encode('处方 RX-1'), certReq: true }),
  });
  assert.equal(res.status, 200);
  const resp = parseTimeStampResp(new Uint8Array(await res.arrayBuffer()));
  return resp.token ? 'granted' : resp.failInfo.join(',') || `status ${resp.status}`;
}

/** Polls until `ok` says yes (every 50 ms, at most 10 s). */
async function eventually<T>(probe: () => Promise<T>, ok: (t: T) => boolean, what: string): Promise<T> {
  const end = Date.now() + 10_000;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await probe();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not within 10 s (last: ${JSON.stringify(last)})`);
}

describe('time source end to end', () => {
  let dir: TempDir;
  let ntp: TestNtpServer;
  let server: MedsignServerProcess | undefined;
  let password: string;
  before(async () => {
    dir = tempDir('medsign-timesrc-');
    ntp = await startTestNtpServer();
    const init = await initDataDir({ dataDir: dir.path, env: {} });
    password = init.admin!.password;
  });
  after(async () => {
    await server?.stop();
    await ntp.close();
    dir.cleanup();
  });

  test('without a configured source the system clock is trusted, and /healthz says so', async () => {
    const services = await openServices(loadConfig({ dataDir: dir.path, env: {} }));
    try {
      assert.equal(services.timeMonitor, undefined);
      assert.deepEqual(services.timeSource.status(), {
        usable: true,
        source: 'system',
        accuracyMs: 1000,
        detail: 'system clock (no external time source configured)',
      });
      const health = await services.health();
      assert.deepEqual(
        health.checks.find((c) => c.name === 'time-source'),
        { name: 'time-source', ok: true, detail: 'system clock (no external time source configured)' },
      );
    } finally {
      await services.close();
    }
  });

  test('a lying or silent NTP server makes the TSA refuse (timeNotAvailable); honesty restores both by itself', async () => {
    appendFileSync(
      join(dir.path, 'medsign.yaml'),
      `timeSource:\n  ntp: ["${ntp.address}"]\n  accuracyMs: 500\n  pollSeconds: 0.2\n  windowSeconds: 1\n  sampleSeconds: 1\n`,
    );
    server = await startMedsignServer(['--data', dir.path, '--port', '0'], 'medsign start (time source)');
    const url = server.url;

    const good = await eventually(
      () => timeCheck(url),
      (h) => h.check.ok,
      'time source usable',
    );
    assert.equal(good.status, 'ok');
    assert.equal(await stamp(url), 'granted');
    assert.match(
      good.check.detail,
      new RegExp(`^ntp:${ntp.address}: offset [+−]\\d+\\.\\d ms ± \\d+\\.\\d ms, within 500 ms$`),
    );

    // The NTP server claims a time 5 s ahead: our clock looks 5 s behind, far beyond 500 ms.
    // (A busy machine may have made the very first check time out: count from here.)
    const since = new Date();
    ntp.set({ shiftMs: 5000 });
    const bad = await eventually(
      () => timeCheck(url),
      (h) => !h.check.ok,
      'time source unusable',
    );
    assert.equal(bad.status, 'degraded');
    assert.equal(bad.httpStatus, 200);
    assert.match(bad.check.detail, /offset −(49|50)\d\d\.\d ms ± .* exceeds the accuracy of 500 ms/);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /^medsign_time_source_usable 0$/m);
    // The TSA refuses in band while the clock cannot be vouched for.
    assert.equal(await stamp(url), 'timeNotAvailable');
    assert.match(metrics, /^medsign_time_source_offset_seconds -(4\.9|5\.0)\d*$/m);

    // It stops lying: usable again with no one touching the server.
    ntp.honest();
    await eventually(
      () => timeCheck(url),
      (h) => h.check.ok && h.status === 'ok',
      'time source restored',
    );
    assert.equal(await stamp(url), 'granted', 'the TSA resumes by itself');

    // It stops answering: after the window (1 s) the clock can no longer be vouched for.
    ntp.set({ silent: true });
    const silent = await eventually(
      () => timeCheck(url),
      (h) => !h.check.ok,
      'silence noticed',
    );
    assert.equal(await stamp(url), 'timeNotAvailable');
    assert.match(
      silent.check.detail,
      /^no time source answered within 1 s \(ntp:127\.0\.0\.1:\d+: no valid reply within 100 ms\)$/,
    );
    ntp.honest();
    await eventually(
      () => timeCheck(url),
      (h) => h.check.ok,
      'restored after silence',
    );

    // The administrator's view: status and history (changes and samples), admin authentication required.
    assert.equal((await fetch(`${url}/api/v1/time-source`)).status, 401);
    const token = await adminToken(url, password);
    const view = (await (
      await fetch(`${url}/api/v1/time-source?limit=1000`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as {
      status: { usable: boolean; source: string; accuracyMs: number };
      sources: string[];
      history: Array<{
        at: string;
        kind: string;
        usable: boolean;
        source: string | null;
        offsetMs: number | null;
      }>;
    };
    assert.equal(view.status.usable, true);
    assert.equal(view.status.source, `ntp:${ntp.address}`);
    assert.deepEqual(view.sources, [`ntp:${ntp.address}`]);
    const changes = view.history.filter((h) => h.kind !== 'sample' && new Date(h.at) >= since).reverse();
    assert.deepEqual(
      changes.map((c) => c.kind),
      ['unusable', 'restored', 'unusable', 'restored'],
    );
    assert.ok(changes[0]!.offsetMs! < -4900, 'the lie is on record with its offset');
    assert.equal(changes[2]!.source, null, 'silence: no source');
    assert.ok(view.history.some((h) => h.kind === 'sample' && h.usable));
    const onlyChanges = (await (
      await fetch(`${url}/api/v1/time-source?changesOnly=true&since=${since.toISOString()}`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).json()) as { history: unknown[] };
    assert.equal(onlyChanges.history.length, 4);

    assert.equal(await server.stop(), 0, server.output());
    server = undefined;

    // The audit log holds the same changes, hash-chained.
    const store = await openStore(`sqlite:${join(dir.path, 'medsign.db')}`);
    try {
      const events = (await store.audit.list({ limit: 10_000 })).filter(
        (e) => e.action.startsWith('time-source.') && e.time >= since.toISOString(),
      );
      assert.deepEqual(
        events.map((e) => e.action),
        ['time-source.unusable', 'time-source.restored', 'time-source.unusable', 'time-source.restored'],
      );
      assert.equal(events[0]!.actor, 'system:time-source');
      assert.equal(events[0]!.target, `ntp:${ntp.address}`);
      assert.match(String(events[0]!.detail.detail), /exceeds the accuracy of 500 ms/);
      assert.equal((await store.audit.verify()).ok, true);
    } finally {
      await store.close();
    }
  });
});

async function adminToken(url: string, oneTimePassword: string): Promise<string> {
  const post = async (path: string, body: unknown, token?: string) =>
    fetch(`${url}/api/v1${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
  const first = (await (
    await post('/auth/login', { username: 'admin', password: oneTimePassword })
  ).json()) as {
    token: string;
  };
  const changed = await post(
    '/auth/password',
    { oldPassword: oneTimePassword, newPassword: 'time-source-Passw0rd!' },
    first.token,
  );
  assert.equal(changed.status, 204);
  const again = (await (
    await post('/auth/login', { username: 'admin', password: 'time-source-Passw0rd!' })
  ).json()) as {
    token: string;
  };
  return again.token;
}
