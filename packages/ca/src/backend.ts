/**
 * Where certificates come from. The server and the operator CLI issue, revoke and publish status through
 * this interface only, so RA mode — fronting a licensed third-party CA over EST/CMP — is a second
 * implementation, not a rewrite. The first implementation is the embedded CA core of this package.
 */

import { issueCertificate, type CaDeps, type IssueRequest, type IssueResult } from './issue.js';
import type { CertificateRecord } from './ports.js';
import {
  answerOcsp,
  generateCrl,
  resumeCertificate,
  revokeCertificate,
  signCrl,
  type CrlRequest,
  type OcspAnswer,
  type OcspOptions,
  type RevokeRequest,
  type SignedCrl,
} from './revocation.js';

export interface CaBackend {
  /** 'embedded': this installation's CA signs; 'upstream': an external CA signs, medsign acts as its RA. */
  readonly kind: 'embedded' | 'upstream';
  /**
   * Issues (or, upstream, obtains) a certificate and stores it through the CaStore. Approving an
   * application is this same call with `applicationId`: the certificate is stored with it, which closes
   * the application in the same transaction (lifecycle.ts).
   */
  issue(req: IssueRequest): Promise<IssueResult>;
  revoke(req: RevokeRequest): Promise<CertificateRecord>;
  resume(req: { caId: string; serial: string; actor: string }): Promise<CertificateRecord>;
  crl(req: CrlRequest): Promise<Uint8Array>;
  /** A CRL with its number, times and size, for publishing (the server's CRL schedule). */
  signCrl(req: CrlRequest): Promise<SignedCrl>;
  ocsp(requestDer: Uint8Array, opts?: OcspOptions): Promise<OcspAnswer>;
}

/** The embedded CA: the core's functions over the given ports. */
export function embeddedCaBackend(deps: CaDeps): CaBackend {
  return {
    kind: 'embedded',
    issue: (req) => issueCertificate(req, deps),
    revoke: (req) => revokeCertificate(req, deps),
    resume: (req) => resumeCertificate(req, deps),
    crl: (req) => generateCrl(req, deps),
    signCrl: (req) => signCrl(req, deps),
    ocsp: (requestDer, opts) => answerOcsp(requestDer, deps, opts),
  };
}
