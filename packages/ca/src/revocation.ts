/**
 * Revocation and status publication: revoke / hold / resume certificates, build full and delta CRLs, and
 * answer OCSP requests (RFC 6960) from the CA's records. Unknown serials are answered 'unknown', never
 * guessed; a malformed request gets the `malformedRequest` status, never an exception to the caller.
 */

import { DomainError } from '@medsign/errors';
import {
  buildCrl,
  buildOcspErrorResponse,
  buildOcspResponse,
  certIdMatchesIssuer,
  freshestCrlExtension,
  ParsedOcspRequest,
  REVOCATION_REASONS,
  type OcspErrorStatus,
  type RevocationReason,
  type SingleResponseInput,
} from '@medsign/pki';
import type { CaDeps } from './issue.js';
import type { CertificateRecord, IssuingCa } from './ports.js';

const HOUR = 3_600_000;

function findCa(deps: Pick<CaDeps, 'cas'>, caId: string): IssuingCa {
  const ca = deps.cas.find((c) => c.id === caId);
  if (!ca) throw new DomainError('CA_NOT_FOUND', `no CA "${caId}"`);
  return ca;
}

/** Serial as the store keys it: lower-case hex without leading zeros. */
export function normaliseSerial(serial: string): string {
  const clean = serial.trim().toLowerCase().replace(/^0x/, '').replace(/:/g, '');
  if (!/^[0-9a-f]+$/.test(clean))
    throw new DomainError('CA_CERT_NOT_FOUND', `"${serial}" is not a hexadecimal serial number`);
  return BigInt('0x' + clean).toString(16);
}

export type RevokeRequest = { caId: string; serial: string; reason: string; actor: string };

/** Revokes (or, for certificateHold, suspends) a certificate. */
export async function revokeCertificate(req: RevokeRequest, deps: CaDeps): Promise<CertificateRecord> {
  findCa(deps, req.caId);
  if (!(req.reason in REVOCATION_REASONS) || req.reason === 'removeFromCRL') {
    throw new DomainError('CA_REASON_INVALID', `unknown revocation reason "${req.reason}"`);
  }
  const serial = normaliseSerial(req.serial);
  const record = await deps.store.getCertificate(req.caId, serial);
  if (!record) throw new DomainError('CA_CERT_NOT_FOUND', `no certificate ${serial} from CA ${req.caId}`);
  if (record.status === 'revoked')
    throw new DomainError(
      'CA_ALREADY_REVOKED',
      `certificate ${serial} was revoked on ${record.revokedAt?.toISOString()}`,
    );
  const hold = req.reason === 'certificateHold';
  if (hold && record.status === 'hold')
    throw new DomainError('CA_ALREADY_REVOKED', `certificate ${serial} is already on hold`);
  const now = deps.clock.now();
  const status = hold ? 'hold' : 'revoked';
  await deps.store.updateStatus(req.caId, serial, status, now, req.reason);
  deps.ocspCache?.invalidate(req.caId, serial);
  await deps.audit.append({
    actor: req.actor,
    action: hold ? 'cert.hold' : 'cert.revoke',
    target: `${req.caId}/${serial}`,
    detail: { reason: req.reason },
  });
  return { ...record, status, revokedAt: now, revocationReason: req.reason };
}

/** Lifts a certificateHold. */
export async function resumeCertificate(
  req: { caId: string; serial: string; actor: string },
  deps: CaDeps,
): Promise<CertificateRecord> {
  findCa(deps, req.caId);
  const serial = normaliseSerial(req.serial);
  const record = await deps.store.getCertificate(req.caId, serial);
  if (!record) throw new DomainError('CA_CERT_NOT_FOUND', `no certificate ${serial} from CA ${req.caId}`);
  if (record.status !== 'hold')
    throw new DomainError('CA_NOT_ON_HOLD', `certificate ${serial} is ${record.status}`);
  await deps.store.updateStatus(req.caId, serial, 'good');
  deps.ocspCache?.invalidate(req.caId, serial);
  await deps.audit.append({ actor: req.actor, action: 'cert.resume', target: `${req.caId}/${serial}` });
  const resumed: CertificateRecord = { ...record, status: 'good' };
  delete resumed.revokedAt;
  delete resumed.revocationReason;
  return resumed;
}

