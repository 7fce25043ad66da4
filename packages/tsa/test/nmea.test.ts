// NMEA 0183 RMC/ZDA and gpsd TPV parsing, and the reader that turns lines into samples. The first two
// sentences are the classic examples of the NMEA literature (their checksums come with them).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GnssTimeReader, nmeaChecksum, parseGpsdLine, parseNmeaSentence } from '../src/index.js';

const CLASSIC_RMC = '$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A';
const CLASSIC_ZDA = '$GPZDA,201530.00,04,07,2002,00,00*60';
const RMC = '$GNRMC,191048.00,A,3954.1234,N,11623.5678,E,0.010,,041226,,,A,V*17';
const RMC_VOID = '$GNRMC,191048.00,V,,,,,,,041226,,,N,V*1F';
const ZDA = '$GNZDA,191048.00,04,12,2026,00,00*7C';
const BEIDOU = '$BDRMC,191049.50,A,3954.1234,N,11623.5678,E,0.010,,041226,,,D*63';
const GGA = '$GPGGA,191048.00,3954.1234,N,11623.5678,E,1,08,0.9,545.4,M,46.9,M,,*67';

describe('NMEA 0183', () => {
  test('the classic RMC and ZDA examples', () => {
    const rmc = parseNmeaSentence(CLASSIC_RMC + '\r\n');
    assert.deepEqual(rmc, {
      kind: 'time',
      talker: 'GP',
      sentence: 'RMC',
      time: new Date('1994-03-23T12:35:19.000Z'),
      valid: true,
    });
    const zda = parseNmeaSentence(CLASSIC_ZDA);
    assert.ok(zda.kind === 'time' && zda.sentence === 'ZDA');
    assert.equal(zda.kind === 'time' && zda.time.toISOString(), '2002-07-04T20:15:30.000Z');
    assert.equal(nmeaChecksum('GPZDA,201530.00,04,07,2002,00,00'), 0x60);
  });

  test('NMEA 4.1 RMC with mode and navigation status; BeiDou talker; fractional seconds', () => {
    const r = parseNmeaSentence(RMC);
    assert.ok(r.kind === 'time' && r.valid && r.talker === 'GN');
    assert.equal(r.kind === 'time' && r.time.toISOString(), '2026-12-04T19:10:48.000Z');
    const b = parseNmeaSentence(BEIDOU);
    assert.ok(b.kind === 'time' && b.talker === 'BD' && b.valid);
    assert.equal(b.kind === 'time' && b.time.toISOString(), '2026-12-04T19:10:49.500Z');
  });

  test('status V / mode N: a time, but not valid', () => {
    const r = parseNmeaSentence(RMC_VOID);
    assert.ok(r.kind === 'time' && !r.valid && /status V/.test(r.why ?? ''));
  });

  test('other sentences are ignored', () => {
    assert.deepEqual(parseNmeaSentence(GGA), { kind: 'ignored', sentence: 'GPGGA' });
  });

  const invalid: Array<[string, string, RegExp]> = [
    ['checksum off by one', CLASSIC_RMC.replace('*6A', '*6B'), /checksum/],
    ['no checksum', CLASSIC_RMC.slice(0, -3), /sentence/],
    ['a changed digit', CLASSIC_RMC.replace('123519', '123518'), /checksum/],
    ['not starting with $', CLASSIC_RMC.slice(1), /sentence/],
    ['longer than 82 characters', `$GPRMC,${'1'.repeat(80)}*00`, /82/],
    ['hour 24', fix('GPRMC,240000,A,,,,,,,230394,,'), /time/],
    ['31 February', fix('GPRMC,120000,A,,,,,,,310226,,'), /range/],
    ['RMC without date', fix('GPRMC,120000,A,,,,,,,,,'), /date/],
    ['ZDA with a two-digit year', fix('GPZDA,120000,04,12,26,00,00'), /ZDA/],
    ['RMC with too few fields', fix('GPRMC,120000,A'), /few fields/],
    ['a bad address', fix('gprmc,120000,A,,,,,,,230394,,'), /address/],
  ];
  for (const [name, line, reason] of invalid) {
    test(`invalid: ${name}`, () => {
      const r = parseNmeaSentence(line);
      assert.equal(r.kind, 'invalid', JSON.stringify(r));
      assert.match(r.kind === 'invalid' ? r.reason : '', reason);
    });
  }
});

