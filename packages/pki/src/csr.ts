/**
 * PKCS #10 certification requests (RFC 2986) with the PKCS #9 attributes a CA reads (RFC 2985
 * extensionRequest and challengePassword). Built through a Signer, parsed strictly, and the proof of
 * possession checked over the exact received CertificationRequestInfo bytes — for SM2 with the default
 * signer ID "1234567812345678" (GM/T 0009 / gm-standards.md §5.2).
 *
 *   CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature BIT STRING }
 *   CertificationRequestInfo ::= SEQUENCE { version INTEGER { v1(0) }, subject Name,
 *     subjectPKInfo SubjectPublicKeyInfo, attributes [0] IMPLICIT SET OF Attribute }
 */

import { DecodeError, copyBytes, encodePem, type BytesLike } from '@medsign/gm';
import {
  encodeBitString,
  encodeOid,
  encodeSequence,
  encodeTlv,
  readChildren,
  readOid,
  type Tlv,
} from '@medsign/gm/der';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Extensions, Name } from '@peculiar/asn1-x509';
import {
  identifySignatureAlgorithm,
  signatureAlgorithmIdentifier,
  type SignatureAlgorithm,
} from './algorithms.js';
import { derFromInput, encodeSetOf, outerSequence, parseAsn, tlvBytes } from './der-input.js';
import { encodeExtensions, fromAsnExtension, type CertExtension } from './extensions.js';
import { verifySignature, type Signer } from './keys.js';
import { buildName, encodeName, formatName, type NameAttribute } from './name.js';
import * as oid from './oids.js';

/** What a key holder asks for: the subject, the key (through its Signer) and requested extensions. */
export type CsrOptions = {
  subject: Name | readonly NameAttribute[];
  /** Signs the request; its public key becomes subjectPKInfo (proof of possession). */
  signer: Signer;
  /** Requested extensions, carried in a PKCS #9 extensionRequest attribute. */
  extensions?: readonly CertExtension[];
  /** PKCS #9 challengePassword (1–255 characters). */
  challengePassword?: string;
};

/** One CSR attribute as received: its type and the DER of each value. */
export type CsrAttribute = { oid: string; values: Uint8Array[] };

function encodeDirectoryString(text: string): Uint8Array {
  if (text.length < 1 || text.length > 255)
    throw new RangeError('challengePassword must be 1–255 characters');
  const printable = /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(text);
  return encodeTlv(printable ? 0x13 : 0x0c, new TextEncoder().encode(text));
}

/** Builds and signs a PKCS #10 request; returns DER. */
export async function buildCsr(o: CsrOptions): Promise<Uint8Array> {
  const subject = o.subject instanceof Name ? o.subject : buildName(o.subject);
  const attributes: Uint8Array[] = [];
  if (o.challengePassword !== undefined) {
    attributes.push(
      encodeSequence(
        encodeOid(oid.id_pkcs9_challengePassword),
        encodeSetOf([encodeDirectoryString(o.challengePassword)]),
      ),
    );
  }
  if (o.extensions?.length) {
    attributes.push(
      encodeSequence(encodeOid(oid.id_pkcs9_extensionRequest), encodeSetOf([encodeExtensions(o.extensions)])),
    );
  }
  const info = encodeSequence(
    encodeTlv(0x02, Uint8Array.of(0)),
    encodeName(subject),
    o.signer.publicKeyInfo,
    encodeSetOf(attributes, 0xa0),
  );
  const algId = new Uint8Array(AsnConvert.serialize(signatureAlgorithmIdentifier(o.signer.algorithm)));
  const signature = await o.signer.sign(info);
  return encodeSequence(info, algId, encodeBitString(signature));
}

function readDirectoryString(tlv: Tlv, what: string): string {
  switch (tlv.tag) {
    case 0x0c: // UTF8String
      return new TextDecoder('utf-8', { fatal: true }).decode(tlv.value);
    case 0x13: // PrintableString
    case 0x14: // TeletexString (treated as Latin-1)
    case 0x16: // IA5String
      return Buffer.from(tlv.value).toString('latin1');
    case 0x1e: // BMPString
      return Buffer.from(tlv.value).swap16().toString('utf16le');
    default:
      throw new DecodeError(`${what}: not a DirectoryString (tag 0x${tlv.tag.toString(16)})`, tlv.start);
  }
}

/**
 * A parsed PKCS #10 request. The exact CertificationRequestInfo bytes, subject and public key are kept
 * so the CA can check the proof of possession and copy the subject byte for byte.
 */
export class ParsedCsr {
  readonly der: Uint8Array;
  /** Exact bytes of CertificationRequestInfo (what the signature covers). */
  readonly infoDer: Uint8Array;
  readonly subjectDer: Uint8Array;
  /** Exact DER SubjectPublicKeyInfo. */
  readonly publicKeyInfo: Uint8Array;
  readonly subject: Name;
  readonly attributes: readonly CsrAttribute[];
  /** Extensions requested through extensionRequest (empty if none). */
  readonly extensions: readonly CertExtension[];
  readonly challengePassword: string | undefined;
  readonly signatureAlgorithmId: AlgorithmIdentifier;
  readonly signatureValue: Uint8Array;