export type CrlRequest = {
  caId: string;
  /** Hours until nextUpdate (default 24). */
  validityHours?: number;
  /** Minutes until nextUpdate; wins over validityHours (delta CRLs live minutes, not days). */
  validityMinutes?: number;
  /** A delta CRL over a base CRL: entries changed since `since`. */
  delta?: { baseCrlNumber: bigint; since: Date };
  actor: string;
};

/** A signed CRL and the facts a publisher stores beside it. */
export type SignedCrl = {
  der: Uint8Array;
  crlNumber: bigint;
  /** The base CRL number of a delta CRL. */
  baseCrlNumber?: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  entries: number;
};

/** The URL a CA's delta CRLs are served at (the full CRLs' Freshest CRL extension points there). */
export function deltaCrlUrl(deps: Pick<CaDeps, 'urls'>, caId: string): string {
  return `${deps.urls.baseUrl.replace(/\/+$/, '')}/pki/crl/${caId}-delta.crl`;
}

/** Builds and signs the CA's CRL from its records (full, or delta). */
export async function generateCrl(req: CrlRequest, deps: CaDeps): Promise<Uint8Array> {
  return (await signCrl(req, deps)).der;
}

/**
 * {@link generateCrl} with the CRL's number, times and size. A full CRL carries a Freshest CRL extension
 * naming {@link deltaCrlUrl}; a delta CRL the critical deltaCRLIndicator with its base CRL number.
 */
export async function signCrl(req: CrlRequest, deps: CaDeps): Promise<SignedCrl> {
  const ca = findCa(deps, req.caId);
  const now = deps.clock.now();
  const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const nextUpdate = new Date(
    thisUpdate.getTime() +
      (req.validityMinutes !== undefined ? req.validityMinutes * 60_000 : (req.validityHours ?? 24) * HOUR),
  );
  // The number first, then the entries: of CRLs made concurrently (several processes), the one with the
  // highest number read the revocations last, so the newest CRL never misses a revocation an older one has.
  const crlNumber = await deps.store.nextCrlNumber(ca.id);
  const revoked = await deps.store.listRevoked(ca.id, req.delta?.since);
  const signer = await deps.keys.signer(ca.keyId, `crl ${crlNumber}`);
  const der = await buildCrl({
    issuer: ca.certificate,
    signer,
    thisUpdate,
    nextUpdate,
    crlNumber,
    ...(req.delta
      ? { deltaBaseCrlNumber: req.delta.baseCrlNumber }
      : { extensions: [freshestCrlExtension([deltaCrlUrl(deps, ca.id)])] }),
    entries: revoked.map((r) => ({
      serialNumber: r.serial,
      revocationDate: r.revokedAt ?? thisUpdate,
      ...(r.revocationReason ? { reason: r.revocationReason as RevocationReason } : {}),
    })),
  });
  await deps.audit.append({
    actor: req.actor,
    action: req.delta ? 'crl.delta' : 'crl.full',
    target: ca.id,
    detail: { crlNumber: crlNumber.toString(), entries: revoked.length },
  });
  return {
    der,
    crlNumber,
    ...(req.delta ? { baseCrlNumber: req.delta.baseCrlNumber } : {}),
    thisUpdate,
    nextUpdate,
    entries: revoked.length,
  };
}

export type OcspOptions = {
  /** Hours until nextUpdate in each single response (default 24). */
  validityHours?: number;
  /** Responder ID form (default byKey, the smaller one). */
  responderIdBy?: 'name' | 'key';
};

