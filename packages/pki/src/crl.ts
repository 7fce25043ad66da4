/**
 * X.509 v2 certificate revocation lists (RFC 5280 §5): build and sign a full or delta CRL through a
 * Signer, parse a CRL strictly with its entries, reasons and invalidity dates, and verify it against
 * its issuer over the exact received TBSCertList bytes. SM3withSM2 CRLs carry the default SM2 ID
 * (gm-standards.md §5.3).
 *
 *   CertificateList ::= SEQUENCE { tbsCertList TBSCertList, signatureAlgorithm, signatureValue BIT STRING }
 *   TBSCertList ::= SEQUENCE { version Version OPTIONAL (v2), signature AlgorithmIdentifier, issuer Name,
 *     thisUpdate Time, nextUpdate Time OPTIONAL, revokedCertificates SEQUENCE OF SEQUENCE {
 *     userCertificate CertificateSerialNumber, revocationDate Time, crlEntryExtensions Extensions OPTIONAL }
 *     OPTIONAL, crlExtensions [0] EXPLICIT Extensions OPTIONAL }
 */

import { bytesToHex, copyBytes, encodePem, type BytesLike } from '@medsign/gm';
import {
  encodeBitString,
  encodeSequence,
  encodeTlv,
  encodeUnsignedInteger,
  readChildren,
  readUnsignedInteger,
  type Tlv,
} from '@medsign/gm/der';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Name } from '@peculiar/asn1-x509';
import {
  identifySignatureAlgorithm,
  sameAlgorithmIdentifier,
  signatureAlgorithmIdentifier,
  type SignatureAlgorithm,
} from './algorithms.js';
import type { ParsedCertificate } from './certificate.js';
import { Checks, type Check } from './checks.js';
import {
  checkDate,
  derFromInput,
  encodeGeneralizedTime,
  encodeTime,
  outerSequence,
  parseAsn,
  readSingle,
  readTime,
  sameBytes,
  tlvBytes,
} from './der-input.js';
import {
  authorityKeyIdentifierExtension,
  encodeExtensions,
  readAuthorityKeyIdentifier,
  readExtensions,
  type CertExtension,
} from './extensions.js';
import { DecodeError, message } from './errors.js';
import { verifySignature, type Signer } from './keys.js';
import { formatName, namesMatch } from './name.js';
import * as oid from './oids.js';

/** RFC 5280 §5.3.1 CRLReason values by name (7 is not used). */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;
export type RevocationReason = keyof typeof REVOCATION_REASONS;

/** The reason name for a CRLReason value; DecodeError for an undefined one. */
export function revocationReasonName(value: number): RevocationReason {
  const found = (Object.keys(REVOCATION_REASONS) as RevocationReason[]).find(
    (k) => REVOCATION_REASONS[k] === value,
  );
  if (!found) throw new DecodeError(`CRLReason ${value} is not defined`);
  return found;
}

/**
 * A serial number as the platform writes it: lower-case hex without leading zeros (ParsedCertificate
 * prints the same). Accepts a bigint or hex text with optional "0x" prefix and ":" separators.
 */
export function normalizeSerial(serial: string | bigint): string {
  if (typeof serial === 'bigint') {
    if (serial < 0n) throw new RangeError('serial number must not be negative');
    return serial.toString(16);
  }
  const hex = serial.trim().replace(/^0x/i, '').replace(/:/g, '');
  if (!/^[0-9a-fA-F]+$/.test(hex)) throw new RangeError(`serial number ${serial} is not hex`);
  return BigInt('0x' + hex).toString(16);
}

/**
 * Reads an INTEGER serial number as lower-case hex (minimal DER checked). Negative serials — a known
 * defect of some CAs — are kept with a leading "-" instead of failing the whole structure.
 */
