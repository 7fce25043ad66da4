/**
 * SNTP / NTPv4 client mode (RFC 5905, RFC 4330): the 48-byte packet, the 64-bit NTP timestamp with era
 * handling, and the checks a client makes on a server's reply before trusting its clock. Pure: the UDP
 * socket and the local clock readings (t1, t4) come from the adapter.
 *
 * Packet (RFC 5905 §7.3), big-endian:
 *   0  LI(2) VN(3) Mode(3)   1 stratum   2 poll (log2 s, signed)   3 precision (log2 s, signed)
 *   4  root delay (short: 16.16 s)   8 root dispersion (16.16 s)   12 reference id (4 bytes)
 *   16 reference timestamp   24 origin timestamp   32 receive timestamp   40 transmit timestamp (64-bit each)
 * Extension fields and a MAC may follow; a client in this mode ignores them.
 */

/** Length of the NTP header without extensions or MAC. */
export const NTP_PACKET_LENGTH = 48;

/** Seconds from the NTP prime epoch (1900-01-01) to the Unix epoch (1970-01-01). */
export const NTP_UNIX_OFFSET_S = 2_208_988_800;

const ERA_S = 2 ** 32;

/** The fields of an NTP packet; timestamps are the raw 64-bit NTP values (seconds ‖ fraction). */
export type NtpPacket = {
  /** Leap indicator: 0 none, 1 last minute has 61 s, 2 has 59 s, 3 clock unsynchronised. */
  leap: 0 | 1 | 2 | 3;
  version: number;
  /** 3 client, 4 server (5 broadcast …). */
  mode: number;
  /** 0 kiss-o'-death / unspecified, 1 primary (GNSS, atomic), 2–15 secondary, 16 unsynchronised. */
  stratum: number;
  poll: number;
  precision: number;
  /** Root delay, seconds (short format, unsigned 16.16). */
  rootDelay: number;
  /** Root dispersion, seconds (short format, unsigned 16.16). */
  rootDispersion: number;
  /** Reference id: ASCII (stratum 0 kiss code, stratum 1 source such as "GPS"), else an IPv4 address or hash. */
  referenceId: Uint8Array;
  referenceTime: bigint;
  originTime: bigint;
  receiveTime: bigint;
  transmitTime: bigint;
};

