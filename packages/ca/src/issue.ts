/**
 * Certificate issuance, in the order conventions.md §4 fixes: profile → validate the request → policy →
 * reserve a serial → lint a throwaway-key copy → record intent → the CA key signs → check the signed TBS is
 * what was linted → store → audit. Any failure before signing leaves nothing behind; a crash between
 * signing and storing leaves a pending intent, never a certificate the store does not know about.
 */

import { DomainError } from '@medsign/errors';
import { bytesToHex, hexToBytes, sm3, type Sm2SignerPool } from '@medsign/gm';
import { encodeTlv } from '@medsign/gm/der';
import {
  authorityInfoAccessExtension,
  authorityKeyIdentifierExtension,
  basicConstraintsExtension,
  buildTbsCertificate,
  certificatePoliciesExtension,
  crlDistributionPointsExtension,
  customExtension,
  describePublicKey,
  extKeyUsageExtension,
  identityCodeExtension,
  keyIdentifier,
  keyUsageExtension,
  lintCertificate,
  ParsedCertificate,
  ParsedCsr,
  PrivateKey,
  residentIdCardExtension,
  signTbsCertificate,
  subjectKeyIdentifierExtension,
  type CertExtension,
  type KeyType,
  type NameAttribute,
  type PublicKeyDescription,
} from '@medsign/pki';
import type { OcspResponseCache } from './ocsp-cache.js';
import type { Applicant, CustomExtensionTemplate, Profile } from './profiles.js';
import type { AuditSink, CaKeyProvider, CaStore, CertificateRef, Clock, IssuingCa } from './ports.js';

const DAY = 86_400_000;

/** Where certificates point relying parties: CRL, OCSP and the issuer certificate, under a public base URL. */
export type PublicUrls = { baseUrl: string };

export type CaDeps = {
  clock: Clock;
  store: CaStore;
  keys: CaKeyProvider;
  audit: AuditSink;
  cas: readonly IssuingCa[];
  profiles: readonly Profile[];
  urls: PublicUrls;
  /** Randomness for serials (tests may pass a deterministic source). */
  randomBytes: (length: number) => Uint8Array;
  /** Pre-signed OCSP answers (ocsp-cache.ts); without it every OCSP request is signed afresh. */
  ocspCache?: OcspResponseCache;
  /** Worker threads for the SM2 signatures of lint copies (the keystore's pool, so another core signs). */
  sm2Pool?: Sm2SignerPool;
};

export type IssueRequest = {
  profileId: string;
  /** PKCS#10 request (PEM or DER), or — for server-side key generation — the SPKI of a key the keystore made. */
  csr?: Uint8Array | string;
  publicKeyInfo?: Uint8Array;
  applicant: Applicant;
  /** Issue under this CA; by default the CA whose key family matches the subject key. */
  caId?: string;
  /** Shorter than the profile's validity if given. */
  validityDays?: number;
  /** Who asked (an operator id, an application id): goes into the audit event. */
  actor: string;
  /** The approved application this issuance answers (closed with the certificate, one transaction). */
  applicationId?: string;
  /** The certificate this one renews (the new record links to it). */
  replaces?: CertificateRef;
};

export type IssueResult = { certificate: ParsedCertificate; caId: string; serial: string };

const render = (template: string, a: Applicant) =>
  template.replace(/\{\{(\w+)\}\}/g, (_, f: string) => a[f]?.trim() ?? '');

/** The DER value of a custom extension from its template. */
export function renderCustomExtension(t: CustomExtensionTemplate, a: Applicant): CertExtension {
  const text = render(t.value, a);
  const utf8 = new TextEncoder().encode(text);
  const der =
    t.encoding === 'utf8'
      ? encodeTlv(0x0c, utf8)
      : t.encoding === 'printable'
        ? encodeTlv(0x13, utf8)
        : t.encoding === 'ia5'
          ? encodeTlv(0x16, utf8)
          : hexToBytes(text);
  return customExtension(t.oid, t.critical, der);
}

/**
 * One throwaway key per key type signs the lint copies (as boulder's linting key does): it never signs
 * anything that leaves the CA, and generating an RSA key per issuance would cost more than the issuance.
 */
