/**
 * readPdfSignatures: finds every signature dictionary of a PDF (any object carrying /ByteRange and
 * /Contents), checks that the ByteRange is well formed and excludes exactly the /Contents string, and
 * verifies the CMS in /Contents over the covered bytes with pki's verifyCms (signer, ESS certificate
 * binding, optional chain to trust anchors, signature time-stamp tokens). It also says whether the
 * ByteRange covers the whole file — if not, bytes were appended after signing (an incremental update).
 * Never throws on the PDF's bytes: problems come back as errors.
 */

import {
  Checks,
  oids,
  ParsedCms,
  verifyCms,
  type Check,
  type CmsVerifyResult,
  type ParsedCertificate,
  type ReportField,
} from '@medsign/pki';
import { parsePdfDate } from './sign.js';
import { decodeText, PdfReader, type PdfValue } from './pdf-syntax.js';

/** What to verify against. */
export type ReadPdfSignaturesOptions = {
  /** Trust anchors: when given, each signer's chain (and the TSA's) is validated. */
  anchors?: readonly ParsedCertificate[];
  /** More certificates (intermediates, TSA certificates) besides those embedded in the CMS. */
  extraCertificates?: readonly ParsedCertificate[];
  /** Validation time for the chains (default now). */
  at?: Date;
};

/** One signature found in the PDF. */
export type PdfSignatureInfo = {
  /** The signature dictionary's object number. */
  objectNumber: number;
  filter?: string;
  subFilter?: string;
  /** /Name, /Reason, /Location, /ContactInfo as text. */
  name?: string;
  reason?: string;
  location?: string;
  contactInfo?: string;
  /** /M, the claimed signing time. */
  signingTime?: Date;
  byteRange?: number[];
  /** The ByteRange is four integers starting at 0 and excludes exactly the /Contents hex string. */
  byteRangeValid: boolean;
  /** The ByteRange ends at the end of the file: nothing was appended after this signature. */
  coversWholeFile: boolean;
  /** The CMS SignedData (DER, trailing zero padding removed). */
  cms?: Uint8Array;
  /** verifyCms over the covered bytes. */
  verification?: CmsVerifyResult;
  /** Signer certificate subject. */
  signer?: string;
  /** genTime of the first signature time-stamp, when present and valid. */
  timestampTime?: Date;
  /** Signed attributes per PAdES: signingCertificateV2 present, signingTime absent. */
  padesAttributes: boolean;
  /** byteRangeValid and the CMS verifies (with chain when anchors were given). */
  valid: boolean;
  errors: string[];
};

/**
 * Finds and verifies every PDF signature; an empty list when the PDF has none. Signature dictionaries are
 * the indirect objects whose dictionary has a /ByteRange entry: one pass finds every "n g obj" header, one
 * every /ByteRange, and each object is parsed at most once (linear in the file, whatever it holds).
 */
export function readPdfSignatures(pdf: Uint8Array, opts: ReadPdfSignaturesOptions = {}): PdfSignatureInfo[] {
  if (!(pdf instanceof Uint8Array)) throw new TypeError('pdf must be a Uint8Array');
  const r = new PdfReader(pdf);
  const headers: number[] = [];
  for (const h of r.src.matchAll(/(?<![0-9])\d{1,10}[\0\t\n\f\r ]+\d{1,5}[\0\t\n\f\r ]+obj\b/g))
    headers.push(h.index);
  const out: PdfSignatureInfo[] = [];
  const tried = new Set<number>();
  for (const m of r.src.matchAll(/\/ByteRange\b/g)) {
    const at = lastAtOrBefore(headers, m.index);
    if (at === undefined || tried.has(at)) continue;
    tried.add(at);
    let parsed: { num: number; value: PdfValue };
    try {
      parsed = r.objectAt(at);
    } catch {
      continue;
    }
    if (parsed.value.kind !== 'dict' || !parsed.value.entries.has('/ByteRange')) continue;
    out.push(checkSignature(pdf, parsed.num, parsed.value, opts));
  }
  return out;
}

