/** Shapes shared by the certificate lints and their runner (boulder/zlint style: lint before signing). */

import type { ParsedCertificate } from '../certificate.js';

/** pass: the rule holds; fail: it does not; na: the rule does not apply to this certificate. */
export type LintStatus = 'pass' | 'fail' | 'na';

/** Where a rule comes from. "CABF-like medsign policy" marks rules medsign adopts beyond the standards. */
export type LintSource = 'RFC5280' | 'RFC3161' | 'RFC6960' | 'GMT0015' | 'CABF-like medsign policy';

/** Certificate profiles with extra lints; 'sm2-personal' is the GM/T 0015 personal certificate. */
export type LintProfile = 'sm2-personal';

/** What one lint says about one certificate. */
export type LintOutcome = { status: LintStatus; detail?: string };

/**
 * One rule. `name` carries the zlint severity prefix: e_ (error), w_ (warning), n_ (notice). `check`
 * must not depend on the signature value or the issuer's key: lints run on a copy signed by a throwaway
 * key before the CA key signs the real certificate.
 */
export type Lint = {
  name: string;
  citation: string;
  description: string;
  source: LintSource;
  /** Runs only when this profile is asked for. */
  profile?: LintProfile;
  check(cert: ParsedCertificate): LintOutcome;
};

/** Helpers for lint bodies. */
export const pass = (detail?: string): LintOutcome =>
  detail ? { status: 'pass', detail } : { status: 'pass' };
export const fail = (detail: string): LintOutcome => ({ status: 'fail', detail });
export const na = (detail?: string): LintOutcome => (detail ? { status: 'na', detail } : { status: 'na' });