const lintKeys = new Map<KeyType, PrivateKey>();
function lintKey(ca: IssuingCa): PrivateKey {
  const type = keyTypeFor(caKey(ca));
  let key = lintKeys.get(type);
  if (!key) lintKeys.set(type, (key = PrivateKey.generate(type)));
  return key;
}

/**
 * The CA key's description, computed once per IssuingCa object (its certificate does not change; a renewed
 * CA is a new object): describing the key parses the SPKI, and every issuance asked twice.
 */
const caKeys = new WeakMap<IssuingCa, PublicKeyDescription>();
function caKey(ca: IssuingCa): PublicKeyDescription {
  let d = caKeys.get(ca);
  if (!d) caKeys.set(ca, (d = describePublicKey(ca.certificate.publicKeyInfo)));
  return d;
}

function keyTypeFor(d: PublicKeyDescription): KeyType {
  if (d.family === 'sm2') return 'sm2';
  if (d.family === 'rsa') return 'rsa-2048';
  return d.curve === 'P-384' ? 'ec-p384' : 'ec-p256';
}

function subjectKey(req: IssueRequest): Uint8Array {
  if (req.csr !== undefined) {
    let csr: ParsedCsr;
    try {
      csr = ParsedCsr.parse(req.csr);
    } catch (e) {
      throw new DomainError(
        'CA_CSR_INVALID',
        `the certificate request cannot be read: ${(e as Error).message}`,
        { cause: e },
      );
    }
    if (!csr.verifyProofOfPossession())
      throw new DomainError('CA_CSR_INVALID', 'the request signature (proof of possession) does not verify');
    return csr.publicKeyInfo;
  }
  if (req.publicKeyInfo) return req.publicKeyInfo;
  throw new DomainError('CA_CSR_INVALID', 'a certificate request or a public key is required');
}

/** A random positive serial of 16 bytes (128 bits, top bit cleared so the INTEGER needs no padding). */
function newSerial(randomBytes: (n: number) => Uint8Array): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return BigInt('0x' + bytesToHex(b)).toString(16);
}

function subjectAttributes(profile: Profile, a: Applicant): NameAttribute[] {
  return profile.subject.map(([t, v]) => [t, render(v, a)] as NameAttribute).filter(([, v]) => v.length > 0);
}

/**
 * The extensions that depend only on the profile, the CA and the public URLs — the same for every
 * certificate of that profile and CA — kept per (CA object, profile object, base URL) so they are
 * encoded once, not per issuance (a profile or CA is never edited in place: a changed one is a new object).
 * `head` goes before the subject key identifier, `tail` after it.
 */
type FixedExtensions = { head: readonly CertExtension[]; tail: readonly CertExtension[] };
const fixedExtensionCache = new WeakMap<IssuingCa, WeakMap<Profile, Map<string, FixedExtensions>>>();

function fixedExtensions(profile: Profile, ca: IssuingCa, urls: PublicUrls): FixedExtensions {
  let byProfile = fixedExtensionCache.get(ca);
  if (!byProfile) fixedExtensionCache.set(ca, (byProfile = new WeakMap()));
  let byUrl = byProfile.get(profile);
  if (!byUrl) byProfile.set(profile, (byUrl = new Map()));
  let fixed = byUrl.get(urls.baseUrl);
  if (!fixed) byUrl.set(urls.baseUrl, (fixed = buildFixedExtensions(profile, ca, urls)));
  return fixed;
}

