/**
 * The platform's signed PDF reports: the report-signing key and certificate (made by `medsign init`, or at
 * the first start of an older data directory) and `signedReport(doc)` — render with @medsign/report, sign
 * with the platform key (PAdES B-T, every signature audited by the keystore as `key.sign`) and time-stamp
 * with the in-process TSA. The evidence report and the verification report both go through it.
 *
 * The default key is ECDSA P-256 so that ordinary PDF readers (Acrobat, poppler/NSS `pdfsig`) can check
 * the signature cryptographically: NSS has no SM2. Its certificate is an institution certificate (profile
 * `department`, "system-level signatures") from the ECDSA issuing CA when the installation has one, else
 * from the SM2 issuing CA. An SM2 report key (for GM relying parties) is made on first use under the SM2
 * issuing CA. The time-stamp comes from the TSA unit of the key's family when there is one (ECDSA: SHA-256
 * imprint), else the default SM2 unit (SM3 imprint).
 */

import { randomBytes } from 'node:crypto';
import { issueCertificate as caIssue, type CaDeps, type IssuingCa } from '@medsign/ca';
import { DomainError } from '@medsign/errors';
import { bytesToHex } from '@medsign/gm';
import type { KeyStore } from '@medsign/keystore';
import { buildTimeStampReq, ParsedCertificate, type KeyType } from '@medsign/pki';
import { renderPdf, signPdf, type ReportDocument } from '@medsign/report';
import type { Store } from '@medsign/store';
import type { TsaUnitId } from '@medsign/tsa';
import type { TsaService } from './tsa.js';

/**
 * The report-signing key families: `ecdsa` (default, P-256: what PDF readers verify) and `sm2` (for GM
 * relying parties; NSS-based readers cannot check it, the Bouncy Castle peer and medsign can).
 */
export type ReportAlgorithm = 'ecdsa' | 'sm2';
export const REPORT_ALGORITHMS: readonly ReportAlgorithm[] = ['ecdsa', 'sm2'];

/** Keystore label of the report-signing key of a family. */
export function reportSignerLabel(algorithm: ReportAlgorithm = 'ecdsa'): string {
  return `service:report-signer:${algorithm}`;
}
/** Keystore label of the default (ECDSA) report-signing key. */
export const REPORT_SIGNER_LABEL = reportSignerLabel('ecdsa');
/** Key types: ECDSA P-256, which PDF readers verify, or SM2. */
const KEY_TYPES: Record<ReportAlgorithm, KeyType> = { ecdsa: 'ec-p256', sm2: 'sm2' };
/** The CA profile its certificate is issued under (institution certificate, system-level signatures). */
export const REPORT_SIGNER_PROFILE = 'department';
/** Part of the certificate's CN, used to find it again in the inventory. */
const SUBJECT_MARK = 'Report Signing';

/** The report signer as found in the keystore and the certificate inventory. */
export type ReportSigner = {
  keyId: string;
  certificate: ParsedCertificate;
  /** The issuing CA first, the root last. */
  chain: ParsedCertificate[];
  caId: string;
};

/** The issuing CA for a report certificate: the key's family when present (one family end to end), else SM2. */
function reportCa(cas: readonly IssuingCa[], algorithm: ReportAlgorithm): IssuingCa | undefined {
  return (
    cas.find((c) => c.id === `${algorithm}-issuing`) ?? cas.find((c) => c.id === 'sm2-issuing') ?? cas[0]
  );
}

/** Finds the report-signing key and a good, currently valid certificate for it; undefined if either is missing. */
export async function findReportSigner(
  store: Store,
  keystore: KeyStore,
  cas: readonly IssuingCa[],
  now: () => Date,
  algorithm: ReportAlgorithm = 'ecdsa',
): Promise<ReportSigner | undefined> {
  const key = (await keystore.list()).find((k) => k.label === reportSignerLabel(algorithm));
  if (!key) return undefined;
  const spki = bytesToHex(key.publicKeyInfo);
  for (const ca of cas) {
    const page = await store.certificates.search({
      caId: ca.id,
      profile: REPORT_SIGNER_PROFILE,
      subject: SUBJECT_MARK,
      status: 'good',
      limit: 100,
    });
    const certificate = page.items
      .map((r) => ParsedCertificate.parse(r.der))
      .filter((c) => bytesToHex(c.publicKeyInfo) === spki && c.isValidAt(now()))
      .sort((a, b) => b.notBefore.getTime() - a.notBefore.getTime())[0];
    if (certificate) return { keyId: key.id, certificate, chain: [ca.certificate, ...ca.chain], caId: ca.id };
  }
  return undefined;
}

/**
 * Makes the report-signing key and certificate if they are missing (idempotent: a second call finds
 * them and changes nothing). The key generation and the issuance are audited like any other.
 */
