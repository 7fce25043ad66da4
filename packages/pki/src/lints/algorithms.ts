/** Algorithm lints: outer = inner AlgorithmIdentifier (RFC 5280 §4.1.1.2), SM2 keys certified with SM3withSM2 (GM/T 0015). */

import { identifySignatureAlgorithm } from '../algorithms.js';
import { fail, na, pass, type Lint } from './types.js';

/** Signature algorithm lints (on the TBS; the signature value itself is never looked at). */
export const algorithmLints: readonly Lint[] = [
  {
    name: 'e_signature_algorithm_mismatch',
    citation: 'RFC 5280 §4.1.1.2, §4.1.2.3',
    description: 'Certificate.signatureAlgorithm MUST equal TBSCertificate.signature.',
    source: 'RFC5280',
    check: (c) =>
      c.algorithmsMatch ? pass() : fail('outer signatureAlgorithm differs from TBSCertificate.signature'),
  },
  {
    name: 'e_signature_algorithm_unsupported',
    citation: 'RFC 5280 §4.1.2.3',
    description:
      'TBSCertificate.signature names an algorithm medsign knows, with the parameters its spec allows.',
    source: 'CABF-like medsign policy',
    check: (c) => {
      try {
        return pass(identifySignatureAlgorithm(c.asn.tbsCertificate.signature).name);
      } catch (e) {
        return fail((e as Error).message);
      }
    },
  },
  {
    name: 'e_sm2_key_without_sm3_with_sm2',
    citation: 'GM/T 0015-2012 (SM2 certificate format); gm-standards.md §5.1',
    description: 'A certificate for an SM2 public key is signed with SM3withSM2 (1.2.156.10197.1.501).',
    source: 'GMT0015',
    check: (c) => {
      if (c.publicKey.family !== 'sm2') return na('not an SM2 key');
      const name = identifySignatureAlgorithm(c.asn.tbsCertificate.signature).name;
      return name === 'SM3withSM2' ? pass() : fail(`SM2 key certified with ${name}`);
    },
  },
];
