/** Reading DER inputs for the PKI parsers: PEM or DER in, structure checked, raw sub-structures kept. */

import { decodePemBlocks, DecodeError } from '@medsign/gm';
import { checkDerStructure, readChildren, readWhole, TAG, type Tlv } from '@medsign/gm/der';

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
