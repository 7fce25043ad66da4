/** Negative DER inputs every parser must refuse (conventions §5). */

import { readTlv } from '@medsign/gm/der';

/** Malformed copies of a DER SEQUENCE: truncated, trailing bytes, indefinite length, wrong outer tag. */
export function malformed(der: Uint8Array): Record<string, Uint8Array> {
  const outer = readTlv(der, 0);
  return {
    truncated: der.subarray(0, der.length - 1),
    'trailing bytes': Buffer.concat([der, Uint8Array.of(0)]),
    'indefinite length': Buffer.concat([Uint8Array.of(0x30, 0x80), outer.value, Uint8Array.of(0, 0)]),
    'wrong outer tag': Buffer.concat([Uint8Array.of(0x31), der.subarray(1)]),
  };
}
