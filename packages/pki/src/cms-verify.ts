/**
 * Whole-message CMS verification (RFC 5652, GM/T 0010) — every SignerInfo checked by verifyCmsSigner,
 * optionally each signer's chain to trust anchors, and RFC 3161 Appendix A signature time-stamps — and
 * adding such a time-stamp to an existing SignedData. Kept apart from cms.ts because it needs tsp.ts,
 * which itself signs through cms.ts.
 */

import type { Sm2SignerPool } from '@medsign/gm';
import { encodeOid, encodeSequence, readOid } from '@medsign/gm/der';
import { digest } from './algorithms.js';
import type { ParsedCertificate } from './certificate.js';
import {
  verifyCertificateChain,
  verifyCertificateChainAsync,
  type ChainOptions,
  type ChainResult,
} from './chain.js';
import { Checks } from './checks.js';
import {
  CMS_PEM_LABELS,
  ParsedCms,
  signerIdentifierMatches,
  verifyCmsSigner,
  verifyCmsSignerAsync,
  type CmsSignerCheck,
} from './cms.js';
import { encodeAttribute, timeStampTokenAttribute, type CmsAttribute } from './cms-attributes.js';
import {
  childrenOf,
  derFromInput,
  encodeContext,
  encodeSetOf,
  outerSequence,
  sameBytes,
  tlvBytes,
} from './der-input.js';
import { message } from './errors.js';
import * as oid from './oids.js';
import { parseTstInfo, verifyTimeStampToken, type TimeStampVerifyResult } from './tsp.js';

/** What verifyCms checks against. */
export type CmsVerifyOptions = {
  /** The content of a detached signature (compared with the content when it is encapsulated). */
  content?: Uint8Array;
  /** Trust anchors: when given, each signer's certificate chain is validated too. */
  anchors?: readonly ParsedCertificate[];
  /** Validation time for chains (default now). */
  at?: Date;
  /** Certificates besides the embedded ones (signer certificates, intermediates, TSA certificates). */
  extraCertificates?: readonly ParsedCertificate[];
};

/** One signer's outcome. */
export type CmsSignerResult = CmsSignerCheck & {
  /** Position of the SignerInfo in the received SET. */
  index: number;
  chain?: ChainResult;
  /** The first signature time-stamp, if any (all of them in `timestamps`). */
  timestamp?: TimeStampVerifyResult;
  timestamps?: TimeStampVerifyResult[];
};

/** The outcome of verifyCms. */
export type CmsVerifyResult = {
  valid: boolean;
  contentType?: string;
  eContentType?: string;
  gmOids?: boolean;
  detached?: boolean;
  /** The encapsulated content, when attached. */
  content?: Uint8Array;
  signers: CmsSignerResult[];
  errors: string[];
};

/**
 * Verifies a CMS SignedData (ParsedCms, PEM or DER; either OID style). Never throws: malformed input
 * is reported as an error. Valid only when there is at least one signer and every signer — with its
 * chain when `anchors` are given, and its time-stamps — verifies.
 */
export function verifyCms(
  input: ParsedCms | Uint8Array | string,
  opts: CmsVerifyOptions = {},
): CmsVerifyResult {
  let cms: ParsedCms;
  try {
    cms = input instanceof ParsedCms ? input : ParsedCms.parse(input);
  } catch (e) {
    return { valid: false, signers: [], errors: [`malformed CMS: ${message(e)}`] };
  }
  const extra = opts.extraCertificates ?? [];
  const signers = cms.signerInfos.map((_, index) => {
    const base = verifyCmsSigner(cms, index, {
      ...(opts.content ? { content: opts.content } : {}),
      certificates: extra,
    });
    const chain =
      opts.anchors && base.certificate
        ? verifyCertificateChain(base.certificate, chainOptions(cms, opts))
        : undefined;
    return completeSigner(cms, index, base, chain, opts);
  });
  return cmsResult(cms, signers);
}

/**
 * {@link verifyCms} with the SM2 signatures a message needs each time — each signer's, and its
 * certificate's under the issuing CA — checked on `sm2Pool`'s worker threads (another core) when one is
 * given: the same checks and outcome. Never rejects.
 */
export async function verifyCmsAsync(
  input: ParsedCms | Uint8Array | string,
  opts: CmsVerifyOptions & { sm2Pool?: Sm2SignerPool } = {},
): Promise<CmsVerifyResult> {
  let cms: ParsedCms;
  try {
    cms = input instanceof ParsedCms ? input : ParsedCms.parse(input);
  } catch (e) {
    return { valid: false, signers: [], errors: [`malformed CMS: ${message(e)}`] };
  }
  const extra = opts.extraCertificates ?? [];
  const pool = opts.sm2Pool ? { sm2Pool: opts.sm2Pool } : {};
  const signers = await Promise.all(
    cms.signerInfos.map(async (_, index) => {
      const signerOpts = { ...(opts.content ? { content: opts.content } : {}), certificates: extra, ...pool };
      // The signer certificate is found without checking anything expensive: look it up, then run the
      // signer's and the chain's signatures side by side.
      const found = verifyCmsSignerCertificate(cms, index, extra);
      const [base, chain] = await Promise.all([
        verifyCmsSignerAsync(cms, index, signerOpts),
        opts.anchors && found
          ? verifyCertificateChainAsync(found, { ...chainOptions(cms, opts), ...pool })
          : Promise.resolve(undefined),
      ]);
      return completeSigner(cms, index, base, base.certificate === found ? chain : undefined, opts);
    }),
  );
  return cmsResult(cms, signers);
}