export async function ensureReportSigner(o: {
  store: Store;
  keystore: KeyStore;
  ca: CaDeps;
  organization: string;
  actor: string;
  now: () => Date;
  /** Default ecdsa. */
  algorithm?: ReportAlgorithm;
}): Promise<{ signer: ReportSigner; steps: string[] }> {
  const algorithm = o.algorithm ?? 'ecdsa';
  const label = reportSignerLabel(algorithm);
  const steps: string[] = [];
  const found = await findReportSigner(o.store, o.keystore, o.ca.cas, o.now, algorithm);
  if (found) return { signer: found, steps };
  const ca = reportCa(o.ca.cas, algorithm);
  if (!ca)
    throw new DomainError('SERVER_NOT_INITIALIZED', 'no issuing CA for the report-signing certificate');
  let key = (await o.keystore.list()).find((k) => k.label === label);
  if (!key) {
    key = await o.keystore.generate(KEY_TYPES[algorithm], label, { role: 'report-signer' });
    steps.push(`generated ${KEY_TYPES[algorithm]} key "${label}"`);
  }
  const r = await caIssue(
    {
      profileId: REPORT_SIGNER_PROFILE,
      publicKeyInfo: key.publicKeyInfo,
      applicant: {
        name: `${o.organization} 报告签名 ${SUBJECT_MARK}`,
        organization: o.organization,
        country: 'CN',
      },
      caId: ca.id,
      actor: o.actor,
    },
    o.ca,
  );
  steps.push(`issued ${algorithm} report-signing certificate ${r.serial} under ${ca.id}`);
  return {
    signer: {
      keyId: key.id,
      certificate: r.certificate,
      chain: [ca.certificate, ...ca.chain],
      caId: ca.id,
    },
    steps,
  };
}

/** What routes call to produce signed PDF reports. */
export type ReportService = {
  /**
   * Renders `doc`, signs it with the platform's report-signing key (PAdES B-T: CMS with ESS
   * signingCertificateV2, signature time-stamp from the in-process TSA) and returns the PDF bytes.
   * Refuses with SIGN_TIMESTAMP_UNAVAILABLE when the TSA cannot time-stamp (nothing is returned unsigned).
   */
  signedReport(doc: ReportDocument, opts?: SignedReportOptions): Promise<Uint8Array>;
  /** The report signer (created on first use when an older data directory lacks it). */
  signer(algorithm?: ReportAlgorithm): Promise<ReportSigner>;
  /** Creates the report signer if missing; returns what was done. */
  ensure(algorithm?: ReportAlgorithm): Promise<string[]>;
};

/** Options of signedReport. */
export type SignedReportOptions = {
  /** The report key's family: `ecdsa` (default; PDF readers verify it) or `sm2` (GM relying parties). */
  algorithm?: ReportAlgorithm;
};

export type ReportServiceDeps = {
  store: Store;
  keystore: KeyStore;
  ca: CaDeps;
  tsa: TsaService;
  organization: string;
  publicBaseUrl: string;
  now: () => Date;
};

/** Builds the report service; the signer is looked up (or created) once, on first use. */
export function openReports(d: ReportServiceDeps): ReportService {
  const loading = new Map<ReportAlgorithm, Promise<{ signer: ReportSigner; steps: string[] }>>();
  const load = (algorithm: ReportAlgorithm = 'ecdsa') => {
    if (!REPORT_ALGORITHMS.includes(algorithm))
      throw new RangeError(`unknown report algorithm ${JSON.stringify(algorithm)}`);
    let p = loading.get(algorithm);
    if (!p) {
      p = ensureReportSigner({
        store: d.store,
        keystore: d.keystore,
        ca: d.ca,
        organization: d.organization,
        actor: 'system:reports',
        now: d.now,
        algorithm,
      });
      loading.set(algorithm, p);
      p.catch(() => loading.delete(algorithm));
    }
    return p;
  };

  async function timestamp(signatureValue: Uint8Array, algorithm: ReportAlgorithm): Promise<Uint8Array> {
    const units = await d.tsa.units();
    const preferred: TsaUnitId[] = [algorithm, d.tsa.defaultUnit];
    const id = preferred.find((u) => units.has(u));
    const unit = id ? units.get(id) : undefined;
    if (!unit || !id)
      throw new DomainError('SIGN_TIMESTAMP_UNAVAILABLE', 'no TSA unit is configured for report time-stamps');
    const nonce = BigInt('0x' + randomBytes(8).toString('hex'));
    const request = buildTimeStampReq({
      hash: id === 'sm2' ? 'sm3' : 'sha256',
      data: signatureValue,
      nonce,
      certReq: true,
    });
    const outcome = await d.tsa.respond(unit, request, 'reports');
    if (!outcome.granted || !outcome.token)
      throw new DomainError(
        'SIGN_TIMESTAMP_UNAVAILABLE',
        `the time-stamp authority refused the report time-stamp (${outcome.failInfo ?? 'no token'})`,
      );
    return outcome.token;
  }

  return {
    async signer(algorithm) {
      return (await load(algorithm)).signer;
    },
    async ensure(algorithm) {
      return (await load(algorithm)).steps;
    },
    async signedReport(doc, opts = {}) {
      const algorithm = opts.algorithm ?? 'ecdsa';
      const s = (await load(algorithm)).signer;
      const pdf = await renderPdf(doc);
      return signPdf(pdf, {
        signer: await d.keystore.signer(s.keyId, 'sign a PDF report'),
        certificate: s.certificate,
        // The issuing CA(s) but not the root: a relying party brings the root it trusts.
        chain: s.chain.slice(0, -1),
        name: `${d.organization} 电子签名平台 e-signature platform`,
        reason: '本报告由电子签名平台出具并签名，任何改动都会使签名失效 Issued and signed by the platform',
        location: d.organization,
        contactInfo: d.publicBaseUrl,
        signingTime: d.now(),
        timestamp: (signatureValue) => timestamp(signatureValue, algorithm),
      });
    },
  };
}