export function readSerialNumber(tlv: Tlv, what: string): string {
  if (tlv.tag !== 0x02) throw new DecodeError(`${what}: expected INTEGER`, tlv.start);
  const v = tlv.value;
  if (v.length === 0) throw new DecodeError(`${what}: empty INTEGER`, tlv.start);
  if (v.length > 1 && ((v[0] === 0 && !(v[1]! & 0x80)) || (v[0] === 0xff && v[1]! & 0x80))) {
    throw new DecodeError(`${what}: non-minimal INTEGER`, tlv.start);
  }
  const n = BigInt('0x' + bytesToHex(v));
  if (v[0]! & 0x80) return '-' + ((1n << BigInt(v.length * 8)) - n).toString(16);
  return n.toString(16);
}

/** One revocation to publish. */
export type CrlEntryInput = {
  serialNumber: string | bigint;
  revocationDate: Date;
  /** Omitted (not written) when 'unspecified', as RFC 5280 §5.3.1 recommends. */
  reason?: RevocationReason;
  /** When the key is known or suspected to have been compromised (RFC 5280 §5.3.2). */
  invalidityDate?: Date;
};

/** What a CA publishes in one CRL. */
export type CrlOptions = {
  /** The CA certificate: its subject becomes the CRL issuer, its SKI the authorityKeyIdentifier. */
  issuer: ParsedCertificate;
  /** The CA's key; must be the key of `issuer`. */
  signer: Signer;
  thisUpdate: Date;
  nextUpdate: Date;
  /** Monotonically increasing per CA (RFC 5280 §5.2.3); at most 20 octets. */
  crlNumber: bigint;
  /** Makes a delta CRL: the number of the complete CRL it updates (critical deltaCRLIndicator). */
  deltaBaseCrlNumber?: bigint;
  entries: readonly CrlEntryInput[];
  /** Further CRL extensions (issuingDistributionPoint, freshestCRL, …). */
  extensions?: readonly CertExtension[];
};

function crlNumberDer(n: bigint, what: string): Uint8Array {
  if (n < 0n) throw new RangeError(`${what} must not be negative`);
  const der = encodeUnsignedInteger(n);
  if (der.length - 2 > 20) throw new RangeError(`${what} must fit in 20 octets`);
  return der;
}

function serialDer(serial: string | bigint): Uint8Array {
  const n = BigInt('0x' + normalizeSerial(serial));
  if (n === 0n) throw new RangeError('serial number must be positive');
  return crlNumberDer(n, 'serial number');
}

/** The cRLReason entry extension (RFC 5280 §5.3.1): non-critical, an ENUMERATED code. */
function reasonExtension(code: number): CertExtension {
  return { oid: oid.id_ce_cRLReasons, critical: false, value: encodeTlv(0x0a, Uint8Array.of(code)) };
}

/**
 * Concatenates a list of any length. Spreading 100,000 CRL entries into `concatBytes(...parts)` overflows
 * the call stack, so the revokedCertificates SEQUENCE is joined from the array instead.
 */
