/**
 * Time-boxed signing authorisations (免密授权): a signer shows intent once, with the PIN, and lets named
 * applications sign for them without a PIN for 1 hour to 60 days; the grant is revocable at any time.
 * Granting, revoking and every use are audited (the use in the signature's own `sign.signature` event,
 * which names the authorisation).
 */

import { randomUUID } from 'node:crypto';
import { DomainError } from '@medsign/errors';
import { checkSignerPin, findSigner, type SignerDeps } from './signers.js';
import type { AuthorisationRecord, SignerRecord } from './ports.js';

/** Shortest and longest authorisation, minutes. */
export const AUTHORISATION_MINUTES = { min: 60, max: 60 * 24 * 60 } as const;
const MAX_APPS = 16;

export type GrantRequest = {
  /** Employee number. */
  signer: string;
  pin: string;
  durationMinutes: number;
  /** Applications that may sign with it (default: the granting application). */
  apps?: string[];
};

const invalid = (detail: string) => new DomainError('SIGN_AUTHORISATION_INVALID', detail);

/** Grants an authorisation (the PIN is checked and counted as for signing); audited `signer.authorise`. */
export async function grantAuthorisation(
  req: GrantRequest,
  appId: string,
  deps: SignerDeps,
): Promise<AuthorisationRecord> {
  const minutes = req.durationMinutes;
  if (
    !Number.isInteger(minutes) ||
    minutes < AUTHORISATION_MINUTES.min ||
    minutes > AUTHORISATION_MINUTES.max
  )
    throw invalid(`durationMinutes must be ${AUTHORISATION_MINUTES.min}–${AUTHORISATION_MINUTES.max}`);
  const appIds = [...new Set(req.apps?.length ? req.apps : [appId])];
  if (appIds.length > MAX_APPS) throw invalid(`at most ${MAX_APPS} applications`);
  for (const id of appIds) {
    const app = typeof id === 'string' ? await deps.store.getApp(id) : undefined;
    if (!app || app.status !== 'active') throw invalid(`no active application ${String(id)}`);
  }
  const signer = await findSigner(req.signer, deps.store);
  await checkSignerPin(signer, req.pin, `app:${appId}`, deps);
  const now = deps.clock.now();
  const record: AuthorisationRecord = {
    id: randomUUID(),
    signerId: signer.id,
    appIds,
    grantedVia: appId,
    createdAt: now,
    expiresAt: new Date(now.getTime() + minutes * 60_000),
    revokedAt: null,
  };
  await deps.store.insertAuthorisation(record);
  await deps.audit.append({
    actor: `app:${appId}`,
    action: 'signer.authorise',
    target: record.id,
    detail: {
      employeeNo: signer.employeeNo,
      apps: appIds.join(','),
      expiresAt: record.expiresAt.toISOString(),
    },
  });
  return record;
}

/** Revokes an authorisation that names the calling application; audited `signer.authorisation-revoke`. */
export async function revokeAuthorisation(
  id: string,
  appId: string,
  deps: Pick<SignerDeps, 'clock' | 'store' | 'audit'>,
): Promise<AuthorisationRecord> {
  const a = await deps.store.getAuthorisation(id);
  if (!a || !a.appIds.includes(appId))
    throw new DomainError('SIGN_AUTHORISATION_NOT_FOUND', `no authorisation ${id} for this application`);
  const now = deps.clock.now();
  if (a.revokedAt === null && (await deps.store.revokeAuthorisation(id, now))) {
    await deps.audit.append({
      actor: `app:${appId}`,
      action: 'signer.authorisation-revoke',
      target: id,
      detail: { signerId: a.signerId },
    });
    return { ...a, revokedAt: now };
  }
  return a;
}

/**
 * The authorisation that lets `appId` sign for `signer` now: SIGN_AUTHORISATION_EXPIRED when the only ones
 * for this application have run out, SIGN_INTENT_REQUIRED when there is none.
 */
export async function usableAuthorisation(
  signer: SignerRecord,
  appId: string,
  deps: Pick<SignerDeps, 'clock' | 'store'>,
): Promise<AuthorisationRecord> {
  const now = deps.clock.now();
  const mine = (await deps.store.listAuthorisations(signer.id, 50)).filter((a) => a.appIds.includes(appId));
  const live = mine.find((a) => a.revokedAt === null && a.createdAt <= now && now < a.expiresAt);
  if (live) return live;
  if (mine.length) throw new DomainError('SIGN_AUTHORISATION_EXPIRED');
  throw new DomainError('SIGN_INTENT_REQUIRED');
}
