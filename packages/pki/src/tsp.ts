/**
 * RFC 3161 time-stamp protocol structures with SM2/SM3 (GB/T 20520, gm-standards.md §6): TimeStampReq,
 * TSTInfo, TimeStampResp, signing a TimeStampToken (a CMS SignedData over DER TSTInfo, reusing signCms)
 * and verifying a token or a whole response: message imprint, CMS signature, ESS signing certificate,
 * the TSA certificate's critical timeStamping-only EKU (RFC 3161 §2.3), validity at genTime and,
 * optionally, its chain. Tokens in the GM/T 0010 wrapping (SM2 signedData around SM2 data) are accepted.
 */

import {
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeTlv,
  encodeUnsignedInteger,
  readOid,
  readUnsignedInteger,
  TAG,
  type Tlv,
} from '@medsign/gm/der';
import { concatBytes } from '@medsign/gm';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Extensions, GeneralName, Name } from '@peculiar/asn1-x509';
import { digest, hashAlgorithmIdentifier, identifyHash, type HashName } from './algorithms.js';
import type { ParsedCertificate } from './certificate.js';
import { verifyCertificateChain, type ChainResult } from './chain.js';
import { Checks, type Check } from './checks.js';
import { ParsedCms, signCms, verifyCmsSigner } from './cms.js';
import {
  childrenOf,
  derFromInput,
  encodeAlgorithm,
  encodeBoolean,
  encodeContext,
  encodeGeneralizedTime,
  encodeUtf8String,
  outerSequence,
  readAlgorithm,
  readBoolean,
  readOctetString,
  readSmallInteger,
  readTimeText,
  sameBytes,
  TAG_GENERALIZED_TIME,
  TAG_UTF8STRING,
  tlvBytes,
} from './der-input.js';
import { DecodeError, message } from './errors.js';
import { fromAsnExtension, toAsnExtension, type CertExtension } from './extensions.js';
import type { Signer } from './keys.js';
import { buildName, encodeName, formatName, namesMatch, parseName, type NameAttribute } from './name.js';
import * as oid from './oids.js';

/** MessageImprint as received: the hash OID, our name for it when supported, and the hash value. */
export type MessageImprint = {
  hashAlgorithm: string;
  hash?: HashName;
  hashedMessage: Uint8Array;
  /** The MessageImprint SEQUENCE exactly as received (a TSA copies it into TSTInfo, RFC 3161 §2.4.2). */
  der: Uint8Array;
};

/** Per hash: its AlgorithmIdentifier's DER and its digest length (constant; encoded once, not per token). */
const imprintParts = new Map<HashName, { algorithm: Uint8Array; length: number }>();

function encodeImprint(hash: HashName, hashedMessage: Uint8Array): Uint8Array {
  let parts = imprintParts.get(hash);
  if (!parts) {
    parts = {
      algorithm: encodeAlgorithm(hashAlgorithmIdentifier(hash)),
      length: digest(hash, new Uint8Array()).length,
    };
    imprintParts.set(hash, parts);
  }
  if (hashedMessage.length !== parts.length) throw new RangeError(`hashedMessage must be a ${hash} value`);
  return encodeSequence(parts.algorithm, encodeOctetString(hashedMessage));
}

function readImprint(tlv: Tlv | undefined, what: string): MessageImprint {
  if (!tlv || tlv.tag !== TAG.SEQUENCE) throw new DecodeError(`${what}: messageImprint missing`);
  const p = childrenOf(tlv);
  if (p.length !== 2)
    throw new DecodeError(`${what}: MessageImprint must be { hashAlgorithm, hashedMessage }`);
  const alg = readAlgorithm(p[0]!, `${what} hashAlgorithm`);
  const hashedMessage = readOctetString(p[1]!, `${what} hashedMessage`);
  let hash: HashName | undefined;
  try {
    hash = identifyHash(alg);
  } catch {
    hash = undefined; // e.g. SHA-1: parsed, reported, and left for the caller to refuse (badAlg)
  }
  return { hashAlgorithm: alg.algorithm, ...(hash ? { hash } : {}), hashedMessage, der: tlvBytes(tlv) };
}

