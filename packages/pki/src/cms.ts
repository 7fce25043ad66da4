/**
 * CMS SignedData (RFC 5652) and its GM/T 0010 (GB/T 35275) form: signing with any number of signers
 * through the Signer port, strict parsing with every signed part kept as received, and the per-signer
 * checks (certificate by SignerIdentifier, messageDigest, contentType, ESS signing certificate,
 * CMSAlgorithmProtection, the signature over the exact received signed-attribute bytes re-tagged as SET
 * per RFC 5652 §5.4). Whole-message verification with chains and time-stamps lives in cms-verify.ts.
 *
 * GM/T 0010 form (gm-standards.md §4): ContentInfo 1.2.156.10197.6.1.4.2.2, eContentType …2.1,
 * SignedData and SignerInfo version 1, digest SM3, digestEncryptionAlgorithm sm2-1 (1.2.156.10197.1.301.1),
 * SM2 signatures with Z over the default ID.
 */

import { encodePem, type Sm2SignerPool } from '@medsign/gm';
import {
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeTlv,
  encodeUnsignedInteger,
  readOid,
  readWhole,
  TAG,
  type Tlv,
} from '@medsign/gm/der';
import type { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import {
  digest,
  hashAlgorithmDer,
  hashLength,
  identifyHash,
  identifySignatureAlgorithm,
  SIGNATURE_ALGORITHMS,
  signatureAlgorithmDer,
  type HashName,
  type SignatureAlgorithm,
  type SignatureAlgorithmName,
} from './algorithms.js';
import { ParsedCertificate } from './certificate.js';
import { Checks, type Check } from './checks.js';
import {
  certificateSerialBytes,
  contentTypeAttribute,
  encodeAttribute,
  essCertIdMatches,
  messageDigestAttribute,
  readAlgorithmProtection,
  readAttributes,
  readSigningCertificate,
  signingCertificateV2Attribute,
  signingTimeAttribute,
  singleAttributeValue,
  type CmsAttribute,
} from './cms-attributes.js';
import {
  childrenOf,
  derFromInput,
  encodeContext,
  encodeSetOf,
  outerSequence,
  readAlgorithm,
  readOctetString,
  readSmallInteger,
  readTime,
  retag,
  sameBytes,
  TAG_SET,
  tlvBytes,
} from './der-input.js';
import { DecodeError, message, UnsupportedError } from './errors.js';
import { verifySignature, verifySignatureAsync, type Signer } from './keys.js';
import { formatName, namesMatch, parseName } from './name.js';
import * as oid from './oids.js';

/** PEM labels a CMS SignedData may arrive under. */
export const CMS_PEM_LABELS = ['CMS', 'PKCS7', 'PKCS #7 SIGNED DATA'] as const;

/** One signer of a signCms call. */
export type CmsSignerInput = {
  signer: Signer;
  /** The signer's certificate; its key must be the Signer's key. */
  certificate: ParsedCertificate;
  /** How the SignerInfo names the certificate (default issuerAndSerialNumber; GM/T 0010 allows only that). */
  sid?: 'issuerAndSerialNumber' | 'subjectKeyIdentifier';
  /** More signed attributes, after contentType, signingTime, messageDigest and signingCertificateV2. */
  signedAttributes?: readonly CmsAttribute[];
  unsignedAttributes?: readonly CmsAttribute[];
  /**
   * Unsigned attributes that depend on the signature value — an RFC 3161 signature time-stamp: called with
   * the value once the signer has signed, added after `unsignedAttributes`. Saves parsing the finished
   * SignedData again to add them (addTimestampToken).
   */
  unsignedAttributesFor?: (signatureValue: Uint8Array) => Promise<readonly CmsAttribute[]>;
};

/** What signCms produces. */
export type SignCmsOptions = {
  content: Uint8Array;
  /** Leave the content out of the SignedData (the verifier supplies it). */
  detached: boolean;
  /**
   * The content's digest under the signers' hash (SM3 for SM2, SHA-256 for RSA/ECDSA), when the caller
   * holds only the digest: detached signatures with signed attributes only; `content` is then ignored.
   */
  contentDigest?: Uint8Array;
  signers: readonly CmsSignerInput[];
  /**
   * Sign attributes (default true): contentType, signingTime (unless omitSigningTime), messageDigest and signingCertificateV2
   * with the signer's hash (SM3 for SM2). Without them the signature is over the content itself.
   */
  signedAttributes?: boolean;
  /** GM/T 0010 object identifiers and versions (SM2 signers only). */
  gmOids?: boolean;
  /** Certificates to embed (default: the signers' certificates). */
  certificates?: readonly ParsedCertificate[];
  /** DER CRLs to embed. */
  crls?: readonly Uint8Array[];
  /** signingTime attribute value (default now); whole seconds are encoded. */
  signingTime?: Date;
  /**
   * Leave the signingTime attribute out (PAdES, ETSI EN 319 142-1 §5.2.1: the claimed time goes into the
   * PDF signature dictionary's /M and a signature time-stamp proves it).
   */
  omitSigningTime?: boolean;
  /**
   * eContentType (default id-data, or GM/T 0010 data with gmOids). Anything other than data needs
   * signed attributes (RFC 5652 §5.3); time-stamp tokens use id-ct-TSTInfo.
   */
  contentType?: string;
};

const DATA_TYPES = new Set([oid.id_data, oid.id_gm_data]);
const SIGNED_DATA_TYPES = new Set([oid.id_signedData, oid.id_gm_signedData]);

function encodeSignerIdentifier(cert: ParsedCertificate, kind: CmsSignerInput['sid']): Uint8Array {
  if (kind === 'subjectKeyIdentifier') {
    const ski = cert.subjectKeyIdentifier;
    if (!ski) throw new RangeError('signer certificate has no subjectKeyIdentifier extension');
    return encodeTlv(0x80, ski);
  }
  return encodeSequence(cert.issuerDer, encodeTlv(TAG.INTEGER, certificateSerialBytes(cert)));
}

/**
 * Signs `content` as a CMS SignedData ContentInfo (DER). Each signer gets one SignerInfo; the
 * signature covers the DER SET OF signed attributes (RFC 5652 §5.4) or, without them, the content.
 */
export async function signCms(o: SignCmsOptions): Promise<Uint8Array> {
  if (!(o.content instanceof Uint8Array)) throw new TypeError('content must be a Uint8Array');
  if (!o.signers?.length) throw new RangeError('signCms needs at least one signer');
  const gm = o.gmOids === true;
  const withAttributes = o.signedAttributes !== false;
  const eContentType = o.contentType ?? (gm ? oid.id_gm_data : oid.id_data);
  if (!withAttributes && !DATA_TYPES.has(eContentType))
    throw new RangeError('content types other than data need signed attributes (RFC 5652 §5.3)');
  const signingTime = o.signingTime ?? new Date();
  if (o.contentDigest && (!o.detached || !withAttributes))
    throw new RangeError('a content digest can only be signed detached, with signed attributes');

  const digestAlgorithms: Uint8Array[] = [];
  const signerInfos: Uint8Array[] = [];
  let anyV3 = false;
  for (const s of o.signers) {
    if (!sameBytes(s.signer.publicKeyInfo, s.certificate.publicKeyInfo))
      throw new RangeError('a signer key does not match its certificate');
    const info = SIGNATURE_ALGORITHMS[s.signer.algorithm];
    if (!info) throw new RangeError(`unknown signature algorithm ${String(s.signer.algorithm)}`);
    if (gm && info.key !== 'sm2') throw new RangeError('GM/T 0010 SignedData needs SM2 signers');
    const sidKind = s.sid ?? 'issuerAndSerialNumber';
    if (gm && sidKind !== 'issuerAndSerialNumber')
      throw new RangeError('GM/T 0010 SignerInfo identifies the signer by issuerAndSerialNumber');
    const version = sidKind === 'subjectKeyIdentifier' ? 3 : 1;
    anyV3 ||= version === 3;

    const digestAlg = hashAlgorithmDer(info.hash);
    if (!digestAlgorithms.some((d) => sameBytes(d, digestAlg))) digestAlgorithms.push(digestAlg);
    const signatureAlg = gm
      ? encodeSequence(encodeOid(oid.id_sm2_1))
      : signatureAlgorithmDer(s.signer.algorithm);

    let signedAttrs: Uint8Array | undefined;
    let toSign = o.content;
    if (withAttributes) {
      const attrs: CmsAttribute[] = [
        contentTypeAttribute(eContentType),
        ...(o.omitSigningTime ? [] : [signingTimeAttribute(signingTime)]),
        messageDigestAttribute(contentDigestFor(info.hash, o)),
        signingCertificateV2Attribute(s.certificate, info.hash),
        ...(s.signedAttributes ?? []),
      ];
      const seen = new Set<string>();
      for (const a of attrs) {
        if (seen.has(a.oid)) throw new RangeError(`signed attribute ${a.oid} given twice`);
        seen.add(a.oid);
      }
      toSign = encodeSetOf(attrs.map(encodeAttribute));
      signedAttrs = retag(toSign, 0xa0);
    }
    const signature = await s.signer.sign(toSign);
    const unsignedAttrs = [
      ...(s.unsignedAttributes ?? []),
      ...(s.unsignedAttributesFor ? await s.unsignedAttributesFor(signature) : []),
    ];
    const unsigned = unsignedAttrs.length ? encodeSetOf(unsignedAttrs.map(encodeAttribute), 0xa1) : undefined;
    signerInfos.push(
      encodeSequence(
        encodeUnsignedInteger(BigInt(version)),
        encodeSignerIdentifier(s.certificate, sidKind),
        digestAlg,
        ...(signedAttrs ? [signedAttrs] : []),
        signatureAlg,
        encodeOctetString(signature),
        ...(unsigned ? [unsigned] : []),
      ),
    );
  }

  // RFC 5652 §5.1: version 3 when a SignerInfo is v3 or eContentType is not id-data; GM/T 0010 says 1.
  const version = gm ? 1 : anyV3 || eContentType !== oid.id_data ? 3 : 1;
  const certs: Uint8Array[] = [];
  for (const c of o.certificates ?? o.signers.map((s) => s.certificate))
    if (!certs.some((d) => sameBytes(d, c.der))) certs.push(c.der);
  for (const crl of o.crls ?? []) outerSequence(crl, 'CRL');
  const encap = encodeSequence(
    encodeOid(eContentType),
    ...(o.detached ? [] : [encodeContext(0, encodeOctetString(o.content))]),
  );
  const signedData = encodeSequence(
    encodeUnsignedInteger(BigInt(version)),
    encodeSetOf(digestAlgorithms),
    encap,
    ...(certs.length ? [encodeSetOf(certs, 0xa0)] : []),
    ...(o.crls?.length ? [encodeSetOf(o.crls, 0xa1)] : []),
    encodeSetOf(signerInfos),
  );
  return encodeSequence(
    encodeOid(gm ? oid.id_gm_signedData : oid.id_signedData),
    encodeContext(0, signedData),
  );
}

/** The messageDigest value: the given digest (checked for the hash's length) or the content's. */
function contentDigestFor(hash: HashName, o: SignCmsOptions): Uint8Array {
  if (!o.contentDigest) return digest(hash, o.content);
  if (o.contentDigest.length !== hashLength(hash))
    throw new RangeError(`the content digest must be ${hashLength(hash)} bytes for ${hash}`);
  return o.contentDigest;
}

/** SignerIdentifier (RFC 5652 §5.3). */
export type CmsSignerIdentifier =
  | {
      kind: 'issuerAndSerialNumber';
      /** The issuer Name exactly as received. */
      issuerDer: Uint8Array;
      /** Content octets of the serialNumber INTEGER. */
      serial: Uint8Array;
      /** Readable issuer and lower-case hex serial, for reports. */
      issuer: string;
      serialNumber: string;
    }
  | { kind: 'subjectKeyIdentifier'; keyIdentifier: Uint8Array };

/** One SignerInfo as received. */
export type CmsSignerInfo = {
  der: Uint8Array;
  version: number;
  sid: CmsSignerIdentifier;
  digestAlgorithm: AlgorithmIdentifier;
  digestAlgorithmDer: Uint8Array;
  /** The signed attributes exactly as received, [0] tag included. */
  signedAttributesDer?: Uint8Array;
  signedAttributes?: CmsAttribute[];
  signatureAlgorithm: AlgorithmIdentifier;
  signatureAlgorithmDer: Uint8Array;
  signature: Uint8Array;
  unsignedAttributes?: CmsAttribute[];
};

const issuerNames = new Map<string, string>();
const ISSUER_NAME_CACHE_SIZE = 256;

/** A SignerInfo's issuer Name as text, from a bounded LRU by DER (the same CAs sign every message). */
function issuerNameText(der: Uint8Array): string {
  const id = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let text = issuerNames.get(id);
  if (text !== undefined) issuerNames.delete(id);
  else {
    text = formatName(parseName(der));
    if (issuerNames.size >= ISSUER_NAME_CACHE_SIZE) issuerNames.delete(issuerNames.keys().next().value!);
  }
  issuerNames.set(id, text);
  return text;
}

function readSignerIdentifier(tlv: Tlv): CmsSignerIdentifier {
  if (tlv.tag === 0x80) return { kind: 'subjectKeyIdentifier', keyIdentifier: tlv.value };
  if (tlv.tag !== TAG.SEQUENCE) throw new DecodeError('SignerInfo: unknown SignerIdentifier');
  const parts = childrenOf(tlv);
  if (parts.length !== 2 || parts[0]!.tag !== TAG.SEQUENCE || parts[1]!.tag !== TAG.INTEGER)
    throw new DecodeError('SignerInfo: malformed IssuerAndSerialNumber');
  const issuerDer = tlvBytes(parts[0]!);
  let issuer: string;
  try {
    issuer = issuerNameText(issuerDer);
  } catch (e) {
    throw new DecodeError(`SignerInfo: issuer Name: ${(e as Error).message}`);
  }
  const serial = parts[1]!.value;
  if (serial.length === 0 || (serial.length > 1 && serial[0] === 0 && !(serial[1]! & 0x80)))
    throw new DecodeError('SignerInfo: non-minimal serialNumber');
  return {
    kind: 'issuerAndSerialNumber',
    issuerDer,
    serial,
    issuer,
    serialNumber: Buffer.from(serial)
      .toString('hex')
      .replace(/^0+(?=.)/, ''),
  };
}

function readSignerInfo(tlv: Tlv, n: number): CmsSignerInfo {
  const what = `SignerInfo[${n}]`;
  if (tlv.tag !== TAG.SEQUENCE) throw new DecodeError(`${what}: expected SEQUENCE`);
  const p = childrenOf(tlv);
  let i = 0;
  const next = () => p[i];
  const take = (label: string) => {
    const t = p[i++];
    if (!t) throw new DecodeError(`${what}: ${label} missing`);
    return t;
  };
  const version = readSmallInteger(take('version'), `${what} version`);
  const sid = readSignerIdentifier(take('sid'));
  const digestTlv = take('digestAlgorithm');
  const digestAlgorithm = readAlgorithm(digestTlv, `${what} digestAlgorithm`);
  let signedAttributesDer: Uint8Array | undefined;
  let signedAttributes: CmsAttribute[] | undefined;
  if (next()?.tag === 0xa0) {
    const t = take('signedAttrs');
    signedAttributesDer = tlvBytes(t);
    signedAttributes = readAttributes(t, `${what} signedAttrs`);
    if (signedAttributes.length === 0) throw new DecodeError(`${what}: empty signedAttrs`);
  }
  const sigAlgTlv = take('signatureAlgorithm');
  const signatureAlgorithm = readAlgorithm(sigAlgTlv, `${what} signatureAlgorithm`);
  const signature = readOctetString(take('signature'), `${what} signature`);
  let unsignedAttributes: CmsAttribute[] | undefined;
  if (next()?.tag === 0xa1)
    unsignedAttributes = readAttributes(take('unsignedAttrs'), `${what} unsignedAttrs`);
  if (i !== p.length) throw new DecodeError(`${what}: unexpected trailing fields`);
  return {
    der: tlvBytes(tlv),
    version,
    sid,
    digestAlgorithm,
    digestAlgorithmDer: tlvBytes(digestTlv),
    ...(signedAttributesDer ? { signedAttributesDer, signedAttributes } : {}),
    signatureAlgorithm,
    signatureAlgorithmDer: tlvBytes(sigAlgTlv),
    signature,
    ...(unsignedAttributes ? { unsignedAttributes } : {}),
  };
}

/** A parsed CMS SignedData (either OID style). Signed parts keep their received bytes. */
export class ParsedCms {
  readonly der: Uint8Array;
  /** ContentInfo contentType: 1.2.840.113549.1.7.2 or GM/T 0010 1.2.156.10197.6.1.4.2.2. */
  readonly contentType: string;
  readonly version: number;
  readonly digestAlgorithms: AlgorithmIdentifier[];
  readonly eContentType: string;
  /** The encapsulated content octets (what messageDigest covers); undefined when detached. */
  readonly content: Uint8Array | undefined;
  readonly certificates: ParsedCertificate[];
  /** Embedded CRLs (DER), unparsed. */
  readonly crls: Uint8Array[];
  readonly signerInfos: CmsSignerInfo[];

  private constructor(der: Uint8Array) {
    this.der = der;
    const top = outerSequence(der, 'ContentInfo');
    if (top.length !== 2 || top[1]!.tag !== 0xa0)
      throw new DecodeError('ContentInfo: expected { contentType, [0] content }');
    this.contentType = readOid(top[0]!, 'ContentInfo contentType');
    if (!SIGNED_DATA_TYPES.has(this.contentType))
      throw new DecodeError(`ContentInfo: contentType ${this.contentType} is not SignedData`);
    const inner = childrenOf(top[1]!);
    if (inner.length !== 1 || inner[0]!.tag !== TAG.SEQUENCE)
      throw new DecodeError('ContentInfo: content must be one SignedData SEQUENCE');
    const f = childrenOf(inner[0]!);
    let i = 0;
    const take = (label: string) => {
      const t = f[i++];
      if (!t) throw new DecodeError(`SignedData: ${label} missing`);
      return t;
    };
    this.version = readSmallInteger(take('version'), 'SignedData version');
    const digestSet = take('digestAlgorithms');
    if (digestSet.tag !== TAG_SET) throw new DecodeError('SignedData: digestAlgorithms must be a SET');
    this.digestAlgorithms = childrenOf(digestSet).map((t) => readAlgorithm(t, 'SignedData digestAlgorithms'));

    const encap = take('encapContentInfo');
    if (encap.tag !== TAG.SEQUENCE) throw new DecodeError('SignedData: encapContentInfo must be a SEQUENCE');
    const e = childrenOf(encap);
    if (e.length < 1 || e.length > 2)
      throw new DecodeError('EncapsulatedContentInfo: wrong number of fields');
    this.eContentType = readOid(e[0]!, 'eContentType');
    if (e[1]) {
      if (e[1].tag !== 0xa0) throw new DecodeError('EncapsulatedContentInfo: eContent must be [0]');
      const c = childrenOf(e[1]);
      if (c.length !== 1) throw new DecodeError('EncapsulatedContentInfo: [0] must hold one value');
      if (c[0]!.tag === 0x24) throw new DecodeError('eContent: constructed OCTET STRING is not DER');
      // RFC 5652: an OCTET STRING's octets; PKCS#7 v1.5 (GM/T 0010) ANY: the contents octets of the value.
      this.content = c[0]!.value;
    } else {
      this.content = undefined;
    }

    this.certificates = [];
    if (f[i]?.tag === 0xa0) {
      for (const c of childrenOf(take('certificates'))) {
        // CertificateChoices other than a plain Certificate (attribute certificates, other) are skipped.
        if (c.tag === TAG.SEQUENCE) this.certificates.push(ParsedCertificate.parseShared(tlvBytes(c)));
      }
    }
    this.crls = [];
    if (f[i]?.tag === 0xa1) {
      for (const c of childrenOf(take('crls'))) if (c.tag === TAG.SEQUENCE) this.crls.push(tlvBytes(c));
    }
    const signerSet = take('signerInfos');
    if (signerSet.tag !== TAG_SET) throw new DecodeError('SignedData: signerInfos must be a SET');
    if (i !== f.length) throw new DecodeError('SignedData: unexpected fields after signerInfos');
    this.signerInfos = childrenOf(signerSet).map(readSignerInfo);
  }

  /** Parses PEM ("CMS", "PKCS7") or DER; DecodeError for anything malformed or not SignedData. */
  static parse(input: Uint8Array | string): ParsedCms {
    const der = derFromInput(input, CMS_PEM_LABELS, 'CMS');
    try {
      return new ParsedCms(der);
    } catch (e) {
      if (e instanceof DecodeError) throw e;
      throw new DecodeError(`CMS: ${(e as Error).message}`);
    }
  }

  /** True when ContentInfo uses the GM/T 0010 SignedData OID. */
  get gmOids(): boolean {
    return this.contentType === oid.id_gm_signedData;
  }

  get detached(): boolean {
    return this.content === undefined;
  }

  toPem(): string {
    return encodePem('CMS', this.der);
  }
}

/** The outcome of checking one SignerInfo (certificate chains and time-stamps are checked by callers). */
export type CmsSignerCheck = {
  valid: boolean;
  certificate?: ParsedCertificate;
  /** Subject of the signer certificate, when found. */
  subject?: string;
  signatureAlgorithm?: SignatureAlgorithmName;
  digestAlgorithm?: HashName;
  signingTime?: Date;
  checks: Check[];
  errors: string[];
};

/** Does a SignerIdentifier name this certificate? */
export function signerIdentifierMatches(sid: CmsSignerIdentifier, cert: ParsedCertificate): boolean {
  try {
    if (sid.kind === 'subjectKeyIdentifier') {
      const ski = cert.subjectKeyIdentifier;
      return ski !== undefined && sameBytes(ski, sid.keyIdentifier);
    }
    if (!sameBytes(sid.serial, certificateSerialBytes(cert))) return false;
    return sameBytes(sid.issuerDer, cert.issuerDer) || namesMatch(parseName(sid.issuerDer), cert.issuer);
  } catch {
    return false;
  }
}

/**
 * The signature algorithm of a SignerInfo: the RFC names, GM/T 0010 sm2-1 (needs SM3), and bare
 * rsaEncryption with the hash taken from digestAlgorithm (what OpenSSL writes, RFC 5754 §3.2).
 */
export function cmsSignatureAlgorithm(alg: AlgorithmIdentifier, hash: HashName): SignatureAlgorithm {
  if (alg.algorithm === oid.id_rsaEncryption) {
    if (hash === 'sm3') throw new UnsupportedError('RSA with SM3 is not supported');
    return { name: `${hash.toUpperCase()}withRSA` as SignatureAlgorithmName };
  }
  if (alg.algorithm === oid.id_sm2_1 && hash !== 'sm3')
    throw new UnsupportedError(`sm2-1 with digest ${hash} (GM/T 0010 pairs it with SM3)`);
  return identifySignatureAlgorithm(alg, { allowSm2Sign: true });
}

/** Options for checking one signer. */
export type CmsSignerCheckOptions = {
  /** Detached content (ignored, but compared, when the content is encapsulated). */
  content?: Uint8Array;
  /** Certificates to look for the signer in, besides the embedded ones (tried first). */
  certificates?: readonly ParsedCertificate[];
};

/**
 * Checks SignerInfo `index` of a parsed SignedData: finds its certificate, checks the signed
 * attributes (contentType = eContentType, messageDigest = digest of the content, ESS signing
 * certificate, CMSAlgorithmProtection, single-valued attributes) and the signature over the exact
 * received attribute bytes with the [0] tag replaced by SET (RFC 5652 §5.4). Never throws.
 */
export function verifyCmsSigner(
  cms: ParsedCms,
  index: number,
  opts: CmsSignerCheckOptions = {},
): CmsSignerCheck {
  const checks = new Checks({ wording: 'colon' });
  const out: Omit<CmsSignerCheck, 'valid' | 'checks' | 'errors'> = {};
  try {
    const si = cms.signerInfos[index];
    if (!si) {
      checks.add('signer present', false, `no SignerInfo at index ${index}`);
    } else {
      const step = checkSigner(cms, si, opts, checks, out);
      const p = step.pending;
      step.finish(p ? verifySignature(p.spki, p.algorithm, p.data, p.signature) : false);
    }
  } catch (e) {
    checks.add('signer info well-formed', false, message(e));
  }
  return { valid: checks.valid, ...out, checks: checks.list, errors: checks.errors };
}

/**
 * {@link verifyCmsSigner} with the signature checked on `sm2Pool`'s worker threads (another core) when one
 * is given: the same checks, in the same order, with the same outcome. Never rejects.
 */
export async function verifyCmsSignerAsync(
  cms: ParsedCms,
  index: number,
  opts: CmsSignerCheckOptions & { sm2Pool?: Sm2SignerPool } = {},
): Promise<CmsSignerCheck> {
  const checks = new Checks({ wording: 'colon' });
  const out: Omit<CmsSignerCheck, 'valid' | 'checks' | 'errors'> = {};
  try {
    const si = cms.signerInfos[index];
    if (!si) {
      checks.add('signer present', false, `no SignerInfo at index ${index}`);
    } else {
      const step = checkSigner(cms, si, opts, checks, out);
      const p = step.pending;
      step.finish(
        p
          ? await verifySignatureAsync(
              p.spki,
              p.algorithm,
              p.data,
              p.signature,
              opts.sm2Pool ? { sm2Pool: opts.sm2Pool } : {},
            )
          : false,
      );
    }
  } catch (e) {
    checks.add('signer info well-formed', false, message(e));
  }
  return { valid: checks.valid, ...out, checks: checks.list, errors: checks.errors };
}

/** The signature a SignerInfo asks to verify, once every other check of it is done. */
type PendingSignature = {
  spki: Uint8Array;
  algorithm: SignatureAlgorithm;
  data: Uint8Array;
  signature: Uint8Array;
};

function checkSigner(
  cms: ParsedCms,
  si: CmsSignerInfo,
  opts: CmsSignerCheckOptions,
  checks: Checks,
  out: Omit<CmsSignerCheck, 'valid' | 'checks' | 'errors'>,
): { pending: PendingSignature | undefined; finish: (signatureOk: boolean) => void } {
  let content = cms.content;
  if (content && opts.content && !sameBytes(content, opts.content))
    checks.add('content', false, 'the encapsulated content differs from the content given');
  content ??= opts.content;

  const pool = [...(opts.certificates ?? []), ...cms.certificates];
  const cert = pool.find((c) => signerIdentifierMatches(si.sid, c));
  const sidText =
    si.sid.kind === 'subjectKeyIdentifier'
      ? `subjectKeyIdentifier ${Buffer.from(si.sid.keyIdentifier).toString('hex')}`
      : `issuer ${si.sid.issuer}, serial ${si.sid.serialNumber}`;
  checks.add(
    'signer certificate',
    cert !== undefined,
    cert ? cert.subjectText : `no certificate matches ${sidText}`,
  );
  if (cert) {
    out.certificate = cert;
    out.subject = cert.subjectText;
    const ku = safe(() => cert.keyUsage);
    if (ku) {
      const ok = ku.includes('digitalSignature') || ku.includes('nonRepudiation');
      checks.expect('certificate key usage', ok, `keyUsage is ${ku.join(', ')}`);
    }
  }

  let hash: HashName | undefined;
  try {
    hash = identifyHash(si.digestAlgorithm);
    out.digestAlgorithm = hash;
  } catch (e) {
    checks.add('digest algorithm', false, message(e));
  }
  let sigAlg: SignatureAlgorithm | undefined;
  if (hash) {
    try {
      sigAlg = cmsSignatureAlgorithm(si.signatureAlgorithm, hash);
      out.signatureAlgorithm = sigAlg.name;
    } catch (e) {
      checks.add('signature algorithm', false, message(e));
    }
  }
  if (hash && !cms.digestAlgorithms.some((d) => d.algorithm === si.digestAlgorithm.algorithm))
    checks.add(
      'digest algorithm listed in SignedData',
      false,
      `${si.digestAlgorithm.algorithm} is not in digestAlgorithms`,
    );

  let signed: Uint8Array | undefined;
  const attrs = si.signedAttributes;
  if (attrs && si.signedAttributesDer) {
    const what = 'signed attributes';
    const ct = singleAttributeValue(attrs, oid.id_contentType, what);
    if (!ct) checks.add('contentType attribute', false, 'missing (RFC 5652 §5.3)');
    else {
      const value = readOid(readWhole(ct, TAG.OID, 'contentType'), 'contentType');
      checks.expect(
        'contentType attribute',
        value === cms.eContentType,
        `${value} differs from eContentType ${cms.eContentType}`,
      );
    }
    const md = singleAttributeValue(attrs, oid.id_messageDigest, what);
    if (!md) checks.add('messageDigest attribute', false, 'missing (RFC 5652 §5.3)');
    else if (!content) checks.add('messageDigest attribute', false, 'detached signature: content not given');
    else if (hash) {
      const value = readOctetString(readWhole(md, TAG.OCTET_STRING, 'messageDigest'), 'messageDigest');
      const ok = sameBytes(value, digest(hash, content));
      checks.expect('messageDigest attribute', ok, `does not equal the ${hash} digest of the content`);
    }
    const st = singleAttributeValue(attrs, oid.id_signingTime, what);
    if (st) out.signingTime = readTime(readWhole(st, st[0]!, 'signingTime'), 'signingTime');

    const v2 = singleAttributeValue(attrs, oid.id_aa_signingCertificateV2, what);
    const v1 = singleAttributeValue(attrs, oid.id_aa_signingCertificate, what);
    if ((v2 || v1) && cert) {
      const ids = readSigningCertificate((v2 ?? v1)!, v2 ? 2 : 1);
      const r = essCertIdMatches(ids[0]!, cert);
      checks.add(v2 ? 'signingCertificateV2 attribute' : 'signingCertificate attribute', r.ok, r.detail);
    }
    const protect = singleAttributeValue(attrs, oid.id_aa_cmsAlgorithmProtect, what);
    if (protect) {
      const p = readAlgorithmProtection(protect);
      const ok =
        sameBytes(p.digestAlgorithm, si.digestAlgorithmDer) &&
        (!p.signatureAlgorithm || sameBytes(p.signatureAlgorithm, si.signatureAlgorithmDer));
      checks.expect('cmsAlgorithmProtect attribute', ok, 'algorithms differ from the SignerInfo (RFC 6211)');
    }
    signed = retag(si.signedAttributesDer, TAG_SET);
  } else {
    if (!DATA_TYPES.has(cms.eContentType))
      checks.add(
        'signed attributes',
        false,
        `required when eContentType (${cms.eContentType}) is not data (RFC 5652 §5.3)`,
      );
    if (!content) checks.add('content', false, 'detached signature: content not given');
    signed = content;
  }

  const pending =
    cert && sigAlg && signed
      ? { spki: cert.publicKeyInfo, algorithm: sigAlg, data: signed, signature: si.signature }
      : undefined;
  const signingTime = out.signingTime;
  const finish = (ok: boolean) => {
    if (cert && pending)
      checks.add(
        'signature',
        ok,
        ok
          ? `${pending.algorithm.name} by ${cert.subjectText}`
          : `${pending.algorithm.name} signature does not verify with the signer key`,
      );
    if (cert && signingTime) {
      const valid = cert.isValidAt(signingTime);
      checks.expect(
        'certificate valid at signingTime',
        valid,
        `valid ${cert.notBefore.toISOString()} – ${cert.notAfter.toISOString()}, signed ${signingTime.toISOString()}`,
      );
    }
  };
  return { pending, finish };
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