function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Builds and signs a v2 CRL (full, or delta when `deltaBaseCrlNumber` is set); returns DER. */
export async function buildCrl(o: CrlOptions): Promise<Uint8Array> {
  checkDate(o.thisUpdate, 'thisUpdate');
  checkDate(o.nextUpdate, 'nextUpdate');
  if (o.nextUpdate <= o.thisUpdate) throw new RangeError('nextUpdate must be after thisUpdate');
  if (!sameBytes(o.signer.publicKeyInfo, o.issuer.publicKeyInfo)) {
    throw new RangeError("signer key is not the issuer certificate's key");
  }
  const isDelta = o.deltaBaseCrlNumber !== undefined;
  if (isDelta && o.deltaBaseCrlNumber! >= o.crlNumber) {
    throw new RangeError('a delta CRL number must be greater than its base CRL number');
  }

  const seen = new Set<string>();
  const reasonDer = new Map<number, Uint8Array>();
  const entries = o.entries.map((e) => {
    const serial = normalizeSerial(e.serialNumber);
    if (seen.has(serial)) throw new RangeError(`serial ${serial} listed twice`);
    seen.add(serial);
    checkDate(e.revocationDate, `revocationDate of ${serial}`);
    const exts: CertExtension[] = [];
    let code: number | undefined;
    if (e.reason !== undefined && e.reason !== 'unspecified') {
      code = REVOCATION_REASONS[e.reason];
      if (code === undefined) throw new RangeError(`unknown revocation reason ${e.reason}`);
      if (e.reason === 'removeFromCRL' && !isDelta) throw new RangeError('removeFromCRL only in delta CRLs');
      exts.push(reasonExtension(code));
    }
    if (e.invalidityDate !== undefined) {
      checkDate(e.invalidityDate, `invalidityDate of ${serial}`);
      exts.push({
        oid: oid.id_ce_invalidityDate,
        critical: false,
        value: encodeGeneralizedTime(e.invalidityDate),
      });
    }
    // The common entry carries a reason code only: its extensions are the same bytes for every entry with
    // that reason, encoded once per CRL instead of 100,000 times through the ASN.1 schema serializer.
    let extsDer: Uint8Array | undefined;
    if (exts.length === 1 && code !== undefined) {
      extsDer = reasonDer.get(code);
      if (!extsDer) reasonDer.set(code, (extsDer = encodeExtensions(exts)));
    } else if (exts.length) extsDer = encodeExtensions(exts);
    return encodeSequence(serialDer(serial), encodeTime(e.revocationDate), ...(extsDer ? [extsDer] : []));
  });

  const ski = o.issuer.subjectKeyIdentifier;
  const crlExts: CertExtension[] = [
    ...(ski ? [authorityKeyIdentifierExtension(ski)] : []),
    { oid: oid.id_ce_cRLNumber, critical: false, value: crlNumberDer(o.crlNumber, 'crlNumber') },
    ...(isDelta
      ? [
          {
            oid: oid.id_ce_deltaCRLIndicator,
            critical: true,
            value: crlNumberDer(o.deltaBaseCrlNumber!, 'deltaBaseCrlNumber'),
          },
        ]
      : []),
    ...(o.extensions ?? []),
  ];

  const algId = new Uint8Array(AsnConvert.serialize(signatureAlgorithmIdentifier(o.signer.algorithm)));
  const tbs = encodeSequence(
    encodeTlv(0x02, Uint8Array.of(1)),
    algId,
    o.issuer.subjectDer,
    encodeTime(o.thisUpdate),
    encodeTime(o.nextUpdate),
    // RFC 5280 §5.1.2.6: with no revoked certificates the list is absent, not empty.
    ...(entries.length ? [encodeTlv(0x30, joinBytes(entries))] : []),
    encodeTlv(0xa0, encodeExtensions(crlExts)),
  );
  const signature = await o.signer.sign(tbs);
  return encodeSequence(tbs, algId, encodeBitString(signature));
}

/** One revoked certificate as listed. */
export type CrlEntry = {
  /** Lower-case hex, no leading zeros. */
  serialNumber: string;
  revocationDate: Date;
  reason?: RevocationReason;
  invalidityDate?: Date;
  extensions: CertExtension[];
};

function readCrlNumber(value: Uint8Array, what: string): bigint {
  return readUnsignedInteger(readSingle(value, what), what);
}

function readEntry(tlv: Tlv): CrlEntry {
  if (tlv.tag !== 0x30) throw new DecodeError('revokedCertificates: entry is not a SEQUENCE', tlv.start);
  const parts = readChildren(tlv.value);
  if (parts.length < 2 || parts.length > 3) throw new DecodeError('revokedCertificates: malformed entry');
  const serialNumber = readSerialNumber(parts[0]!, 'userCertificate');
  const entry: CrlEntry = {
    serialNumber,
    revocationDate: readTime(parts[1]!, 'revocationDate'),
    extensions: [],
  };
  if (parts[2]) {
    if (parts[2].tag !== 0x30) throw new DecodeError('crlEntryExtensions: expected SEQUENCE');
    entry.extensions = readExtensions(tlvBytes(parts[2]), `CRL entry ${serialNumber}`);
    for (const e of entry.extensions) {
      if (e.oid === oid.id_ce_cRLReasons) {
        const t = readSingle(e.value, 'reasonCode');
        if (t.tag !== 0x0a || t.value.length !== 1) throw new DecodeError('reasonCode: expected ENUMERATED');
        entry.reason = revocationReasonName(t.value[0]!);
      } else if (e.oid === oid.id_ce_invalidityDate) {
        const t = readSingle(e.value, 'invalidityDate');
        if (t.tag !== 0x18) throw new DecodeError('invalidityDate: expected GeneralizedTime');
        entry.invalidityDate = readTime(t, 'invalidityDate');
      }
    }
  }
  return entry;
}

