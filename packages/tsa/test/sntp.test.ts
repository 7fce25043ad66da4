// SNTP codec and client checks: a hand-made server reply (every byte written out below), era handling
// around the 2036 rollover, and one negative vector per check a client must make (RFC 4330 §5).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkSntpResponse,
  decodeNtpPacket,
  encodeNtpPacket,
  ntpToUnixMs,
  sntpRequest,
  unixMsToNtp,
} from '../src/index.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const nonce = hex('0102030405060708');

// LI 0, VN 4, mode 4 | stratum 2 | poll 6 | precision −20
// root delay 0x0800/65536 s = 31.25 ms | root dispersion 0x0400/65536 s = 15.625 ms | ref id 10.0.0.1
// reference ED000000.0 | origin = our nonce | receive t2 = ED000001.80000000 (…:33.5 s)
// transmit t3 = ED000001.80418937 (t2 + 1 ms)
const REPLY = `24 02 06 ec  00000800  00000400  0a000001
  ed000000 00000000  0102030405060708  ed000001 80000000  ed000001 80418937`;
// t1: ED000001.00000000 as Unix ms (NTP seconds 0xED000001 − 2208988800); t4 = t1 + 21 ms.
const T1 = (0xed000001 - 2_208_988_800) * 1000;
const sent = { nonce, t1Ms: T1, t4Ms: T1 + 21 };

function withBytes(base: string | Uint8Array, at: number, bytes: string): Uint8Array {
  const b = typeof base === 'string' ? hex(base) : new Uint8Array(base);
  b.set(hex(bytes), at);
  return b;
}

