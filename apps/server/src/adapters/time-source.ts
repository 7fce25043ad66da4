/**
 * Wires the time-source monitor (@medsign/tsa) to this server: its sources from the configuration (SNTP
 * clients, a GNSS reader), an unref'd timer (a monitor never keeps the process alive), and a sink that
 * keeps the history in the store — sampled checks, pruned after `historyDays`, and every state change —
 * and writes each state change to the audit log (`time-source.unusable`, `time-source.restored`,
 * `time-source.switched`). With no source configured the system clock is trusted.
 */

import { hostname } from 'node:os';
import type { Store } from '@medsign/store';
import {
  systemClockTimeSource,
  TimeMonitor,
  type TimeMonitorSink,
  type TimeSampleSource,
  type TimeSource,
  type TimerPort,
} from '@medsign/tsa';
import type { TimeSourceConfig } from '../config.js';
import { gpsdSource, nmeaDeviceSource } from './gnss-reader.js';
import { sntpSource } from './sntp-client.js';

/** The actor of time-source audit events. */
export const TIME_SOURCE_ACTOR = 'system:time-source';

/** setTimeout, unref'd. */
export const unrefTimer: TimerPort = {
  schedule(delayMs, run) {
    const t = setTimeout(run, delayMs);
    t.unref();
    return () => clearTimeout(t);
  },
};

/** Pruning old samples runs at most this often. */
const PRUNE_EVERY_MS = 3_600_000;

/** The history and audit sink of the monitor on the store. */
export function storeTimeSink(
  store: Store,
  options: { node: string; historyDays: number; now: () => Date },
): TimeMonitorSink {
  let lastPrune = 0;
  const base = (r: Parameters<TimeMonitorSink['sample']>[0]) => ({
    at: r.at,
    node: options.node,
    usable: r.usable,
    source: r.source ?? null,
    offsetMs: r.offsetMs ?? null,
    boundMs: r.boundMs ?? null,
    detail: r.detail,
  });
  return {
    async sample(record) {
      await store.timeSourceHistory.append({ ...base(record), kind: 'sample', previousSource: null });
      const t = options.now().getTime();
      if (t - lastPrune >= PRUNE_EVERY_MS) {
        lastPrune = t;
        await store.timeSourceHistory.pruneSamples(new Date(t - options.historyDays * 86_400_000));
      }
    },
    async change(change) {
      await store.timeSourceHistory.append({
        ...base(change),
        kind: change.kind,
        previousSource: change.previousSource ?? null,
      });
      const detail: Record<string, string | number | boolean> = {
        node: options.node,
        usable: change.usable,
        detail: change.detail,
      };
      if (change.offsetMs !== undefined) detail.offsetMs = Math.round(change.offsetMs * 1000) / 1000;
      if (change.boundMs !== undefined) detail.boundMs = Math.round(change.boundMs * 1000) / 1000;
      if (change.previousSource !== undefined) detail.previousSource = change.previousSource;
      await store.audit.append({
        actor: TIME_SOURCE_ACTOR,
        action: `time-source.${change.kind}`,
        target: change.source ?? null,
        detail,
      });
    },
  };
}

/** The configured sources (NTP servers first, then the GNSS receiver). */
export function configuredSources(config: TimeSourceConfig): TimeSampleSource[] {
  // A reply slower than half a poll (at most 1 s; an intranet answers in milliseconds) is no reply.
  const timeoutMs = Math.max(50, Math.min(1000, (config.pollSeconds * 1000) / 2));
  const sources = config.ntp.map((t) => sntpSource(t, { timeoutMs }));
  if (config.gnss?.kind === 'nmea')
    sources.push(nmeaDeviceSource(config.gnss.path, { maxLatencyMs: config.gnssLatencyMs }));
  if (config.gnss?.kind === 'gpsd')
    sources.push(gpsdSource(config.gnss.address, { maxLatencyMs: config.gnssLatencyMs }));
  return sources;
}

/**
 * The time source for a configuration: a monitor (not started: the server's start does that; the CLI
 * never polls) when sources are configured, else the trusted system clock.
 */
export function buildTimeSource(
  config: TimeSourceConfig,
  store: Store,
  now: () => Date,
): { timeSource: TimeSource; monitor?: TimeMonitor } {
  if (config.ntp.length === 0 && !config.gnss)
    return { timeSource: systemClockTimeSource(config.accuracyMs) };
  const monitor = new TimeMonitor({
    sources: configuredSources(config),
    clock: { now },
    timer: unrefTimer,
    sink: storeTimeSink(store, { node: hostname(), historyDays: config.historyDays, now }),
    accuracyMs: config.accuracyMs,
    pollMs: config.pollSeconds * 1000,
    windowMs: config.windowSeconds * 1000,
    sampleMs: config.sampleSeconds * 1000,
  });
  return { timeSource: monitor, monitor };
}