function encodeExtensions(exts: readonly CertExtension[], tag: number): Uint8Array {
  const der = new Uint8Array(AsnConvert.serialize(new Extensions(exts.map(toAsnExtension))));
  return concatBytes(Uint8Array.of(tag), der.subarray(1));
}

function readExtensions(tlv: Tlv, what: string): CertExtension[] {
  try {
    const seq = concatBytes(Uint8Array.of(TAG.SEQUENCE), tlvBytes(tlv).subarray(1));
    return [...AsnConvert.parse(seq, Extensions)].map(fromAsnExtension);
  } catch (e) {
    throw new DecodeError(`${what}: extensions: ${message(e)}`);
  }
}

// --- TimeStampReq ------------------------------------------------------------------------------------

/** What a time-stamp request asks for; give either the data or its hash (`imprint`). */
export type TimeStampReqOptions = {
  hash: HashName;
  imprint?: Uint8Array;
  data?: Uint8Array;
  nonce?: bigint;
  /** Ask the TSA to include its certificate (default false, the DER DEFAULT). */
  certReq?: boolean;
  reqPolicy?: string;
  extensions?: readonly CertExtension[];
};

/**
 * TimeStampReq ::= SEQUENCE { version INTEGER { v1(1) }, messageImprint MessageImprint,
 *   reqPolicy TSAPolicyId OPTIONAL, nonce INTEGER OPTIONAL, certReq BOOLEAN DEFAULT FALSE,
 *   extensions [0] IMPLICIT Extensions OPTIONAL }   -- RFC 3161 §2.4.1
 */
export function buildTimeStampReq(o: TimeStampReqOptions): Uint8Array {
  if ((o.imprint === undefined) === (o.data === undefined))
    throw new RangeError('give exactly one of imprint or data');
  const hashed = o.imprint ?? digest(o.hash, o.data!);
  return encodeSequence(
    encodeUnsignedInteger(1n),
    encodeImprint(o.hash, hashed),
    ...(o.reqPolicy ? [encodeOid(o.reqPolicy)] : []),
    ...(o.nonce !== undefined ? [encodeUnsignedInteger(o.nonce)] : []),
    ...(o.certReq ? [encodeBoolean(true)] : []),
    ...(o.extensions?.length ? [encodeExtensions(o.extensions, 0xa0)] : []),
  );
}

/** A parsed TimeStampReq. */
export type TimeStampRequest = {
  der: Uint8Array;
  version: number;
  messageImprint: MessageImprint;
  reqPolicy?: string;
  nonce?: bigint;
  certReq: boolean;
  extensions: CertExtension[];
};

/** Parses a DER (or PEM "TIMESTAMP QUERY") TimeStampReq; DecodeError for anything malformed. */
export function parseTimeStampReq(input: Uint8Array | string): TimeStampRequest {
  const der = derFromInput(input, ['TIMESTAMP QUERY', 'TSQ'], 'TimeStampReq');
  const f = outerSequence(der, 'TimeStampReq');
  let i = 0;
  const version = readSmallInteger(f[i++] ?? missing('TimeStampReq', 'version'), 'TimeStampReq version');
  if (version !== 1) throw new DecodeError(`TimeStampReq: version ${version} (expected 1)`);
  const messageImprint = readImprint(f[i++], 'TimeStampReq');
  const out: TimeStampRequest = { der, version, messageImprint, certReq: false, extensions: [] };
  if (f[i]?.tag === TAG.OID) out.reqPolicy = readOid(f[i++]!, 'TimeStampReq reqPolicy');
  if (f[i]?.tag === TAG.INTEGER) out.nonce = readUnsignedInteger(f[i++]!, 'TimeStampReq nonce');
  if (f[i]?.tag === 0x01) {
    out.certReq = readBoolean(f[i++]!, 'TimeStampReq certReq');
    if (!out.certReq) throw new DecodeError('TimeStampReq: certReq FALSE must be omitted in DER (DEFAULT)');
  }
  if (f[i]?.tag === 0xa0) out.extensions = readExtensions(f[i++]!, 'TimeStampReq');
  if (i !== f.length) throw new DecodeError('TimeStampReq: unexpected fields');
  return out;
}

