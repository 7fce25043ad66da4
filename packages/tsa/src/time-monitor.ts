/**
 * The time-source monitor: compares the system clock with the configured sources (NTP servers over SNTP,
 * a GNSS receiver over NMEA or gpsd — each a {@link TimeSampleSource}), picks the best agreeing reading,
 * and answers {@link TimeSource.status} from its last check. Every check goes to the sink (which keeps
 * samples at its own interval) and every state change — unusable, restored, source switched — is emitted
 * once, so the server can audit it and keep the history auditors ask for. Pure: the clock, the timer and
 * the sources are ports; the sockets and the database live in the server's adapters.
 *
 * Selection, kept simple but defensible:
 * - a source's reading counts while it is younger than the window; its bound grows by 15 ppm of its age
 *   (RFC 5905 PHI: the system clock may drift that much since the reading);
 * - each reading is an interval [offset − bound, offset + bound] that must contain the true offset; two
 *   readings agree when their intervals overlap. With three or more readings, only those agreeing with a
 *   strict majority (themselves included) are candidates, so one wild source never wins; with two that
 *   disagree there is no telling which is wrong and the clock is not usable (configure three or more to
 *   ride out one bad source);
 * - among the candidates the smallest bound wins; the clock is usable when |offset| + bound is within
 *   the configured accuracy.
 */

import type { TimeSource, TimeSourceStatus } from './time-source.js';

/** One reading of a source against the system clock. */
export type TimeSample = {
  /** Source name, e.g. `ntp:10.1.1.1:123`, `nmea:/dev/ttyUSB0`, `gpsd:127.0.0.1:2947`. */
  source: string;
  /** System clock minus source time, ms (positive: the system clock is ahead). */
  offsetMs: number;
  /** Bound on the error of `offsetMs` when it was measured, ms. */
  boundMs: number;
  /** System-clock time of the measurement. */
  at: Date;
  /** One line about the reading (stratum, reference, fix), for the history. */
  detail?: string;
};

/** A configured time source. */
export interface TimeSampleSource {
  readonly name: string;
  /** Takes (or returns the latest) reading; rejects with an Error saying why there is none. */
  read(): Promise<TimeSample>;
  /** Releases sockets, streams (called by {@link TimeMonitor.stop}). */
  close?(): Promise<void> | void;
}

/** Schedules one call after a delay; returns its cancel function. The server's version unrefs its timers. */
export interface TimerPort {
  schedule(delayMs: number, run: () => void): () => void;
}

/** One check as recorded. */
export type TimeCheckRecord = {
  at: Date;
  usable: boolean;
  source?: string;
  offsetMs?: number;
  boundMs?: number;
  detail: string;
};

/** A state change of the monitor. */
export type TimeSourceChange = TimeCheckRecord & {
  /** unusable: the clock may no longer be trusted; restored: it may again; switched: another source won. */
  kind: 'unusable' | 'restored' | 'switched';
  /** For `switched`: the source that won before. */
  previousSource?: string;
};

/** Where checks and changes go (the server: history table and audit log). */
export interface TimeMonitorSink {
  /** A check worth keeping: at most one per `sampleMs`, plus every check that changed the state. */
  sample(record: TimeCheckRecord): Promise<void>;
  change(change: TimeSourceChange): Promise<void>;
}

/** Options of {@link TimeMonitor}. */
export type TimeMonitorOptions = {
  sources: readonly TimeSampleSource[];
  /** The system clock being monitored. */
  clock: { now(): Date };
  timer: TimerPort;
  sink: TimeMonitorSink;
  /** Required accuracy: |offset| + bound beyond it → not usable. */
  accuracyMs: number;
  /** Time between checks. */
  pollMs: number;
  /** A reading older than this no longer counts; none left → not usable. */
  windowMs: number;
  /** Minimum time between recorded samples (changes are always recorded). */
  sampleMs: number;
};

/** RFC 5905 PHI: the frequency tolerance assumed for the system clock, 15 ppm. */
export const CLOCK_DRIFT_PPM = 15;

