/**
 * A small NTP server on loopback (UDP, port 0) that a test can tell to lie: shift its clock by N ms,
 * stop answering, answer as unsynchronised (leap 3), answer with a wrong origin timestamp, or send a
 * kiss-o'-death. It answers every client packet in server mode (4), echoing the client's transmit
 * timestamp as origin (RFC 5905 §8), with stratum 1 and reference "GPS" unless told otherwise.
 */

import { createSocket, type RemoteInfo } from 'node:dgram';
import { decodeNtpPacket, encodeNtpPacket, NTP_PACKET_LENGTH, unixMsToNtp } from '@medsign/tsa';

/** How the test server answers (change it at any time with {@link TestNtpServer.set}). */
export type NtpServerBehaviour = {
  /** Added to the true time in every answer, ms (positive: the server claims a later time). */
  shiftMs: number;
  /** Drop every request. */
  silent: boolean;
  /** Answer with leap indicator 3 (clock not synchronised). */
  unsynchronised: boolean;
  /** Answer with an origin timestamp that is not the client's (like a spoofed or stale reply). */
  wrongOrigin: boolean;
  /** Answer with stratum 0 and this kiss code (e.g. RATE, DENY). */
  kissCode?: string;
  /** Stratum of the answers (default 1). */
  stratum: number;
  /** Root dispersion claimed in the answers, ms (default 1). */
  rootDispersionMs: number;
};

/** A running test NTP server. */
export type TestNtpServer = {
  /** `127.0.0.1:PORT`, as the time-source configuration names it. */
  address: string;
  port: number;
  /** Requests received so far (answered or not). */
  readonly requests: number;
  /** Changes part of the behaviour. */
  set(change: Partial<NtpServerBehaviour>): void;
  /** Back to an honest, synchronised server. */
  honest(): void;
  close(): Promise<void>;
};

const HONEST: NtpServerBehaviour = {
  shiftMs: 0,
  silent: false,
  unsynchronised: false,
  wrongOrigin: false,
  stratum: 1,
  rootDispersionMs: 1,
};

/** Starts the server on 127.0.0.1, an ephemeral port. */
export async function startTestNtpServer(initial: Partial<NtpServerBehaviour> = {}): Promise<TestNtpServer> {
  let b: NtpServerBehaviour = { ...HONEST, ...initial };
  let requests = 0;
  const socket = createSocket('udp4');
  socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
    requests++;
    const received = Date.now() + b.shiftMs;
    if (b.silent || msg.length < NTP_PACKET_LENGTH) return;
    const req = decodeNtpPacket(new Uint8Array(msg));
    if (req.mode !== 3) return;
    const kiss = b.kissCode !== undefined;
    const reply = encodeNtpPacket({
      leap: b.unsynchronised ? 3 : 0,
      version: req.version >= 1 && req.version <= 4 ? req.version : 4,
      mode: 4,
      stratum: kiss ? 0 : b.stratum,
      poll: req.poll,
      precision: -20,
      rootDelay: 0,
      rootDispersion: b.rootDispersionMs / 1000,
      referenceId: new Uint8Array(Buffer.from((kiss ? b.kissCode! : 'GPS').padEnd(4, '\0').slice(0, 4))),
      referenceTime: unixMsToNtp(received - 1000),
      originTime: b.wrongOrigin ? req.transmitTime ^ 0xffffn : req.transmitTime,
      receiveTime: unixMsToNtp(received),
      transmitTime: unixMsToNtp(Date.now() + b.shiftMs),
    });
    socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  const port = socket.address().port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    get requests() {
      return requests;
    },
    set: (change) => void (b = { ...b, ...change }),
    honest: () => void (b = { ...HONEST }),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