function missing(what: string, field: string): never {
  throw new DecodeError(`${what}: ${field} missing`);
}

// --- TSTInfo -----------------------------------------------------------------------------------------

/** Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER (1..999) OPTIONAL, micros [1] … } */
export type Accuracy = { seconds?: number; millis?: number; micros?: number };

/** The fields a TSA decides for one token. */
export type TstInfoFields = {
  policy: string;
  /**
   * The imprint; with `der` (the request's MessageImprint as received, which must hold `hash` and
   * `hashedMessage`) those bytes are copied as they are, as RFC 3161 §2.4.2 asks of a TSA.
   */
  messageImprint: { hash: HashName; hashedMessage: Uint8Array; der?: Uint8Array };
  /** Unique per TSA, positive (RFC 3161 §2.4.2). */
  serialNumber: bigint;
  /** Encoded as GeneralizedTime with the milliseconds, trailing zeros dropped. */
  genTime: Date;
  accuracy?: Accuracy;
  ordering?: boolean;
  /** Echo of the request's nonce. */
  nonce?: bigint;
  /** The TSA's name, as a directoryName GeneralName (a Uint8Array is a DER Name, used as is). */
  tsaName?: Name | readonly NameAttribute[] | Uint8Array;
  extensions?: readonly CertExtension[];
};

function encodeAccuracy(a: Accuracy): Uint8Array {
  const parts: Uint8Array[] = [];
  const check = (v: number | undefined, max: number, name: string) => {
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > max))
      throw new RangeError(`accuracy.${name} must be an integer 0..${max}`);
  };
  check(a.seconds, 2 ** 31, 'seconds');
  check(a.millis, 999, 'millis');
  check(a.micros, 999, 'micros');
  if (a.seconds) parts.push(encodeUnsignedInteger(BigInt(a.seconds)));
  if (a.millis) parts.push(retagInteger(a.millis, 0x80));
  if (a.micros) parts.push(retagInteger(a.micros, 0x81));
  if (parts.length === 0) throw new RangeError('accuracy must not be zero');
  return encodeSequence(...parts);
}

function retagInteger(value: number, tag: number): Uint8Array {
  const int = encodeUnsignedInteger(BigInt(value));
  return concatBytes(Uint8Array.of(tag), int.subarray(1));
}

/**
 * TSTInfo ::= SEQUENCE { version INTEGER { v1(1) }, policy TSAPolicyId, messageImprint MessageImprint,
 *   serialNumber INTEGER, genTime GeneralizedTime, accuracy Accuracy OPTIONAL,
 *   ordering BOOLEAN DEFAULT FALSE, nonce INTEGER OPTIONAL, tsa [0] GeneralName OPTIONAL,
 *   extensions [1] IMPLICIT Extensions OPTIONAL }   -- RFC 3161 §2.4.2
 */
export function buildTstInfo(f: TstInfoFields): Uint8Array {
  if (f.serialNumber <= 0n) throw new RangeError('serialNumber must be positive');
  let tsa: Uint8Array | undefined;
  if (f.tsaName) {
    const der =
      f.tsaName instanceof Uint8Array
        ? f.tsaName
        : encodeName(f.tsaName instanceof Name ? f.tsaName : buildName(f.tsaName));
    if (der[0] !== TAG.SEQUENCE) throw new RangeError('tsaName must be a DER Name');
    tsa = encodeContext(0, encodeTlv(0xa4, der));
  }
  return encodeSequence(
    encodeUnsignedInteger(1n),
    encodeOid(f.policy),
    f.messageImprint.der ?? encodeImprint(f.messageImprint.hash, f.messageImprint.hashedMessage),
    encodeUnsignedInteger(f.serialNumber),
    encodeGeneralizedTime(f.genTime, true),
    ...(f.accuracy ? [encodeAccuracy(f.accuracy)] : []),
    ...(f.ordering ? [encodeBoolean(true)] : []),
    ...(f.nonce !== undefined ? [encodeUnsignedInteger(f.nonce)] : []),
    ...(tsa ? [tsa] : []),
    ...(f.extensions?.length ? [encodeExtensions(f.extensions, 0xa1)] : []),
  );
}

