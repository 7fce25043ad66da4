/**
 * The universal verifier: recognises a PKI artifact (PEM or DER) and verifies it against trust anchors,
 * returning one report shape for every kind so the CLI, the HTTP API and evidence reports render the
 * same facts. Unrecognised or unreadable input raises DecodeError; everything else becomes a report.
 */

import { decodePemBlocks, DecodeError } from '@medsign/gm';
import { ParsedCertificate } from './certificate.js';
import { verifyCertificateChain } from './chain.js';
import { Checks, type Check } from './checks.js';
import { ParsedCms } from './cms.js';
import { verifyCms } from './cms-verify.js';
import { ParsedCrl, verifyCrl } from './crl.js';
import { ParsedCsr } from './csr.js';
import { looksLikePem } from './der-input.js';
import { message } from './errors.js';
import { namesMatch } from './name.js';
import { id_ct_TSTInfo } from './oids.js';
import { parseTimeStampResp, parseTstInfo, verifyTimeStampToken } from './tsp.js';
import { certIdMatchesIssuer, ParsedOcspResponse, verifyOcspResponse } from './ocsp.js';

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

export type VerificationReport = {
  kind: ArtifactKind;
  valid: boolean;
  /** Facts about the artifact (subject, issuer, algorithm, times …) in display order. */
  fields: ReportField[];
  /** Each check has a stable key (`check`), whether it passed, why, and what it is about (`subject`). */
  checks: Check[];
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
type ArtifactVerifier = (
  der: Uint8Array,
  label: string | undefined,
  opts: VerifyArtifactOptions,
) => VerificationReport | undefined;

function fromChecks(kind: ArtifactKind, fields: ReportField[], checks: Checks): VerificationReport {
  return { kind, valid: checks.valid, fields, checks: checks.list, errors: checks.errors };
}

const NO_TRUST_ANCHOR = 'no trust anchor given (pass the root certificate with --ca)';

/** A name for something that may be unsupported: its value, or "unsupported (why)". */
function describe(f: () => string): string {
  try {
    return f();
  } catch (e) {
    return `unsupported (${message(e)})`;
  }
}

/** Fields every certificate report shows. */
export function certificateFields(cert: ParsedCertificate, prefix = ''): ReportField[] {
  const f = (key: string, value: string) => ({ key: prefix + key, value });
  const algorithm = describe(() => cert.signatureAlgorithm.name);
  const key = describe(() => {
    const d = cert.publicKey;
    return `${d.family.toUpperCase()}${d.curve ? ` ${d.curve}` : ''} ${d.bits} bits`;
  });
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
  const checks = new Checks();
  if (trusted.length === 0) {
    checks.add('trust anchor', false, NO_TRUST_ANCHOR);
    return fromChecks(kind, fields, checks);
  }
  const anchors = trusted.filter((c) => c.isSelfIssued);
  const result = verifyCertificateChain(leaf, {
    anchors: anchors.length ? anchors : trusted,
    intermediates: [...certs.slice(1), ...trusted.filter((c) => !c.isSelfIssued)],
    ...(opts.at ? { at: opts.at } : {}),
  });
  checks.include(result.checks);
  if (result.path.length === 0)
    checks.add('path to a trust anchor', false, result.errors[0] ?? 'no path found');
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

/**
 * Tries a parser: undefined when the bytes are not this kind (a DecodeError without a matching PEM
 * label), the parse error itself when the label says they should have been.
 */
function attempt<T>(label: string | undefined, labels: readonly string[], parse: () => T): T | undefined {
  if (label !== undefined && !labels.includes(label)) return undefined;
  try {
    return parse();
  } catch (e) {
    if (label !== undefined || !(e instanceof DecodeError)) throw e;
    return undefined;
  }
}

/** Finds the trusted certificate that `matches` and records the checks of its own path to the anchors. */
function trustedIssuer(
  matches: (c: ParsedCertificate) => boolean,
  what: string,
  opts: VerifyArtifactOptions,
  checks: Checks,
): ParsedCertificate | undefined {
  const issuer = (opts.trusted ?? []).find(matches);
  if (!issuer) {
    checks.add(
      `${what} issuer among the trusted certificates`,
      false,
      'pass the issuing CA certificate with --ca',
    );
    return undefined;
  }
  checks.include(verifyCertificateReport([issuer], opts).checks);
  return issuer;
}

const verifyCertificateArtifact: ArtifactVerifier = (der, label, opts) => {
  const cert = attempt(label, ['CERTIFICATE'], () => ParsedCertificate.parse(der));
  return cert && verifyCertificateReport([cert], opts);
};

const verifyCsrArtifact: ArtifactVerifier = (der, label) => {
  const csr = attempt(label, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'], () => ParsedCsr.parse(der));
  if (!csr) return undefined;
  const checks = new Checks();
  checks.add('proof of possession (request signature)', csr.verifyProofOfPossession());
  return fromChecks(
    'csr',
    [
      { key: 'subject', value: csr.subjectText },
      { key: 'signatureAlgorithm', value: describe(() => csr.signatureAlgorithm.name) },
    ],
    checks,
  );
};

const verifyCrlArtifact: ArtifactVerifier = (der, label, opts) => {
  const crl = attempt(label, ['X509 CRL'], () => ParsedCrl.parse(der));
  if (!crl) return undefined;
  const fields: ReportField[] = [
    { key: 'issuer', value: crl.issuerText },
    { key: 'thisUpdate', value: crl.thisUpdate.toISOString() },
    { key: 'nextUpdate', value: crl.nextUpdate?.toISOString() ?? '-' },
    { key: 'crlNumber', value: crl.crlNumber?.toString() ?? '-' },
    { key: 'revoked', value: String(crl.entries.length) },
  ];
  const checks = new Checks();
  const issuer = trustedIssuer((c) => namesMatch(c.subject, crl.issuer), 'CRL', opts, checks);
  if (issuer) checks.include(verifyCrl(crl, issuer, opts.at ? { at: opts.at } : {}).checks, 'CRL');
  return fromChecks('crl', fields, checks);
};

const verifyOcspArtifact: ArtifactVerifier = (der, label, opts) => {
  const resp = attempt(label, ['OCSP RESPONSE'], () => ParsedOcspResponse.parse(der));
  if (!resp) return undefined;
  const fields: ReportField[] = [
    { key: 'status', value: resp.status },
    { key: 'producedAt', value: resp.producedAt?.toISOString() ?? '-' },
    ...resp.responses.map((r, i) => ({
      key: `response${i + 1}`,
      value: `serial ${r.certId.serialNumber}: ${r.status}${r.revocationTime ? ` since ${r.revocationTime.toISOString()}` : ''}`,
    })),
  ];
  const first = resp.responses[0];
  const checks = new Checks();
  if (!first) checks.add('single responses present', false, `response status ${resp.status}`);
  const issuer = first && trustedIssuer((c) => certIdMatchesIssuer(first.certId, c), 'OCSP', opts, checks);
  if (issuer) checks.include(verifyOcspResponse(resp, issuer, opts.at ? { at: opts.at } : {}).checks, 'OCSP');
  return fromChecks('ocsp-response', fields, checks);
};

function anchorsAndExtras(opts: VerifyArtifactOptions) {
  const trusted = opts.trusted ?? [];
  const anchors = trusted.filter((c) => c.isSelfIssued);
  return { anchors: anchors.length ? anchors : trusted, extra: trusted.filter((c) => !anchors.includes(c)) };
}

function timeStampReport(
  kind: ArtifactKind,
  der: Uint8Array,
  opts: VerifyArtifactOptions,
): VerificationReport {
  const { anchors, extra } = anchorsAndExtras(opts);
  const checks = new Checks();
  if (!opts.data) checks.add('data given', false, 'pass the time-stamped data with --data');
  if (anchors.length === 0) checks.add('trust anchor', false, NO_TRUST_ANCHOR);
  const r = verifyTimeStampToken(der, {
    ...(opts.data ? { data: opts.data } : {}),
    ...(anchors.length ? { anchors } : {}),
    certificates: extra,
    ...(opts.at ? { at: opts.at } : {}),
  });
  const fields: ReportField[] = [
    { key: 'genTime', value: r.genTime?.toISOString() ?? '-' },
    { key: 'tsa', value: r.tsaCertificate?.subjectText ?? r.tsaName ?? '-' },
    { key: 'serialNumber', value: r.serial?.toString(16) ?? '-' },
    { key: 'policy', value: r.policy ?? '-' },
    { key: 'digestAlgorithm', value: String(r.hashAlgorithm ?? '-') },
  ];
  if (r.tsaCertificate)
    fields.push({
      key: 'signatureAlgorithm',
      value: describe(() => r.tsaCertificate!.signatureAlgorithm.name),
    });
  checks.include(r.checks, 'TSA');
  return fromChecks(kind, fields, checks);
}

const verifyTimeStampRespArtifact: ArtifactVerifier = (der, label, opts) => {
  const resp = attempt(label, ['TIMESTAMP RESPONSE', 'TSR'], () => parseTimeStampResp(der));
  return resp && timeStampReport('timestamp-response', der, opts);
};

/** GM/T 0010 tokens wrap TSTInfo as SM2 data: recognised by the content itself. */
function holdsTstInfo(content: Uint8Array | undefined): boolean {
  if (!content) return false;
  try {
    parseTstInfo(content);
    return true;
  } catch {
    return false;
  }
}

const verifyCmsArtifact: ArtifactVerifier = (der, label, opts) => {
  const cms = attempt(label, ['PKCS7', 'CMS', 'SIGNED DATA'], () => ParsedCms.parse(der));
  if (!cms) return undefined;
  if (cms.eContentType === id_ct_TSTInfo || (cms.gmOids && holdsTstInfo(cms.content)))
    return timeStampReport('timestamp-token', der, opts);
  const { anchors, extra } = anchorsAndExtras(opts);
  const r = verifyCms(cms, {
    ...(opts.data ? { content: opts.data } : {}),
    ...(anchors.length ? { anchors } : {}),
    extraCertificates: extra,
    ...(opts.at ? { at: opts.at } : {}),
  });
  const fields: ReportField[] = [
    { key: 'contentType', value: `${cms.contentType}${r.gmOids ? ' (GM/T 0010)' : ''}` },
    { key: 'detached', value: cms.content === undefined ? 'yes' : 'no' },
  ];
  const checks = new Checks();
  if (anchors.length === 0) checks.add('trust anchor', false, NO_TRUST_ANCHOR);
  r.signers.forEach((signer, i) => {
    const n = r.signers.length > 1 ? `signer${i + 1}.` : '';
    fields.push({ key: `${n}signer`, value: signer.subject ?? '-' });
    fields.push({ key: `${n}signatureAlgorithm`, value: signer.signatureAlgorithm ?? '-' });
    fields.push({ key: `${n}digestAlgorithm`, value: signer.digestAlgorithm ?? '-' });
    if (signer.signingTime) fields.push({ key: `${n}signingTime`, value: signer.signingTime.toISOString() });
    if (signer.timestamp?.genTime)
      fields.push({ key: `${n}genTime`, value: signer.timestamp.genTime.toISOString() });
    checks.include(signer.checks, signer.subject ?? `signer ${i + 1}`);
  });
  for (const e of r.errors.filter((e) => !r.signers.some((s) => s.errors.includes(e))))
    checks.add('signed data', false, e);
  if (r.signers.length === 0) checks.add('signers present', false, 'no SignerInfo');
  return fromChecks('cms', fields, checks);
};

/** Tried in order; a PEM label selects one directly. */
const VERIFIERS: readonly ArtifactVerifier[] = [
  verifyCertificateArtifact,
  verifyCrlArtifact,
  verifyCsrArtifact,
  verifyCmsArtifact,
  verifyTimeStampRespArtifact,
  verifyOcspArtifact,
];

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
  for (const v of VERIFIERS) {
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
