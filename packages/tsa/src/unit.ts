/**
 * A TSA unit: one signing key with its time-stamping certificate, a default policy and the policies it
 * accepts in requests. Units are per algorithm family (`sm2`, `rsa`, `ecdsa`) so relying parties that
 * cannot verify SM2 still get tokens they can check.
 */

import { DomainError } from '@medsign/errors';
import { oids, type ParsedCertificate, type Signer } from '@medsign/pki';

/** The unit ids medsign knows; `init` creates a unit per CA algorithm. */
export const TSA_UNIT_IDS = ['sm2', 'rsa', 'ecdsa'] as const;
export type TsaUnitId = (typeof TSA_UNIT_IDS)[number];

/**
 * medsign's default TSA policy OID, under the UUID arc 2.25 (ITU-T X.667: usable without registration).
 * A hospital that has its own policy (and OID) configures `tsa.policy` instead.
 */
export const DEFAULT_TSA_POLICY = '2.25.34255891659809415657692921209521210499';

/** What a unit is made of. */
export type TsaUnitOptions = {
  id: TsaUnitId;
  signer: Signer;
  /** The unit's certificate: EKU id-kp-timeStamping only, critical (RFC 3161 §2.3). */
  certificate: ParsedCertificate;
  /** CA certificates above it, issuing CA first; sent (without roots) when a request sets certReq. */
  chain?: readonly ParsedCertificate[];
  /** Policy written into tokens when the request names none. */
  policy: string;
  /** Further policies a request may ask for (`policy` is always accepted). */
  acceptedPolicies?: readonly string[];
};

/** A unit ready to sign. */
export type TsaUnit = {
  readonly id: TsaUnitId;
  readonly signer: Signer;
  readonly certificate: ParsedCertificate;
  /** What certReq adds after the TSA certificate: the chain without self-signed roots. */
  readonly intermediates: readonly ParsedCertificate[];
  readonly chain: readonly ParsedCertificate[];
  readonly policy: string;
  readonly acceptedPolicies: ReadonlySet<string>;
};

const OID = /^[0-2](\.(0|[1-9]\d*))+$/;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Checks and builds a unit: the signer's key must be the certificate's, the certificate must carry the
 * critical timeStamping-only EKU, and policies must be OIDs. TSA_CERTIFICATE_INVALID otherwise.
 */
export function createTsaUnit(o: TsaUnitOptions): TsaUnit {
  const bad = (why: string) => new DomainError('TSA_CERTIFICATE_INVALID', `TSA unit ${o.id}: ${why}`);
  if (!sameBytes(o.signer.publicKeyInfo, o.certificate.publicKeyInfo))
    throw bad('the signing key is not the key of its certificate');
  const eku = o.certificate.extension(oids.id_ce_extKeyUsage);
  const purposes = o.certificate.extKeyUsage ?? [];
  if (!eku || !eku.critical || purposes.length !== 1 || purposes[0] !== oids.id_kp_timeStamping)
    throw bad('the certificate needs extendedKeyUsage timeStamping only, marked critical (RFC 3161 §2.3)');
  for (const p of [o.policy, ...(o.acceptedPolicies ?? [])])
    if (!OID.test(p))
      throw new DomainError('CONFIG_INVALID', `TSA policy ${JSON.stringify(p)} is not an OID`);
  const chain = [...(o.chain ?? [])];
  return Object.freeze({
    id: o.id,
    signer: o.signer,
    certificate: o.certificate,
    chain,
    intermediates: chain.filter((c) => !sameBytes(c.subjectDer, c.issuerDer)),
    policy: o.policy,
    acceptedPolicies: new Set([o.policy, ...(o.acceptedPolicies ?? [])]),
  });
}
