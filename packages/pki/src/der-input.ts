/** Reading DER inputs for the PKI parsers: PEM or DER in, structure checked, raw sub-structures kept. */

import { decodePemBlocks, DecodeError } from '@medsign/gm';
import { checkDerStructure, encodeTlv, readChildren, readWhole, TAG, type Tlv } from '@medsign/gm/der';

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

/** The full encoding (tag, length, value) of a TLV read from `der`. */
export function rawTlv(der: Uint8Array, tlv: Tlv): Uint8Array {
  const start = tlv.value.byteOffset - der.byteOffset - (tlv.end - tlv.start - tlv.value.length);
  return der.subarray(start, start + (tlv.end - tlv.start));
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
    pad(date.getUTCSeconds()) +
    'Z'
  );
}

/** DER GeneralizedTime in whole seconds, UTC ("YYYYMMDDHHMMSSZ"; RFC 5280 §4.1.2.5.2, RFC 6960 times). */
export function encodeGeneralizedTime(date: Date): Uint8Array {
  if (date.getUTCFullYear() > 9999 || date.getUTCFullYear() < 0) throw new RangeError('year out of range');
  return encodeTlv(0x18, new TextEncoder().encode(timeDigits(date, true)));
}

/** DER Time (RFC 5280 §4.1.2.5): UTCTime for 1950–2049, GeneralizedTime otherwise; whole seconds, UTC. */
export function encodeTime(date: Date): Uint8Array {
  const y = date.getUTCFullYear();
  if (y >= 1950 && y < 2050) return encodeTlv(0x17, new TextEncoder().encode(timeDigits(date, false)));
  return encodeGeneralizedTime(date);
}

/**
 * Reads a DER UTCTime (0x17) or GeneralizedTime (0x18) strictly: UTC "Z" form, seconds present, and
 * for GeneralizedTime an optional fraction without trailing zeros (X.690 §11.7). DecodeError otherwise.
 */
export function readTime(tlv: Tlv, what: string): Date {
  const text = Buffer.from(tlv.value).toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  let ms = 0;
  if (tlv.tag === 0x17) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
    if (!m) throw new DecodeError(`${what}: UTCTime must be YYMMDDHHMMSSZ`, tlv.start);
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (tlv.tag === 0x18) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d*[1-9]))?Z$/.exec(text);
    if (!m) throw new DecodeError(`${what}: GeneralizedTime must be YYYYMMDDHHMMSS[.f]Z`, tlv.start);
    year = Number(m[1]);
    if (m[7]) ms = Math.floor(Number(`0.${m[7]}`) * 1000);
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
  return date;
}
