/**
 * GNSS receivers as time sources: an NMEA 0183 device read as a stream (`nmea:/dev/ttyUSB0` — set its
 * baud rate with `stty` first; a named pipe works too) or gpsd's JSON over TCP (`gpsd:127.0.0.1:2947`).
 * Lines go to @medsign/tsa's GnssTimeReader with their arrival time; `read()` hands the monitor the
 * latest sample (the monitor judges its age). The stream opens at the first `read()` (so building the
 * services for a CLI command opens nothing); lost streams are reopened every second until closed;
 * handles and timers are unref'd, so a reader never keeps the process alive.
 */

import { openSync } from 'node:fs';
import { constants } from 'node:fs';
import { connect, Socket } from 'node:net';
import { isatty, ReadStream } from 'node:tty';
import { GnssTimeReader, type TimeSample, type TimeSampleSource } from '@medsign/tsa';
import { parseHostPort } from './sntp-client.js';

/** Longest line accepted from a receiver (NMEA allows 82; gpsd TPV lines are a few hundred bytes). */
const MAX_LINE = 4096;
const REOPEN_MS = 1000;
/** After opening, a read waits this long for the receiver's first report (they come once a second). */
const FIRST_REPORT_MS = 2000;

type Stream = { on(ev: string, f: (...a: never[]) => void): unknown; destroy(): void; unref?(): void };

function lineSource(
  name: string,
  protocol: 'nmea' | 'gpsd',
  maxLatencyMs: number,
  open: () => Stream,
): TimeSampleSource {
  const reader = new GnssTimeReader({ source: name, protocol, maxLatencyMs });
  let stream: Stream | undefined;
  let opened = false;
  let closed = false;
  let streamError: string | undefined;
  let reopen: NodeJS.Timeout | undefined;
  let buffer = '';
  let openedAt = 0;
  const waiting = new Set<() => void>();
  const start = () => {
    reopen = undefined;
    if (closed) return;
    buffer = '';
    try {
      stream = open();
    } catch (e) {
      streamError = (e as Error).message;
      lost();
      return;
    }
    stream.unref?.();
    stream.on('data', (chunk: Buffer | string) => {
      const at = new Date();
      streamError = undefined;
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        if (line && reader.feed(line, at)) for (const wake of waiting) wake();
      }
      if (buffer.length > MAX_LINE) buffer = '';
    });
    stream.on('error', (e: Error) => {
      streamError = e.message;
    });
    stream.on('close', () => lost());
  };
  const lost = () => {
    stream = undefined;
    if (closed || reopen) return;
    reopen = setTimeout(start, REOPEN_MS);
    reopen.unref();
  };
  return {
    name,
    async read(): Promise<TimeSample> {
      if (!opened) {
        opened = true;
        openedAt = Date.now();
        start();
      }
      // Just opened: give the receiver a moment for its first report, so a start is not "unusable".
      const left = openedAt + FIRST_REPORT_MS - Date.now();
      if (!reader.latest() && left > 0) {
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            waiting.delete(done);
            resolve();
          };
          const timer = setTimeout(done, left);
          timer.unref();
          waiting.add(done);
        });
      }
      const s = reader.latest();
      if (s) return s;
      throw new Error(streamError ?? reader.problem);
    },
    close() {
      closed = true;
      for (const wake of waiting) wake();
      if (reopen) clearTimeout(reopen);
      stream?.destroy();
    },
  };
}

/** An NMEA device (a serial tty, a named pipe) as a time source. */
export function nmeaDeviceSource(path: string, options: { maxLatencyMs: number }): TimeSampleSource {
  return lineSource(`nmea:${path}`, 'nmea', options.maxLatencyMs, () => {
    // Non-blocking open: a serial port without carrier or a pipe without writer must not hang a thread.
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    return isatty(fd) ? new ReadStream(fd) : new Socket({ fd, readable: true, writable: false });
  });
}

/** gpsd (`host:port`, default port 2947) as a time source: asks for its JSON watch stream. */
export function gpsdSource(target: string, options: { maxLatencyMs: number }): TimeSampleSource {
  const { host, port } = parseHostPort(target, 2947);
  return lineSource(`gpsd:${target}`, 'gpsd', options.maxLatencyMs, () => {
    const socket = connect({ host, port });
    socket.setTimeout(10_000, () => socket.destroy(new Error('gpsd sent nothing for 10 s')));
    socket.on('connect', () => socket.write('?WATCH={"enable":true,"json":true};\n'));
    return socket;
  });
}