function buildFixedExtensions(profile: Profile, ca: IssuingCa, urls: PublicUrls): FixedExtensions {
  const base = urls.baseUrl.replace(/\/+$/, '');
  const head = [basicConstraintsExtension({ ca: false }), keyUsageExtension(profile.keyUsage)];
  const exts: CertExtension[] = [
    authorityKeyIdentifierExtension(
      ca.certificate.subjectKeyIdentifier ?? keyIdentifier(ca.certificate.publicKeyInfo),
    ),
  ];
  if (profile.extKeyUsage?.length)
    exts.push(extKeyUsageExtension(profile.extKeyUsage, profile.extKeyUsageCritical ?? false));
  if (profile.policies?.length) exts.push(certificatePoliciesExtension(profile.policies));
  if (profile.crlDistributionPoint)
    exts.push(crlDistributionPointsExtension([`${base}/pki/crl/${ca.id}.crl`]));
  if (profile.authorityInfoAccess) {
    exts.push(
      authorityInfoAccessExtension({
        ocsp: [`${base}/pki/ocsp`],
        caIssuers: [`${base}/pki/ca/${ca.id}.cer`],
      }),
    );
  }
  return { head: Object.freeze(head), tail: Object.freeze(exts) };
}

function extensionsFor(
  profile: Profile,
  ca: IssuingCa,
  spki: Uint8Array,
  a: Applicant,
  urls: PublicUrls,
): CertExtension[] {
  const { head, tail } = fixedExtensions(profile, ca, urls);
  const exts: CertExtension[] = [...head, subjectKeyIdentifierExtension(keyIdentifier(spki)), ...tail];
  if (profile.identityExtension && a.idNumber) {
    exts.push(
      profile.identityExtension === 'gmt0015-2023'
        ? residentIdCardExtension(a.idNumber)
        : identityCodeExtension({ kind: 'residentIdCard', value: a.idNumber }),
    );
  }
  for (const t of profile.customExtensions) exts.push(renderCustomExtension(t, a));
  return exts;
}

