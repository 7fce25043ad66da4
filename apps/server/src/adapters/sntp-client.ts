/**
 * The SNTP client (RFC 4330) over UDP: one request per reading, from a fresh socket (a fresh source
 * port), with 8 random bytes as the transmit timestamp that the server must echo (the anti-spoofing
 * nonce); replies from other addresses or with another origin are dropped while we keep waiting, and
 * the reading fails at the timeout. The checks and the arithmetic are @medsign/tsa's `checkSntpResponse`.
 * A reading in flight holds the process open for at most its timeout; the monitor's poll timer is unref'd.
 */

import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { checkSntpResponse, sntpRequest, type TimeSample, type TimeSampleSource } from '@medsign/tsa';

/** Splits `host[:port]` / `[v6]:port` (default port 123). Throws RangeError with a readable reason. */
export function parseHostPort(text: string, defaultPort: number): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:[\]]+)(?::(\d+))?$/.exec(text);
  if (!m) throw new RangeError(`${JSON.stringify(text)} is not host or host:port`);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new RangeError(`${JSON.stringify(text)}: port must be 1–65535`);
  return { host: m[1]!, port };
}

/** A time source reading one NTP server (`host:port`) over SNTP. */
export function sntpSource(target: string, options: { timeoutMs: number }): TimeSampleSource {
  const { host, port } = parseHostPort(target, 123);
  const name = `ntp:${target}`;
  return {
    name,
    async read(): Promise<TimeSample> {
      const address = isIP(host) ? host : (await lookup(host)).address;
      const family = isIP(address) === 6 ? 'udp6' : 'udp4';
      const nonce = new Uint8Array(randomBytes(8));
      const socket = createSocket(family);
      try {
        // A connected socket: the kernel drops datagrams from any other address or port, and the send
        // below starts at once (no lookup or implicit bind between reading t1 and the packet leaving).
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.connect(port, address, () => {
            socket.off('error', reject);
            resolve();
          });
        });
        return await new Promise<TimeSample>((resolve, reject) => {
          let lastRefusal: string | undefined;
          const timer = setTimeout(
            () =>
              reject(
                new Error(
                  `no valid reply within ${options.timeoutMs} ms${lastRefusal ? ` (last reply: ${lastRefusal})` : ''}`,
                ),
              ),
            options.timeoutMs,
          );
          socket.on('error', (e) => {
            clearTimeout(timer);
            reject(e);
          });
          socket.on('message', (msg) => {
            // Date.now() is the clock being measured; the round trip is timed on the monotonic clock, so a
            // step of the system clock mid-exchange cannot distort the delay.
            const t4 = t1 + (performance.now() - h1);
            const r = checkSntpResponse(new Uint8Array(msg), { nonce, t1Ms: t1, t4Ms: t4 });
            if (!r.ok) {
              lastRefusal = r.reason;
              // A reply whose origin is not our nonce may be forged: keep waiting for the real one.
              if (/origin timestamp/.test(r.reason)) return;
              clearTimeout(timer);
              reject(new Error(r.reason));
              return;
            }
            clearTimeout(timer);
            resolve({
              source: name,
              offsetMs: r.offsetMs,
              // + 0.5 ms: t1 is the middle of Date.now()'s millisecond (see below).
              boundMs: r.boundMs + 0.5,
              at: new Date(Math.round(t4)),
              detail: `stratum ${r.stratum}, reference ${r.referenceId}, delay ${r.delayMs.toFixed(1)} ms`,
            });
          });
          const request = sntpRequest(nonce);
          // Date.now() truncates to the millisecond: the true send time lies in [now, now + 1).
          const t1 = Date.now() + 0.5;
          const h1 = performance.now();
          socket.send(request, (e) => {
            if (e) {
              clearTimeout(timer);
              reject(e);
            }
          });
        });
      } finally {
        socket.close();
      }
    },
  };
}
