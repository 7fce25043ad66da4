/**
 * DER building blocks shared by the CMS (RFC 5652 / GM/T 0010) and time-stamp (RFC 3161) modules:
 * SET OF in DER order (X.690 §11.6), context tags, BOOLEAN, times (UTCTime / GeneralizedTime with the
 * RFC 3161 §2.4.2 fraction rule) and small readers over the strict TLV walker of @medsign/gm/der.
 * Internal to @medsign/pki (not re-exported from the package index).
 */

import { readChildren, readUnsignedInteger, encodeTlv, TAG, type Tlv } from '@medsign/gm/der';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { DecodeError } from './errors.js';

export const TAG_SET = 0x31;
export const TAG_BOOLEAN = 0x01;
export const TAG_UTF8STRING = 0x0c;
export const TAG_UTC_TIME = 0x17;
export const TAG_GENERALIZED_TIME = 0x18;

/** Concatenates byte arrays. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
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

/** Compares two encodings the way X.690 §11.6 orders SET OF components (shorter first on a common prefix). */
function compareEncodings(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** SET OF with its components sorted into DER order; exact duplicates are kept (a SET OF may repeat). */
export function encodeSetOf(components: readonly Uint8Array[], tag = TAG_SET): Uint8Array {
  const sorted = [...components].sort(compareEncodings);
  return encodeTlv(tag, concatBytes(...sorted));
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
  try {
    return AsnConvert.parse(tlvBytes(tlv), AlgorithmIdentifier);
  } catch (e) {
    throw new DecodeError(`${what}: ${(e as Error).message}`);
  }
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

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** UTCTime YYMMDDHHMMSSZ (seconds precision); only for 1950–2049 (RFC 5280 §4.1.2.5.1). */
export function encodeUtcTime(date: Date): Uint8Array {
  const y = date.getUTCFullYear();
  if (y < 1950 || y > 2049) throw new RangeError('UTCTime covers 1950–2049 only');
  const text =
    pad(y % 100) +
    pad(date.getUTCMonth() + 1) +
    pad(date.getUTCDate()) +
    pad(date.getUTCHours()) +
    pad(date.getUTCMinutes()) +
    pad(date.getUTCSeconds()) +
    'Z';
  return encodeTlv(TAG_UTC_TIME, new Uint8Array(Buffer.from(text, 'latin1')));
}

/**
 * GeneralizedTime YYYYMMDDHHMMSS[.fff]Z. With `fraction`, milliseconds are written without trailing
 * zeros and the dot is dropped for a whole second (RFC 3161 §2.4.2, X.690 §11.7).
 */
export function encodeGeneralizedTime(date: Date, fraction = false): Uint8Array {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw new RangeError('invalid date');
  const y = date.getUTCFullYear();
  if (y < 0 || y > 9999) throw new RangeError('GeneralizedTime year out of range');
  let text =
    pad(y, 4) +
    pad(date.getUTCMonth() + 1) +
    pad(date.getUTCDate()) +
    pad(date.getUTCHours()) +
    pad(date.getUTCMinutes()) +
    pad(date.getUTCSeconds());
  const ms = date.getUTCMilliseconds();
  if (fraction && ms !== 0) text += '.' + pad(ms, 3).replace(/0+$/, '');
  return encodeTlv(TAG_GENERALIZED_TIME, new Uint8Array(Buffer.from(text + 'Z', 'latin1')));
}

/** RFC 5652 §11.3 Time: UTCTime for 1950–2049, GeneralizedTime otherwise; whole seconds. */
export function encodeTime(date: Date): Uint8Array {
  const y = date.getUTCFullYear();
  const whole = new Date(Math.floor(date.getTime() / 1000) * 1000);
  return y >= 1950 && y <= 2049 ? encodeUtcTime(whole) : encodeGeneralizedTime(whole);
}

function utcDate(
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  ms: number,
  what: string,
) {
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
  if (
    date.getUTCFullYear() !== y ||
    date.getUTCMonth() !== mo - 1 ||
    date.getUTCDate() !== d ||
    date.getUTCHours() !== h ||
    date.getUTCMinutes() !== mi ||
    date.getUTCSeconds() !== s
  ) {
    throw new DecodeError(`${what}: not a valid date/time`);
  }
  if (y < 100) date.setUTCFullYear(y);
  return date;
}

/** A parsed time: the Date (millisecond precision) and the exact text received. */
export type ParsedTime = { date: Date; text: string };

/**
 * Reads a UTCTime or GeneralizedTime in the DER profile: UTC ("Z"), seconds present, and for
 * GeneralizedTime an optional fraction without trailing zeros. Digits beyond milliseconds are kept in
 * `text` and truncated in `date`.
 */
export function readTime(tlv: Tlv, what: string): ParsedTime {
  const text = Buffer.from(tlv.value).toString('latin1');
  if (tlv.tag === TAG_UTC_TIME) {
    const m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
    if (!m) throw new DecodeError(`${what}: malformed UTCTime "${text}"`);
    const yy = Number(m[1]);
    const n = m.slice(2).map(Number) as [number, number, number, number, number];
    return { date: utcDate(yy < 50 ? 2000 + yy : 1900 + yy, ...n, 0, what), text };
  }
  if (tlv.tag === TAG_GENERALIZED_TIME) {
    const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d*[1-9]))?Z$/.exec(text);
    if (!m)
      throw new DecodeError(
        `${what}: malformed GeneralizedTime "${text}" (DER needs seconds, "Z", no trailing zeros)`,
      );
    const n = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
    const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
    return { date: utcDate(...n, ms, what), text };
  }
  throw new DecodeError(`${what}: expected UTCTime or GeneralizedTime`);
}

/** Replaces the tag byte of an encoding (e.g. [0] IMPLICIT SET OF ⇄ SET OF, RFC 5652 §5.4). */
export function retag(encoding: Uint8Array, tag: number): Uint8Array {
  const copy = Uint8Array.from(encoding);
  copy[0] = tag;
  return copy;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b));
}
