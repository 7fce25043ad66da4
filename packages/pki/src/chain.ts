/**
 * Certification path building and validation (a practical subset of RFC 5280 §6): chains by name
 * and key identifier, signatures over the exact TBS bytes, validity at a given time, CA flags, key
 * usage, path length, outer/inner algorithm equality and unknown critical extensions. Every check is
 * reported with a reason so a verifier can print why a chain failed; nothing here throws on bad input.
 */

import type { Sm2SignerPool } from '@medsign/gm';
import type { ParsedCertificate } from './certificate.js';
import { Checks, type Check } from './checks.js';
import { sameBytes } from './der-input.js';
import { message } from './errors.js';
import { namesMatch } from './name.js';
import * as oid from './oids.js';

export type ChainResult = {
  valid: boolean;
  /** The path found, leaf first, ending at the trust anchor (empty if none was found). */
  path: ParsedCertificate[];
  /** Every check, each about one certificate of the path (`subject`). */
  checks: Check[];
  /** Human-readable reasons for failure (empty when valid). */
  errors: string[];
};

export type ChainOptions = {
  /** Trusted certificates; a path must end at one of them. */
  anchors: readonly ParsedCertificate[];
  /** Untrusted certificates that may fill the path. */
  intermediates?: readonly ParsedCertificate[];
  /** Validation time (default: now). */
  at?: Date;
  /** If set, the leaf must carry this extended key usage (e.g. id-kp-timeStamping). */
  requiredExtKeyUsage?: string;
  /** Maximum number of certificates in a path (default 8). */
  maxLength?: number;
};

/** Extensions this validator understands; an unknown one marked critical fails the path. */
const KNOWN_EXTENSIONS = new Set([
  oid.id_ce_basicConstraints,
  oid.id_ce_keyUsage,
  oid.id_ce_extKeyUsage,
  oid.id_ce_subjectKeyIdentifier,
  oid.id_ce_authorityKeyIdentifier,
  oid.id_ce_subjectAltName,
  oid.id_ce_issuerAltName,
  oid.id_ce_cRLDistributionPoints,
  oid.id_ce_certificatePolicies,
  oid.id_pe_authorityInfoAccess,
  oid.id_ce_freshestCRL,
]);

function label(c: ParsedCertificate): string {
  return c.subjectText || `serial ${c.serialNumber}`;
}

/** Could `issuer` have issued `child`? (name chaining, plus key identifiers when both are present). */
export function isPossibleIssuer(child: ParsedCertificate, issuer: ParsedCertificate): boolean {
  if (!sameBytes(child.issuerDer, issuer.subjectDer) && !namesMatch(child.issuer, issuer.subject))
    return false;
  const aki = child.authorityKeyIdentifier;
  const ski = issuer.subjectKeyIdentifier;
  return !(aki && ski && !sameBytes(aki, ski));
}

function candidates(
  cert: ParsedCertificate,
  pool: readonly ParsedCertificate[],
  path: ParsedCertificate[],
): ParsedCertificate[] {
  // A candidate whose extensions cannot be read (malformed AKI/SKI) is simply not a candidate.
  const possible = (c: ParsedCertificate) => {
    try {
      return isPossibleIssuer(cert, c);
    } catch {
      return false;
    }
  };
  return pool.filter((c) => possible(c) && !path.some((p) => sameBytes(p.der, c.der)));
}

/** Builds every candidate path from the leaf to an anchor (depth-first, shortest tried first). */
function buildPaths(leaf: ParsedCertificate, opts: ChainOptions): ParsedCertificate[][] {
  const max = opts.maxLength ?? 8;
  const out: ParsedCertificate[][] = [];
  const walk = (path: ParsedCertificate[]) => {
    const last = path[path.length - 1]!;
    if (opts.anchors.some((a) => sameBytes(a.der, last.der))) {
      out.push(path);
      return;
    }
    if (path.length >= max) return;
    for (const anchor of candidates(last, opts.anchors, path)) out.push([...path, anchor]);
    for (const next of candidates(last, opts.intermediates ?? [], path)) walk([...path, next]);
  };
  walk([leaf]);
  return out.sort((a, b) => a.length - b.length);
}

/**
 * CA certificates whose signature has been seen to verify with an issuer's key: `issuer SPKI` + `certificate
 * DER` (the exact bytes, base64) → true, a bounded LRU. Verifying an issuing CA's certificate under its root
 * (and the root's self-signature) is a pure function of those bytes, so on a chain that comes back request
 * after request it need not cost an SM2 verification each time. Only successes are remembered (a bad
 * signature is checked, and fails, every time), and only above the leaf: a leaf's signature, and every
 * certificate's validity, CA flags, key usage and path length, are checked on every call.
 */
const verifiedCaSignatures = new Map<string, true>();
const VERIFIED_CA_SIGNATURE_CACHE_SIZE = 256;

const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

function caSignatureVerifies(cert: ParsedCertificate, issuer: ParsedCertificate): boolean {
  const id = `${b64(issuer.publicKeyInfo)}.${b64(cert.der)}`;
  if (verifiedCaSignatures.has(id)) {
    verifiedCaSignatures.delete(id);
    verifiedCaSignatures.set(id, true);
    return true;
  }
  if (!cert.verifySignature(issuer.publicKeyInfo)) return false;
  if (verifiedCaSignatures.size >= VERIFIED_CA_SIGNATURE_CACHE_SIZE)
    verifiedCaSignatures.delete(verifiedCaSignatures.keys().next().value!);
  verifiedCaSignatures.set(id, true);
  return true;
}

