/**
 * The universal verifier: recognises a PKI artifact (PEM or DER) and verifies it against trust anchors,
 * returning one report shape for every kind so the CLI, the HTTP API and evidence reports render the
 * same facts. Unrecognised or unreadable input raises DecodeError; everything else becomes a report.
 */

import { decodePemBlocks, DecodeError } from '@medsign/gm';
import { ParsedCertificate } from './certificate.js';
import { verifyCertificateChain, type ChainCheck } from './chain.js';
import { looksLikePem } from './der-input.js';

/** What the verifier recognised. */
export type ArtifactKind =
  | 'certificate'
  | 'certificate-chain'
  | 'csr'
  | 'crl'
  | 'ocsp-response'
  | 'cms'
  | 'timestamp-response'
  | 'timestamp-token';

/** A field shown to people: a stable key (used in JSON) and its value as text. */
export type ReportField = { key: string; value: string };

/** One check: a stable key, whether it passed, and why (safe to show). */
export type ReportCheck = { check: string; ok: boolean; subject?: string; detail?: string };

export type VerificationReport = {
  kind: ArtifactKind;
  valid: boolean;
  /** Facts about the artifact (subject, issuer, algorithm, times …) in display order. */
  fields: ReportField[];
  checks: ReportCheck[];
  /** Failed checks as sentences (empty when valid). */
  errors: string[];
};

export type VerifyArtifactOptions = {
  /** Detached content for CMS signatures and time-stamp tokens. */
  data?: Uint8Array;
  /** Trust anchors (and further certificates that may complete a path). */
  trusted?: readonly ParsedCertificate[];
  /** Verification time (default: now). */
  at?: Date;
};

/** A verifier for one artifact kind: returns undefined when the bytes are not that kind. */
export type ArtifactVerifier = (
  der: Uint8Array,
  label: string | undefined,
  opts: VerifyArtifactOptions,
) => VerificationReport | undefined;

const verifiers: ArtifactVerifier[] = [];

/** Registers a verifier (formats modules call this, so the verifier grows with the package). */
export function registerArtifactVerifier(v: ArtifactVerifier): void {
  verifiers.push(v);
}

function fromChecks(kind: ArtifactKind, fields: ReportField[], checks: ReportCheck[]): VerificationReport {
  const errors = checks
    .filter((c) => !c.ok)
    .map((c) => `${c.subject ? `${c.subject}: ` : ''}${c.check} failed${c.detail ? ` (${c.detail})` : ''}`);
  return { kind, valid: errors.length === 0, fields, checks, errors };
}

export { fromChecks as reportFromChecks };

/** Fields every certificate report shows. */
export function certificateFields(cert: ParsedCertificate, prefix = ''): ReportField[] {
  const f = (key: string, value: string) => ({ key: prefix + key, value });
  let algorithm: string;
  try {
    algorithm = cert.signatureAlgorithm.name;
  } catch (e) {
    algorithm = `unsupported (${(e as Error).message})`;
  }
  const key = (() => {
    try {
      const d = cert.publicKey;
      return `${d.family.toUpperCase()}${d.curve ? ` ${d.curve}` : ''} ${d.bits} bits`;
    } catch (e) {
      return `unsupported (${(e as Error).message})`;
    }
  })();
  return [
    f('subject', cert.subjectText),
    f('issuer', cert.issuerText),
    f('serialNumber', cert.serialNumber),
    f('notBefore', cert.notBefore.toISOString()),
    f('notAfter', cert.notAfter.toISOString()),
    f('signatureAlgorithm', algorithm),
    f('publicKey', key),
  ];
}

function chainChecks(checks: ChainCheck[]): ReportCheck[] {
  return checks.map((c) => ({
    check: c.check,
    ok: c.ok,
    subject: c.certificate,
    ...(c.detail ? { detail: c.detail } : {}),
  }));
}

/**
 * Verifies a certificate (or a chain file, leaf first) against the trusted certificates. Without a
 * trust anchor the path check fails with "no trust anchor given".
 */
export function verifyCertificateReport(
  certs: ParsedCertificate[],
  opts: VerifyArtifactOptions,
): VerificationReport {
  const leaf = certs[0]!;
  const trusted = opts.trusted ?? [];
  const fields = certificateFields(leaf);
  const kind: ArtifactKind = certs.length > 1 ? 'certificate-chain' : 'certificate';
  if (trusted.length === 0) {
    return fromChecks(kind, fields, [
      {
        check: 'trust anchor',
        ok: false,
        detail: 'no trust anchor given (pass the root certificate with --ca)',
      },
    ]);
  }
  const anchors = trusted.filter((c) => c.isSelfIssued);
  const result = verifyCertificateChain(leaf, {
    anchors: anchors.length ? anchors : trusted,
    intermediates: [...certs.slice(1), ...trusted.filter((c) => !c.isSelfIssued)],
    ...(opts.at ? { at: opts.at } : {}),
  });
  const checks = chainChecks(result.checks);
  if (result.path.length === 0)
    checks.push({ check: 'path to a trust anchor', ok: false, detail: result.errors[0] ?? 'no path found' });
  else fields.push({ key: 'path', value: result.path.map((c) => c.subjectText).join(' → ') });
  return fromChecks(kind, fields, checks);
}

/** Splits input into DER objects with their PEM labels (one DER object for binary input). */
export function splitArtifacts(input: Uint8Array): { der: Uint8Array; label?: string }[] {
  if (!looksLikePem(input)) return [{ der: input }];
  const blocks = decodePemBlocks(Buffer.from(input).toString('utf8'));
  if (blocks.length === 0) throw new DecodeError('PEM text without any block');
  return blocks.map((b) => ({ der: b.der, label: b.label }));
}

/** Loads every certificate in a PEM bundle or a DER file. */
export function loadCertificates(input: Uint8Array): ParsedCertificate[] {
  return splitArtifacts(input).map((a) => ParsedCertificate.parse(a.der));
}

registerArtifactVerifier((der, label, opts) => {
  if (label !== undefined && label !== 'CERTIFICATE') return undefined;
  let cert: ParsedCertificate;
  try {
    cert = ParsedCertificate.parse(der);
  } catch (e) {
    if (label === 'CERTIFICATE') throw e;
    return undefined;
  }
  return verifyCertificateReport([cert], opts);
});

/**
 * Recognises and verifies one artifact. A PEM file with several CERTIFICATE blocks is a chain (leaf
 * first). Throws DecodeError when the input is no artifact medsign knows.
 */
export function verifyArtifact(input: Uint8Array, opts: VerifyArtifactOptions = {}): VerificationReport {
  const parts = splitArtifacts(input);
  if (parts.length > 1 && parts.every((p) => p.label === 'CERTIFICATE')) {
    return verifyCertificateReport(
      parts.map((p) => ParsedCertificate.parse(p.der)),
      opts,
    );
  }
  const { der, label } = parts[0]!;
  let lastError: unknown;
  for (const v of verifiers) {
    try {
      const report = v(der, label, opts);
      if (report) return report;
    } catch (e) {
      lastError = e;
      if (!(e instanceof DecodeError)) throw e;
    }
  }
  if (lastError instanceof DecodeError) throw lastError;
  throw new DecodeError(
    label
      ? `unsupported PEM block ${label}`
      : 'not a certificate, CSR, CRL, OCSP response, CMS signature or time-stamp',
  );
}