/** CRL extensions this module understands; an unknown critical one makes the CRL unusable. */
const KNOWN_CRL_EXTENSIONS = new Set([
  oid.id_ce_authorityKeyIdentifier,
  oid.id_ce_cRLNumber,
  oid.id_ce_deltaCRLIndicator,
  oid.id_ce_issuerAltName,
  oid.id_ce_freshestCRL,
  oid.id_pe_authorityInfoAccess,
]);
const KNOWN_ENTRY_EXTENSIONS = new Set([oid.id_ce_cRLReasons, oid.id_ce_invalidityDate]);

/** A parsed CRL; the exact TBSCertList and issuer bytes are kept for verification and matching. */
export class ParsedCrl {
  readonly der: Uint8Array;
  readonly tbsDer: Uint8Array;
  readonly issuerDer: Uint8Array;
  readonly issuer: Name;
  /** 2 for v2 CRLs, 1 when the version field is absent. */
  readonly version: number;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  readonly entries: readonly CrlEntry[];
  readonly extensions: readonly CertExtension[];
  readonly crlNumber: bigint | undefined;
  /** For a delta CRL, the number of the complete CRL it updates. */
  readonly baseCrlNumber: bigint | undefined;
  readonly signatureAlgorithmId: AlgorithmIdentifier;
  /** TBSCertList.signature (must equal signatureAlgorithmId). */
  readonly innerSignatureAlgorithmId: AlgorithmIdentifier;
  readonly signatureValue: Uint8Array;
  readonly #bySerial: Map<string, CrlEntry>;

