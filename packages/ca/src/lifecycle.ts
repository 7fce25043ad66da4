/**
 * The certificate lifecycle through applications (RA workflow): apply (a PKCS#10 request, or a key the
 * keystore generates and keeps for the applicant — a "cloud certificate") → review (approve or reject,
 * with a reason, by someone other than the submitter) → issue through the CaBackend (the embedded CA, or
 * an upstream CA in RA mode: approval is the same call) → renew (same key or a new one; the new
 * certificate links to the one it replaces, which may then be revoked as superseded).
 *
 * States and the transitions between them live here; storage, keys, time and audit come through ports.
 * An approval first moves the application pending → approved with a conditional write (two reviewers
 * cannot both issue), and the store records the certificate and closes the application (issued) in one
 * transaction. If the backend refuses, the application goes back to pending with the reason audited.
 */

import { DomainError } from '@medsign/errors';
import { describePublicKey, nameAttribute, ParsedCertificate, ParsedCsr, type KeyType } from '@medsign/pki';
import type { CaBackend } from './backend.js';
import type { IssueResult } from './issue.js';
import type { Applicant, Profile } from './profiles.js';
import type { AuditSink, CaStore, CertificateRef, Clock } from './ports.js';

/** Where an application is. `approved` lasts while the backend issues; `issued` and `rejected` are final. */
export type ApplicationState = 'pending' | 'approved' | 'issued' | 'rejected';

/** The allowed transitions; everything else is CA_APPLICATION_STATE. */
export const APPLICATION_TRANSITIONS: Readonly<Record<ApplicationState, readonly ApplicationState[]>> = {
  pending: ['approved', 'rejected'],
  // back to pending when the backend refuses to issue (nothing was issued)
  approved: ['issued', 'pending'],
  issued: [],
  rejected: [],
};

/** Throws CA_APPLICATION_STATE unless `from → to` is a transition of {@link APPLICATION_TRANSITIONS}. */
export function checkTransition(id: string, from: ApplicationState, to: ApplicationState): void {
  if (!APPLICATION_TRANSITIONS[from].includes(to))
    throw new DomainError('CA_APPLICATION_STATE', `application ${id} is ${from}; it cannot become ${to}`);
}

/** What is to be certified: the applicant's own request, or a key the keystore generated and keeps. */
export type ApplicationKey =
  { kind: 'csr'; csr: Uint8Array } | { kind: 'server-key'; keyId: string; publicKeyInfo: Uint8Array };

/** The decision of a review. */
export type Review = { by: string; at: Date; reason?: string };

/** A certificate application. The applicant is in clear here; the store adapter seals personal fields. */
export type Application = {
  id: string;
  profileId: string;
  applicant: Applicant;
  key: ApplicationKey;
  caId?: string;
  validityDays?: number;
  state: ApplicationState;
  submittedBy: string;
  submittedAt: Date;
  review?: Review;
  /** The certificate issued for it (state `issued`). */
  certificate?: CertificateRef;
};

/** Storage of applications. */
export interface ApplicationStore {
  /**
   * Stores a new pending application. A pending or approved one for the same employee number and profile
   * is CA_APPLICATION_DUPLICATE (a unique index decides, so two concurrent submissions cannot both pass).
   */
  insert(application: Application): Promise<void>;
  get(id: string): Promise<Application | undefined>;
  /** The id of an open (pending or approved) application for this employee number and profile, if any. */
  findOpen(employeeNo: string, profileId: string): Promise<string | undefined>;
  /**
   * Moves an application from `from` to `to` only if it is still in `from` (one conditional write); sets
   * the review (or clears it with null). False when the state had changed meanwhile.
   */
  transition(
    id: string,
    from: ApplicationState,
    to: ApplicationState,
    review: Review | null,
  ): Promise<boolean>;
}

/** Keys the keystore generates and keeps for applicants (KeyStore.generate fits). */
export interface UserKeyGenerator {
  generate(
    type: KeyType,
    label: string,
    metadata?: Record<string, string>,
  ): Promise<{ id: string; publicKeyInfo: Uint8Array }>;
}

