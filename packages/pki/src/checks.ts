/**
 * The one check shape of every verification in @medsign/pki — certificate paths, CRLs, OCSP responses,
 * CMS signers, time-stamps and the universal verifier's reports — and the small recorder each verifier
 * fills, so that `errors`, `warnings` and `valid` are derived from the checks the same way everywhere.
 */

/** One named check: whether it passed, why (safe to show), and which certificate or part it is about. */
export type Check = { check: string; ok: boolean; detail?: string; subject?: string };

/**
 * How a failed check reads in `errors`: "subject: check failed (detail)" (paths, CRLs, OCSP, reports)
 * or "check failed: detail" (CMS and time-stamps, whose details are sentences of their own).
 */
export type FailureWording = 'parenthesised' | 'colon';

/** The sentence for a failed check. */
export function describeFailure(c: Check, wording: FailureWording = 'parenthesised'): string {
  const detail = c.detail ? (wording === 'colon' ? `: ${c.detail}` : ` (${c.detail})`) : '';
  return `${c.subject ? `${c.subject}: ` : ''}${c.check} failed${detail}`;
}

export type ChecksOptions = {
  wording?: FailureWording;
  /** Failed checks the caller chose to tolerate: reported in `warnings` instead of `errors`. */
  tolerate?: (c: Check) => boolean;
};

/** Records the checks of one verification and derives its errors, warnings and verdict. */
export class Checks {
  readonly list: Check[] = [];
  readonly #wording: FailureWording;
  readonly #tolerate: (c: Check) => boolean;

  constructor(opts: ChecksOptions = {}) {
    this.#wording = opts.wording ?? 'parenthesised';
    this.#tolerate = opts.tolerate ?? (() => false);
  }

  /** Records a check; `detail` (kept whether it passed or not) says what was found. Returns `ok`. */
  add(check: string, ok: boolean, detail?: string, subject?: string): boolean {
    this.list.push({ check, ok, ...(subject ? { subject } : {}), ...(detail ? { detail } : {}) });
    return ok;
  }

  /** Records a check whose `failure` text explains a failure only (dropped when it passed). Returns `ok`. */
  expect(check: string, ok: boolean, failure: string, subject?: string): boolean {
    return this.add(check, ok, ok ? undefined : failure, subject);
  }

  /** Records checks made elsewhere (a nested verification), about `subject` when given. */
  include(checks: readonly Check[], subject?: string): void {
    for (const c of checks) this.list.push(subject === undefined ? { ...c } : { ...c, subject });
  }

  /** Failed checks that count, as sentences. */
  get errors(): string[] {
    return this.list.filter((c) => !c.ok && !this.#tolerate(c)).map((c) => describeFailure(c, this.#wording));
  }

  /** Failed checks that were tolerated, as sentences. */
  get warnings(): string[] {
    return this.list.filter((c) => !c.ok && this.#tolerate(c)).map((c) => describeFailure(c, this.#wording));
  }

  /** True when something was checked and no failure counts. */
  get valid(): boolean {
    return this.list.length > 0 && this.errors.length === 0;
  }
}
