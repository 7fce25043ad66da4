/** Extended key usage lints: EKU consistent with keyUsage (RFC 5280 §4.2.1.12), TSA (RFC 3161 §2.3), OCSP. */

import type { KeyUsageName } from '../extensions.js';
import * as oid from '../oids.js';
import { fail, na, pass, type Lint } from './types.js';

/** RFC 5280 §4.2.1.12: the keyUsage bits each key purpose is consistent with (at least one must be set). */
const CONSISTENT_KEY_USAGE: Readonly<Record<string, readonly KeyUsageName[]>> = {
  [oid.id_kp_serverAuth]: ['digitalSignature', 'keyEncipherment', 'keyAgreement'],
  [oid.id_kp_clientAuth]: ['digitalSignature', 'keyAgreement'],
  [oid.id_kp_codeSigning]: ['digitalSignature'],
  [oid.id_kp_emailProtection]: ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'keyAgreement'],
  [oid.id_kp_timeStamping]: ['digitalSignature', 'nonRepudiation'],
  [oid.id_kp_OCSPSigning]: ['digitalSignature', 'nonRepudiation'],
};

const TSA_KEY_USAGE: readonly KeyUsageName[] = ['digitalSignature', 'nonRepudiation'];

/** Extended key usage lints (general consistency, TSA, OCSP responder). */
export const extKeyUsageLints: readonly Lint[] = [
  {
    name: 'e_eku_key_usage_inconsistent',
    citation: 'RFC 5280 §4.2.1.12',
    description:
      'Each extended key purpose needs a keyUsage bit consistent with it; with none, the certificate is ' +
      'usable for no purpose.',
    source: 'RFC5280',
    check: (c) => {
      const eku = c.extKeyUsage;
      const ku = c.keyUsage;
      if (!eku || !ku) return na('keyUsage or extKeyUsage absent');
      if (c.basicConstraints?.ca === true) return na('CA certificate');
      const bad = eku.filter((p) => {
        const allowed = CONSISTENT_KEY_USAGE[p];
        return allowed !== undefined && !allowed.some((u) => ku.includes(u));
      });
      return bad.length ? fail(`keyUsage ${ku.join(', ')} is inconsistent with ${bad.join(', ')}`) : pass();
    },
  },
  {
    name: 'e_tsa_eku_not_critical',
    citation: 'RFC 3161 §2.3',
    description: 'A TSA certificate’s extendedKeyUsage (id-kp-timeStamping) MUST be critical.',
    source: 'RFC3161',
    check: (c) => {
      const e = c.extension(oid.id_ce_extKeyUsage);
      if (!e || !c.extKeyUsage?.includes(oid.id_kp_timeStamping)) return na('not a TSA certificate');
      return e.critical ? pass() : fail('extKeyUsage with timeStamping is not critical');
    },
  },
  {
    name: 'e_tsa_eku_not_sole',
    citation: 'RFC 3161 §2.3',
    description: 'A TSA certificate’s extendedKeyUsage MUST hold id-kp-timeStamping only.',
    source: 'RFC3161',
    check: (c) => {
      const eku = c.extKeyUsage;
      if (!eku?.includes(oid.id_kp_timeStamping)) return na('not a TSA certificate');
      return eku.length === 1
        ? pass()
        : fail(`extKeyUsage also holds ${eku.filter((p) => p !== oid.id_kp_timeStamping).join(', ')}`);
    },
  },
  {
    name: 'e_tsa_key_usage',
    citation: 'RFC 3161 §2.3; RFC 5280 §4.2.1.12',
    description: 'A TSA key signs only: keyUsage, when present, is digitalSignature and/or nonRepudiation.',
    source: 'RFC3161',
    check: (c) => {
      if (!c.extKeyUsage?.includes(oid.id_kp_timeStamping)) return na('not a TSA certificate');
      const ku = c.keyUsage;
      if (!ku) return pass('no keyUsage');
      const other = ku.filter((u) => !TSA_KEY_USAGE.includes(u));
      if (other.length) return fail(`TSA keyUsage also asserts ${other.join(', ')}`);
      return ku.length ? pass() : fail('TSA keyUsage asserts no bit');
    },
  },
  {
    name: 'e_ocsp_signing_without_digital_signature',
    citation: 'RFC 6960 §4.2.2.2; RFC 5280 §4.2.1.12',
    description:
      'A delegated OCSP responder signs responses: keyUsage, when present, includes digitalSignature.',
    source: 'RFC6960',
    check: (c) => {
      if (!c.extKeyUsage?.includes(oid.id_kp_OCSPSigning)) return na('not an OCSP responder certificate');
      const ku = c.keyUsage;
      if (!ku) return pass('no keyUsage');
      return ku.includes('digitalSignature') ? pass() : fail(`keyUsage is ${ku.join(', ')}`);
    },
  },
];
