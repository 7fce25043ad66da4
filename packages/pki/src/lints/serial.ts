/** Serial number lints (RFC 5280 §4.1.2.2; medsign issues ≥ 64 random bits, gm-standards.md §5.1). */

import { rawTbs } from './raw.js';
import { fail, pass, type Lint } from './types.js';

const serialOctets = (tbsDer: Uint8Array) => rawTbs(tbsDer).serialNumber.value;

/** Serial number lints, run on every certificate. */
export const serialLints: readonly Lint[] = [
  {
    name: 'e_serial_negative',
    citation: 'RFC 5280 §4.1.2.2',
    description: 'The serial number MUST be a positive integer; this one is encoded as a negative INTEGER.',
    source: 'RFC5280',
    check: (c) => ((serialOctets(c.tbsDer)[0] ?? 0) & 0x80 ? fail('serial number is negative') : pass()),
  },
  {
    name: 'e_serial_zero',
    citation: 'RFC 5280 §4.1.2.2',
    description: 'The serial number MUST be positive, so it cannot be zero.',
    source: 'RFC5280',
    check: (c) => (serialOctets(c.tbsDer).every((b) => b === 0) ? fail('serial number is 0') : pass()),
  },
  {
    name: 'e_serial_too_long',
    citation: 'RFC 5280 §4.1.2.2',
    description: 'Conforming CAs MUST NOT use serial numbers longer than 20 octets.',
    source: 'RFC5280',
    check: (c) => {
      const n = serialOctets(c.tbsDer).length;
      return n > 20 ? fail(`serial number is ${n} octets`) : pass();
    },
  },
  {
    name: 'w_serial_low_entropy',
    citation: 'CA/B Forum BR §7.1 (64 bits of CSPRNG output); gm-standards.md §5.1',
    description: 'Serial numbers shorter than 8 octets cannot hold the 64 random bits medsign issues.',
    source: 'CABF-like medsign policy',
    check: (c) => {
      const n = serialOctets(c.tbsDer).length;
      return n < 8 ? fail(`serial number is only ${n} octets`) : pass();
    },
  },
];