/** The largest element of the ascending `list` that is at most `x`. */
function lastAtOrBefore(list: readonly number[], x: number): number | undefined {
  let lo = 0;
  let hi = list.length - 1;
  let found: number | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]! <= x) {
      found = list[mid];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

function checkSignature(
  pdf: Uint8Array,
  objectNumber: number,
  dict: PdfValue & { kind: 'dict' },
  opts: ReadPdfSignaturesOptions,
): PdfSignatureInfo {
  const e = dict.entries;
  const errors: string[] = [];
  const nameOf = (v: PdfValue | undefined) => (v?.kind === 'name' ? v.raw.slice(1) : undefined);
  const info: PdfSignatureInfo = {
    objectNumber,
    byteRangeValid: false,
    coversWholeFile: false,
    padesAttributes: false,
    valid: false,
    errors,
  };
  const set = <K extends keyof PdfSignatureInfo>(k: K, v: PdfSignatureInfo[K] | undefined) => {
    if (v !== undefined) info[k] = v;
  };
  set('filter', nameOf(e.get('/Filter')));
  set('subFilter', nameOf(e.get('/SubFilter')));
  set('name', decodeText(e.get('/Name')));
  set('reason', decodeText(e.get('/Reason')));
  set('location', decodeText(e.get('/Location')));
  set('contactInfo', decodeText(e.get('/ContactInfo')));
  set('signingTime', parsePdfDate(e.get('/M')));

  const br = e.get('/ByteRange');
  const contents = e.get('/Contents');
  if (
    br?.kind !== 'array' ||
    br.items.some((i) => i.kind !== 'number' || !Number.isSafeInteger(i.value) || i.value < 0)
  )
    errors.push('/ByteRange is not an array of non-negative integers');
  else info.byteRange = br.items.map((i) => (i as { value: number }).value);
  if (contents?.kind !== 'string' || !contents.hex) errors.push('/Contents is not a hex string');

  const range = info.byteRange;
  if (range && contents?.kind === 'string') {
    if (range.length !== 4) errors.push('/ByteRange must have four numbers');
    else {
      const [a, b, c, d] = range as [number, number, number, number];
      if (a !== 0) errors.push('/ByteRange does not start at byte 0');
      else if (a + b !== contents.start || c !== contents.end)
        errors.push('/ByteRange does not exclude exactly the /Contents string');
      else if (c + d > pdf.length) errors.push('/ByteRange runs past the end of the file');
      else {
        info.byteRangeValid = true;
        info.coversWholeFile = c + d === pdf.length;
      }
    }
  }
  if (info.byteRangeValid && contents?.kind === 'string') {
    const [, b, c, d] = range as [number, number, number, number];
    const covered = Buffer.concat([pdf.subarray(0, b), pdf.subarray(c, c + d)]);
    const cms = trimDer(contents.bytes);
    info.cms = cms;
    // What follows the CMS in /Contents is not signed: it must be the zero padding and nothing else.
    if (contents.bytes.subarray(cms.length).some((b) => b !== 0))
      errors.push('/Contents holds bytes after the CMS signature that are not zero padding');
    const v = verifyCms(cms, {
      content: covered,
      ...(opts.anchors ? { anchors: opts.anchors } : {}),
      ...(opts.extraCertificates ? { extraCertificates: opts.extraCertificates } : {}),
      ...(opts.at ? { at: opts.at } : {}),
    });
    info.verification = v;
    for (const err of v.errors) errors.push(err);
    const signer = v.signers[0];
    if (signer?.subject) info.signer = signer.subject;
    if (signer?.timestamp?.valid && signer.timestamp.genTime) info.timestampTime = signer.timestamp.genTime;
    if (v.valid && v.signers.length !== 1) errors.push(`expected one SignerInfo, found ${v.signers.length}`);
    info.padesAttributes = padesAttributes(cms);
    info.valid = v.valid && v.signers.length === 1 && errors.length === 0;
  }
  return info;
}

/** The CMS DER without the zero padding that fills the rest of /Contents. */
function trimDer(bytes: Uint8Array): Uint8Array {
  if (bytes.length < 2 || bytes[0] !== 0x30) return bytes;
  const l = bytes[1]!;
  let len: number;
  let hdr = 2;
  if (l < 0x80) len = l;
  else {
    const n = l & 0x7f;
    if (n === 0 || n > 4 || bytes.length < 2 + n) return bytes;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + bytes[2 + i]!;
    hdr += n;
  }
  return hdr + len <= bytes.length ? bytes.subarray(0, hdr + len) : bytes;
}

/** ETSI EN 319 142-1 §5.2: signingCertificateV2 signed, no CMS signingTime. */
function padesAttributes(cms: Uint8Array): boolean {
  try {
    const parsed = ParsedCms.parse(cms);
    const attrs = parsed.signerInfos[0]?.signedAttributes ?? [];
    return (
      attrs.some((a) => a.oid === oids.id_aa_signingCertificateV2) &&
      !attrs.some((a) => a.oid === oids.id_signingTime)
    );
  } catch {
    return false;
  }
}

/** A PDF's signatures in the universal verifier's report shape (pki VerificationReport, kind `pdf`). */
export type PdfVerificationReport = {
  kind: 'pdf';
  valid: boolean;
  fields: ReportField[];
  checks: Check[];
  errors: string[];
};

/**
 * Verifies every signature of a PDF (readPdfSignatures) and reports it like pki's verifyArtifact: fields
 * per signature (signer, SubFilter, /M, time-stamp time, reason, location, ByteRange), the CMS checks of
 * each signer, and whether the last signature covers the whole document. Valid only when the PDF has at
 * least one signature and every check passes. Never throws on the PDF's bytes.
 */
export function verifyPdfSignatures(
  pdf: Uint8Array,
  opts: ReadPdfSignaturesOptions = {},
): PdfVerificationReport {
  const sigs = readPdfSignatures(pdf, opts);
  const checks = new Checks({ wording: 'colon' });
  const fields: ReportField[] = [{ key: 'signatures', value: String(sigs.length) }];
  if (sigs.length === 0) checks.add('PDF signatures present', false, 'the PDF carries no signature');
  sigs.forEach((s, i) => {
    const n = sigs.length > 1 ? `signature${i + 1}.` : '';
    const f = (key: string, value: string | undefined) => {
      if (value !== undefined) fields.push({ key: n + key, value });
    };
    f('signer', s.signer);
    f('subFilter', s.subFilter);
    f('signingTime', s.signingTime?.toISOString());
    f('genTime', s.timestampTime?.toISOString());
    f('reason', s.reason);
    f('location', s.location);
    f('byteRange', s.byteRange ? `[${s.byteRange.join(' ')}]` : undefined);
    const who = s.signer ?? `signature ${i + 1}`;
    checks.add(
      'ByteRange',
      s.byteRangeValid,
      s.byteRangeValid ? 'excludes exactly /Contents' : s.errors[0],
      who,
    );
    const signer = s.verification?.signers[0];
    if (signer) checks.include(signer.checks, who);
    const own = s.errors.filter(
      (e) => !(s.verification?.errors.includes(e) ?? false) && (s.byteRangeValid || e !== s.errors[0]),
    );
    for (const e of own) checks.add('PDF signature', false, e, who);
    for (const e of s.verification?.errors.filter((e) => !e.startsWith('signer[')) ?? [])
      checks.add('signed data', false, e, who);
    // Only the last signature can cover the whole file; an earlier one covers its own revision.
    if (i === sigs.length - 1)
      checks.add(
        'covers the whole document',
        s.coversWholeFile,
        s.coversWholeFile
          ? 'no byte was added after the last signature'
          : 'bytes were added after the last signature',
        who,
      );
  });
  return { kind: 'pdf', valid: checks.valid, fields, checks: checks.list, errors: checks.errors };
}