/** The outcome of one selection over the readings at hand. */
export type TimeSelection = {
  usable: boolean;
  sample?: TimeSample;
  /** The chosen reading's bound, aged to the selection time. */
  boundMs?: number;
  detail: string;
};

const fmt = (ms: number) => `${ms >= 0 ? '+' : '−'}${Math.abs(ms).toFixed(1)} ms`;

/**
 * Chooses among the latest readings of each source (see the module comment). `errors` (source → why it
 * has no reading) only feed the detail line.
 */
export function selectTime(
  readings: readonly TimeSample[],
  options: { now: Date; windowMs: number; accuracyMs: number; errors?: ReadonlyMap<string, string> },
): TimeSelection {
  const now = options.now.getTime();
  const fresh = readings
    .filter((r) => now - r.at.getTime() <= options.windowMs && now - r.at.getTime() >= -options.windowMs)
    .map((r) => ({ r, bound: r.boundMs + (Math.abs(now - r.at.getTime()) * CLOCK_DRIFT_PPM) / 1e6 }));
  if (fresh.length === 0) {
    const why = [...(options.errors ?? new Map<string, string>())].map(([s, e]) => `${s}: ${e}`);
    return {
      usable: false,
      detail: `no time source answered within ${options.windowMs / 1000} s${why.length ? ` (${why.join('; ')})` : ''}`,
    };
  }
  const overlaps = (a: (typeof fresh)[number], b: (typeof fresh)[number]) =>
    Math.abs(a.r.offsetMs - b.r.offsetMs) <= a.bound + b.bound;
  let candidates = fresh;
  if (fresh.length >= 2) {
    candidates = fresh.filter((a) => fresh.filter((b) => overlaps(a, b)).length * 2 > fresh.length);
    if (candidates.length === 0) {
      const list = fresh.map((f) => `${f.r.source} ${fmt(f.r.offsetMs)} ± ${f.bound.toFixed(1)} ms`);
      return {
        usable: false,
        detail: `time sources disagree, no majority among ${fresh.length}: ${list.join(', ')}`,
      };
    }
  }
  const best = candidates.reduce((a, b) => (b.bound < a.bound ? b : a));
  const worst = Math.abs(best.r.offsetMs) + best.bound;
  const usable = worst <= options.accuracyMs;
  const agree = fresh.length > 1 ? `; ${candidates.length} of ${fresh.length} sources agree` : '';
  const reading = `${best.r.source}: offset ${fmt(best.r.offsetMs)} ± ${best.bound.toFixed(1)} ms`;
  return {
    usable,
    sample: best.r,
    boundMs: best.bound,
    detail: usable
      ? `${reading}, within ${options.accuracyMs} ms${agree}`
      : `${reading} exceeds the accuracy of ${options.accuracyMs} ms${agree}`,
  };
}

/**
 * The monitor. `check()` runs one round (all sources in parallel); `start()` checks now and then every
 * `pollMs` until `stop()`. Before the first check finishes the status is not usable ("starting").
 */
export class TimeMonitor implements TimeSource {
  readonly #o: TimeMonitorOptions;
  readonly #latest = new Map<string, TimeSample>();
  readonly #errors = new Map<string, string>();
  #status: TimeSourceStatus;
  /** Whether any check has finished (the first result is not a "change" unless it is unusable). */
  #checked = false;
  #lastRecordedAt: number | undefined;
  #inFlight: Promise<TimeSourceStatus> | undefined;
  #cancel: (() => void) | undefined;
  #running = false;
  #onError: (error: unknown) => void = () => undefined;