/** A parsed TSTInfo. */
export type TstInfo = {
  der: Uint8Array;
  version: number;
  policy: string;
  messageImprint: MessageImprint;
  serialNumber: bigint;
  genTime: Date;
  /** genTime exactly as received (keeps sub-millisecond digits). */
  genTimeText: string;
  accuracy?: Accuracy;
  ordering: boolean;
  nonce?: bigint;
  /** The tsa GeneralName, readable ("C=CN, O=…" for a directoryName). */
  tsaName?: string;
  /** The Name inside the tsa field when it is a directoryName, as received. */
  tsaDirectoryName?: Uint8Array;
  extensions: CertExtension[];
};

function readAccuracy(tlv: Tlv): Accuracy {
  const out: Accuracy = {};
  for (const p of childrenOf(tlv)) {
    if (
      p.tag === TAG.INTEGER &&
      out.seconds === undefined &&
      out.millis === undefined &&
      out.micros === undefined
    )
      out.seconds = readSmallInteger(p, 'Accuracy seconds');
    else if (p.tag === 0x80 && out.millis === undefined && out.micros === undefined)
      out.millis = readSmallInteger({ ...p, tag: TAG.INTEGER }, 'Accuracy millis');
    else if (p.tag === 0x81 && out.micros === undefined)
      out.micros = readSmallInteger({ ...p, tag: TAG.INTEGER }, 'Accuracy micros');
    else throw new DecodeError('Accuracy: unexpected field');
  }
  if ((out.millis ?? 1) > 999 || (out.micros ?? 1) > 999 || out.millis === 0 || out.micros === 0)
    throw new DecodeError('Accuracy: millis and micros must be 1..999');
  return out;
}

function describeGeneralName(der: Uint8Array): string {
  const g = AsnConvert.parse(der, GeneralName);
  if (g.directoryName) return formatName(g.directoryName);
  if (g.dNSName) return `DNS:${g.dNSName}`;
  if (g.uniformResourceIdentifier) return `URI:${g.uniformResourceIdentifier}`;
  if (g.rfc822Name) return `email:${g.rfc822Name}`;
  return 'GeneralName';
}

/** Parses DER TSTInfo; DecodeError for anything malformed. */
export function parseTstInfo(der: Uint8Array): TstInfo {
  const f = outerSequence(der, 'TSTInfo');
  let i = 0;
  const take = (field: string) => f[i++] ?? missing('TSTInfo', field);
  const version = readSmallInteger(take('version'), 'TSTInfo version');
  if (version !== 1) throw new DecodeError(`TSTInfo: version ${version} (expected 1)`);
  const policy = readOid(take('policy'), 'TSTInfo policy');
  const messageImprint = readImprint(take('messageImprint'), 'TSTInfo');
  const serialNumber = readUnsignedInteger(take('serialNumber'), 'TSTInfo serialNumber');
  const timeTlv = take('genTime');
  if (timeTlv.tag !== TAG_GENERALIZED_TIME) throw new DecodeError('TSTInfo: genTime must be GeneralizedTime');
  const genTime = readTimeText(timeTlv, 'TSTInfo genTime');
  const out: TstInfo = {
    der,
    version,
    policy,
    messageImprint,
    serialNumber,
    genTime: genTime.date,
    genTimeText: genTime.text,
    ordering: false,
    extensions: [],
  };
  if (f[i]?.tag === TAG.SEQUENCE) out.accuracy = readAccuracy(f[i++]!);
  if (f[i]?.tag === 0x01) {
    out.ordering = readBoolean(f[i++]!, 'TSTInfo ordering');
    if (!out.ordering) throw new DecodeError('TSTInfo: ordering FALSE must be omitted in DER (DEFAULT)');
  }
  if (f[i]?.tag === TAG.INTEGER) out.nonce = readUnsignedInteger(f[i++]!, 'TSTInfo nonce');
  if (f[i]?.tag === 0xa0) {
    const inner = childrenOf(f[i++]!);
    if (inner.length !== 1) throw new DecodeError('TSTInfo: tsa must hold one GeneralName');
    try {
      out.tsaName = describeGeneralName(tlvBytes(inner[0]!));
      if (inner[0]!.tag === 0xa4) out.tsaDirectoryName = tlvBytes(childrenOf(inner[0]!)[0]!);
    } catch (e) {
      throw new DecodeError(`TSTInfo tsa: ${message(e)}`);
    }
  }
  if (f[i]?.tag === 0xa1) out.extensions = readExtensions(f[i++]!, 'TSTInfo');
  if (i !== f.length) throw new DecodeError('TSTInfo: unexpected fields');
  return out;
}

