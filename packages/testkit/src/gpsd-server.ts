/**
 * A fake gpsd on loopback (TCP, port 0): after a client's `?WATCH={…}` it sends VERSION, DEVICES and then
 * a TPV report every `intervalMs` with the current time plus a shift the test controls, or reports
 * "no fix" (mode 1) when told to.
 */

import { createServer, type Socket } from 'node:net';

/** A running fake gpsd. */
export type FakeGpsd = {
  /** `127.0.0.1:PORT`. */
  address: string;
  set(change: { shiftMs?: number; fix?: boolean }): void;
  /** Drops every connected client (as a gpsd restart would); the server keeps listening. */
  dropClients(): void;
  /** Clients connected so far. */
  readonly connections: number;
  close(): Promise<void>;
};

/** Starts the fake gpsd on 127.0.0.1, an ephemeral port. */
export async function startFakeGpsd(options: { intervalMs?: number } = {}): Promise<FakeGpsd> {
  const interval = options.intervalMs ?? 100;
  let shiftMs = 0;
  let fix = true;
  const clients = new Set<Socket>();
  let connections = 0;
  const send = (s: Socket, o: unknown) => s.write(JSON.stringify(o) + '\r\n');
  const server = createServer((s) => {
    clients.add(s);
    connections++;
    s.on('close', () => clients.delete(s));
    s.on('error', () => undefined);
    send(s, { class: 'VERSION', release: '3.25', rev: '3.25', proto_major: 3, proto_minor: 15 });
    let watching = false;
    s.on('data', (d) => {
      if (!watching && d.toString().includes('?WATCH=')) {
        watching = true;
        send(s, {
          class: 'DEVICES',
          devices: [{ class: 'DEVICE', path: '/dev/ttyFAKE0', driver: 'NMEA0183' }],
        });
        send(s, { class: 'WATCH', enable: true, json: true });
      }
    });
    const timer = setInterval(() => {
      if (!watching) return;
      send(
        s,
        fix
          ? {
              class: 'TPV',
              device: '/dev/ttyFAKE0',
              mode: 3,
              time: new Date(Date.now() + shiftMs).toISOString(),
              ept: 0.005,
            }
          : { class: 'TPV', device: '/dev/ttyFAKE0', mode: 1 },
      );
    }, interval);
    s.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    address: `127.0.0.1:${port}`,
    set(change) {
      if (change.shiftMs !== undefined) shiftMs = change.shiftMs;
      if (change.fix !== undefined) fix = change.fix;
    },
    dropClients() {
      for (const c of clients) c.destroy();
    },
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of clients) c.destroy();
        server.close(() => resolve());
      }),
  };
}