/** `$BODY*hh` with the right checksum (for negative cases that must fail on content, not checksum). */
function fix(body: string): string {
  return `$${body}*${nmeaChecksum(body).toString(16).toUpperCase().padStart(2, '0')}`;
}

describe('gpsd TPV', () => {
  const tpv = (o: Record<string, unknown>) => JSON.stringify({ class: 'TPV', device: '/dev/ttyS0', ...o });
  test('a 3D fix with ept', () => {
    const r = parseGpsdLine(tpv({ mode: 3, time: '2026-12-04T19:10:48.000Z', ept: 0.005 }));
    assert.deepEqual(r, {
      kind: 'time',
      time: new Date('2026-12-04T19:10:48.000Z'),
      mode: 3,
      eptMs: 5,
      device: '/dev/ttyS0',
    });
  });
  test('no fix, no time, bad time, not JSON, other classes', () => {
    assert.match(JSON.stringify(parseGpsdLine(tpv({ mode: 1, time: '2026-12-04T19:10:48.000Z' }))), /no fix/);
    assert.match(JSON.stringify(parseGpsdLine(tpv({ mode: 3 }))), /without a valid time/);
    assert.match(JSON.stringify(parseGpsdLine(tpv({ mode: 3, time: '2026-12-04 19:10:48' }))), /valid time/);
    assert.equal(parseGpsdLine('{"class":"TPV"').kind, 'invalid');
    assert.equal(parseGpsdLine('[1]').kind, 'invalid');
    assert.deepEqual(parseGpsdLine('{"class":"VERSION","release":"3.25"}'), {
      kind: 'ignored',
      class: 'VERSION',
    });
  });
});

describe('GnssTimeReader', () => {
  const at = (iso: string) => new Date(iso);
  test('NMEA: the first sentence of each second makes a sample: offset is the middle of the latency window', () => {
    const r = new GnssTimeReader({ source: 'nmea:/dev/ttyUSB0', protocol: 'nmea', maxLatencyMs: 400 });
    assert.equal(r.latest(), undefined);
    const s = r.feed(RMC, at('2026-12-04T19:10:48.300Z'));
    // arrival − sentence time − L/2 = 300 − 200 = +100 ms, ± 200 ms.
    assert.deepEqual(s, {
      source: 'nmea:/dev/ttyUSB0',
      offsetMs: 100,
      boundMs: 200,
      at: at('2026-12-04T19:10:48.300Z'),
      detail: 'GNRMC',
    });
    // The ZDA of the same epoch arrives later: not used.
    assert.equal(r.feed(ZDA, at('2026-12-04T19:10:48.350Z')), undefined);
    assert.equal(r.feed(GGA, at('2026-12-04T19:10:48.360Z')), undefined);
    assert.equal(r.latest(), s);
  });

  test('NMEA: a void RMC drops the reading; a ZDA alone is not trusted', () => {
    const r = new GnssTimeReader({ source: 'nmea:x', protocol: 'nmea', maxLatencyMs: 0 });
    r.feed(RMC, at('2026-12-04T19:10:48.100Z'));
    assert.ok(r.latest());
    r.feed(RMC_VOID, at('2026-12-04T19:10:49.100Z'));
    assert.equal(r.latest(), undefined);
    assert.match(r.problem, /status V/);
    assert.equal(r.feed(fix('GNZDA,191050.00,04,12,2026,00,00'), at('2026-12-04T19:10:50.100Z')), undefined);
    assert.match(r.problem, /ZDA without a recent valid RMC/);
    r.feed(CLASSIC_RMC.replace('*6A', '*00'), at('2026-12-04T19:10:51.100Z'));
    assert.match(r.problem, /checksum/);
  });

  test('gpsd: ept adds to the bound', () => {
    const r = new GnssTimeReader({ source: 'gpsd:127.0.0.1:2947', protocol: 'gpsd', maxLatencyMs: 100 });
    const line = JSON.stringify({ class: 'TPV', mode: 3, time: '2026-12-04T19:10:48.000Z', ept: 0.01 });
    const s = r.feed(line, at('2026-12-04T19:10:48.080Z'));
    assert.equal(s?.offsetMs, 30);
    assert.equal(s?.boundMs, 60);
    r.feed(JSON.stringify({ class: 'TPV', mode: 1 }), at('2026-12-04T19:10:49.080Z'));
    assert.equal(r.latest(), undefined);
  });
});