/** Options for signing a token. */
export type TimeStampTokenOptions = {
  /** More certificates to embed after the TSA's own (e.g. the issuing CA, so verifiers can build the chain). */
  certificates?: readonly ParsedCertificate[];
  /** GM/T 0010 wrapping (SM2 signedData around SM2 data) instead of id-ct-TSTInfo; SM2 TSAs only. */
  gmOids?: boolean;
};

/**
 * Signs a TimeStampToken: a CMS SignedData whose eContent is the DER TSTInfo (eContentType
 * id-ct-TSTInfo), with signed attributes contentType, signingTime, messageDigest and
 * signingCertificateV2 (SM3 for SM2, SHA-256 otherwise; RFC 5816).
 */
export async function signTimeStampToken(
  fields: TstInfoFields,
  signer: Signer,
  tsaCertificate: ParsedCertificate,
  includeCertificate = true,
  opts: TimeStampTokenOptions = {},
): Promise<Uint8Array> {
  const tstInfo = buildTstInfo(fields);
  const certificates = includeCertificate
    ? [tsaCertificate, ...(opts.certificates ?? [])]
    : [...(opts.certificates ?? [])];
  return signCms({
    content: tstInfo,
    detached: false,
    signers: [{ signer, certificate: tsaCertificate }],
    ...(opts.gmOids ? { gmOids: true } : { contentType: oid.id_ct_TSTInfo }),
    certificates,
    signingTime: fields.genTime,
  });
}

// --- TimeStampResp -------------------------------------------------------------------------------------

/** PKIStatus values (RFC 3161 §2.4.2). */
export const PKI_STATUS = {
  granted: 0,
  grantedWithMods: 1,
  rejection: 2,
  waiting: 3,
  revocationWarning: 4,
  revocationNotification: 5,
} as const;
export type PkiStatusName = keyof typeof PKI_STATUS;

/** PKIFailureInfo bits (RFC 3161 §2.4.2). */
export const PKI_FAILURE_INFO = {
  badAlg: 0,
  badRequest: 2,
  badDataFormat: 5,
  timeNotAvailable: 14,
  unacceptedPolicy: 15,
  unacceptedExtension: 16,
  addInfoNotAvailable: 17,
  systemFailure: 25,
} as const;
export type PkiFailureInfoName = keyof typeof PKI_FAILURE_INFO;

/** What goes into a TimeStampResp. A granted response carries a token; a refusal carries failInfo. */
export type TimeStampRespOptions = {
  status: PkiStatusName;
  failInfo?: readonly PkiFailureInfoName[];
  statusString?: string | readonly string[];
  token?: Uint8Array;
  /**
   * The token was just signed by the caller (a TSA): skip re-parsing it as CMS, which costs more than
   * building the response (default false: a token from elsewhere is checked to be a SignedData).
   */
  tokenTrusted?: boolean;
};