export type LifecycleDeps = {
  backend: CaBackend;
  applications: ApplicationStore;
  /** The inventory: the certificate to renew and the applicant it was issued for. */
  certificates: Pick<CaStore, 'getCertificate' | 'getApplicant'>;
  userKeys: UserKeyGenerator;
  audit: AuditSink;
  clock: Clock;
  profiles: readonly Profile[];
  /** New application ids (random, unguessable). */
  newId: () => string;
};

export type ApplyRequest = {
  profileId: string;
  applicant: Applicant;
  /** PKCS#10 request (PEM or DER) … */
  csr?: Uint8Array | string;
  /** … or the type of a key the keystore generates and keeps for the applicant. */
  serverKeyType?: KeyType;
  caId?: string;
  validityDays?: number;
  /** The operator submitting it (cannot review it). */
  actor: string;
};

export type ReviewRequest = { id: string; actor: string; reason?: string };

export type RenewRequest = {
  caId: string;
  serial: string;
  /** A new PKCS#10 request; or `serverKeyType` for a new keystore-held key; neither: the same key. */
  csr?: Uint8Array | string;
  serverKeyType?: KeyType;
  validityDays?: number;
  /** Revoke the old certificate (reason superseded) once the new one is stored. */
  supersede?: boolean;
  actor: string;
};

export type RenewResult = IssueResult & { profile: string; replaces: CertificateRef; superseded: boolean };

/** The lifecycle operations (what the HTTP API and the operator CLI call). */
export interface CertificateLifecycle {
  apply(req: ApplyRequest): Promise<Application>;
  approve(req: ReviewRequest): Promise<{ application: Application; issued: IssueResult }>;
  reject(req: ReviewRequest): Promise<Application>;
  renew(req: RenewRequest): Promise<RenewResult>;
}

const MAX_REASON = 1024;

