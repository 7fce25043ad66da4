/** Key identifier lints (RFC 5280 §4.2.1.1, §4.2.1.2). */

import * as oid from '../oids.js';
import { fail, na, pass, type Lint } from './types.js';

/** Authority and subject key identifier lints. */
export const keyIdentifierLints: readonly Lint[] = [
  {
    name: 'e_aki_missing',
    citation: 'RFC 5280 §4.2.1.1',
    description:
      'authorityKeyIdentifier MUST be present except in self-signed certificates (self-issued is taken as ' +
      'self-signed here: lints cannot rely on the signature).',
    source: 'RFC5280',
    check: (c) => {
      if (c.isSelfIssued) return na('self-issued');
      return c.extension(oid.id_ce_authorityKeyIdentifier) ? pass() : fail('no authorityKeyIdentifier');
    },
  },
  {
    name: 'e_aki_no_key_identifier',
    citation: 'RFC 5280 §4.2.1.1',
    description: 'The keyIdentifier field of authorityKeyIdentifier MUST be included.',
    source: 'RFC5280',
    check: (c) => {
      if (!c.extension(oid.id_ce_authorityKeyIdentifier)) return na('no authorityKeyIdentifier');
      return c.authorityKeyIdentifier?.length ? pass() : fail('authorityKeyIdentifier without keyIdentifier');
    },
  },
  {
    name: 'e_aki_critical',
    citation: 'RFC 5280 §4.2.1.1',
    description: 'authorityKeyIdentifier MUST be non-critical.',
    source: 'RFC5280',
    check: (c) => {
      const e = c.extension(oid.id_ce_authorityKeyIdentifier);
      if (!e) return na();
      return e.critical ? fail('authorityKeyIdentifier is critical') : pass();
    },
  },
  {
    name: 'e_ca_ski_missing',
    citation: 'RFC 5280 §4.2.1.2',
    description: 'subjectKeyIdentifier MUST appear in all CA certificates.',
    source: 'RFC5280',
    check: (c) => {
      if (c.basicConstraints?.ca !== true) return na('not a CA certificate');
      return c.subjectKeyIdentifier?.length ? pass() : fail('CA certificate without subjectKeyIdentifier');
    },
  },
  {
    name: 'w_ee_ski_missing',
    citation: 'RFC 5280 §4.2.1.2',
    description: 'subjectKeyIdentifier SHOULD be included in end-entity certificates.',
    source: 'RFC5280',
    check: (c) => {
      if (c.basicConstraints?.ca === true) return na('CA certificate');
      return c.extension(oid.id_ce_subjectKeyIdentifier) ? pass() : fail('no subjectKeyIdentifier');
    },
  },
  {
    name: 'e_ski_critical',
    citation: 'RFC 5280 §4.2.1.2',
    description: 'subjectKeyIdentifier MUST be non-critical.',
    source: 'RFC5280',
    check: (c) => {
      const e = c.extension(oid.id_ce_subjectKeyIdentifier);
      if (!e) return na();
      return e.critical ? fail('subjectKeyIdentifier is critical') : pass();
    },
  },
];
