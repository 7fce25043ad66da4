/**
 * GNSS time from a receiver: NMEA 0183 sentences (RMC, ZDA from any talker — GP, GN, BD/GB for BeiDou,
 * GL, GA …) read from a serial device, or gpsd's JSON TPV reports. Pure parsing plus a small reader that
 * turns lines with their arrival time into {@link TimeSample}s.
 *
 * Without a PPS signal a sentence reaches us some time after the second it names: the receiver computes
 * the fix, then writes dozens of bytes at 4800–115200 baud. With `maxLatencyMs` the largest such delay
 * the operator allows, the true offset lies in [arrival − time − L, arrival − time]: the reader reports
 * its middle, with bound L/2 (plus gpsd's own `ept` when given).
 */

import type { TimeSample } from './time-monitor.js';

/** A sentence that carries time, or why a line was not used. */
export type NmeaParse =
  | { kind: 'time'; talker: string; sentence: 'RMC' | 'ZDA'; time: Date; valid: boolean; why?: string }
  | { kind: 'ignored'; sentence: string }
  | { kind: 'invalid'; reason: string };

/** NMEA 0183 limits a sentence to 82 characters including `$` and CR LF. */
const MAX_SENTENCE = 82;

/** The checksum of a sentence body (between `$` and `*`): XOR of its characters. */
export function nmeaChecksum(body: string): number {
  let x = 0;
  for (let i = 0; i < body.length; i++) x ^= body.charCodeAt(i);
  return x;
}

/**
 * Parses one NMEA line (`$GPRMC,…*hh`, with or without the CR LF). The checksum is required. Sentences
 * other than RMC and ZDA are `ignored`; RMC is `valid` only with status A (and a mode other than N);
 * ZDA has no validity flag of its own (see {@link GnssTimeReader}).
 */
export function parseNmeaSentence(line: string): NmeaParse {
  const text = line.replace(/\r?\n$/, '').replace(/\r$/, '');
  if (text.length + 2 > MAX_SENTENCE)
    return { kind: 'invalid', reason: 'sentence longer than 82 characters' };
  const m = /^\$([\x20-\x7e]*)\*([0-9A-Fa-f]{2})$/.exec(text);
  if (!m || m[1]!.includes('$') || m[1]!.includes('*'))
    return { kind: 'invalid', reason: 'not a $…*hh sentence' };
  const body = m[1]!;
  if (nmeaChecksum(body) !== parseInt(m[2]!, 16)) return { kind: 'invalid', reason: 'checksum mismatch' };
  const fields = body.split(',');
  const address = fields[0]!;
  if (!/^[A-Z][A-Z0-9]{4}$/.test(address)) return { kind: 'invalid', reason: 'bad address field' };
  const talker = address.slice(0, 2);
  const type = address.slice(2);
  if (type === 'RMC') {
    // RMC: time, status, lat, N/S, lon, E/W, speed, course, date ddmmyy, magvar, E/W[, mode[, nav status]]
    if (fields.length < 10) return { kind: 'invalid', reason: 'RMC has too few fields' };
    const time = utcTime(fields[1]!);
    const date = /^(\d{2})(\d{2})(\d{2})$/.exec(fields[9]!);
    if (!time || !date) return { kind: 'invalid', reason: 'RMC without time or date' };
    // Two-digit year: 80–99 are 1980–1999 (GPS began in 1980), 00–79 are 2000–2079. A receiver's GNSS
    // week-rollover bug shows up as a wild offset, which the monitor refuses.
    const yy = Number(date[3]);
    const at = utcDate(yy >= 80 ? 1900 + yy : 2000 + yy, Number(date[2]), Number(date[1]), time);
    if (!at) return { kind: 'invalid', reason: 'RMC date or time out of range' };
    const status = fields[2];
    const mode = fields[12];
    const valid = status === 'A' && mode !== 'N';
    return {
      kind: 'time',
      talker,
      sentence: 'RMC',
      time: at,
      valid,
      ...(valid
        ? {}
        : { why: `RMC status ${status || 'empty'}${mode === 'N' ? ', mode N' : ''} (no valid fix)` }),
    };
  }
  if (type === 'ZDA') {
    // ZDA: time, day, month, year (4 digits), local zone hours, minutes
    if (fields.length < 5) return { kind: 'invalid', reason: 'ZDA has too few fields' };
    const time = utcTime(fields[1]!);
    const [d, mo, y] = [fields[2]!, fields[3]!, fields[4]!];
    if (!time || !/^\d{2}$/.test(d) || !/^\d{2}$/.test(mo) || !/^\d{4}$/.test(y))
      return { kind: 'invalid', reason: 'ZDA without time or date' };
    const at = utcDate(Number(y), Number(mo), Number(d), time);
    if (!at) return { kind: 'invalid', reason: 'ZDA date or time out of range' };
    return { kind: 'time', talker, sentence: 'ZDA', time: at, valid: true };
  }
  return { kind: 'ignored', sentence: address };
}

type Hms = { h: number; m: number; s: number; ms: number };

function utcTime(field: string): Hms | undefined {
  const m = /^(\d{2})(\d{2})(\d{2})(?:\.(\d{1,6}))?$/.exec(field);
  if (!m) return undefined;
  const [h, mi, s] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // 60 is a leap second; Date cannot hold it, and a TSA should not stamp during one anyway.
  if (h > 23 || mi > 59 || s > 59) return undefined;
  return { h, m: mi, s, ms: m[4] ? Number(`0.${m[4]}`) * 1000 : 0 };
}

