/**
 * Crash recovery of issuances (conventions.md §4, issue 4 "Crash safety"). The CA core records an intent
 * before its key signs and closes it once the certificate is stored. An intent still `pending` or `signed`
 * long after it was written means a process died (or lost its database) between intent and store. At
 * start-up such intents are resolved, each with an audit event an auditor can follow:
 *
 * - the certificate is in the inventory (the crash came after the store, before the intent was closed):
 *   the intent becomes `stored` — `cert.intent-recovered`;
 * - it is not: the signature, if one was made, never left the dead process, so no relying party can hold
 *   that certificate. The intent becomes `failed` and its serial stays reserved, never reused —
 *   `cert.intent-abandoned`.
 *
 * Intents younger than the grace period are left alone: with several processes on one PostgreSQL they may
 * belong to a live issuance in another process (the /healthz `issuance-intents` check reports them once
 * they are older than the same period).
 */

import { bytesToHex, sm3 } from '@medsign/gm';
import { ParsedCertificate } from '@medsign/pki';
import { StoreError, type ApplicationRecord, type IssuanceIntent, type Store } from '@medsign/store';

/** How old an unfinished intent must be before recovery closes it (and /healthz calls it interrupted). */
export const INTENT_GRACE_MS = 5 * 60_000;

/** The audit actor of recovery events. */
export const RECOVERY_ACTOR = 'system:recovery';

/** What recovery did with one intent. */
export type RecoveredIntent = {
  id: string;
  caId: string;
  serial: string;
  /** The state the intent was left in by the crash. */
  was: 'pending' | 'signed';
  /** `stored`: the certificate was in the inventory; `failed`: it never was, the intent is abandoned. */
  outcome: 'stored' | 'failed';
};

/** Options of {@link recoverInterruptedIssuances}. */
export type RecoveryOptions = {
  now?: () => Date;
  /** Default {@link INTENT_GRACE_MS}. */
  graceMs?: number;
};

async function storedMatches(store: Store, intent: IssuanceIntent): Promise<boolean> {
  const record = await store.certificates.findBySerial(intent.caId, intent.serial);
  if (!record) return false;
  // The same serial under the same CA is the same certificate (the serial ledger never hands one out
  // twice); the TBS hash confirms it is what the intent announced.
  return bytesToHex(sm3(ParsedCertificate.parse(record.der).tbsDer)) === intent.tbsHash;
}

/**
 * Closes the issuance intents a crash left unfinished and older than the grace period; returns what it
 * did (empty when nothing was interrupted). Safe to run from several processes at once: each intent's
 * state changes in one conditional update, and only the process whose update succeeded writes the audit
 * event.
 */
export async function recoverInterruptedIssuances(
  store: Store,
  options: RecoveryOptions = {},
): Promise<RecoveredIntent[]> {
  const now = (options.now ?? (() => new Date()))();
  const graceMs = options.graceMs ?? INTENT_GRACE_MS;
  const done: RecoveredIntent[] = [];
  for (const intent of await store.intents.listUnfinished()) {
    const ageMs = now.getTime() - intent.updatedAt.getTime();
    if (ageMs < graceMs) continue;
    const was = intent.state as 'pending' | 'signed';
    const stored = await storedMatches(store, intent);
    try {
      if (stored) await store.intents.markStored(intent.id, now);
      else
        await store.intents.markFailed(
          intent.id,
          `abandoned at start-up: interrupted while ${was} (the process stopped between intent and store)`,
          now,
        );
    } catch (e) {
      // Another process resolved it first (or the issuance finished just now): nothing left to do.
      if (e instanceof StoreError && e.code === 'invalid-state') continue;
      throw e;
    }
    await store.audit.append({
      actor: RECOVERY_ACTOR,
      action: stored ? 'cert.intent-recovered' : 'cert.intent-abandoned',
      target: `${intent.caId}/${intent.serial}`,
      detail: {
        caId: intent.caId,
        serial: intent.serial,
        tbsHash: intent.tbsHash,
        intent: intent.id,
        state: was,
        ageSeconds: Math.floor(ageMs / 1000),
      },
    });
    done.push({
      id: intent.id,
      caId: intent.caId,
      serial: intent.serial,
      was,
      outcome: stored ? 'stored' : 'failed',
    });
  }
  return done;
}

/**
 * Applications a crash left `approved`: the approval moved them out of `pending`, but the process died
 * before the certificate was stored (the store writes the certificate and the `issued` state in one
 * transaction, so an `approved` application has no certificate). Older than the grace period, each goes
 * back to `pending` for another review — `application.approval-abandoned` — so the applicant is not
 * blocked by the one-open-application rule. Returns their ids.
 */
export async function recoverInterruptedApprovals(
  store: Store,
  options: RecoveryOptions = {},
): Promise<string[]> {
  const now = (options.now ?? (() => new Date()))();
  const graceMs = options.graceMs ?? INTENT_GRACE_MS;
  // Read every approved application first: moving them back changes the set being paged through.
  const approved: ApplicationRecord[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await store.applications.search({ state: 'approved', limit: 1000, offset });
    approved.push(...page.items);
    if (page.items.length < 1000) break;
  }
  const done: string[] = [];
  for (const a of approved) {
    if (now.getTime() - a.updatedAt.getTime() < graceMs) continue;
    if (!(await store.applications.transition(a.id, 'approved', 'pending', null))) continue;
    await store.audit.append({
      actor: RECOVERY_ACTOR,
      action: 'application.approval-abandoned',
      target: a.id,
      detail: { approvedBy: a.review?.by ?? '', profile: a.profile },
    });
    done.push(a.id);
  }
  return done;
}