/** `leafSignature`: the leaf's signature under path[1]'s key, when it was already checked (async). */
function validatePath(path: ParsedCertificate[], opts: ChainOptions, leafSignature?: boolean): Checks {
  const at = opts.at ?? new Date();
  const checks = new Checks();
  const expect = (c: ParsedCertificate, check: string, ok: boolean, failure: string) =>
    checks.expect(check, ok, failure, label(c));

  path.forEach((cert, i) => {
    const issuer = path[i + 1];
    const isAnchor = i === path.length - 1;
    expect(
      cert,
      'validity',
      cert.isValidAt(at),
      `valid ${cert.notBefore.toISOString()} – ${cert.notAfter.toISOString()}, checked at ${at.toISOString()}`,
    );
    expect(
      cert,
      'algorithm identifiers match',
      cert.algorithmsMatch,
      'outer signatureAlgorithm differs from TBSCertificate.signature',
    );
    const unknownCritical = cert.extensions
      .filter((e) => e.critical && !KNOWN_EXTENSIONS.has(e.oid))
      .map((e) => e.oid);
    expect(
      cert,
      'no unknown critical extensions',
      unknownCritical.length === 0,
      `unknown critical: ${unknownCritical.join(', ')}`,
    );
    if (issuer) {
      // The leaf's signature every time; a CA certificate's from the cache of verified ones.
      const sigOk =
        i === 0
          ? (leafSignature ?? cert.verifySignature(issuer.publicKeyInfo))
          : caSignatureVerifies(cert, issuer);
      checks.add(
        'signature',
        sigOk,
        sigOk ? `signed by ${label(issuer)}` : `signature does not verify with the key of ${label(issuer)}`,
        label(cert),
      );
      const bc = issuer.basicConstraints;
      expect(
        issuer,
        'issuer is a CA (basicConstraints cA)',
        bc?.ca === true,
        'basicConstraints cA is absent or false',
      );
      const ku = issuer.keyUsage;
      expect(
        issuer,
        'issuer key usage keyCertSign',
        !ku || ku.includes('keyCertSign'),
        `key usage is ${ku?.join(', ')}`,
      );
      // pathLenConstraint counts the non-self-issued intermediates below the issuer (RFC 5280 §4.2.1.9).
      if (bc?.pathLength !== undefined) {
        const below = path.slice(1, i + 1).filter((c) => !c.isSelfIssued).length;
        expect(
          issuer,
          'path length constraint',
          below <= bc.pathLength,
          `${below} intermediate(s) below a pathLen of ${bc.pathLength}`,
        );
      }
    }
    if (isAnchor && cert.isSelfIssued) {
      expect(
        cert,
        'trust anchor self-signature',
        i === 0 ? cert.verifySignature(cert.publicKeyInfo) : caSignatureVerifies(cert, cert),
        'self-signature does not verify',
      );
    }
  });

  const leaf = path[0]!;
  if (opts.requiredExtKeyUsage) {
    const eku = leaf.extKeyUsage ?? [];
    expect(
      leaf,
      `extended key usage ${opts.requiredExtKeyUsage}`,
      eku.includes(opts.requiredExtKeyUsage),
      `EKU is ${eku.join(', ') || 'absent'}`,
    );
  }
  return checks;
}

/**
 * Finds and validates a path from `leaf` to a trust anchor. When several paths exist the first valid
 * one wins; otherwise the shortest is reported with its failures.
 */
export function verifyCertificateChain(leaf: ParsedCertificate, opts: ChainOptions): ChainResult {
  const paths = buildPaths(leaf, opts);
  if (paths.length === 0) return noPath(leaf);
  let first: ChainResult | undefined;
  for (const path of paths) {
    const result = evaluatePath(path, opts);
    if (result.valid) return result;
    first ??= result;
  }
  return first!;
}

/**
 * {@link verifyCertificateChain} with the leaf's signature checked on `sm2Pool`'s worker threads (another
 * core) when one is given: the same paths, checks and outcome. Never rejects.
 */
export async function verifyCertificateChainAsync(
  leaf: ParsedCertificate,
  opts: ChainOptions & { sm2Pool?: Sm2SignerPool },
): Promise<ChainResult> {
  const paths = buildPaths(leaf, opts);
  if (paths.length === 0) return noPath(leaf);
  let first: ChainResult | undefined;
  for (const path of paths) {
    const issuer = path[1];
    const leafSignature =
      issuer && opts.sm2Pool
        ? await leaf.verifySignatureAsync(issuer.publicKeyInfo, { sm2Pool: opts.sm2Pool }).catch(() => false)
        : undefined;
    const result = evaluatePath(path, opts, leafSignature);
    if (result.valid) return result;
    first ??= result;
  }
  return first!;
}

function noPath(leaf: ParsedCertificate): ChainResult {
  return {
    valid: false,
    path: [],
    checks: [],
    errors: [`${label(leaf)}: no path to a trust anchor (issuer ${leaf.issuerText})`],
  };
}

function evaluatePath(path: ParsedCertificate[], opts: ChainOptions, leafSignature?: boolean): ChainResult {
  try {
    const checks = validatePath(path, opts, leafSignature);
    return { valid: checks.valid, path, checks: checks.list, errors: checks.errors };
  } catch (e) {
    // A malformed extension value (read lazily by the getters) fails the path instead of throwing.
    return { valid: false, path, checks: [], errors: [`path could not be evaluated: ${message(e)}`] };
  }
}
