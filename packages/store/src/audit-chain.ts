// The pure part of the audit log: what an event is and how its hash is computed. No database here, so
// an offline verifier (an auditor's export, the evidence kit) can reuse it on exported rows.
import { sm3 } from '@medsign/gm';
import { canonicalJson, type JsonValue } from './canonical-json.js';

/** prev_hash of the first event: 32 zero bytes, as lower-case hex. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * One audit event as hashed and stored. `detail` must carry masked values only: never key material,
 * PINs, passwords or patient identifiers in clear (the log is kept for years and exported to inspectors);
 * callers mask (`"pin": "***"`, last 4 digits of an ID number) before appending.
 */
export interface AuditEvent {
  /** Position in the chain, 1, 2, 3 … without gaps. */
  seq: number;
  /** When it happened: ISO-8601 UTC with milliseconds. */
  time: string;
  /** Who: a user id, `system:<component>`, or a hospital system's client id. */
  actor: string;
  /** What, as a dotted verb: `cert.issue`, `cert.revoke`, `key.use`, `auth.login`, `config.change` … */
  action: string;
  /** On what (a serial, a key id, a user id), or null. */
  target: string | null;
  /** Further facts, a plain JSON object (masked; see above). */
  detail: { [key: string]: JsonValue | undefined };
}

/** A stored event: the event plus its chain links (hex). */
export interface ChainedAuditEvent extends AuditEvent {
  prevHash: string;
  hash: string;
}

/**
 * The bytes that are hashed for an event besides prev_hash: canonical JSON (canonical-json.ts) of the
 * object {action, actor, detail, seq, target, time}, UTF-8 encoded.
 */
export function auditEventBytes(event: AuditEvent): Uint8Array {
  const { seq, time, actor, action, target, detail } = event;
  return new TextEncoder().encode(canonicalJson({ seq, time, actor, action, target, detail }));
}

/** hash = SM3(prev_hash ‖ canonical JSON of the event), prev_hash as its 32 raw bytes; returns lower-case hex. */
export function computeAuditHash(prevHash: string, event: AuditEvent): string {
  if (!/^[0-9a-f]{64}$/.test(prevHash)) throw new RangeError('prevHash must be 32 bytes of lower-case hex');
  const body = auditEventBytes(event);
  const input = new Uint8Array(32 + body.length);
  input.set(Buffer.from(prevHash, 'hex'), 0);
  input.set(body, 32);
  return Buffer.from(sm3(input)).toString('hex');
}

/** Why the chain is broken at an event. */
export type AuditBreakReason =
  /** An event is missing: the stored sequence skips this seq (a deleted row). */
  | 'missing'
  /** prev_hash does not equal the previous event's hash (reordered, spliced or re-linked rows). */
  | 'prev-hash-mismatch'
  /** The stored hash does not match the event's content (an edited row). */
  | 'hash-mismatch'
  /** The row cannot be read as an event (detail not a JSON object, bad hash text …). */
  | 'malformed';

/** Where and why a chain first breaks. */
export interface AuditBreak {
  seq: number;
  reason: AuditBreakReason;
  message: string;
}

/**
 * Checks one stored event against its predecessor (`expectedSeq`, `prevHash` = the previous event's
 * stored hash, or GENESIS_HASH). Returns the break, or undefined when the link holds.
 */
export function checkAuditLink(
  expectedSeq: number,
  prevHash: string,
  event: ChainedAuditEvent,
): AuditBreak | undefined {
  if (event.seq !== expectedSeq) {
    if (event.seq > expectedSeq) {
      return {
        seq: expectedSeq,
        reason: 'missing',
        message: `event ${expectedSeq} is missing (next stored event is ${event.seq})`,
      };
    }
    return { seq: event.seq, reason: 'malformed', message: `event ${event.seq} is out of order` };
  }
  if (event.prevHash !== prevHash) {
    return {
      seq: event.seq,
      reason: 'prev-hash-mismatch',
      message: `event ${event.seq}: prev_hash does not equal the hash of event ${event.seq - 1}`,
    };
  }
  let hash: string;
  try {
    hash = computeAuditHash(prevHash, event);
  } catch (error) {
    return {
      seq: event.seq,
      reason: 'malformed',
      message: `event ${event.seq}: ${(error as Error).message}`,
    };
  }
  if (hash !== event.hash) {
    return {
      seq: event.seq,
      reason: 'hash-mismatch',
      message: `event ${event.seq}: content does not match its hash (edited)`,
    };
  }
  return undefined;
}
