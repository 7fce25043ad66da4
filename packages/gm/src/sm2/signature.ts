/**
 * SM2 signature encodings (GM/T 0009 §7.3): DER `SEQUENCE { r INTEGER, s INTEGER }` is what we emit;
 * raw r‖s (64 bytes) is accepted because vendor seals and JS front ends use it (gm-standards §2.5).
 */

import { bigIntToBytes, checkBytes, concatBytes, copyBytes } from '../bytes.js';
import { readChildren, readUnsignedInteger, readWhole, TAG } from '../der.js';
import { DecodeError } from '../errors.js';
import { SM2_SIZE } from './curve.js';

/** Minimal DER INTEGER contents for a 32-byte big-endian unsigned value (hot path: no BigInt). */
function integerBytes(v: Uint8Array): Uint8Array {
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  const body = v.subarray(i);
  return body[0]! & 0x80 ? concatBytes(Uint8Array.of(0), body) : body;
}

/** Raw r‖s (64 bytes) → DER SM2Signature. */
export function sm2SignatureToDer(raw: Uint8Array): Uint8Array {
  checkBytes(raw, 'signature', 2 * SM2_SIZE);
  const r = integerBytes(raw.subarray(0, SM2_SIZE));
  const s = integerBytes(raw.subarray(SM2_SIZE));
  // At most 2 × (2 + 33) = 70 content bytes, so the SEQUENCE length always fits the short form.
  return concatBytes(
    Uint8Array.of(TAG.SEQUENCE, 4 + r.length + s.length, TAG.INTEGER, r.length),
    r,
    Uint8Array.of(TAG.INTEGER, s.length),
    s,
  );
}

/** Strict DER SM2Signature → raw r‖s. Throws DecodeError on anything but minimal DER with r, s < 2^256. */
export function sm2SignatureFromDer(der: Uint8Array): Uint8Array {
  checkBytes(der, 'signature');
  const seq = readWhole(der, TAG.SEQUENCE, 'SM2Signature');
  const parts = readChildren(seq.value, seq.value.byteOffset - der.byteOffset);
  if (parts.length !== 2) throw new DecodeError('SM2Signature: expected two INTEGERs');
  const r = readUnsignedInteger(parts[0]!, 'SM2Signature.r');
  const s = readUnsignedInteger(parts[1]!, 'SM2Signature.s');
  if (r >= 1n << 256n || s >= 1n << 256n) throw new DecodeError('SM2Signature: INTEGER longer than 256 bits');
  return concatBytes(bigIntToBytes(r, SM2_SIZE), bigIntToBytes(s, SM2_SIZE));
}

/**
 * Accepts either form and returns raw r‖s: strict DER when the bytes parse as exactly one
 * SM2Signature, otherwise 64 bytes as raw. Throws DecodeError for anything else.
 */
export function sm2SignatureToRaw(signature: Uint8Array): Uint8Array {
  checkBytes(signature, 'signature');
  if (signature[0] === TAG.SEQUENCE) {
    try {
      return sm2SignatureFromDer(signature);
    } catch (e) {
      if (signature.length !== 2 * SM2_SIZE) throw e;
    }
  }
  if (signature.length === 2 * SM2_SIZE) return copyBytes(signature);
  throw new DecodeError(`SM2 signature must be DER or 64 raw bytes, got ${signature.length} bytes`);
}
