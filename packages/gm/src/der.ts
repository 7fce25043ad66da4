/**
 * The small strict-DER subset gm needs for keys, signatures and ciphertexts (SEQUENCE, INTEGER,
 * OCTET STRING, BIT STRING, OBJECT IDENTIFIER, NULL, context tags). Reading rejects indefinite and
 * non-minimal lengths, non-minimal INTEGERs and trailing bytes; full ASN.1 lives in @medsign/pki.
 */

import { bytesToBigInt, concatBytes, hexToBytes } from './bytes.js';
import { DecodeError } from './errors.js';

export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
} as const;

/** One decoded TLV: `value` is a view into the input. `end` is the offset just past it. */
export type Tlv = { tag: number; value: Uint8Array; start: number; end: number };

/** Reads one TLV at `offset` with strict DER length rules (low-tag-number form only). */
export function readTlv(input: Uint8Array, offset = 0): Tlv {
  if (offset >= input.length) throw new DecodeError('unexpected end of DER data', offset);
  const tag = input[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DecodeError('high tag numbers are not supported', offset);
  let pos = offset + 1;
  if (pos >= input.length) throw new DecodeError('missing DER length', pos);
  const first = input[pos++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else if (first === 0x80) {
    throw new DecodeError('indefinite length is not DER', pos - 1);
  } else {
    const n = first & 0x7f;
    if (n > 4) throw new DecodeError('DER length too large', pos - 1);
    if (pos + n > input.length) throw new DecodeError('truncated DER length', pos);
    if (input[pos] === 0) throw new DecodeError('non-minimal DER length', pos);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + input[pos++]!;
    if (length < 0x80) throw new DecodeError('non-minimal DER length', pos - n);
  }
  const end = pos + length;
  if (end > input.length) throw new DecodeError('truncated DER value', pos);
  return { tag, value: input.subarray(pos, end), start: offset, end };
}

/** Reads exactly one TLV that must span all of `input` and carry `tag`. */
export function readWhole(input: Uint8Array, tag: number, what: string): Tlv {
  const tlv = readTlv(input, 0);
  if (tlv.tag !== tag) throw new DecodeError(`${what}: unexpected tag 0x${tlv.tag.toString(16)}`, 0);
  if (tlv.end !== input.length) throw new DecodeError(`${what}: trailing bytes`, tlv.end);
  return tlv;
}

/** Splits the contents of a constructed value into its child TLVs. */
export function readChildren(value: Uint8Array, baseOffset = 0): Tlv[] {
  const out: Tlv[] = [];
  let pos = 0;
  while (pos < value.length) {
    let tlv: Tlv;
    try {
      tlv = readTlv(value, pos);
    } catch (e) {
      if (e instanceof DecodeError && e.offset !== undefined) {
        throw new DecodeError(e.message.replace(/ \(at offset \d+\)$/, ''), e.offset + baseOffset);
      }
      throw e;
    }
    out.push(tlv);
    pos = tlv.end;
  }
  return out;
}

/** Decodes a non-negative DER INTEGER, rejecting negative and non-minimal encodings. */
export function readUnsignedInteger(tlv: Tlv, what: string): bigint {
  if (tlv.tag !== TAG.INTEGER) throw new DecodeError(`${what}: expected INTEGER`, tlv.start);
  const v = tlv.value;
  if (v.length === 0) throw new DecodeError(`${what}: empty INTEGER`, tlv.start);
  if (v[0]! & 0x80) throw new DecodeError(`${what}: negative INTEGER`, tlv.start);
  if (v.length > 1 && v[0] === 0 && !(v[1]! & 0x80)) {
    throw new DecodeError(`${what}: non-minimal INTEGER`, tlv.start);
  }
  return bytesToBigInt(v);
}

/** Octets of the DER length field for `length`. */
function lengthOctets(length: number): number {
  let n = 1;
  if (length >= 0x80) for (let l = length; l > 0; l = Math.floor(l / 256)) n++;
  return n;
}

/** Writes tag and length at the start of `out`; returns where the contents begin. */
function writeHeader(out: Uint8Array, tag: number, length: number): number {
  out[0] = tag;
  const n = lengthOctets(length);
  if (n === 1) out[1] = length;
  else {
    out[1] = 0x80 | (n - 1);
    for (let i = n, l = length; i > 1; i--, l = Math.floor(l / 256)) out[i] = l & 0xff;
  }
  return 1 + n;
}

/**
 * Encodes one TLV over the concatenation of `parts` (one part: the contents). One allocation and one
 * copy per level: certificates, CMS and time-stamp tokens are built from many nested TLVs on hot paths.
 */
export function encodeTlvOf(tag: number, parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(1 + lengthOctets(length) + length);
  let offset = writeHeader(out, tag, length);
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Encodes one TLV. */
export function encodeTlv(tag: number, value: Uint8Array): Uint8Array {
  return encodeTlvOf(tag, [value]);
}

export function encodeSequence(...children: Uint8Array[]): Uint8Array {
  return encodeTlvOf(TAG.SEQUENCE, children);
}

/** Minimal DER INTEGER for a non-negative value. */
export function encodeUnsignedInteger(value: bigint): Uint8Array {
  if (value < 0n) throw new RangeError('INTEGER value must not be negative');
  let hex = value.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  let bytes = hexToBytes(hex);
  if (bytes[0]! & 0x80) bytes = concatBytes(Uint8Array.of(0), bytes);
  return encodeTlv(TAG.INTEGER, bytes);
}

export function encodeOctetString(value: Uint8Array): Uint8Array {
  return encodeTlv(TAG.OCTET_STRING, value);
}

/** BIT STRING with zero unused bits. */
export function encodeBitString(value: Uint8Array): Uint8Array {
  return encodeTlv(TAG.BIT_STRING, concatBytes(Uint8Array.of(0), value));
}

/** Reads a BIT STRING that must have zero unused bits (keys and signatures never have any). */
export function readBitStringBytes(tlv: Tlv, what: string): Uint8Array {
  if (tlv.tag !== TAG.BIT_STRING) throw new DecodeError(`${what}: expected BIT STRING`, tlv.start);
  if (tlv.value.length < 1 || tlv.value[0] !== 0) {
    throw new DecodeError(`${what}: BIT STRING with unused bits`, tlv.start);
  }
  return tlv.value.subarray(1);
}

const oidCache = new Map<string, Uint8Array>();

/** Encodes a dotted OID string (memoised: a program uses a few dozen OIDs, over and over). */
export function encodeOid(oid: string): Uint8Array {
  let der = oidCache.get(oid);
  if (!der) {
    der = encodeOidUncached(oid);
    if (oidCache.size < 4096) oidCache.set(oid, der);
  }
  return der.slice();
}

function encodeOidUncached(oid: string): Uint8Array {
  const arcs = oid.split('.').map((a) => BigInt(a));
  if (arcs.length < 2) throw new RangeError(`invalid OID ${oid}`);
  const body: number[] = [];
  const pushArc = (arc: bigint) => {
    const chunk: number[] = [Number(arc & 0x7fn)];
    for (let a = arc >> 7n; a > 0n; a >>= 7n) chunk.unshift(Number(a & 0x7fn) | 0x80);
    body.push(...chunk);
  };
  pushArc(arcs[0]! * 40n + arcs[1]!);
  for (const arc of arcs.slice(2)) pushArc(arc);
  return encodeTlv(TAG.OID, Uint8Array.from(body));
}

/** Decodes an OBJECT IDENTIFIER to dotted form, rejecting non-minimal arcs. */
export function readOid(tlv: Tlv, what: string): string {
  if (tlv.tag !== TAG.OID) throw new DecodeError(`${what}: expected OBJECT IDENTIFIER`, tlv.start);
  const v = tlv.value;
  if (v.length === 0 || v[v.length - 1]! & 0x80) throw new DecodeError(`${what}: malformed OID`, tlv.start);
  const arcs: bigint[] = [];
  let acc = 0n;
  let fresh = true;
  for (const b of v) {
    if (fresh && b === 0x80) throw new DecodeError(`${what}: non-minimal OID arc`, tlv.start);
    acc = (acc << 7n) | BigInt(b & 0x7f);
    fresh = !(b & 0x80);
    if (fresh) {
      arcs.push(acc);
      acc = 0n;
    }
  }
  const first = arcs.shift()!;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...arcs].join('.');
}

/**
 * Walks a whole DER encoding, descending into every constructed value, and throws DecodeError (with
 * the absolute offset) at the first indefinite, non-minimal, overrunning or trailing length. Primitive
 * contents (OCTET STRING, BIT STRING) are not descended into: what they wrap is checked by its own parser.
 */
export function checkDerStructure(input: Uint8Array, what = 'DER'): void {
  const walk = (start: number, end: number, depth: number) => {
    if (depth > 64) throw new DecodeError(`${what}: nesting too deep`, start);
    let pos = start;
    while (pos < end) {
      let tlv: Tlv;
      try {
        tlv = readTlv(input.subarray(0, end), pos);
      } catch (e) {
        if (e instanceof DecodeError)
          throw new DecodeError(`${what}: ${e.message.replace(/ \(at offset \d+\)$/, '')}`, e.offset);
        throw e;
      }
      if (tlv.tag & 0x20) walk(tlv.value.byteOffset - input.byteOffset, tlv.end, depth + 1);
      pos = tlv.end;
    }
  };
  if (input.length === 0) throw new DecodeError(`${what}: empty input`, 0);
  const first = readTlv(input, 0);
  if (first.end !== input.length)
    throw new DecodeError(`${what}: trailing bytes after the outer value`, first.end);
  walk(0, input.length, 0);
}