function encodeFailInfo(names: readonly PkiFailureInfoName[]): Uint8Array {
  const bits = names.map((n) => {
    const b = PKI_FAILURE_INFO[n];
    if (b === undefined) throw new RangeError(`unknown failInfo ${String(n)}`);
    return b;
  });
  const max = Math.max(...bits);
  const bytes = new Uint8Array((max >> 3) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  // DER named bit list: no trailing zero bits (X.690 §11.2.2).
  return encodeTlv(TAG.BIT_STRING, concatBytes(Uint8Array.of(7 - (max & 7)), bytes));
}

/**
 * TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken TimeStampToken OPTIONAL }
 * PKIStatusInfo ::= SEQUENCE { status PKIStatus, statusString PKIFreeText OPTIONAL, failInfo PKIFailureInfo OPTIONAL }
 */
export function buildTimeStampResp(o: TimeStampRespOptions): Uint8Array {
  const status = PKI_STATUS[o.status];
  if (status === undefined) throw new RangeError(`unknown status ${String(o.status)}`);
  const granted = status === 0 || status === 1;
  if (granted && !o.token) throw new RangeError('a granted response needs a token');
  if (!granted && o.token) throw new RangeError('only a granted response carries a token');
  if (o.token && !o.tokenTrusted) ParsedCms.parse(o.token);
  const texts =
    o.statusString === undefined
      ? []
      : typeof o.statusString === 'string'
        ? [o.statusString]
        : o.statusString;
  const statusInfo = encodeSequence(
    encodeUnsignedInteger(BigInt(status)),
    ...(texts.length ? [encodeSequence(...texts.map(encodeUtf8String))] : []),
    ...(o.failInfo?.length ? [encodeFailInfo(o.failInfo)] : []),
  );
  return encodeSequence(statusInfo, ...(o.token ? [o.token] : []));
}

/** A parsed TimeStampResp; `token` is the TimeStampToken (ContentInfo DER) when present. */
export type TimeStampResponse = {
  der: Uint8Array;
  status: number;
  statusName?: PkiStatusName;
  statusStrings: string[];
  failInfo: PkiFailureInfoName[];
  token?: Uint8Array;
};

/** Parses a DER (or PEM) TimeStampResp; DecodeError for anything malformed. */
export function parseTimeStampResp(input: Uint8Array | string): TimeStampResponse {
  const der = derFromInput(input, ['TIMESTAMP RESPONSE', 'TSR'], 'TimeStampResp');
  const f = outerSequence(der, 'TimeStampResp');
  if (f.length < 1 || f.length > 2 || f[0]!.tag !== TAG.SEQUENCE)
    throw new DecodeError('TimeStampResp: expected { status, timeStampToken OPTIONAL }');
  const s = childrenOf(f[0]!);
  let i = 0;
  const status = readSmallInteger(s[i++] ?? missing('PKIStatusInfo', 'status'), 'PKIStatusInfo status');
  const statusName = (Object.keys(PKI_STATUS) as PkiStatusName[]).find((k) => PKI_STATUS[k] === status);
  const statusStrings: string[] = [];
  if (s[i]?.tag === TAG.SEQUENCE) {
    for (const t of childrenOf(s[i++]!)) {
      if (t.tag !== TAG_UTF8STRING) throw new DecodeError('PKIFreeText: expected UTF8String');
      statusStrings.push(Buffer.from(t.value).toString('utf8'));
    }
  }
  const failInfo: PkiFailureInfoName[] = [];
  if (s[i]?.tag === TAG.BIT_STRING) {
    const v = s[i++]!.value;
    if (v.length < 1 || v[0]! > 7) throw new DecodeError('PKIFailureInfo: malformed BIT STRING');
    for (const [name, bit] of Object.entries(PKI_FAILURE_INFO) as [PkiFailureInfoName, number][])
      if (((v[1 + (bit >> 3)] ?? 0) & (0x80 >> (bit & 7))) !== 0) failInfo.push(name);
  }
  if (i !== s.length) throw new DecodeError('PKIStatusInfo: unexpected fields');
  const out: TimeStampResponse = {
    der,
    status,
    ...(statusName ? { statusName } : {}),
    statusStrings,
    failInfo,
  };
  if (f[1]) {
    out.token = tlvBytes(f[1]);
    ParsedCms.parse(out.token);
  }
  return out;
}

// --- verification ------------------------------------------------------------------------------------

/** What to check a token against. Give the time-stamped `data`, or its hash as `imprint`. */
export type TimeStampVerifyOptions = {
  data?: Uint8Array;
  imprint?: Uint8Array | { hash: HashName; hashedMessage: Uint8Array };
  /** Trust anchors: when given, the TSA certificate's chain is validated (at `at`, default genTime). */
  anchors?: readonly ParsedCertificate[];
  at?: Date;
  /** Certificates besides the embedded ones (the TSA certificate when the token does not carry it, CAs). */
  certificates?: readonly ParsedCertificate[];
};

/** The outcome of verifying a time-stamp token (or response). */
export type TimeStampVerifyResult = {
  valid: boolean;
  genTime?: Date;
  serial?: bigint;
  policy?: string;
  nonce?: bigint;
  accuracy?: Accuracy;
  ordering?: boolean;
  hashAlgorithm?: HashName | string;
  tsaName?: string;
  tsaCertificate?: ParsedCertificate;
  tstInfo?: TstInfo;
  chain?: ChainResult;
  /** For a TimeStampResp input: its status. */
  status?: number;
  checks: Check[];
  errors: string[];
};

/**
 * Verifies a TimeStampToken or a TimeStampResp (status must be granted). Never throws: malformed input,
 * a wrong imprint, a bad signature or an unsuitable TSA certificate come back as failed checks.
 */
export function verifyTimeStampToken(
  input: Uint8Array | string,
  opts: TimeStampVerifyOptions = {},
): TimeStampVerifyResult {
  const checks = new Checks({ wording: 'colon' });
  const out: Omit<TimeStampVerifyResult, 'valid' | 'checks' | 'errors'> = {};
  try {
    checkToken(input, opts, checks, out);
  } catch (e) {
    checks.add('time-stamp well-formed', false, message(e));
  }
  return { valid: checks.valid, ...out, checks: checks.list, errors: checks.errors };
}

function checkToken(
  input: Uint8Array | string,
  opts: TimeStampVerifyOptions,
  checks: Checks,
  out: Omit<TimeStampVerifyResult, 'valid' | 'checks' | 'errors'>,
): void {
  let der = derFromInput(input, ['TIMESTAMP RESPONSE', 'TSR', 'CMS', 'PKCS7'], 'time-stamp');
  const top = outerSequence(der, 'time-stamp');
  if (top[0]?.tag === TAG.SEQUENCE) {
    const resp = parseTimeStampResp(der);
    out.status = resp.status;
    const granted = resp.status === 0 || resp.status === 1;
    checks.expect(
      'response status granted',
      granted,
      `status ${resp.statusName ?? resp.status}${resp.failInfo.length ? ` (${resp.failInfo.join(', ')})` : ''}${
        resp.statusStrings.length ? `: ${resp.statusStrings.join('; ')}` : ''
      }`,
    );
    if (!granted) return;
    if (!resp.token) {
      checks.add('token present', false, 'granted response without a token');
      return;
    }
    der = resp.token;
  }
  const cms = ParsedCms.parse(der);
  checks.add(
    'one signer',
    cms.signerInfos.length === 1,
    `${cms.signerInfos.length} SignerInfos (RFC 3161 §2.4.2 needs one)`,
  );
  const typeOk =
    cms.eContentType === oid.id_ct_TSTInfo || (cms.gmOids && cms.eContentType === oid.id_gm_data);
  checks.expect('eContentType id-ct-TSTInfo', typeOk, `eContentType is ${cms.eContentType}`);
  if (!cms.content) {
    checks.add('TSTInfo present', false, 'the token has no encapsulated content');
    return;
  }
  const tst = parseTstInfo(cms.content);
  out.tstInfo = tst;
  out.genTime = tst.genTime;
  out.serial = tst.serialNumber;
  out.policy = tst.policy;
  if (tst.nonce !== undefined) out.nonce = tst.nonce;
  if (tst.accuracy) out.accuracy = tst.accuracy;
  out.ordering = tst.ordering;
  out.hashAlgorithm = tst.messageImprint.hash ?? tst.messageImprint.hashAlgorithm;
  if (tst.tsaName) out.tsaName = tst.tsaName;

  // The message imprint.
  const mi = tst.messageImprint;
  if (opts.data) {
    if (!mi.hash) checks.add('message imprint', false, `unsupported hash algorithm ${mi.hashAlgorithm}`);
    else {
      const ok = sameBytes(digest(mi.hash, opts.data), mi.hashedMessage);
      checks.add(
        'message imprint',
        ok,
        ok ? `${mi.hash} of the data` : `does not match the ${mi.hash} digest of the data`,
      );
    }
  } else if (opts.imprint) {
    const want = opts.imprint instanceof Uint8Array ? { hashedMessage: opts.imprint } : opts.imprint;
    const algOk = !('hash' in want) || want.hash === mi.hash;
    const ok = algOk && sameBytes(want.hashedMessage, mi.hashedMessage);
    checks.expect(
      'message imprint',
      ok,
      algOk
        ? 'hashedMessage differs'
        : `hash is ${out.hashAlgorithm}, expected ${'hash' in want ? want.hash : ''}`,
    );
  } else {
    checks.add('message imprint', false, 'neither data nor imprint given to compare with');
  }

  // The CMS signature and attributes.
  const signer = verifyCmsSigner(cms, 0, opts.certificates ? { certificates: opts.certificates } : {});
  checks.include(signer.checks);
  const tsa = signer.certificate;
  if (!tsa) return;
  out.tsaCertificate = tsa;
  const attrs = cms.signerInfos[0]?.signedAttributes ?? [];
  const ess = attrs.some(
    (a) => a.oid === oid.id_aa_signingCertificateV2 || a.oid === oid.id_aa_signingCertificate,
  );
  checks.expect('ESS signing certificate attribute', ess, 'missing (RFC 3161 §2.4.1, RFC 5816)');

  // RFC 3161 §2.3: the TSA certificate has exactly one EKU, id-kp-timeStamping, and it is critical.
  const eku = tsa.extension(oid.id_ce_extKeyUsage);
  let ekuDetail: string | undefined;
  if (!eku) ekuDetail = 'the TSA certificate has no extendedKeyUsage';
  else if (!eku.critical) ekuDetail = 'extendedKeyUsage is not critical (RFC 3161 §2.3)';
  else {
    const purposes = tsa.extKeyUsage ?? [];
    if (purposes.length !== 1 || purposes[0] !== oid.id_kp_timeStamping)
      ekuDetail = `extendedKeyUsage must be timeStamping only, is ${purposes.join(', ')}`;
  }
  checks.add('TSA certificate extendedKeyUsage', ekuDetail === undefined, ekuDetail);
  // RFC 3161 §2.4.2: a tsa name must be one of the names of the certificate that verifies the token.
  if (tst.tsaDirectoryName) {
    const n = tst.tsaDirectoryName;
    const ok = sameBytes(n, tsa.subjectDer) || namesMatch(parseName(n), tsa.subject);
    checks.expect(
      'tsa name matches the TSA certificate',
      ok,
      `tsa is ${tst.tsaName}, certificate subject is ${tsa.subjectText}`,
    );
  }
  const validAtGen = tsa.isValidAt(tst.genTime);
  checks.expect(
    'TSA certificate valid at genTime',
    validAtGen,
    `valid ${tsa.notBefore.toISOString()} – ${tsa.notAfter.toISOString()}, genTime ${tst.genTime.toISOString()}`,
  );
  if (opts.anchors) {
    const chain = verifyCertificateChain(tsa, {
      anchors: opts.anchors,
      intermediates: [...cms.certificates, ...(opts.certificates ?? [])],
      at: opts.at ?? tst.genTime,
      requiredExtKeyUsage: oid.id_kp_timeStamping,
    });
    out.chain = chain;
    checks.expect('TSA certificate chain', chain.valid, chain.errors.join('; '));
  }
}
