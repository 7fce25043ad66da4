/**
 * X.509 certificates (RFC 5280): build a TBSCertificate, sign it through a Signer, parse certificates
 * with every field a verifier or an operator needs, and check a signature over the exact received TBS
 * bytes (never a re-encoding).
 */

import { createHash } from 'node:crypto';
import { bytesToHex, DecodeError, encodePem, sm3, type Sm2SignerPool } from '@medsign/gm';
import {
  checkDerStructure,
  encodeBitString,
  encodeSequence,
  encodeTlv,
  encodeUnsignedInteger,
  readChildren,
  readTlv,
} from '@medsign/gm/der';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, Name } from '@peculiar/asn1-x509';
import {
  identifySignatureAlgorithm,
  sameAlgorithmIdentifier,
  signatureAlgorithmDer,
  type SignatureAlgorithm,
} from './algorithms.js';
import { derFromInput, encodeTime, outerSequence, tlvBytes } from './der-input.js';
import {
  encodeExtensions,
  fromAsnExtension,
  readAuthorityInfoAccess,
  readAuthorityKeyIdentifier,
  readBasicConstraints,
  readCertificatePolicies,
  readCrlDistributionPoints,
  readExtKeyUsage,
  readKeyUsage,
  readSubjectAltNames,
  readSubjectKeyIdentifier,
  type CertExtension,
  type KeyUsageName,
} from './extensions.js';
import {
  describePublicKey,
  verifySignature,
  verifySignatureAsync,
  type PublicKeyDescription,
  type Signer,
} from './keys.js';
import { encodeName, encodeNameAttributes, formatName, type NameAttribute } from './name.js';
import * as oid from './oids.js';

/** What a CA decides about a certificate before any key signs it. */
export type CertificateTemplate = {
  /** Positive, at most 20 octets (RFC 5280 §4.1.2.2). */
  serialNumber: bigint;
  /** A Name, its attributes, or its DER (a CA passes its certificate's subjectDer: byte-identical chaining). */
  issuer: Name | readonly NameAttribute[] | Uint8Array;
  subject: Name | readonly NameAttribute[] | Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** DER SubjectPublicKeyInfo of the subject's key. */
  publicKeyInfo: Uint8Array;
  extensions?: readonly CertExtension[];
};

/** The DER of a Name given as a Name, attributes or DER (checked to be one DER SEQUENCE). */
function nameDer(n: Name | readonly NameAttribute[] | Uint8Array, what: string): Uint8Array {
  if (n instanceof Uint8Array) {
    checkDerStructure(n, what);
    if (readTlv(n).tag !== 0x30 || readTlv(n).end !== n.length)
      throw new DecodeError(`${what}: expected one DER SEQUENCE (a Name)`);
    return n;
  }
  return n instanceof Name ? encodeName(n) : encodeNameAttributes(n);
}

/** [0] EXPLICIT Version v3. */
const VERSION_V3 = Uint8Array.of(0xa0, 0x03, 0x02, 0x01, 0x02);

const wholeSeconds = (d: Date) => new Date(Math.floor(d.getTime() / 1000) * 1000);

/**
 * Encodes a TBSCertificate for a signature algorithm (the inner AlgorithmIdentifier). Written with the DER
 * writer of @medsign/gm, not the ASN.1 schema serializer: a CA builds one per issuance, and the schema
 * round trip (parse the SPKI, serialize every field) cost ~9% of an issuance. The SPKI and the names are
 * copied byte for byte after a DER structure check; the test suite holds the output equal to the schema
 * serializer's.
 */
export function buildTbsCertificate(
  t: CertificateTemplate,
  algorithm: SignatureAlgorithm['name'],
): Uint8Array {
  if (!(t.notBefore instanceof Date) || !(t.notAfter instanceof Date) || t.notAfter <= t.notBefore) {
    throw new RangeError('validity: notAfter must be after notBefore');
  }
  if (t.serialNumber <= 0n) throw new RangeError('serialNumber must be positive');
  const serial = encodeUnsignedInteger(t.serialNumber);
  if (serial.length - 2 > 20) throw new RangeError('serialNumber must fit in 20 octets');
  checkDerStructure(t.publicKeyInfo, 'SubjectPublicKeyInfo');
  const spki = readTlv(t.publicKeyInfo);
  const spkiParts = spki.tag === 0x30 ? readChildren(spki.value) : [];
  if (
    spki.end !== t.publicKeyInfo.length ||
    spkiParts.length !== 2 ||
    spkiParts[0]!.tag !== 0x30 ||
    spkiParts[1]!.tag !== 0x03
  )
    throw new DecodeError('SubjectPublicKeyInfo: expected SEQUENCE { AlgorithmIdentifier, BIT STRING }');
  const fields = [
    VERSION_V3,
    serial,
    signatureAlgorithmDer(algorithm),
    nameDer(t.issuer, 'issuer'),
    // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime after; no fractional seconds.
    encodeSequence(encodeTime(wholeSeconds(t.notBefore)), encodeTime(wholeSeconds(t.notAfter))),
    nameDer(t.subject, 'subject'),
    t.publicKeyInfo,
  ];
  if (t.extensions?.length) fields.push(encodeTlv(0xa3, encodeExtensions(t.extensions)));
  return encodeSequence(...fields);
}

