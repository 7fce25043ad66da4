/**
 * The 'sm2-personal' profile: a GM/T 0015 personal certificate, either the signing certificate
 * (digitalSignature/nonRepudiation) or the encryption certificate (keyEncipherment/dataEncipherment/
 * keyAgreement) of a dual-certificate pair (gm-standards.md §5.2). The 5-year ceiling and the revocation
 * pointer are medsign policy, not GM/T text.
 */

import { identifySignatureAlgorithm } from '../algorithms.js';
import type { KeyUsageName } from '../extensions.js';
import { nameAttribute } from '../name.js';
import { fail, pass, type Lint } from './types.js';

const SIGNING: readonly KeyUsageName[] = ['digitalSignature', 'nonRepudiation'];
const ENCRYPTION: readonly KeyUsageName[] = ['keyEncipherment', 'dataEncipherment', 'keyAgreement'];

/** notBefore plus five calendar years (UTC). */
function fiveYearsAfter(d: Date): Date {
  const out = new Date(d.getTime());
  out.setUTCFullYear(out.getUTCFullYear() + 5);
  return out;
}

/** Lints of the 'sm2-personal' profile (run only when that profile is asked for). */
export const sm2PersonalLints: readonly Lint[] = [
  {
    name: 'e_gm_personal_key_not_sm2',
    citation: 'GM/T 0015-2012 (SM2 certificate); gm-standards.md §5.1',
    description: 'A GM/T 0015 personal certificate certifies an SM2 key (id-ecPublicKey, sm2p256v1).',
    source: 'GMT0015',
    profile: 'sm2-personal',
    check: (c) => {
      const k = c.publicKey;
      return k.family === 'sm2' ? pass() : fail(`key is ${k.family}${k.curve ? ` ${k.curve}` : ''}`);
    },
  },
  {
    name: 'e_gm_personal_signature_not_sm3_with_sm2',
    citation: 'GM/T 0015-2012 (SM2 certificate); gm-standards.md §5.1',
    description: 'A GM/T 0015 personal certificate is signed with SM3withSM2.',
    source: 'GMT0015',
    profile: 'sm2-personal',
    check: (c) => {
      const name = identifySignatureAlgorithm(c.asn.tbsCertificate.signature).name;
      return name === 'SM3withSM2' ? pass() : fail(`signed with ${name}`);
    },
  },
  {
    name: 'e_gm_personal_key_usage',
    citation: 'GM/T 0015 dual certificates; gm-standards.md §5.2',
    description:
      'keyUsage is present and is either a signing set (digitalSignature and/or nonRepudiation) or an ' +
      'encryption set (keyEncipherment, dataEncipherment, keyAgreement), never both and nothing else.',
    source: 'GMT0015',
    profile: 'sm2-personal',
    check: (c) => {
      const ku = c.keyUsage;
      if (!ku) return fail('no keyUsage');
      const other = ku.filter((u) => !SIGNING.includes(u) && !ENCRYPTION.includes(u));
      if (other.length) return fail(`keyUsage asserts ${other.join(', ')}`);
      const signs = ku.some((u) => SIGNING.includes(u));
      const encrypts = ku.some((u) => ENCRYPTION.includes(u));
      if (signs && encrypts) return fail(`keyUsage mixes signing and encryption bits: ${ku.join(', ')}`);
      if (!signs && !encrypts) return fail('keyUsage asserts no bit');
      return pass(signs ? 'signing certificate' : 'encryption certificate');
    },
  },
  {
    name: 'e_gm_personal_common_name_missing',
    citation: 'GM/T 0015 subject (C, O, OU, CN); gm-standards.md §5.1',
    description: 'The subject of a personal certificate carries a commonName (the holder’s name).',
    source: 'GMT0015',
    profile: 'sm2-personal',
    check: (c) => (nameAttribute(c.subject, 'CN') ? pass() : fail('subject has no CN')),
  },
  {
    name: 'e_gm_personal_is_ca',
    citation: 'GM/T 0015 end-entity profile; RFC 5280 §4.2.1.9',
    description: 'A personal certificate is an end-entity certificate: basicConstraints cA is not true.',
    source: 'GMT0015',
    profile: 'sm2-personal',
    check: (c) => (c.basicConstraints?.ca === true ? fail('basicConstraints cA is true') : pass()),
  },
  {
    name: 'e_gm_personal_validity_too_long',
    citation: 'medsign policy (personal certificates at most 5 years)',
    description: 'A personal certificate is valid for at most five calendar years.',
    source: 'CABF-like medsign policy',
    profile: 'sm2-personal',
    check: (c) =>
      c.notAfter <= fiveYearsAfter(c.notBefore)
        ? pass()
        : fail(`valid ${c.notBefore.toISOString()} – ${c.notAfter.toISOString()}, more than 5 years`),
  },
  {
    name: 'w_gm_personal_no_revocation_pointer',
    citation: 'RFC 5280 §4.2.1.13, §4.2.2.1; medsign policy',
    description:
      'A personal certificate says where its status is published: cRLDistributionPoints or an AIA OCSP URL.',
    source: 'CABF-like medsign policy',
    profile: 'sm2-personal',
    check: (c) =>
      c.crlDistributionPoints.length || c.authorityInfoAccess.ocsp.length
        ? pass()
        : fail('neither cRLDistributionPoints nor an AIA OCSP URL'),
  },
];
