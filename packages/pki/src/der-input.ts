/**
 * DER helpers shared by the PKI modules: reading inputs (PEM or DER in, structure checked, raw
 * sub-structures kept), small TLV readers and writers over the strict walker of @medsign/gm/der
 * (SET OF in DER order per X.690 §11.6, context tags, BOOLEAN, AlgorithmIdentifier) and times
 * (UTCTime / GeneralizedTime, with the RFC 3161 §2.4.2 fraction rule).
 */

import { decodePemBlocks, DecodeError } from '@medsign/gm';
import {
  checkDerStructure,
  encodeTlv,
  encodeTlvOf,
  readChildren,
  readOid,
  readUnsignedInteger,
  readWhole,
  TAG,
  type Tlv,
} from '@medsign/gm/der';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';

export const TAG_SET = 0x31;
export const TAG_BOOLEAN = 0x01;
export const TAG_UTF8STRING = 0x0c;
export const TAG_UTC_TIME = 0x17;
export const TAG_GENERALIZED_TIME = 0x18;

// --- inputs ------------------------------------------------------------------------------------------

/** Accepts DER bytes or PEM text/bytes with one of `labels`; returns DER. */
export function derFromInput(
  input: Uint8Array | string,
  labels: readonly string[],
  what: string,
): Uint8Array {
  const text =
    typeof input === 'string' ? input : looksLikePem(input) ? Buffer.from(input).toString('utf8') : undefined;
  if (text === undefined) return input as Uint8Array;
  const blocks = decodePemBlocks(text);
  const block = blocks.find((b) => labels.includes(b.label));
  if (!block) throw new DecodeError(`${what}: no PEM block labelled ${labels.join(' or ')}`);
  return block.der;
}

/** True when bytes start (after whitespace) with a PEM header. */
export function looksLikePem(bytes: Uint8Array): boolean {
  return /^\s*-----BEGIN /.test(Buffer.from(bytes.subarray(0, 100)).toString('latin1'));
}

/** Checks strict DER lengths everywhere, then splits the outer SEQUENCE into its children. */
export function outerSequence(der: Uint8Array, what: string): Tlv[] {
  checkDerStructure(der, what);
  const seq = readWhole(der, TAG.SEQUENCE, what);
  return readChildren(seq.value, seq.value.byteOffset - der.byteOffset);
}

/** Parses a schema type from exact DER, turning schema errors into DecodeError. */
export function parseAsn<T>(der: Uint8Array, type: new () => T, what: string): T {
  try {
    return AsnConvert.parse(der, type);
  } catch (e) {
    throw new DecodeError(`${what}: ${(e as Error).message}`);
  }
}

// --- TLVs --------------------------------------------------------------------------------------------

/** True when two byte strings (encodings, digests, key identifiers) are equal. Not for secrets. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b));
}

/** The complete encoding (tag, length, value) of a TLV, as a view into the bytes it was read from. */
export function tlvBytes(tlv: Tlv): Uint8Array {
  const total = tlv.end - tlv.start;
  const header = total - tlv.value.length;
  return new Uint8Array(tlv.value.buffer, tlv.value.byteOffset - header, total);
}

/** The children of a constructed TLV. */
export function childrenOf(tlv: Tlv): Tlv[] {
  return readChildren(tlv.value);
}

/** The one TLV `der` holds (an extension value, the contents of an EXPLICIT tag). */
export function readSingle(der: Uint8Array, what: string): Tlv {
  const kids = readChildren(der);
  if (kids.length !== 1) throw new DecodeError(`${what}: expected one value`);
  return kids[0]!;
}

/** Replaces the tag byte of an encoding (e.g. [0] IMPLICIT SET OF ⇄ SET OF, RFC 5652 §5.4). */
export function retag(encoding: Uint8Array, tag: number): Uint8Array {
  const copy = Uint8Array.from(encoding);
  copy[0] = tag;
  return copy;
}

/** Compares two encodings the way X.690 §11.6 orders SET OF components (shorter first on a common prefix). */
function compareEncodings(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** SET OF with its components sorted into DER order; exact duplicates are kept (a SET OF may repeat). */
export function encodeSetOf(components: readonly Uint8Array[], tag = TAG_SET): Uint8Array {
  const sorted = [...components].sort(compareEncodings);
  return encodeTlvOf(tag, sorted);
}

/** A context-specific constructed tag [n] around already-encoded contents (EXPLICIT, or IMPLICIT SET/SEQUENCE). */
export function encodeContext(n: number, contents: Uint8Array): Uint8Array {
  return encodeTlv(0xa0 | n, contents);
}

export function encodeBoolean(value: boolean): Uint8Array {
  return Uint8Array.of(TAG_BOOLEAN, 1, value ? 0xff : 0x00);
}

export function encodeUtf8String(value: string): Uint8Array {
  return encodeTlv(TAG_UTF8STRING, new Uint8Array(Buffer.from(value, 'utf8')));
}

/** DER of an AlgorithmIdentifier object. */
export function encodeAlgorithm(alg: AlgorithmIdentifier): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(alg));
}

/** Parses an AlgorithmIdentifier TLV; DecodeError if it is not one. */
export function readAlgorithm(tlv: Tlv, what: string): AlgorithmIdentifier {
  if (tlv.tag !== TAG.SEQUENCE) throw new DecodeError(`${what}: expected AlgorithmIdentifier`);
  // The common shapes — { OID } and { OID, NULL } (every hash and most signature algorithms) — without
  // the schema parser, which costs more than the rest of a time-stamp request's parsing.
  const parts = readChildren(tlv.value);
  if (
    parts[0]?.tag === TAG.OID &&
    (parts.length === 1 || (parts.length === 2 && parts[1]!.tag === 0x05 && parts[1]!.value.length === 0))
  ) {
    const algorithm = readOid(parts[0], `${what} algorithm`);
    return new AlgorithmIdentifier({
      algorithm,
      ...(parts.length === 2 ? { parameters: new Uint8Array([0x05, 0x00]).buffer } : {}),
    });
  }
  return parseAsn(tlvBytes(tlv), AlgorithmIdentifier, what);
}

