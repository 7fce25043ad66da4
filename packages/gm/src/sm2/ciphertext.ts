/**
 * SM2 ciphertext layouts (gm-standards §2.6). The backends speak raw C1‖C3‖C2; these functions move
 * between that and the GM/T 0009 DER `SM2Cipher` and the legacy C1‖C2‖C3 order. The order can never be
 * guessed from the bytes, so every interface names its format.
 */

import { bigIntToBytes, bytesToBigInt, checkBytes, concatBytes, copyBytes } from '../bytes.js';
import {
  encodeOctetString,
  encodeSequence,
  encodeUnsignedInteger,
  readChildren,
  readUnsignedInteger,
  readWhole,
  TAG,
} from '../der.js';
import { DecodeError } from '../errors.js';
import { SM2_SIZE } from './curve.js';

/** `der`: GM/T 0009 SM2Cipher; `c1c3c2`: GB/T 32918.4-2016 raw order; `c1c2c3`: the legacy raw order. */
export type Sm2CiphertextFormat = 'der' | 'c1c3c2' | 'c1c2c3';

export const SM2_CIPHERTEXT_FORMATS: readonly Sm2CiphertextFormat[] = ['der', 'c1c3c2', 'c1c2c3'];

const HASH_LENGTH = 32;

/** The parts of a ciphertext. C1 is as given: 65 bytes uncompressed or 33 compressed. */
export type Sm2CiphertextParts = { c1: Uint8Array; c3: Uint8Array; c2: Uint8Array };

function c1Length(raw: Uint8Array): number {
  const prefix = raw[0];
  if (prefix === 0x04) return 1 + 2 * SM2_SIZE;
  if (prefix === 0x02 || prefix === 0x03) return 1 + SM2_SIZE;
  throw new DecodeError('SM2 ciphertext: C1 must start with 04, 02 or 03', 0);
}

/** Splits a ciphertext in the given format into its parts, without checking C1 is on the curve. */
export function parseSm2Ciphertext(ciphertext: Uint8Array, format: Sm2CiphertextFormat): Sm2CiphertextParts {
  checkBytes(ciphertext, 'ciphertext');
  if (format === 'der') {
    const seq = readWhole(ciphertext, TAG.SEQUENCE, 'SM2Cipher');
    const f = readChildren(seq.value, seq.value.byteOffset - ciphertext.byteOffset);
    if (f.length !== 4) throw new DecodeError('SM2Cipher: expected four fields');
    const x = readUnsignedInteger(f[0]!, 'SM2Cipher.XCoordinate');
    const y = readUnsignedInteger(f[1]!, 'SM2Cipher.YCoordinate');
    if (x >= 1n << 256n || y >= 1n << 256n)
      throw new DecodeError('SM2Cipher: coordinate longer than 256 bits');
    if (f[2]!.tag !== TAG.OCTET_STRING || f[2]!.value.length !== HASH_LENGTH) {
      throw new DecodeError('SM2Cipher.HASH must be a 32-byte OCTET STRING', f[2]!.start);
    }
    if (f[3]!.tag !== TAG.OCTET_STRING)
      throw new DecodeError('SM2Cipher.CipherText must be an OCTET STRING', f[3]!.start);
    const c1 = concatBytes(Uint8Array.of(4), bigIntToBytes(x, SM2_SIZE), bigIntToBytes(y, SM2_SIZE));
    return { c1, c3: copyBytes(f[2]!.value), c2: copyBytes(f[3]!.value) };
  }
  if (format !== 'c1c3c2' && format !== 'c1c2c3')
    throw new RangeError(`unknown ciphertext format ${String(format)}`);
  if (ciphertext.length === 0) throw new DecodeError('SM2 ciphertext is empty', 0);
  const l1 = c1Length(ciphertext);
  if (ciphertext.length < l1 + HASH_LENGTH)
    throw new DecodeError('SM2 ciphertext is too short', ciphertext.length);
  const c1 = copyBytes(ciphertext.subarray(0, l1));
  if (format === 'c1c3c2') {
    return {
      c1,
      c3: copyBytes(ciphertext.subarray(l1, l1 + HASH_LENGTH)),
      c2: copyBytes(ciphertext.subarray(l1 + HASH_LENGTH)),
    };
  }
  return {
    c1,
    c2: copyBytes(ciphertext.subarray(l1, ciphertext.length - HASH_LENGTH)),
    c3: copyBytes(ciphertext.subarray(ciphertext.length - HASH_LENGTH)),
  };
}

/** Encodes parts in a format. DER needs an uncompressed C1 (its x and y are separate INTEGERs). */
export function encodeSm2Ciphertext(parts: Sm2CiphertextParts, format: Sm2CiphertextFormat): Uint8Array {
  const { c1, c2, c3 } = parts;
  checkBytes(c3, 'C3', HASH_LENGTH);
  if (format === 'c1c3c2') return concatBytes(c1, c3, c2);
  if (format === 'c1c2c3') return concatBytes(c1, c2, c3);
  if (format !== 'der') throw new RangeError(`unknown ciphertext format ${String(format)}`);
  checkBytes(c1, 'C1', 1 + 2 * SM2_SIZE);
  if (c1[0] !== 4) throw new RangeError('C1 must be uncompressed to encode as DER');
  return encodeSequence(
    encodeUnsignedInteger(bytesToBigInt(c1.subarray(1, 1 + SM2_SIZE))),
    encodeUnsignedInteger(bytesToBigInt(c1.subarray(1 + SM2_SIZE))),
    encodeOctetString(c3),
    encodeOctetString(c2),
  );
}

/** Re-encodes a ciphertext from one format to another (e.g. legacy C1C2C3 → DER). */
export function convertSm2Ciphertext(
  ciphertext: Uint8Array,
  from: Sm2CiphertextFormat,
  to: Sm2CiphertextFormat,
): Uint8Array {
  return encodeSm2Ciphertext(parseSm2Ciphertext(ciphertext, from), to);
}