/** An OCSP answer with the statuses it carries (for metrics, so nobody re-parses the response). */
export type OcspAnswer = {
  der: Uint8Array;
  /** Each single response's certStatus, or the one responseStatus of an error response. */
  statuses: readonly string[];
  /** True when the answer came from the pre-signed cache (deps.ocspCache). */
  cached: boolean;
};

function errorAnswer(status: OcspErrorStatus): OcspAnswer {
  return { der: buildOcspErrorResponse(status), statuses: [status], cached: false };
}

/**
 * Answers one DER OCSPRequest. The CA key signs as its own responder. Never throws on request bytes: a
 * malformed request gets `malformedRequest`, a request about another CA's certificates gets 'unknown'.
 * A request for one certificate without a nonce is answered from `deps.ocspCache` when it holds a fresh
 * answer, and a newly signed good/revoked answer to such a request is put there ('unknown' never is, so
 * requests for random serials cannot fill the cache).
 */
export async function answerOcsp(
  requestDer: Uint8Array,
  deps: CaDeps,
  opts: OcspOptions = {},
): Promise<OcspAnswer> {
  let request: ParsedOcspRequest;
  try {
    request = ParsedOcspRequest.parse(requestDer);
  } catch {
    return errorAnswer('malformedRequest');
  }
  if (request.certIds.length === 0) return errorAnswer('malformedRequest');
  const now = deps.clock.now();
  const cache = request.nonce === undefined && request.certIds.length === 1 ? deps.ocspCache : undefined;
  const epoch = cache?.epoch() ?? 0;
  if (cache) {
    const hit = cache.get(request.certIds[0]!.der, now);
    if (hit) return { der: hit.der, statuses: hit.statuses, cached: true };
  }
  const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const nextUpdate = new Date(thisUpdate.getTime() + (opts.validityHours ?? 24) * HOUR);
  // One response is signed by one responder: answer for the CA that issued the first certificate asked about.
  const ca = deps.cas.find((c) => certIdMatchesIssuer(request.certIds[0]!, c.certificate));
  if (!ca) return errorAnswer('unauthorized');
  const responses: SingleResponseInput[] = [];
  for (const certId of request.certIds) {
    if (!certIdMatchesIssuer(certId, ca.certificate)) {
      responses.push({ certId, status: 'unknown', thisUpdate, nextUpdate });
      continue;
    }
    const record = await deps.store.getCertificate(ca.id, certId.serialNumber);
    if (!record) responses.push({ certId, status: 'unknown', thisUpdate, nextUpdate });
    else if (record.status === 'good') responses.push({ certId, status: 'good', thisUpdate, nextUpdate });
    else {
      responses.push({
        certId,
        status: 'revoked',
        revocationTime: record.revokedAt ?? thisUpdate,
        ...(record.revocationReason ? { reason: record.revocationReason as RevocationReason } : {}),
        thisUpdate,
        nextUpdate,
      });
    }
  }
  const signer = await deps.keys.signer(ca.keyId, 'ocsp');
  const der = await buildOcspResponse({
    issuer: ca.certificate,
    responder: { signer, certificate: ca.certificate },
    responderIdBy: opts.responderIdBy ?? 'key',
    producedAt: thisUpdate,
    responses,
    ...(request.nonce ? { nonce: request.nonce } : {}),
  });
  const statuses = responses.map((r) => r.status);
  if (cache && statuses[0] !== 'unknown') {
    const certId = request.certIds[0]!;
    cache.set(certId.der, { caId: ca.id, serial: certId.serialNumber }, { der, statuses }, now, epoch);
  }
  return { der, statuses, cached: false };
}

/** {@link answerOcsp}, the response bytes only. */
export async function respondOcsp(
  requestDer: Uint8Array,
  deps: CaDeps,
  opts: OcspOptions = {},
): Promise<Uint8Array> {
  return (await answerOcsp(requestDer, deps, opts)).der;
}