/** The certificate verifyCmsSigner would pick for SignerInfo `index` (extra certificates first). */
function verifyCmsSignerCertificate(
  cms: ParsedCms,
  index: number,
  extra: readonly ParsedCertificate[],
): ParsedCertificate | undefined {
  const si = cms.signerInfos[index];
  if (!si) return undefined;
  try {
    return [...extra, ...cms.certificates].find((c) => signerIdentifierMatches(si.sid, c));
  } catch {
    return undefined;
  }
}

function chainOptions(cms: ParsedCms, opts: CmsVerifyOptions): ChainOptions {
  return {
    anchors: opts.anchors ?? [],
    intermediates: [...cms.certificates, ...(opts.extraCertificates ?? [])],
    ...(opts.at ? { at: opts.at } : {}),
  };
}

/** A signer's outcome from its SignerInfo checks and chain, plus its signature time-stamps. */
function completeSigner(
  cms: ParsedCms,
  index: number,
  base: CmsSignerCheck,
  chain: ChainResult | undefined,
  opts: CmsVerifyOptions,
): CmsSignerResult {
  const extra = opts.extraCertificates ?? [];
  const si = cms.signerInfos[index]!;
  const checks = new Checks({ wording: 'colon' });
  checks.include(base.checks);
  const r: CmsSignerResult = { ...base, index };
  if (opts.anchors && r.certificate) {
    const c = chain ?? verifyCertificateChain(r.certificate, chainOptions(cms, opts));
    r.chain = c;
    checks.expect('certificate chain', c.valid, c.errors.join('; '));
  }
  const tsValues = (si.unsignedAttributes ?? [])
    .filter((a) => a.oid === oid.id_aa_timeStampToken)
    .flatMap((a) => a.values);
  if (tsValues.length) {
    r.timestamps = tsValues.map((token) =>
      verifyTimeStampToken(token, {
        data: si.signature,
        certificates: [...extra, ...cms.certificates],
        ...(opts.anchors ? { anchors: opts.anchors } : {}),
        ...(opts.at ? { at: opts.at } : {}),
      }),
    );
    r.timestamp = r.timestamps[0];
    r.timestamps.forEach((t, i) =>
      checks.add(
        `signature time-stamp ${i}`,
        t.valid,
        t.valid ? t.genTime?.toISOString() : t.errors.join('; '),
      ),
    );
  }
  r.valid = checks.valid;
  r.checks = checks.list;
  r.errors = checks.errors;
  return r;
}

function cmsResult(cms: ParsedCms, signers: CmsSignerResult[]): CmsVerifyResult {
  const errors: string[] = [];
  if (cms.signerInfos.length === 0) errors.push('no SignerInfo');
  signers.forEach((r) => {
    for (const e of r.errors) errors.push(`signer[${r.index}]: ${e}`);
  });
  return {
    valid: errors.length === 0 && signers.length > 0 && signers.every((s) => s.valid),
    contentType: cms.contentType,
    eContentType: cms.eContentType,
    gmOids: cms.gmOids,
    detached: cms.detached,
    ...(cms.content ? { content: cms.content } : {}),
    signers,
    errors,
  };
}

/**
 * Adds an RFC 3161 signature time-stamp (unsigned attribute id-aa-timeStampToken,
 * 1.2.840.113549.1.9.16.2.14) to SignerInfo `signerIndex` and returns the new ContentInfo DER. The
 * token's message imprint must cover that SignerInfo's signature value (RFC 3161 Appendix A); every
 * other byte of the SignedData is kept as received. A second token is added as a further value.
 */
export function addTimestampToken(
  cmsDer: Uint8Array | string,
  signerIndex: number,
  tokenDer: Uint8Array,
): Uint8Array {
  const der = derFromInput(cmsDer, CMS_PEM_LABELS, 'CMS');
  const cms = ParsedCms.parse(der);
  const si = cms.signerInfos[signerIndex];
  if (!si) throw new RangeError(`no SignerInfo at index ${signerIndex}`);

  const token = ParsedCms.parse(tokenDer);
  if (!token.content) throw new RangeError('the time-stamp token carries no TSTInfo');
  const mi = parseTstInfo(token.content).messageImprint;
  if (!mi.hash || !sameBytes(digest(mi.hash, si.signature), mi.hashedMessage))
    throw new RangeError('the time-stamp token does not cover this SignerInfo signature value');

  // Rebuild the SignerInfo: the fields up to the signature as received, then the unsigned attributes.
  const fields = outerSequence(si.der, 'SignerInfo');
  const kept = fields.filter((f) => f.tag !== 0xa1).map(tlvBytes);
  const attrs: CmsAttribute[] = (si.unsignedAttributes ?? []).map((a) => ({
    oid: a.oid,
    values: [...a.values],
  }));
  const existing = attrs.find((a) => a.oid === oid.id_aa_timeStampToken);
  if (existing) existing.values.push(tokenDer);
  else attrs.push(timeStampTokenAttribute(tokenDer));
  const newSignerInfo = encodeSequence(...kept, encodeSetOf(attrs.map(encodeAttribute), 0xa1));

  // Rebuild the SignedData with the signerInfos SET changed and every other field kept.
  const top = outerSequence(der, 'ContentInfo');
  const contentType = readOid(top[0]!, 'ContentInfo contentType');
  const signedData = childrenOf(top[1]!)[0]!;
  const sdFields = childrenOf(signedData);
  const signerSet = sdFields[sdFields.length - 1]!;
  const infos = childrenOf(signerSet).map((t, i) => (i === signerIndex ? newSignerInfo : tlvBytes(t)));
  const newSignedData = encodeSequence(...sdFields.slice(0, -1).map(tlvBytes), encodeSetOf(infos));
  return encodeSequence(encodeOid(contentType), encodeContext(0, newSignedData));
}
