/**
 * Audit sinks into the store's hash-chained log: one for the CA core (AuditSink) and one for the keystore
 * (KeyAuditHook). Values are masked before they are appended: the log is kept for years and handed to
 * inspectors, so personal identifiers appear only as their last four characters.
 */

import type { AuditEvent, AuditSink } from '@medsign/ca';
import type { KeyAuditHook } from '@medsign/keystore';
import type { Store } from '@medsign/store';

/** Detail keys whose values are personal data: masked to their last four characters. */
const PERSONAL = /^(idNumber|phone|mobile|email|name)$/i;
/** Detail keys that must never be logged at all. */
const SECRET = /(password|passphrase|pin|secret|token|privateKey|kek)/i;

/** Masks one detail value: secrets become "***", personal fields keep only their last four characters. */
export function maskValue(key: string, value: string | number | boolean): string | number | boolean {
  if (SECRET.test(key)) return '***';
  if (PERSONAL.test(key) && typeof value === 'string')
    return value.length <= 4 ? '*'.repeat(value.length) : `${'*'.repeat(value.length - 4)}${value.slice(-4)}`;
  return value;
}

/** The masked copy of an event's detail. */
export function maskDetail(
  detail: Record<string, string | number | boolean> | undefined,
): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(detail ?? {})) out[k] = maskValue(k, v);
  return out;
}

/** The CA core's audit port on the store's audit log. */
export function storeAuditSink(store: Store): AuditSink {
  return {
    async append(event: AuditEvent) {
      await store.audit.append({
        actor: event.actor,
        action: event.action,
        target: event.target ?? null,
        detail: maskDetail(event.detail),
      });
    },
  };
}

/**
 * The keystore's audit hook on the store's audit log: `key.generate`, `key.import`, `key.sign` with the
 * key id, label, purpose and digests only (the keystore never passes key bytes or signed data), and the
 * TSA's `key.session-open` / `key.session-close` (with the number of signatures).
 */
export function keystoreAuditHook(store: Store, actor = 'system:keystore'): KeyAuditHook {
  return async (event) => {
    const detail: Record<string, string | number> = { label: event.label, algorithm: event.algorithm };
    if (event.action === 'key.sign') {
      detail.purpose = event.purpose;
      detail.dataDigest = event.dataDigest;
    } else if ('sessionId' in event) {
      detail.purpose = event.purpose;
      detail.sessionId = event.sessionId;
      if (event.signatures !== undefined) detail.signatures = event.signatures;
    } else {
      detail.publicKeyDigest = event.publicKeyDigest;
    }
    await store.audit.append({ actor, action: event.action, target: event.keyId, detail });
  };
}