/**
 * Wraps signed TBS bytes into a Certificate. `tbs` is used byte for byte; its inner AlgorithmIdentifier
 * must be the signer's (checked after parsing by the caller's lint step too).
 */
export async function signTbsCertificate(tbs: Uint8Array, signer: Signer): Promise<Uint8Array> {
  const signature = await signer.sign(tbs);
  return encodeSequence(tbs, signatureAlgorithmDer(signer.algorithm), encodeBitString(signature));
}

/** build + sign in one step, for callers that lint elsewhere (tests, tools). */
export async function issueCertificate(t: CertificateTemplate, signer: Signer): Promise<Uint8Array> {
  return signTbsCertificate(buildTbsCertificate(t, signer.algorithm), signer);
}

const sharedCertificates = new Map<string, ParsedCertificate>();
const SHARED_CERTIFICATE_CACHE_SIZE = 512;

/** A parsed certificate. Raw encodings of the signed parts are kept for verification and matching. */
export class ParsedCertificate {
  readonly der: Uint8Array;
  readonly tbsDer: Uint8Array;
  readonly issuerDer: Uint8Array;
  readonly subjectDer: Uint8Array;
  readonly publicKeyInfo: Uint8Array;
  readonly asn: Certificate;
  readonly extensions: readonly CertExtension[];
  /** The outer signatureAlgorithm as received. */
  readonly #signatureAlgorithmDer: Uint8Array;

