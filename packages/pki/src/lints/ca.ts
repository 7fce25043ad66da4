/** CA lints: basicConstraints, keyCertSign and key usage of CA certificates (RFC 5280 §4.2.1.3, §4.2.1.9). */

import * as oid from '../oids.js';
import { nameAttributes } from '../name.js';
import { fail, na, pass, type Lint } from './types.js';

/** Lints for CA certificates and the cA ⇔ keyCertSign relation. */
export const caLints: readonly Lint[] = [
  {
    name: 'e_ca_basic_constraints_not_critical',
    citation: 'RFC 5280 §4.2.1.9',
    description: 'Conforming CAs MUST mark basicConstraints critical in CA certificates.',
    source: 'RFC5280',
    check: (c) => {
      const e = c.extension(oid.id_ce_basicConstraints);
      if (!e || c.basicConstraints?.ca !== true) return na('not a CA certificate');
      return e.critical ? pass() : fail('basicConstraints with cA true is not critical');
    },
  },
  {
    name: 'e_key_cert_sign_without_ca',
    citation: 'RFC 5280 §4.2.1.3, §4.2.1.9',
    description: 'If keyCertSign is asserted, basicConstraints cA MUST be asserted too.',
    source: 'RFC5280',
    check: (c) => {
      if (!c.keyUsage?.includes('keyCertSign')) return na('keyCertSign not asserted');
      return c.basicConstraints?.ca === true ? pass() : fail('keyCertSign without basicConstraints cA');
    },
  },
  {
    name: 'e_ca_without_key_cert_sign',
    citation: 'CA/B Forum BR §7.1.2 (CA certificate keyUsage); RFC 5280 §4.2.1.9',
    description: 'medsign CA certificates (cA true) carry keyCertSign: keyCertSign ⇔ cA.',
    source: 'CABF-like medsign policy',
    check: (c) => {
      if (c.basicConstraints?.ca !== true) return na('not a CA certificate');
      return c.keyUsage?.includes('keyCertSign') ? pass() : fail('cA true without keyCertSign');
    },
  },
  {
    name: 'e_path_len_without_ca',
    citation: 'RFC 5280 §4.2.1.9',
    description: 'pathLenConstraint MUST NOT be present unless cA is asserted and keyCertSign is set.',
    source: 'RFC5280',
    check: (c) => {
      const bc = c.basicConstraints;
      if (bc?.pathLength === undefined) return na('no pathLenConstraint');
      if (!bc.ca) return fail('pathLenConstraint with cA false');
      return c.keyUsage?.includes('keyCertSign') ? pass() : fail('pathLenConstraint without keyCertSign');
    },
  },
  {
    name: 'e_ca_key_usage_missing',
    citation: 'RFC 5280 §4.2.1.3',
    description: 'CA certificates (whose keys verify certificate signatures) MUST include keyUsage.',
    source: 'RFC5280',
    check: (c) => {
      if (c.basicConstraints?.ca !== true) return na('not a CA certificate');
      return c.extension(oid.id_ce_keyUsage) ? pass() : fail('CA certificate without keyUsage');
    },
  },
  {
    name: 'e_ca_key_usage_not_critical',
    citation: 'CA/B Forum BR §7.1.2 (CA certificate keyUsage critical); RFC 5280 §4.2.1.3 (SHOULD)',
    description: 'keyUsage in CA certificates is marked critical.',
    source: 'CABF-like medsign policy',
    check: (c) => {
      const e = c.extension(oid.id_ce_keyUsage);
      if (c.basicConstraints?.ca !== true || !e) return na();
      return e.critical ? pass() : fail('keyUsage of a CA certificate is not critical');
    },
  },
  {
    name: 'e_ca_subject_empty',
    citation: 'RFC 5280 §4.1.2.6',
    description: 'If the subject is a CA, the subject field MUST be a non-empty distinguished name.',
    source: 'RFC5280',
    check: (c) => {
      if (c.basicConstraints?.ca !== true) return na('not a CA certificate');
      return nameAttributes(c.subject).length ? pass() : fail('CA certificate with an empty subject');
    },
  },
];