function utcDate(year: number, month: number, day: number, t: Hms): Date | undefined {
  if (month < 1 || month > 12 || day < 1 || day > 31) return undefined;
  const ms = Date.UTC(year, month - 1, day, t.h, t.m, t.s) + t.ms;
  const d = new Date(ms);
  if (d.getUTCDate() !== day) return undefined; // 31 February and the like
  return d;
}

/** A gpsd TPV report's time, or why a line was not used. */
export type GpsdParse =
  | { kind: 'time'; time: Date; mode: number; eptMs?: number; device?: string }
  | { kind: 'ignored'; class: string }
  | { kind: 'invalid'; reason: string };

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/**
 * Parses one line of gpsd's JSON stream. TPV reports with a 2D/3D fix (`mode` ≥ 2) and a `time` carry
 * time; `ept` (estimated time error, seconds) is kept. Other classes (VERSION, DEVICES, SKY …) are ignored.
 */
export function parseGpsdLine(line: string): GpsdParse {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    return { kind: 'invalid', reason: 'not JSON' };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    return { kind: 'invalid', reason: 'not a JSON object' };
  const o = doc as Record<string, unknown>;
  if (typeof o.class !== 'string') return { kind: 'invalid', reason: 'no class' };
  if (o.class !== 'TPV') return { kind: 'ignored', class: o.class };
  const mode = typeof o.mode === 'number' ? o.mode : 0;
  if (mode < 2) return { kind: 'invalid', reason: `TPV mode ${mode} (no fix)` };
  if (typeof o.time !== 'string' || !ISO.test(o.time))
    return { kind: 'invalid', reason: 'TPV without a valid time' };
  const time = new Date(o.time);
  if (Number.isNaN(time.getTime())) return { kind: 'invalid', reason: 'TPV time out of range' };
  const ept = typeof o.ept === 'number' && Number.isFinite(o.ept) && o.ept >= 0 ? o.ept * 1000 : undefined;
  return {
    kind: 'time',
    time,
    mode,
    ...(ept !== undefined ? { eptMs: ept } : {}),
    ...(typeof o.device === 'string' ? { device: o.device } : {}),
  };
}

/** Options of {@link GnssTimeReader}. */
export type GnssReaderOptions = {
  /** Source name for the samples (`nmea:/dev/ttyUSB0`, `gpsd:127.0.0.1:2947`). */
  source: string;
  protocol: 'nmea' | 'gpsd';
  /** Largest delay between the second a report names and its arrival, ms. */
  maxLatencyMs: number;
};

/**
 * Turns a receiver's lines into samples. Only the first report of each second is used (later sentences
 * of the same epoch arrive later still). A ZDA counts only while the talker's last RMC (within 2 s)
 * reported a valid fix: ZDA itself cannot say whether the time comes from satellites or a battery clock.
 */
export class GnssTimeReader {
  readonly #o: GnssReaderOptions;
  #latest: TimeSample | undefined;
  #problem = 'no report from the receiver yet';
  #lastEpoch = Number.NaN;
  readonly #validRmc = new Map<string, number>();

  constructor(options: GnssReaderOptions) {
    if (!Number.isFinite(options.maxLatencyMs) || options.maxLatencyMs < 0)
      throw new RangeError('maxLatencyMs must be a non-negative number');
    this.#o = options;
  }

  /** Feeds one line and the system-clock time it arrived; returns the new sample, if it made one. */
  feed(line: string, receivedAt: Date): TimeSample | undefined {
    let time: Date;
    let extraMs = 0;
    let detail: string;
    if (this.#o.protocol === 'nmea') {
      const p = parseNmeaSentence(line);
      if (p.kind === 'ignored') return undefined;
      if (p.kind === 'invalid') {
        this.#problem = `NMEA: ${p.reason}`;
        return undefined;
      }
      if (p.sentence === 'RMC') {
        if (!p.valid) {
          // The receiver says it has no fix: the last reading no longer stands for the present.
          this.#validRmc.delete(p.talker);
          this.#latest = undefined;
          this.#problem = p.why ?? 'RMC not valid';
          return undefined;
        }
        this.#validRmc.set(p.talker, p.time.getTime());
      } else {
        const rmc = this.#validRmc.get(p.talker);
        if (rmc === undefined || Math.abs(p.time.getTime() - rmc) > 2000) {
          this.#problem = 'ZDA without a recent valid RMC fix';
          return undefined;
        }
      }
      time = p.time;
      detail = `${p.talker}${p.sentence}`;
    } else {
      const p = parseGpsdLine(line);
      if (p.kind === 'ignored') return undefined;
      if (p.kind === 'invalid') {
        if (p.reason.includes('no fix')) this.#latest = undefined;
        this.#problem = `gpsd: ${p.reason}`;
        return undefined;
      }
      time = p.time;
      extraMs = p.eptMs ?? 0;
      detail = `TPV mode ${p.mode}${p.device ? ` ${p.device}` : ''}`;
    }
    const epoch = Math.floor(time.getTime() / 1000);
    if (epoch === this.#lastEpoch) return undefined;
    this.#lastEpoch = epoch;
    const half = this.#o.maxLatencyMs / 2;
    this.#latest = {
      source: this.#o.source,
      offsetMs: receivedAt.getTime() - time.getTime() - half,
      boundMs: half + extraMs,
      at: receivedAt,
      detail,
    };
    return this.#latest;
  }

  /** The latest sample (the monitor judges its age), or undefined. */
  latest(): TimeSample | undefined {
    return this.#latest;
  }

  /** Why the latest line gave no sample (for the error when there is none at all). */
  get problem(): string {
    return this.#problem;
  }
}