describe('SNTP', () => {
  test('the request: mode 3, version 4, the nonce as transmit timestamp, nothing else', () => {
    const r = sntpRequest(nonce);
    assert.equal(Buffer.from(r).toString('hex'), '23' + '00'.repeat(39) + '0102030405060708');
    assert.throws(() => sntpRequest(new Uint8Array(7)), RangeError);
  });

  test('decode and encode the hand-made reply', () => {
    const p = decodeNtpPacket(hex(REPLY));
    assert.equal(p.leap, 0);
    assert.equal(p.version, 4);
    assert.equal(p.mode, 4);
    assert.equal(p.stratum, 2);
    assert.equal(p.poll, 6);
    assert.equal(p.precision, -20);
    assert.equal(p.rootDelay, 0.03125);
    assert.equal(p.rootDispersion, 0.015625);
    assert.deepEqual([...p.referenceId], [10, 0, 0, 1]);
    assert.equal(p.originTime, 0x0102030405060708n);
    assert.equal(p.receiveTime, 0xed00000180000000n);
    assert.deepEqual(encodeNtpPacket(p), hex(REPLY));
    // Trailing extension/MAC bytes are ignored; fewer than 48 bytes are not a packet.
    assert.equal(decodeNtpPacket(new Uint8Array([...hex(REPLY), 0, 0, 0, 1])).stratum, 2);
    assert.throws(() => decodeNtpPacket(hex(REPLY).subarray(0, 47)), RangeError);
  });

  test('offset, delay and bound of the hand-made exchange', () => {
    const r = checkSntpResponse(hex(REPLY), sent);
    assert.ok(r.ok, JSON.stringify(r));
    // θ = ((t2 − t1) + (t3 − t4)) / 2 = (500 + (501 − 21)) / 2 = 490 ms: the server is ahead of us …
    assert.ok(Math.abs(r.thetaMs - 490) < 1e-5, String(r.thetaMs));
    // … so our clock is 490 ms behind (TimeSource convention: system − source).
    assert.ok(Math.abs(r.offsetMs + 490) < 1e-5);
    // δ = (t4 − t1) − (t3 − t2) = 21 − 1 = 20 ms; bound = 10 + 15.625 + 31.25/2 = 41.25 ms.
    assert.ok(Math.abs(r.delayMs - 20) < 1e-5);
    assert.ok(Math.abs(r.boundMs - 41.25) < 1e-5);
    assert.equal(r.stratum, 2);
    assert.equal(r.referenceId, '10.0.0.1');
  });

  test('eras: the 2036 rollover resolves against the local clock', () => {
    const after = Date.UTC(2036, 1, 7, 6, 28, 32); // NTP seconds 0x00000010 of era 1
    assert.equal(ntpToUnixMs(0x10n << 32n, Date.UTC(2036, 1, 7)), after);
    assert.equal(unixMsToNtp(after), 0x10n << 32n);
    // The same 32-bit value read in 2026 would be 1900 + 16 s: the pivot picks the nearer era.
    assert.equal(ntpToUnixMs(0x10n << 32n, Date.UTC(1905, 0, 1)), (16 - 2_208_988_800) * 1000);
    const before = ntpToUnixMs(0xfffffff0n << 32n, Date.UTC(2036, 1, 7, 12));
    assert.equal(new Date(before).toISOString(), '2036-02-07T06:28:00.000Z');
    // Sub-second precision survives the round trip.
    const t = Date.UTC(2026, 11, 4, 19, 30, 0) + 123.25;
    assert.ok(Math.abs(ntpToUnixMs(unixMsToNtp(t), t) - t) < 1e-6);
  });

  const negatives: Array<[string, Uint8Array, RegExp]> = [
    ['truncated (47 bytes)', hex(REPLY).subarray(0, 47), /too short/],
    ['mode 3 (a client packet)', withBytes(REPLY, 0, '23'), /mode 3/],
    ['mode 5 (broadcast)', withBytes(REPLY, 0, '25'), /mode 5/],
    ['version 0', withBytes(REPLY, 0, '04'), /version 0/],
    ['origin timestamp differs from our nonce', withBytes(REPLY, 24, '0102030405060709'), /origin/],
    ['origin timestamp zero', withBytes(REPLY, 24, '0000000000000000'), /origin/],
    ["kiss-o'-death RATE", withBytes(withBytes(REPLY, 1, '00'), 12, '52415445'), /kiss-o'-death RATE/],
    ["kiss-o'-death DENY", withBytes(withBytes(REPLY, 1, '00'), 12, '44454e59'), /kiss-o'-death DENY/],
    ['unsynchronised (leap 3)', withBytes(REPLY, 0, 'e4'), /unsynchronised/],
    ['stratum 16', withBytes(REPLY, 1, '10'), /stratum 16/],
    ['zero transmit timestamp', withBytes(REPLY, 40, '0000000000000000'), /zero transmit/],
    ['zero receive timestamp', withBytes(REPLY, 32, '0000000000000000'), /zero receive/],
    ['transmit before receive', withBytes(REPLY, 40, 'ed0000017f000000'), /precedes/],
    ['root dispersion of 20 s', withBytes(REPLY, 8, '00140000'), /root distance/],
  ];
  for (const [name, bytes, reason] of negatives) {
    test(`refused: ${name}`, () => {
      const r = checkSntpResponse(bytes, sent);
      assert.equal(r.ok, false);
      assert.match(r.ok ? '' : r.reason, reason);
    });
  }

  test("a kiss-o'-death with a wrong origin is a spoofing attempt, not a kiss", () => {
    const kod = withBytes(withBytes(withBytes(REPLY, 1, '00'), 12, '44454e59'), 24, 'ffffffffffffffff');
    const r = checkSntpResponse(kod, sent);
    assert.ok(!r.ok && /origin/.test(r.reason) && r.kissCode === undefined);
  });

  test('a round trip shorter than the server claims to have held the packet is refused', () => {
    const r = checkSntpResponse(hex(REPLY), { nonce, t1Ms: T1, t4Ms: T1 - 5 });
    assert.ok(!r.ok && /negative round-trip/.test(r.reason));
  });

  test('leap 1 (61-second minute announced) is accepted; stratum 1 names its reference', () => {
    const b = withBytes(withBytes(withBytes(REPLY, 0, '64'), 1, '01'), 12, '42445300');
    const r = checkSntpResponse(b, sent);
    assert.ok(r.ok && r.leap === 1 && r.referenceId === 'BDS');
  });

  test('encode refuses out-of-range fields', () => {
    const p = decodeNtpPacket(hex(REPLY));
    assert.throws(() => encodeNtpPacket({ ...p, mode: 8 }), RangeError);
    assert.throws(() => encodeNtpPacket({ ...p, rootDelay: -1 }), RangeError);
    assert.throws(() => encodeNtpPacket({ ...p, referenceId: new Uint8Array(3) }), RangeError);
  });
});