  private constructor(der: Uint8Array) {
    this.der = der;
    const top = outerSequence(der, 'CertificateList');
    if (top.length !== 3 || top[0]!.tag !== 0x30 || top[1]!.tag !== 0x30 || top[2]!.tag !== 0x03) {
      throw new DecodeError('CertificateList: expected tbsCertList, signatureAlgorithm, signatureValue');
    }
    this.tbsDer = tlvBytes(top[0]!);
    this.signatureAlgorithmId = parseAsn(tlvBytes(top[1]!), AlgorithmIdentifier, 'CRL signatureAlgorithm');
    const bits = top[2]!.value;
    if (bits.length < 1 || bits[0] !== 0)
      throw new DecodeError('CRL signatureValue: BIT STRING with unused bits');
    this.signatureValue = copyBytes(bits.subarray(1));

    const tbs = this.tbsDer;
    const parts = outerSequence(tbs, 'TBSCertList');
    let i = 0;
    const next = () => parts[i];
    let version = 1;
    if (next()?.tag === 0x02) {
      const v = parts[i++]!;
      if (v.value.length !== 1 || v.value[0] !== 1)
        throw new DecodeError('TBSCertList: version must be v2 (1)');
      version = 2;
    }
    const sig = parts[i++];
    const issuer = parts[i++];
    const thisUpdate = parts[i++];
    if (!sig || !issuer || !thisUpdate || sig.tag !== 0x30 || issuer.tag !== 0x30) {
      throw new DecodeError('TBSCertList: missing signature, issuer or thisUpdate');
    }
    this.innerSignatureAlgorithmId = parseAsn(tlvBytes(sig), AlgorithmIdentifier, 'TBSCertList.signature');
    this.issuerDer = tlvBytes(issuer);
    this.issuer = parseAsn(this.issuerDer, Name, 'CRL issuer');
    this.thisUpdate = readTime(thisUpdate, 'thisUpdate');
    this.nextUpdate =
      next()?.tag === 0x17 || next()?.tag === 0x18 ? readTime(parts[i++]!, 'nextUpdate') : undefined;

    const entries: CrlEntry[] = [];
    if (next()?.tag === 0x30) {
      const list = parts[i++]!;
      for (const e of readChildren(list.value)) entries.push(readEntry(e));
    }
    let extensions: CertExtension[] = [];
    if (next()?.tag === 0xa0) {
      if (version !== 2) throw new DecodeError('TBSCertList: crlExtensions need version v2');
      const box = parts[i++]!;
      extensions = readExtensions(tlvBytes(readSingle(box.value, 'crlExtensions')), 'crlExtensions');
    }
    if (i !== parts.length) throw new DecodeError('TBSCertList: unexpected field', parts[i]!.start);
    if (version !== 2 && entries.some((e) => e.extensions.length)) {
      throw new DecodeError('TBSCertList: entry extensions need version v2');
    }

    this.version = version;
    this.entries = entries;
    this.extensions = extensions;
    const num = extensions.find((e) => e.oid === oid.id_ce_cRLNumber);
    this.crlNumber = num ? readCrlNumber(num.value, 'cRLNumber') : undefined;
    const delta = extensions.find((e) => e.oid === oid.id_ce_deltaCRLIndicator);
    this.baseCrlNumber = delta ? readCrlNumber(delta.value, 'deltaCRLIndicator') : undefined;
    this.#bySerial = new Map();
    for (const e of entries) {
      if (this.#bySerial.has(e.serialNumber))
        throw new DecodeError(`CRL lists serial ${e.serialNumber} twice`);
      this.#bySerial.set(e.serialNumber, e);
    }
  }

  /** Parses PEM ("X509 CRL") or DER; DecodeError for anything malformed. */
  static parse(input: Uint8Array | string): ParsedCrl {
    return new ParsedCrl(derFromInput(input, ['X509 CRL'], 'CertificateList'));
  }

  get issuerText(): string {
    return formatName(this.issuer);
  }

  /** True for a delta CRL (deltaCRLIndicator present). */
  get isDelta(): boolean {
    return this.baseCrlNumber !== undefined;
  }

  get authorityKeyIdentifier(): Uint8Array | undefined {
    const e = this.extension(oid.id_ce_authorityKeyIdentifier);
    return e && readAuthorityKeyIdentifier(e.value);
  }

  /** The outer signature algorithm; throws UnsupportedError / DecodeError for unknown or malformed ones. */
  get signatureAlgorithm(): SignatureAlgorithm {
    return identifySignatureAlgorithm(this.signatureAlgorithmId);
  }

  /** RFC 5280 §5.1.1.2: signatureAlgorithm must equal TBSCertList.signature. */
  get algorithmsMatch(): boolean {
    return sameAlgorithmIdentifier(this.signatureAlgorithmId, this.innerSignatureAlgorithmId);
  }

  extension(id: string): CertExtension | undefined {
    return this.extensions.find((e) => e.oid === id);
  }

  /** The entry listing `serial`, whatever its reason (removeFromCRL included). */
  entry(serial: string | bigint): CrlEntry | undefined {
    return this.#bySerial.get(normalizeSerial(serial));
  }

  /** The entry if `serial` is revoked by this CRL (a delta's removeFromCRL entry means it is not). */
  isRevoked(serial: string | bigint): CrlEntry | undefined {
    const e = this.entry(serial);
    return e && e.reason !== 'removeFromCRL' ? e : undefined;
  }

  toPem(): string {
    return encodePem('X509 CRL', this.der);
  }
}

/** Result of verifying a CRL against its issuer. */
export type CrlVerificationResult = {
  valid: boolean;
  checks: Check[];
  /** Failed checks that count (empty when valid). */
  errors: string[];
  /** Failed checks the caller chose to tolerate (a stale CRL with `allowStale`). */
  warnings: string[];
};

export type CrlVerifyOptions = {
  /** Verification time (default: now). */
  at?: Date;
  /** Report a passed nextUpdate ('fresh' check) as a warning instead of an error. */
  allowStale?: boolean;
  /** SM2 signer ID (default "1234567812345678"). */
  sm2Id?: BytesLike;
  /** Tolerated clock difference for thisUpdate in the future, in ms (default 5 minutes). */
  clockSkewMs?: number;
};

/**
 * Verifies a CRL against the CA certificate that should have issued it: issuer name (and key identifier),
 * cRLSign, algorithm equality, the signature over the exact TBSCertList bytes, unknown critical
 * extensions, thisUpdate not in the future and nextUpdate not passed ('fresh'). Never throws.
 */
export function verifyCrl(
  crl: ParsedCrl,
  issuer: ParsedCertificate,
  opts: CrlVerifyOptions = {},
): CrlVerificationResult {
  const at = opts.at ?? new Date();
  const skew = opts.clockSkewMs ?? 5 * 60_000;
  const checks = new Checks({ tolerate: (c) => opts.allowStale === true && c.check === 'fresh' });
  try {
    const nameOk = sameBytes(crl.issuerDer, issuer.subjectDer) || namesMatch(crl.issuer, issuer.subject);
    checks.expect(
      'issuer name',
      nameOk,
      `CRL issuer ${crl.issuerText} ≠ certificate subject ${issuer.subjectText}`,
    );
    const aki = crl.authorityKeyIdentifier;
    const ski = issuer.subjectKeyIdentifier;
    if (aki && ski)
      checks.expect('authority key identifier', sameBytes(aki, ski), 'CRL AKI does not match the issuer SKI');
    const ku = issuer.keyUsage;
    checks.expect(
      'issuer key usage cRLSign',
      !ku || ku.includes('cRLSign'),
      `key usage is ${ku?.join(', ')}`,
    );
    checks.expect(
      'algorithm identifiers match',
      crl.algorithmsMatch,
      'signatureAlgorithm differs from TBSCertList.signature',
    );
    let sigOk = false;
    let sigDetail = 'signature does not verify with the issuer key';
    try {
      sigOk = verifySignature(
        issuer.publicKeyInfo,
        crl.signatureAlgorithm,
        crl.tbsDer,
        crl.signatureValue,
        opts.sm2Id === undefined ? {} : { sm2Id: opts.sm2Id },
      );
    } catch (e) {
      sigDetail = message(e);
    }
    checks.expect('signature', sigOk, sigDetail);
    const unknown = [
      ...crl.extensions.filter((e) => e.critical && !KNOWN_CRL_EXTENSIONS.has(e.oid)).map((e) => e.oid),
      ...crl.entries.flatMap((en) =>
        en.extensions.filter((e) => e.critical && !KNOWN_ENTRY_EXTENSIONS.has(e.oid)).map((e) => e.oid),
      ),
    ];
    checks.expect(
      'no unknown critical extensions',
      unknown.length === 0,
      `unknown critical: ${unknown.join(', ')}`,
    );
    checks.expect(
      'thisUpdate not in the future',
      crl.thisUpdate.getTime() <= at.getTime() + skew,
      `thisUpdate ${crl.thisUpdate.toISOString()} is after ${at.toISOString()}`,
    );
  } catch (e) {
    checks.expect('well-formed', false, message(e));
  }
  const fresh = crl.nextUpdate !== undefined && at <= crl.nextUpdate;
  checks.expect(
    'fresh',
    fresh,
    crl.nextUpdate
      ? `nextUpdate ${crl.nextUpdate.toISOString()} has passed at ${at.toISOString()}`
      : 'the CRL has no nextUpdate',
  );
  return { valid: checks.valid, checks: checks.list, errors: checks.errors, warnings: checks.warnings };
}