  constructor(options: TimeMonitorOptions) {
    for (const k of ['accuracyMs', 'pollMs', 'windowMs', 'sampleMs'] as const) {
      if (!Number.isFinite(options[k]) || options[k] <= 0)
        throw new RangeError(`${k} must be a positive number`);
    }
    if (options.sources.length === 0) throw new RangeError('a time monitor needs at least one source');
    const names = new Set(options.sources.map((s) => s.name));
    if (names.size !== options.sources.length) throw new RangeError('time source names must be unique');
    this.#o = options;
    this.#status = {
      usable: false,
      accuracyMs: options.accuracyMs,
      detail: 'time source starting: first check pending',
    };
  }

  /** The status of the last check (synchronous: granting a token costs no I/O). */
  status(): TimeSourceStatus {
    return this.#status;
  }

  /** The source names, in configuration order. */
  get sources(): string[] {
    return this.#o.sources.map((s) => s.name);
  }

  /** Runs one check now (joins the one in flight, if any) and returns the new status. */
  check(): Promise<TimeSourceStatus> {
    this.#inFlight ??= this.#check().finally(() => (this.#inFlight = undefined));
    return this.#inFlight;
  }

  /** Checks now, then every `pollMs`, until {@link stop}. `onError` hears sink failures (logged by the server). */
  start(options: { onError?: (error: unknown) => void } = {}): void {
    if (this.#running) return;
    this.#running = true;
    if (options.onError) this.#onError = options.onError;
    const loop = () => {
      this.#cancel = undefined;
      void this.check()
        .catch((e: unknown) => this.#onError(e))
        .finally(() => {
          if (this.#running) this.#cancel = this.#o.timer.schedule(this.#o.pollMs, loop);
        });
    };
    loop();
  }

  /** Stops polling, waits for a check in flight, and closes the sources. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#cancel?.();
    this.#cancel = undefined;
    await this.#inFlight?.catch(() => undefined);
    for (const s of this.#o.sources) await Promise.resolve(s.close?.()).catch(() => undefined);
  }

  async #check(): Promise<TimeSourceStatus> {
    const results = await Promise.allSettled(this.#o.sources.map((s) => s.read()));
    results.forEach((r, i) => {
      const name = this.#o.sources[i]!.name;
      if (r.status === 'fulfilled') {
        this.#latest.set(name, { ...r.value, source: name });
        this.#errors.delete(name);
      } else {
        const e = r.reason as unknown;
        this.#errors.set(name, e instanceof Error ? e.message : String(e));
      }
    });
    const now = this.#o.clock.now();
    const selection = selectTime([...this.#latest.values()], {
      now,
      windowMs: this.#o.windowMs,
      accuracyMs: this.#o.accuracyMs,
      errors: this.#errors,
    });
    const previous = this.#status;
    const wasChecked = this.#checked;
    const next: TimeSourceStatus = {
      usable: selection.usable,
      accuracyMs: this.#o.accuracyMs,
      checkedAt: now,
      detail: selection.detail,
      ...(selection.sample
        ? { source: selection.sample.source, offsetMs: selection.sample.offsetMs, boundMs: selection.boundMs }
        : {}),
    };
    this.#status = next;
    this.#checked = true;

    const record: TimeCheckRecord = {
      at: now,
      usable: next.usable,
      detail: next.detail,
      ...(next.source !== undefined ? { source: next.source } : {}),
      ...(next.offsetMs !== undefined ? { offsetMs: next.offsetMs } : {}),
      ...(next.boundMs !== undefined ? { boundMs: next.boundMs } : {}),
    };
    let change: TimeSourceChange | undefined;
    if (!next.usable && (previous.usable || !wasChecked)) change = { ...record, kind: 'unusable' };
    else if (next.usable && !previous.usable && wasChecked) change = { ...record, kind: 'restored' };
    else if (next.usable && previous.usable && next.source !== previous.source)
      change = {
        ...record,
        kind: 'switched',
        ...(previous.source !== undefined ? { previousSource: previous.source } : {}),
      };

    const t = now.getTime();
    const due = this.#lastRecordedAt === undefined || t - this.#lastRecordedAt >= this.#o.sampleMs;
    // Separate writes: a failed sample write must not lose the audit of a state change.
    if (due || change) {
      this.#lastRecordedAt = t;
      await this.#o.sink.sample(record).catch((e: unknown) => this.#onError(e));
    }
    if (change) await this.#o.sink.change(change).catch((e: unknown) => this.#onError(e));
    return next;
  }
}
