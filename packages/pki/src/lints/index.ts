/**
 * Certificate lints, boulder/zlint style. A CA builds the TBSCertificate, signs it with a throwaway key,
 * lints that copy, and only then signs it for real — so no lint looks at the signature value or the
 * issuer's key. Lint names carry zlint's severity prefix: e_ (error), w_ (warning), n_ (notice).
 *
 * Families: serial (RFC 5280 §4.1.2.2), structure (§4.1.2.1, §4.2), validity (§4.1.2.5), key identifiers
 * (§4.2.1.1–2), CA flags and key usage (§4.2.1.3, §4.2.1.9), extended key usage (§4.2.1.12, RFC 3161
 * §2.3, RFC 6960), names (§4.1.2.6, X.520), algorithms (§4.1.1.2, GM/T 0015), GM/T 0015 identity
 * extensions, and the 'sm2-personal' profile (GM/T 0015 personal signing/encryption certificates).
 */

import { ParsedCertificate } from '../certificate.js';
import { derFromInput, outerSequence, tlvBytes } from '../der-input.js';
import { algorithmLints } from './algorithms.js';
import { caLints } from './ca.js';
import { extKeyUsageLints } from './ext-key-usage.js';
import { gmIdentityLints } from './gm-identity.js';
import { keyIdentifierLints } from './key-identifiers.js';
import { nameLints } from './names.js';
import { duplicateExtensionOids } from './raw.js';
import { serialLints } from './serial.js';
import { sm2PersonalLints } from './sm2-personal.js';
import { structureLints } from './structure.js';
import { validityLints } from './validity.js';
import type { Lint, LintProfile, LintSource, LintStatus } from './types.js';

export type { Lint, LintOutcome, LintProfile, LintSource, LintStatus } from './types.js';

/** Every lint medsign runs, in report order. Profile lints run only when their profile is asked for. */
export const CERTIFICATE_LINTS: readonly Lint[] = [
  ...structureLints,
  ...serialLints,
  ...validityLints,
  ...keyIdentifierLints,
  ...caLints,
  ...extKeyUsageLints,
  ...nameLints,
  ...algorithmLints,
  ...gmIdentityLints,
  ...sm2PersonalLints,
];

/** One line of a lint report. */
export type LintResult = {
  name: string;
  citation: string;
  source: LintSource;
  status: LintStatus;
  detail?: string;
};

/** The report: every lint that ran, and how many errors (e_), warnings (w_) and notices (n_) failed. */
export type LintReport = { results: LintResult[]; errors: number; warnings: number; notices: number };

/** What to run: a subset of lints by name, and/or a certificate profile's extra lints. */
export type LintOptions = {
  /** Run only these lints (by name; an unknown name is a RangeError). Profile filtering does not apply. */
  only?: readonly string[];
  /** Add the lints of a certificate profile. */
  profile?: LintProfile;
};

/** The pseudo-lint reported when the certificate cannot be parsed at all. */
const DECODE_LINT = {
  name: 'e_certificate_decodes',
  citation: 'RFC 5280 §4.1; X.690 §10 (DER)',
  source: 'RFC5280',
} as const;

function tally(results: LintResult[]): LintReport {
  const failed = (prefix: string) =>
    results.filter((r) => r.status === 'fail' && r.name.startsWith(prefix)).length;
  return { results, errors: failed('e_'), warnings: failed('w_'), notices: failed('n_') };
}

function selectLints(opts: LintOptions): readonly Lint[] {
  if (opts.only) {
    const unknown = opts.only.filter((n) => !CERTIFICATE_LINTS.some((l) => l.name === n));
    if (unknown.length) throw new RangeError(`unknown lint(s): ${unknown.join(', ')}`);
    return CERTIFICATE_LINTS.filter((l) => opts.only!.includes(l.name));
  }
  return CERTIFICATE_LINTS.filter((l) => l.profile === undefined || l.profile === opts.profile);
}

/** Runs one lint; a lint that throws (a malformed extension it had to read, say) fails with the reason. */
function runLint(lint: Lint, cert: ParsedCertificate): LintResult {
  let outcome;
  try {
    outcome = lint.check(cert);
  } catch (e) {
    outcome = { status: 'fail' as const, detail: `could not evaluate: ${(e as Error).message}` };
  }
  return {
    name: lint.name,
    citation: lint.citation,
    source: lint.source,
    status: outcome.status,
    ...(outcome.detail !== undefined ? { detail: outcome.detail } : {}),
  };
}

/**
 * Lints a certificate (PEM, DER or parsed). Never throws on certificate contents: a certificate that does
 * not decode yields an `e_certificate_decodes` failure (plus `e_ext_duplicate` when a repeated extension
 * is why), since a CA must not sign what it cannot parse back.
 */
export function lintCertificate(
  input: Uint8Array | string | ParsedCertificate,
  opts: LintOptions = {},
): LintReport {
  const lints = selectLints(opts);
  let cert: ParsedCertificate;
  if (input instanceof ParsedCertificate) {
    cert = input;
  } else {
    try {
      cert = ParsedCertificate.parse(input);
    } catch (e) {
      // Whatever the parser refused, the CA must not sign it: report, never throw.
      return tally(decodeFailure(input, lints, e instanceof Error ? e.message : String(e)));
    }
  }
  return tally(lints.map((l) => runLint(l, cert)));
}

function decodeFailure(input: Uint8Array | string, lints: readonly Lint[], reason: string): LintResult[] {
  const results: LintResult[] = [{ ...DECODE_LINT, status: 'fail', detail: reason }];
  if (!lints.some((l) => l.name === 'e_ext_duplicate')) return results;
  try {
    const der = derFromInput(input, ['CERTIFICATE'], 'Certificate');
    const top = outerSequence(der, 'Certificate');
    const dup = top[0] ? duplicateExtensionOids(tlvBytes(top[0])) : [];
    if (dup.length) {
      const lint = structureLints.find((l) => l.name === 'e_ext_duplicate')!;
      results.push({
        name: lint.name,
        citation: lint.citation,
        source: lint.source,
        status: 'fail',
        detail: `repeated: ${dup.join(', ')}`,
      });
    }
  } catch {
    // the decode failure above already says why
  }
  return results;
}