function parseCsr(csr: Uint8Array | string): ParsedCsr {
  let parsed: ParsedCsr;
  try {
    parsed = ParsedCsr.parse(csr);
  } catch (e) {
    throw new DomainError(
      'CA_CSR_INVALID',
      `the certificate request cannot be read: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  if (!parsed.verifyProofOfPossession())
    throw new DomainError('CA_CSR_INVALID', 'the request signature (proof of possession) does not verify');
  return parsed;
}

function checkKeyFamily(profile: Profile, spki: Uint8Array): void {
  let family: string;
  try {
    family = describePublicKey(spki).family;
  } catch (e) {
    throw new DomainError('CA_KEY_NOT_ALLOWED', (e as Error).message, { cause: e });
  }
  if (!(profile.keyFamilies as readonly string[]).includes(family))
    throw new DomainError('CA_KEY_NOT_ALLOWED', `profile ${profile.id} does not accept ${family} keys`);
}

function keyFamilyOfType(type: KeyType): string {
  return type === 'sm2' ? 'sm2' : type.startsWith('rsa') ? 'rsa' : 'ec';
}

/** The lifecycle over the given ports. */
export function certificateLifecycle(deps: LifecycleDeps): CertificateLifecycle {
  const audit = (actor: string, action: string, target: string, detail?: Record<string, string>) =>
    deps.audit.append({ actor, action, target, ...(detail ? { detail } : {}) });

  async function newServerKey(profile: Profile, type: KeyType, label: string) {
    if (!(profile.keyFamilies as readonly string[]).includes(keyFamilyOfType(type)))
      throw new DomainError('CA_KEY_NOT_ALLOWED', `profile ${profile.id} does not accept ${type} keys`);
    const key = await deps.userKeys.generate(type, label, { role: 'user', profile: profile.id });
    return { kind: 'server-key' as const, keyId: key.id, publicKeyInfo: key.publicKeyInfo };
  }

  async function load(id: string): Promise<Application> {
    const app = await deps.applications.get(id);
    if (!app) throw new DomainError('CA_APPLICATION_NOT_FOUND', `no application ${id}`);
    return app;
  }

  async function startReview(req: ReviewRequest, to: 'approved' | 'rejected'): Promise<Application> {
    const app = await load(req.id);
    checkTransition(app.id, app.state, to);
    if (app.submittedBy === req.actor)
      throw new DomainError('CA_APPLICATION_SELF_REVIEW', `${req.actor} submitted application ${app.id}`);
    const reason = req.reason?.trim();
    if (to === 'rejected' && !reason)
      throw new DomainError('CA_APPLICATION_INVALID', 'a rejection needs a reason');
    if (reason && reason.length > MAX_REASON)
      throw new DomainError('CA_APPLICATION_INVALID', `the reason is longer than ${MAX_REASON} characters`);
    const review: Review = { by: req.actor, at: deps.clock.now(), ...(reason ? { reason } : {}) };
    if (!(await deps.applications.transition(app.id, app.state, to, review))) {
      const now = await load(app.id);
      throw new DomainError('CA_APPLICATION_STATE', `application ${app.id} is ${now.state} now`);
    }
    await audit(req.actor, to === 'approved' ? 'application.approve' : 'application.reject', app.id, {
      profile: app.profileId,
      ...(reason ? { reason } : {}),
    });
    return { ...app, state: to, review };
  }

  return {
    async apply(req) {
      const profile = deps.profiles.find((p) => p.id === req.profileId);
      if (!profile) throw new DomainError('CA_PROFILE_NOT_FOUND', `no profile "${req.profileId}"`);
      if ((req.csr === undefined) === (req.serverKeyType === undefined))
        throw new DomainError(
          'CA_APPLICATION_INVALID',
          'give exactly one of a certificate request (csr) or a server-side key type',
        );
      for (const field of profile.requiredFields) {
        if (!req.applicant[field]?.trim())
          throw new DomainError('CA_SUBJECT_INVALID', `the profile needs the applicant's ${field}`);
      }
      if (
        req.validityDays !== undefined &&
        (!Number.isInteger(req.validityDays) ||
          req.validityDays < 1 ||
          req.validityDays > profile.validityDays)
      )
        throw new DomainError('CA_VALIDITY_INVALID', `validity must be 1–${profile.validityDays} days`);
      // Checked before a server-side key is generated, so a duplicate leaves no key behind; the store's
      // unique index still decides a race between two submissions.
      const employeeNo = req.applicant.employeeNo?.trim();
      const open = employeeNo ? await deps.applications.findOpen(employeeNo, profile.id) : undefined;
      if (open)
        throw new DomainError(
          'CA_APPLICATION_DUPLICATE',
          `application ${open} of employee ${employeeNo} for profile ${profile.id} is still open`,
        );
      const id = deps.newId();
      let key: ApplicationKey;
      if (req.csr !== undefined) {
        const csr = parseCsr(req.csr);
        checkKeyFamily(profile, csr.publicKeyInfo);
        key = { kind: 'csr', csr: csr.der };
      } else {
        key = await newServerKey(profile, req.serverKeyType!, `user:${id}`);
      }
      const application: Application = {
        id,
        profileId: profile.id,
        applicant: req.applicant,
        key,
        ...(req.caId !== undefined ? { caId: req.caId } : {}),
        ...(req.validityDays !== undefined ? { validityDays: req.validityDays } : {}),
        state: 'pending',
        submittedBy: req.actor,
        submittedAt: deps.clock.now(),
      };
      await deps.applications.insert(application);
      await audit(req.actor, 'application.submit', id, {
        profile: profile.id,
        key: key.kind,
        ...(req.applicant.employeeNo ? { employeeNo: req.applicant.employeeNo } : {}),
        ...(key.kind === 'server-key' ? { keyId: key.keyId } : {}),
      });
      return application;
    },

    async approve(req) {
      const app = await startReview(req, 'approved');
      let issued: IssueResult;
      try {
        issued = await deps.backend.issue({
          profileId: app.profileId,
          ...(app.key.kind === 'csr' ? { csr: app.key.csr } : { publicKeyInfo: app.key.publicKeyInfo }),
          applicant: app.applicant,
          ...(app.caId !== undefined ? { caId: app.caId } : {}),
          ...(app.validityDays !== undefined ? { validityDays: app.validityDays } : {}),
          actor: req.actor,
          applicationId: app.id,
        });
      } catch (e) {
        // Refused before anything was stored (bad key for the CA, lint, …): back to review. If the
        // certificate was stored, the store already closed the application and this changes nothing.
        if (await deps.applications.transition(app.id, 'approved', 'pending', null)) {
          await audit(req.actor, 'application.issue-failed', app.id, {
            code: e instanceof DomainError ? e.code : 'internal',
          });
        }
        throw e;
      }
      await audit(req.actor, 'application.issued', app.id, {
        certificate: `${issued.caId}/${issued.serial}`,
      });
      return {
        application: { ...app, state: 'issued', certificate: { caId: issued.caId, serial: issued.serial } },
        issued,
      };
    },

    reject: (req) => startReview(req, 'rejected'),

    async renew(req) {
      const old = await deps.certificates.getCertificate(req.caId, req.serial);
      if (!old)
        throw new DomainError('CA_CERT_NOT_FOUND', `no certificate ${req.serial} from CA ${req.caId}`);
      if (old.status !== 'good')
        throw new DomainError(
          'CA_RENEW_NOT_ALLOWED',
          `certificate ${old.serial} is ${old.status === 'hold' ? 'on hold' : 'revoked'}`,
        );
      if (req.csr !== undefined && req.serverKeyType !== undefined)
        throw new DomainError(
          'CA_APPLICATION_INVALID',
          'give a new request (csr) or a server key type, not both',
        );
      const profile = deps.profiles.find((p) => p.id === old.profile);
      if (!profile) throw new DomainError('CA_PROFILE_NOT_FOUND', `no profile "${old.profile}"`);
      const oldCert = ParsedCertificate.parse(old.der);
      const applicant: Applicant = (await deps.certificates.getApplicant(old.caId, old.serial)) ?? {
        // Certificates stored without their applicant: what the record and the subject still say.
        name: nameAttribute(oldCert.subject, 'CN') ?? '',
        ...(old.employeeNo ? { employeeNo: old.employeeNo } : {}),
        ...(old.department ? { department: old.department } : {}),
      };
      const replaces = { caId: old.caId, serial: old.serial };
      let key: { csr: Uint8Array } | { publicKeyInfo: Uint8Array };
      if (req.csr !== undefined) {
        const csr = parseCsr(req.csr);
        key = { csr: csr.der };
      } else if (req.serverKeyType !== undefined) {
        const k = await newServerKey(profile, req.serverKeyType, `user:${deps.newId()}`);
        key = { publicKeyInfo: k.publicKeyInfo };
      } else {
        key = { publicKeyInfo: oldCert.publicKeyInfo };
      }
      const issued = await deps.backend.issue({
        profileId: profile.id,
        ...key,
        applicant,
        // The same key stays with its CA; a new key picks the CA of its algorithm.
        ...('publicKeyInfo' in key && req.serverKeyType === undefined ? { caId: old.caId } : {}),
        ...(req.validityDays !== undefined ? { validityDays: req.validityDays } : {}),
        actor: req.actor,
        replaces,
      });
      await audit(req.actor, 'cert.renew', `${issued.caId}/${issued.serial}`, {
        replaces: `${old.caId}/${old.serial}`,
        key: req.csr !== undefined ? 'new-csr' : req.serverKeyType !== undefined ? 'new-server-key' : 'same',
      });
      let superseded = false;
      if (req.supersede) {
        try {
          await deps.backend.revoke({
            caId: old.caId,
            serial: old.serial,
            reason: 'superseded',
            actor: req.actor,
          });
          superseded = true;
        } catch (e) {
          // Revoked meanwhile (say, keyCompromise by another operator): that reason stands, and the new
          // certificate is issued either way — report it as not superseded rather than fail the renewal.
          if (!(e instanceof DomainError && e.code === 'CA_ALREADY_REVOKED')) throw e;
        }
      }
      return { ...issued, profile: profile.id, replaces, superseded };
    },
  };
}