/** Reads the header of an NTP packet. Throws RangeError when it is shorter than 48 bytes. */
export function decodeNtpPacket(bytes: Uint8Array): NtpPacket {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
  if (bytes.length < NTP_PACKET_LENGTH)
    throw new RangeError(`NTP packet is ${bytes.length} bytes; at least ${NTP_PACKET_LENGTH} expected`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const b0 = v.getUint8(0);
  return {
    leap: (b0 >> 6) as 0 | 1 | 2 | 3,
    version: (b0 >> 3) & 7,
    mode: b0 & 7,
    stratum: v.getUint8(1),
    poll: v.getInt8(2),
    precision: v.getInt8(3),
    rootDelay: v.getUint32(4) / 65536,
    rootDispersion: v.getUint32(8) / 65536,
    referenceId: bytes.slice(12, 16),
    referenceTime: v.getBigUint64(16),
    originTime: v.getBigUint64(24),
    receiveTime: v.getBigUint64(32),
    transmitTime: v.getBigUint64(40),
  };
}

/** Writes a 48-byte NTP packet (no extensions). Throws RangeError on a field out of range. */
export function encodeNtpPacket(p: NtpPacket): Uint8Array {
  const out = new Uint8Array(NTP_PACKET_LENGTH);
  const v = new DataView(out.buffer);
  const int = (name: string, x: number, lo: number, hi: number) => {
    if (!Number.isInteger(x) || x < lo || x > hi)
      throw new RangeError(`${name} must be an integer ${lo}–${hi}`);
    return x;
  };
  v.setUint8(
    0,
    (int('leap', p.leap, 0, 3) << 6) | (int('version', p.version, 0, 7) << 3) | int('mode', p.mode, 0, 7),
  );
  v.setUint8(1, int('stratum', p.stratum, 0, 255));
  v.setInt8(2, int('poll', p.poll, -128, 127));
  v.setInt8(3, int('precision', p.precision, -128, 127));
  v.setUint32(4, shortFormat('rootDelay', p.rootDelay));
  v.setUint32(8, shortFormat('rootDispersion', p.rootDispersion));
  if (p.referenceId.length !== 4) throw new RangeError('referenceId must be 4 bytes');
  out.set(p.referenceId, 12);
  v.setBigUint64(16, p.referenceTime);
  v.setBigUint64(24, p.originTime);
  v.setBigUint64(32, p.receiveTime);
  v.setBigUint64(40, p.transmitTime);
  return out;
}

function shortFormat(name: string, seconds: number): number {
  const x = Math.round(seconds * 65536);
  if (!Number.isFinite(x) || x < 0 || x > 0xffffffff) throw new RangeError(`${name} must be 0–65535.99 s`);
  return x;
}

/**
 * An NTP timestamp as Unix milliseconds. The 32-bit seconds wrap every 136 years (era 0 ends on
 * 2036-02-07T06:28:16Z); the era is the one that puts the time within 68 years of `pivotMs` (RFC 5905
 * §6: the client's own clock resolves the ambiguity).
 */
export function ntpToUnixMs(ts: bigint, pivotMs: number): number {
  const seconds = Number(ts >> 32n);
  const fraction = Number(ts & 0xffffffffn) / ERA_S;
  const pivotNtp = pivotMs / 1000 + NTP_UNIX_OFFSET_S;
  const era = Math.round((pivotNtp - seconds) / ERA_S);
  return (era * ERA_S + seconds + fraction - NTP_UNIX_OFFSET_S) * 1000;
}

/** Unix milliseconds as an NTP timestamp (the era number is dropped, as on the wire). */
export function unixMsToNtp(ms: number): bigint {
  if (!Number.isFinite(ms)) throw new RangeError('ms must be finite');
  const totalS = Math.floor(ms / 1000);
  const seconds = (((totalS + NTP_UNIX_OFFSET_S) % ERA_S) + ERA_S) % ERA_S;
  const fraction = Math.min(Math.round(((ms - totalS * 1000) / 1000) * ERA_S), ERA_S - 1);
  return (BigInt(seconds) << 32n) | BigInt(fraction);
}

/**
 * A client request (mode 3, version 4). Its transmit timestamp is `nonce` — 8 random bytes rather than
 * the client's clock — which the server must echo as the origin timestamp: an off-path attacker cannot
 * guess it, and the request reveals nothing about our clock. The real send time (t1) stays with the caller.
 */
export function sntpRequest(nonce: Uint8Array): Uint8Array {
  if (nonce.length !== 8) throw new RangeError('nonce must be 8 bytes');
  const out = new Uint8Array(NTP_PACKET_LENGTH);
  out[0] = (0 << 6) | (4 << 3) | 3;
  out.set(nonce, 40);
  return out;
}

/** What one accepted exchange measured (milliseconds). */
export type SntpMeasurement = {
  /** RFC 5905 θ = ((t2 − t1) + (t3 − t4)) / 2: how far the server is ahead of us. */
  thetaMs: number;
  /** Round-trip delay δ = (t4 − t1) − (t3 − t2). */
  delayMs: number;
  /** The offset in the TimeSource convention: system clock minus server (= −θ; positive: we are ahead). */
  offsetMs: number;
  /** Error bound on the offset: δ/2 + root dispersion + root delay/2. */
  boundMs: number;
  stratum: number;
  leap: 0 | 1 | 2;
  /** Reference id as text: ASCII for stratum 1 ("GPS", "BDS", "PPS"), dotted quad above. */
  referenceId: string;
  rootDelayMs: number;
  rootDispersionMs: number;
};

/** Why a reply was refused (a client must not use such a reply's time). */
export type SntpRefusal = { ok: false; reason: string; kissCode?: string };

/** The result of {@link checkSntpResponse}. */
export type SntpResult = ({ ok: true } & SntpMeasurement) | SntpRefusal;

/** Root distance beyond which a server is not synchronised to anything useful (RFC 5905 MAXDIST is 1 s; we refuse above 16 s, MAXDISP). */
const MAX_ROOT_DISTANCE_S = 16;

/**
 * Checks a server's reply to our request and computes offset and bound. Never throws on the reply's
 * bytes (they are attacker-controlled): every problem is a refusal with a reason. `t1Ms`/`t4Ms` are the
 * local clock when the request left and the reply arrived (Unix ms, sub-ms precision welcome).
 *
 * Checks, in order (RFC 4330 §5, RFC 5905 §8): length; mode 4 (server); version 1–4; origin timestamp
 * equals our nonce (anti-spoofing — a stale or forged reply fails here, before anything else is believed,
 * kiss-o'-death included); stratum 0 is a kiss-o'-death (RATE, DENY, RSTR …); leap 3 (unsynchronised)
 * refused; stratum 16+ refused; zero transmit or receive timestamp refused; transmit before receive
 * refused; root distance above 16 s refused; negative round-trip delay refused.
 */
export function checkSntpResponse(
  bytes: Uint8Array,
  sent: { nonce: Uint8Array; t1Ms: number; t4Ms: number },
): SntpResult {
  if (bytes.length < NTP_PACKET_LENGTH)
    return { ok: false, reason: `reply too short (${bytes.length} bytes, 48 expected)` };
  const p = decodeNtpPacket(bytes);
  if (p.mode !== 4) return { ok: false, reason: `reply mode ${p.mode}, 4 (server) expected` };
  if (p.version < 1 || p.version > 4) return { ok: false, reason: `unsupported NTP version ${p.version}` };
  const origin = bytes.subarray(24, 32);
  if (!sameBytes(origin, sent.nonce))
    return { ok: false, reason: 'origin timestamp does not match our request (stale or spoofed reply)' };
  if (p.stratum === 0) {
    const code = asciiId(p.referenceId);
    return { ok: false, reason: `kiss-o'-death ${code || '(no code)'}`, kissCode: code };
  }
  if (p.leap === 3) return { ok: false, reason: 'server clock unsynchronised (leap indicator 3)' };
  if (p.stratum > 15) return { ok: false, reason: `server stratum ${p.stratum} (unsynchronised)` };
  if (p.transmitTime === 0n) return { ok: false, reason: 'zero transmit timestamp' };
  if (p.receiveTime === 0n) return { ok: false, reason: 'zero receive timestamp' };
  const t1 = sent.t1Ms;
  const t4 = sent.t4Ms;
  const t2 = ntpToUnixMs(p.receiveTime, t1);
  const t3 = ntpToUnixMs(p.transmitTime, t1);
  if (t3 < t2) return { ok: false, reason: 'server transmit timestamp precedes its receive timestamp' };
  if (p.rootDelay / 2 + p.rootDispersion > MAX_ROOT_DISTANCE_S)
    return {
      ok: false,
      reason: `root distance ${(p.rootDelay / 2 + p.rootDispersion).toFixed(3)} s too large`,
    };
  let delayMs = t4 - t1 - (t3 - t2);
  // Local timestamps have finite resolution: a tiny negative delay is rounding, a larger one a lie.
  if (delayMs < 0) {
    if (delayMs < -1) return { ok: false, reason: `negative round-trip delay ${delayMs.toFixed(3)} ms` };
    delayMs = 0;
  }
  const thetaMs = (t2 - t1 + (t3 - t4)) / 2;
  const rootDelayMs = p.rootDelay * 1000;
  const rootDispersionMs = p.rootDispersion * 1000;
  return {
    ok: true,
    thetaMs,
    delayMs,
    offsetMs: thetaMs === 0 ? 0 : -thetaMs,
    boundMs: delayMs / 2 + rootDispersionMs + rootDelayMs / 2,
    stratum: p.stratum,
    leap: p.leap,
    referenceId: p.stratum === 1 ? asciiId(p.referenceId) : [...p.referenceId].join('.'),
    rootDelayMs,
    rootDispersionMs,
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** A 4-byte reference id as printable ASCII (NULs dropped, anything else as '?'). */
function asciiId(id: Uint8Array): string {
  let s = '';
  for (const c of id) {
    if (c === 0) continue;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?';
  }
  return s;
}