/** A small non-negative INTEGER (versions, accuracy fields). */
export function readSmallInteger(tlv: Tlv, what: string): number {
  const v = readUnsignedInteger(tlv, what);
  if (v > 0xffffn) throw new DecodeError(`${what}: value out of range`);
  return Number(v);
}

/** A DER BOOLEAN (contents 0x00 or 0xFF only). */
export function readBoolean(tlv: Tlv, what: string): boolean {
  if (tlv.tag !== TAG_BOOLEAN || tlv.value.length !== 1) throw new DecodeError(`${what}: expected BOOLEAN`);
  const b = tlv.value[0];
  if (b !== 0x00 && b !== 0xff) throw new DecodeError(`${what}: BOOLEAN must be 0x00 or 0xFF in DER`);
  return b === 0xff;
}

export function readOctetString(tlv: Tlv, what: string): Uint8Array {
  if (tlv.tag !== TAG.OCTET_STRING) throw new DecodeError(`${what}: expected OCTET STRING`);
  return tlv.value;
}

// --- times -------------------------------------------------------------------------------------------

/** Throws RangeError unless `d` is a valid Date (argument checks of the builders). */
export function checkDate(d: unknown, what: string): asserts d is Date {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new RangeError(`${what} must be a valid Date`);
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function timeDigits(date: Date, fullYear: boolean): string {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw new RangeError('invalid Date');
  const y = date.getUTCFullYear();
  return (
    (fullYear ? pad(y, 4) : pad(y % 100)) +
    pad(date.getUTCMonth() + 1) +
    pad(date.getUTCDate()) +
    pad(date.getUTCHours()) +
    pad(date.getUTCMinutes()) +
    pad(date.getUTCSeconds())
  );
}

/**
 * DER GeneralizedTime, UTC: "YYYYMMDDHHMMSSZ" (RFC 5280 §4.1.2.5.2, RFC 6960 times). With `fraction`,
 * milliseconds are written without trailing zeros and the dot is dropped for a whole second
 * (RFC 3161 §2.4.2, X.690 §11.7).
 */
export function encodeGeneralizedTime(date: Date, fraction = false): Uint8Array {
  if (date.getUTCFullYear() > 9999 || date.getUTCFullYear() < 0) throw new RangeError('year out of range');
  let text = timeDigits(date, true);
  const ms = date.getUTCMilliseconds();
  if (fraction && ms !== 0) text += '.' + pad(ms, 3).replace(/0+$/, '');
  return encodeTlv(TAG_GENERALIZED_TIME, new TextEncoder().encode(text + 'Z'));
}

/** DER Time (RFC 5280 §4.1.2.5, RFC 5652 §11.3): UTCTime for 1950–2049, GeneralizedTime otherwise; whole seconds, UTC. */
export function encodeTime(date: Date): Uint8Array {
  const y = date.getUTCFullYear();
  if (y >= 1950 && y < 2050)
    return encodeTlv(TAG_UTC_TIME, new TextEncoder().encode(timeDigits(date, false) + 'Z'));
  return encodeGeneralizedTime(date);
}

/** A parsed time: the Date (millisecond precision) and the exact text received. */
export type ParsedTime = { date: Date; text: string };

/**
 * Reads a DER UTCTime (0x17) or GeneralizedTime (0x18) strictly: UTC "Z" form, seconds present, and
 * for GeneralizedTime an optional fraction without trailing zeros (X.690 §11.7). Digits beyond
 * milliseconds are kept in `text` and truncated in `date`. DecodeError otherwise.
 */
export function readTimeText(tlv: Tlv, what: string): ParsedTime {
  const text = Buffer.from(tlv.value).toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  let ms = 0;
  if (tlv.tag === TAG_UTC_TIME) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
    if (!m) throw new DecodeError(`${what}: UTCTime must be YYMMDDHHMMSSZ, is "${text}"`, tlv.start);
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (tlv.tag === TAG_GENERALIZED_TIME) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d*[1-9]))?Z$/.exec(text);
    if (!m)
      throw new DecodeError(`${what}: GeneralizedTime must be YYYYMMDDHHMMSS[.f]Z, is "${text}"`, tlv.start);
    year = Number(m[1]);
    if (m[7]) ms = Number(m[7].slice(0, 3).padEnd(3, '0'));
  } else {
    throw new DecodeError(`${what}: expected UTCTime or GeneralizedTime`, tlv.start);
  }
  const [mo, d, h, mi, s] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(year, mo - 1, d, h, mi, s, ms));
  if (year < 100) date.setUTCFullYear(year);
  if (
    date.getUTCMonth() !== mo - 1 ||
    date.getUTCDate() !== d ||
    date.getUTCHours() !== h ||
    date.getUTCMinutes() !== mi ||
    date.getUTCSeconds() !== s
  ) {
    throw new DecodeError(`${what}: time out of range`, tlv.start);
  }
  return { date, text };
}

/** readTimeText without the text: the Date of a DER UTCTime or GeneralizedTime. */
export function readTime(tlv: Tlv, what: string): Date {
  return readTimeText(tlv, what).date;
}