/** Issues one certificate. Domain failures are DomainErrors with codes from the single table. */
export async function issueCertificate(req: IssueRequest, deps: CaDeps): Promise<IssueResult> {
  // 1. profile
  const profile = deps.profiles.find((p) => p.id === req.profileId);
  if (!profile) throw new DomainError('CA_PROFILE_NOT_FOUND', `no profile "${req.profileId}"`);

  // 2. the request
  const spki = subjectKey(req);
  let key: PublicKeyDescription;
  try {
    key = describePublicKey(spki);
  } catch (e) {
    throw new DomainError('CA_KEY_NOT_ALLOWED', (e as Error).message, { cause: e });
  }
  if (!profile.keyFamilies.includes(key.family)) {
    throw new DomainError('CA_KEY_NOT_ALLOWED', `profile ${profile.id} does not accept ${key.family} keys`);
  }
  if (key.family === 'rsa' && key.bits < profile.minRsaBits) {
    throw new DomainError('CA_KEY_NOT_ALLOWED', `RSA keys need at least ${profile.minRsaBits} bits`);
  }

  // 3. policy: issuing CA, subject, validity
  const ca = req.caId
    ? deps.cas.find((c) => c.id === req.caId)
    : deps.cas.find((c) => {
        try {
          return caKey(c).family === key.family;
        } catch {
          return false;
        }
      });
  if (!ca)
    throw new DomainError(
      'CA_NOT_FOUND',
      req.caId ? `no CA "${req.caId}"` : `no issuing CA for ${key.family} keys`,
    );
  for (const field of profile.requiredFields) {
    if (!req.applicant[field]?.trim())
      throw new DomainError('CA_SUBJECT_INVALID', `the profile needs the applicant's ${field}`);
  }
  const subject = subjectAttributes(profile, req.applicant);
  const now = deps.clock.now();
  const days = req.validityDays ?? profile.validityDays;
  if (!Number.isInteger(days) || days < 1 || days > profile.validityDays) {
    throw new DomainError('CA_VALIDITY_INVALID', `validity must be 1–${profile.validityDays} days`);
  }
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - 5 * 60_000);
  const notAfter = new Date(Math.min(notBefore.getTime() + days * DAY, ca.certificate.notAfter.getTime()));
  if (notAfter <= now) throw new DomainError('CA_VALIDITY_INVALID', `CA ${ca.id} has expired`);

  // 4. serial
  let serial: string | undefined;
  for (let attempt = 0; attempt < 5 && !serial; attempt++) {
    const candidate = newSerial(deps.randomBytes);
    if (await deps.store.reserveSerial(ca.id, candidate)) serial = candidate;
  }
  if (!serial) throw new DomainError('CA_SERIAL_COLLISION');

  // 5. build and lint a copy signed by a throwaway key, before the CA key is touched
  const caSigner = await deps.keys.signer(ca.keyId, `issue ${serial}`);
  let tbs: Uint8Array;
  try {
    tbs = buildTbsCertificate(
      {
        serialNumber: BigInt('0x' + serial),
        issuer: ca.certificate.subjectDer,
        subject,
        notBefore,
        notAfter,
        publicKeyInfo: spki,
        extensions: extensionsFor(profile, ca, spki, req.applicant, deps.urls),
      },
      caSigner.algorithm,
    );
  } catch (e) {
    if (e instanceof DomainError) throw e;
    throw new DomainError('CA_SUBJECT_INVALID', (e as Error).message, { cause: e });
  }
  const draft = ParsedCertificate.parse(
    await signTbsCertificate(
      tbs,
      lintKey(ca).signer(caSigner.algorithm, deps.sm2Pool ? { sm2Pool: deps.sm2Pool } : {}),
    ),
  );
  const lint = lintCertificate(
    draft,
    key.family === 'sm2' && profile.lintProfile ? { profile: profile.lintProfile } : {},
  );
  const failed = lint.results.filter((r) => r.status === 'fail' && r.name.startsWith('e_'));
  if (failed.length) {
    await deps.audit.append({
      actor: req.actor,
      action: 'cert.lint-failed',
      target: `${ca.id}/${serial}`,
      detail: { lints: failed.map((f) => f.name).join(',') },
    });
    throw new DomainError(
      'CA_LINT_FAILED',
      failed.map((f) => `${f.name}${f.detail ? ` (${f.detail})` : ''}`).join('; '),
    );
  }

  // 6. intent, then the CA key signs
  const intent = {
    id: `${ca.id}:${serial}`,
    caId: ca.id,
    serial,
    tbsHash: bytesToHex(sm3(tbs)),
    state: 'pending' as const,
  };
  await deps.store.recordIntent(intent);
  let certificate: ParsedCertificate;
  try {
    const der = await signTbsCertificate(tbs, caSigner);
    await deps.store.updateIntent(intent.id, 'signed');
    // 7. what was signed must be what was linted, and must verify under the CA key. The TBS was parsed
    // (and linted) in the draft: withSignature refuses any other TBS and reads only the signature.
    try {
      certificate = ParsedCertificate.withSignature(draft, der);
    } catch (e) {
      throw new DomainError('CA_SIGNATURE_CHECK_FAILED', (e as Error).message, { cause: e });
    }
    if (
      bytesToHex(certificate.tbsDer) !== bytesToHex(tbs) ||
      !(await certificate.verifySignatureAsync(
        ca.certificate.publicKeyInfo,
        deps.sm2Pool ? { sm2Pool: deps.sm2Pool } : {},
      ))
    ) {
      throw new DomainError('CA_SIGNATURE_CHECK_FAILED');
    }
  } catch (e) {
    await deps.store.updateIntent(intent.id, 'failed');
    throw e;
  }

  // 8. store, close the intent, audit
  await deps.store.insertCertificate({
    caId: ca.id,
    serial,
    profile: profile.id,
    subject: certificate.subjectText,
    ...(req.applicant.department ? { department: req.applicant.department } : {}),
    ...(req.applicant.employeeNo ? { employeeNo: req.applicant.employeeNo } : {}),
    notBefore,
    notAfter,
    der: certificate.der,
    subjectDer: certificate.subjectDer,
    status: 'good',
    applicant: req.applicant,
    ...(req.applicationId !== undefined ? { applicationId: req.applicationId } : {}),
    ...(req.replaces ? { replaces: req.replaces } : {}),
  });
  await deps.store.updateIntent(intent.id, 'stored');
  await deps.audit.append({
    actor: req.actor,
    action: 'cert.issue',
    target: `${ca.id}/${serial}`,
    detail: {
      profile: profile.id,
      notAfter: notAfter.toISOString(),
      fingerprint: certificate.fingerprint('sm3'),
    },
  });
  return { certificate, caId: ca.id, serial };
}
