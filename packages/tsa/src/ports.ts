/**
 * The ports of the TSA core: the clock genTime is read from, randomness for token serials, and the
 * archive every granted token is recorded in before it leaves. The time source (time-source.ts) says
 * whether the clock may be used at all.
 */

import type { HashName } from '@medsign/pki';
import type { TimeSource } from './time-source.js';

/** The clock genTime is read from (the system clock in the server, a fake clock in tests). */
export interface Clock {
  now(): Date;
}

/** What the archive keeps of one granted token: enough to prove it later and to count usage. */
export type ArchivedToken = {
  /** TSTInfo serialNumber; unique across every unit and process sharing the archive. */
  serial: bigint;
  /** The unit that signed it (`sm2`, `rsa`, `ecdsa`). */
  unit: string;
  hashAlgorithm: HashName;
  hashedMessage: Uint8Array;
  genTime: Date;
  policy: string;
  /** The requester's address as the server saw it, when known. */
  requester?: string;
  /** Whether the request carried a nonce (the value itself is not kept). */
  nonce: boolean;
  /** SM3 of the DER TimeStampToken, so a presented token can be matched to its record. */
  tokenHash: Uint8Array;
};

/**
 * The token archive. `archive` resolves once the record is durable, with `duplicate` when the serial is
 * already taken (the TSA then signs again with a fresh serial); any other failure rejects, and the token
 * is not handed out.
 */
export interface TokenArchive {
  archive(token: ArchivedToken): Promise<'stored' | 'duplicate'>;
}

/** Everything `respondTimeStamp` needs besides the unit. */
export type TsaDeps = {
  clock: Clock;
  timeSource: TimeSource;
  archive: TokenArchive;
  /** Cryptographically secure random bytes (token serials). */
  randomBytes(n: number): Uint8Array;
};