  /**
   * `signed`: the TBS of this certificate was already parsed in `draft` (same bytes, checked) — only the
   * outer signature algorithm and value are read here (see {@link ParsedCertificate.withSignature}).
   */
  private constructor(der: Uint8Array, signed?: ParsedCertificate) {
    this.der = der;
    const top = outerSequence(der, 'Certificate');
    if (top.length !== 3)
      throw new DecodeError('Certificate: expected tbsCertificate, signatureAlgorithm, signatureValue');
    this.tbsDer = tlvBytes(top[0]!);
    if (signed) {
      if (!Buffer.from(this.tbsDer).equals(Buffer.from(signed.tbsDer)))
        throw new DecodeError('Certificate: the TBSCertificate differs from the one already parsed');
      const [algorithm, value] = [top[1]!, top[2]!];
      // DER BIT STRING of a signature: tag 3, no unused bits.
      if (value.tag !== 0x03 || value.value.length < 1 || value.value[0] !== 0)
        throw new DecodeError('Certificate: signatureValue is not a BIT STRING without unused bits');
      this.issuerDer = signed.issuerDer;
      this.subjectDer = signed.subjectDer;
      this.publicKeyInfo = signed.publicKeyInfo;
      // The same algorithm bytes as the draft's (a CA signs both with one algorithm): reuse its parse.
      const algorithmDer = tlvBytes(algorithm);
      let signatureAlgorithm: AlgorithmIdentifier;
      if (Buffer.from(algorithmDer).equals(Buffer.from(signed.#signatureAlgorithmDer)))
        signatureAlgorithm = signed.asn.signatureAlgorithm;
      else
        try {
          signatureAlgorithm = AsnConvert.parse(algorithmDer, AlgorithmIdentifier);
        } catch (e) {
          throw new DecodeError(`Certificate: ${(e as Error).message}`);
        }
      this.#signatureAlgorithmDer = algorithmDer;
      this.asn = new Certificate({
        tbsCertificate: signed.asn.tbsCertificate,
        signatureAlgorithm,
        signatureValue: new Uint8Array(value.value.subarray(1)).buffer,
      });
      this.extensions = signed.extensions;
      return;
    }
    const tbsParts = outerSequence(this.tbsDer, 'TBSCertificate');
    const offset = tbsParts[0]?.tag === 0xa0 ? 1 : 0;
    if (tbsParts.length < 6 + offset) throw new DecodeError('TBSCertificate: missing fields');
    // X.690 §8.3.2: DER INTEGERs are minimal (the schema parser does not check; negative serials stay
    // parseable so lints can report them).
    const serial = tbsParts[offset]!;
    const sv = serial.value;
    if (
      serial.tag !== 0x02 ||
      sv.length === 0 ||
      (sv.length > 1 && ((sv[0] === 0 && !(sv[1]! & 0x80)) || (sv[0] === 0xff && sv[1]! & 0x80)))
    )
      throw new DecodeError('TBSCertificate: serialNumber is not a minimal DER INTEGER', serial.start);
    this.#signatureAlgorithmDer = tlvBytes(top[1]!);
    this.issuerDer = tlvBytes(tbsParts[2 + offset]!);
    this.subjectDer = tlvBytes(tbsParts[4 + offset]!);
    this.publicKeyInfo = tlvBytes(tbsParts[5 + offset]!);
    try {
      this.asn = AsnConvert.parse(der, Certificate);
    } catch (e) {
      throw new DecodeError(`Certificate: ${(e as Error).message}`);
    }
    // Spread first: mapping the schema's Array subclass would return that subclass, not a plain array.
    const exts = [...(this.asn.tbsCertificate.extensions ?? [])].map(fromAsnExtension);
    const seen = new Set<string>();
    for (const e of exts) {
      if (seen.has(e.oid)) throw new DecodeError(`Certificate: extension ${e.oid} appears twice`);
      seen.add(e.oid);
    }
    this.extensions = exts;
  }

  /** Parses PEM ("CERTIFICATE") or DER; throws DecodeError for anything malformed. */
  static parse(input: Uint8Array | string): ParsedCertificate {
    return new ParsedCertificate(derFromInput(input, ['CERTIFICATE'], 'Certificate'));
  }

  /**
   * {@link ParsedCertificate.parse} of DER, from a bounded LRU keyed by the exact DER bytes: the
   * certificates embedded in CMS messages (a doctor's, the issuing CA's, the TSA's) come back request after
   * request, and the generic ASN.1 parse costs more than an SM2 verification. A ParsedCertificate is
   * immutable, so sharing one is safe; input that does not parse is never cached (it throws every time).
   */
  static parseShared(der: Uint8Array): ParsedCertificate {
    const id = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
    let cert = sharedCertificates.get(id);
    if (cert) sharedCertificates.delete(id);
    else {
      cert = new ParsedCertificate(new Uint8Array(der));
      if (sharedCertificates.size >= SHARED_CERTIFICATE_CACHE_SIZE)
        sharedCertificates.delete(sharedCertificates.keys().next().value!);
    }
    sharedCertificates.set(id, cert);
    return cert;
  }

  /**
   * The certificate `der` whose TBSCertificate is byte for byte the one of `draft` (a CA's linted copy
   * signed by a throwaway key, then signed again by the CA key): the TBS is not parsed a second time — a
   * full parse is the most expensive step of an issuance after the signatures. The DER is walked as
   * strictly as by {@link ParsedCertificate.parse}; a different TBS or a malformed outer signature
   * algorithm or value is a DecodeError.
   */
  static withSignature(draft: ParsedCertificate, der: Uint8Array): ParsedCertificate {
    return new ParsedCertificate(der, draft);
  }

  get version(): number {
    return this.asn.tbsCertificate.version + 1;
  }

  /** Serial number as lower-case hex without leading zeros (as `openssl x509 -serial` prints, but lower case). */
  get serialNumber(): string {
    return BigInt('0x' + (bytesToHex(new Uint8Array(this.asn.tbsCertificate.serialNumber)) || '0')).toString(
      16,
    );
  }

  get subject(): Name {
    return this.asn.tbsCertificate.subject;
  }

  get issuer(): Name {
    return this.asn.tbsCertificate.issuer;
  }

  #subjectText: string | undefined;
  #issuerText: string | undefined;
  #algorithmsMatch: boolean | undefined;

  get subjectText(): string {
    return (this.#subjectText ??= formatName(this.subject));
  }

  get issuerText(): string {
    return (this.#issuerText ??= formatName(this.issuer));
  }

  get notBefore(): Date {
    return this.asn.tbsCertificate.validity.notBefore.getTime();
  }

  get notAfter(): Date {
    return this.asn.tbsCertificate.validity.notAfter.getTime();
  }

  get publicKey(): PublicKeyDescription {
    return describePublicKey(this.publicKeyInfo);
  }

  /** The outer signature algorithm; throws UnsupportedError / DecodeError for unknown or malformed ones. */
  get signatureAlgorithm(): SignatureAlgorithm {
    return identifySignatureAlgorithm(this.asn.signatureAlgorithm);
  }

  /** RFC 5280 §4.1.1.2: the outer signatureAlgorithm must equal TBSCertificate.signature. */
  get algorithmsMatch(): boolean {
    return (this.#algorithmsMatch ??= sameAlgorithmIdentifier(
      this.asn.signatureAlgorithm,
      this.asn.tbsCertificate.signature,
    ));
  }

  get signatureValue(): Uint8Array {
    return new Uint8Array(this.asn.signatureValue);
  }

  extension(id: string): CertExtension | undefined {
    return this.extensions.find((e) => e.oid === id);
  }

  /**
   * Decoded extension values, read once per certificate (a shared certificate is checked on every request
   * that carries it). Only successful reads are kept: a malformed value throws on every access. Callers get
   * copies, so nobody can change what the next caller reads.
   */
  readonly #decoded = new Map<string, unknown>();

  #decode<T>(id: string, read: (value: Uint8Array) => T): T | undefined {
    if (this.#decoded.has(id)) return this.#decoded.get(id) as T | undefined;
    const e = this.extension(id);
    const value = e && read(e.value);
    this.#decoded.set(id, value);
    return value;
  }

  get basicConstraints(): { ca: boolean; pathLength?: number } | undefined {
    const v = this.#decode(oid.id_ce_basicConstraints, readBasicConstraints);
    return v && { ...v };
  }

  get keyUsage(): KeyUsageName[] | undefined {
    return this.#decode(oid.id_ce_keyUsage, readKeyUsage)?.slice();
  }

  get extKeyUsage(): string[] | undefined {
    return this.#decode(oid.id_ce_extKeyUsage, readExtKeyUsage)?.slice();
  }

  get subjectKeyIdentifier(): Uint8Array | undefined {
    return this.#decode(oid.id_ce_subjectKeyIdentifier, readSubjectKeyIdentifier)?.slice();
  }

  get authorityKeyIdentifier(): Uint8Array | undefined {
    return this.#decode(oid.id_ce_authorityKeyIdentifier, readAuthorityKeyIdentifier)?.slice();
  }

  get subjectAltNames(): string[] {
    const e = this.extension(oid.id_ce_subjectAltName);
    return e ? readSubjectAltNames(e.value) : [];
  }

  get crlDistributionPoints(): string[] {
    const e = this.extension(oid.id_ce_cRLDistributionPoints);
    return e ? readCrlDistributionPoints(e.value) : [];
  }

  get authorityInfoAccess(): { ocsp: string[]; caIssuers: string[] } {
    const e = this.extension(oid.id_pe_authorityInfoAccess);
    return e ? readAuthorityInfoAccess(e.value) : { ocsp: [], caIssuers: [] };
  }

  get policies(): string[] {
    const e = this.extension(oid.id_ce_certificatePolicies);
    return e ? readCertificatePolicies(e.value) : [];
  }

  /** True when subject and issuer are the same name (it may still be signed by another key). */
  get isSelfIssued(): boolean {
    return Buffer.from(this.subjectDer).equals(Buffer.from(this.issuerDer));
  }

  /** Checks the signature over the exact TBS bytes with an issuer's SPKI. Never throws. */
  verifySignature(issuerPublicKeyInfo: Uint8Array): boolean {
    try {
      return verifySignature(issuerPublicKeyInfo, this.signatureAlgorithm, this.tbsDer, this.signatureValue);
    } catch {
      return false;
    }
  }

  /** {@link verifySignature}; with `sm2Pool`, an SM2 signature is checked on its worker threads. */
  verifySignatureAsync(
    issuerPublicKeyInfo: Uint8Array,
    opts: { sm2Pool?: Sm2SignerPool } = {},
  ): Promise<boolean> {
    return verifySignatureAsync(
      issuerPublicKeyInfo,
      this.signatureAlgorithm,
      this.tbsDer,
      this.signatureValue,
      opts,
    );
  }

  isValidAt(at: Date): boolean {
    return at >= this.notBefore && at <= this.notAfter;
  }

  /** Fingerprint of the DER encoding. */
  fingerprint(hash: 'sm3' | 'sha256' | 'sha1' = 'sha256'): string {
    return bytesToHex(
      hash === 'sm3' ? sm3(this.der) : new Uint8Array(createHash(hash).update(this.der).digest()),
    );
  }

  toPem(): string {
    return encodePem('CERTIFICATE', this.der);
  }
}