  private constructor(der: Uint8Array) {
    this.der = der;
    const top = outerSequence(der, 'CertificationRequest');
    if (top.length !== 3 || top[0]!.tag !== 0x30 || top[1]!.tag !== 0x30 || top[2]!.tag !== 0x03) {
      throw new DecodeError(
        'CertificationRequest: expected certificationRequestInfo, signatureAlgorithm, signature',
      );
    }
    this.infoDer = tlvBytes(top[0]!);
    this.signatureAlgorithmId = parseAsn(tlvBytes(top[1]!), AlgorithmIdentifier, 'CSR signatureAlgorithm');
    const bits = top[2]!.value;
    if (bits.length < 1 || bits[0] !== 0) throw new DecodeError('CSR signature: BIT STRING with unused bits');
    this.signatureValue = copyBytes(bits.subarray(1));

    const info = outerSequence(this.infoDer, 'CertificationRequestInfo');
    const [version, subject, spki, attrs, ...rest] = info;
    if (!version || !subject || !spki) throw new DecodeError('CertificationRequestInfo: missing fields');
    if (rest.length) throw new DecodeError('CertificationRequestInfo: unexpected fields after attributes');
    if (version.tag !== 0x02 || version.value.length !== 1 || version.value[0] !== 0) {
      throw new DecodeError('CertificationRequestInfo: version must be v1 (0)');
    }
    if (subject.tag !== 0x30) throw new DecodeError('CertificationRequestInfo: subject is not a Name');
    if (spki.tag !== 0x30) throw new DecodeError('CertificationRequestInfo: subjectPKInfo is not a SEQUENCE');
    this.subjectDer = tlvBytes(subject);
    this.subject = parseAsn(this.subjectDer, Name, 'CSR subject');
    this.publicKeyInfo = tlvBytes(spki);
    // RFC 2986 makes attributes mandatory; some old tools omit an empty set, which we tolerate.
    if (attrs && attrs.tag !== 0xa0)
      throw new DecodeError('CertificationRequestInfo: attributes must be [0]');

    const attributes: CsrAttribute[] = [];
    for (const a of attrs ? readChildren(attrs.value) : []) {
      const parts = a.tag === 0x30 ? readChildren(a.value) : [];
      if (parts.length !== 2 || parts[1]!.tag !== 0x31) throw new DecodeError('CSR attribute: malformed');
      const type = readOid(parts[0]!, 'CSR attribute type');
      if (attributes.some((x) => x.oid === type))
        throw new DecodeError(`CSR attribute ${type} appears twice`);
      const values = readChildren(parts[1]!.value).map((v) => tlvBytes(v));
      if (values.length === 0) throw new DecodeError(`CSR attribute ${type} has no value`);
      attributes.push({ oid: type, values });
    }
    this.attributes = attributes;

    const extReq = attributes.find((a) => a.oid === oid.id_pkcs9_extensionRequest);
    let extensions: CertExtension[] = [];
    if (extReq) {
      if (extReq.values.length !== 1) throw new DecodeError('extensionRequest must have exactly one value');
      extensions = Array.from(parseAsn(extReq.values[0]!, Extensions, 'extensionRequest'), fromAsnExtension);
      const seen = new Set<string>();
      for (const e of extensions) {
        if (seen.has(e.oid)) throw new DecodeError(`extensionRequest: extension ${e.oid} appears twice`);
        seen.add(e.oid);
      }
    }
    this.extensions = extensions;

    const pw = attributes.find((a) => a.oid === oid.id_pkcs9_challengePassword);
    if (pw && pw.values.length !== 1) throw new DecodeError('challengePassword must have exactly one value');
    this.challengePassword = pw
      ? readDirectoryString(readChildren(pw.values[0]!)[0]!, 'challengePassword')
      : undefined;
  }

  /** Parses PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST") or DER; DecodeError if malformed. */
  static parse(input: Uint8Array | string): ParsedCsr {
    return new ParsedCsr(
      derFromInput(input, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'], 'CertificationRequest'),
    );
  }

  get subjectText(): string {
    return formatName(this.subject);
  }

  /** The signature algorithm; throws UnsupportedError / DecodeError for unknown or malformed ones. */
  get signatureAlgorithm(): SignatureAlgorithm {
    return identifySignatureAlgorithm(this.signatureAlgorithmId);
  }

  /** A requested extension by OID. */
  extension(id: string): CertExtension | undefined {
    return this.extensions.find((e) => e.oid === id);
  }

  /**
   * Proof of possession: the signature over the exact CertificationRequestInfo bytes verifies with the
   * key the request carries. SM2 uses the default ID unless `sm2Id` says otherwise. Never throws.
   */
  verifyProofOfPossession(opts: { sm2Id?: BytesLike } = {}): boolean {
    try {
      return verifySignature(
        this.publicKeyInfo,
        this.signatureAlgorithm,
        this.infoDer,
        this.signatureValue,
        opts.sm2Id === undefined ? {} : { sm2Id: opts.sm2Id },
      );
    } catch {
      return false;
    }
  }

  toPem(): string {
    return encodePem('CERTIFICATE REQUEST', this.der);
  }
}
