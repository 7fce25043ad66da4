/**
 * The client side of RFC 3161 over HTTP, for hospital systems and the `medsign ts` commands: hash the
 * data, send a TimeStampReq, check that the answer is the one asked for (granted, same imprint, nonce
 * echoed, policy accepted), and verify a token later from nothing but the token, the data and the trust
 * anchors (no call to the TSA, so it works years after the service contract has ended). HTTP is the one
 * I/O here and comes in as a `fetch` (the global one by default).
 */

import { bytesToHex } from '@medsign/gm';
import {
  buildTimeStampReq,
  digest,
  parseTimeStampResp,
  verifyTimeStampToken,
  type HashName,
  type ParsedCertificate,
  type TimeStampResponse,
  type TimeStampVerifyResult,
} from '@medsign/pki';

/** Options of {@link queryTimeStamp}. */
export type TimeStampQueryOptions = {
  /** Imprint hash (default sm3; sha256 for RSA/ECDSA relying parties that cannot do SM3). */
  hash?: HashName;
  /** Ask for the TSA certificate in the token (default true: the token then verifies on its own). */
  certReq?: boolean;
  /** Ask for this policy (the TSA refuses with unacceptedPolicy if it does not offer it). */
  policy?: string;
  /** Send a random 64-bit nonce and require it back (default true). */
  nonce?: boolean;
  /** HTTP client (default: the global fetch). */
  fetch?: typeof fetch;
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
};

/** What a query returned. `token` is present only when the TSA granted the request. */
export type TimeStampQueryResult = {
  granted: boolean;
  /** The DER TimeStampResp as received. */
  response: Uint8Array;
  parsed: TimeStampResponse;
  /** The DER TimeStampToken (what to keep with the document). */
  token?: Uint8Array;
  /** Why the answer is not usable (rejected, wrong imprint or nonce, bad signature), when it is not. */
  errors: string[];
  verification?: TimeStampVerifyResult;
};

function randomNonce(): bigint {
  const b = new Uint8Array(8);
  globalThis.crypto.getRandomValues(b);
  b[0]! &= 0x7f;
  return BigInt(`0x${bytesToHex(b)}`) || 1n;
}

/**
 * Time-stamps `data` at `url` (e.g. http://127.0.0.1:8080/tsa). Resolves with the response whatever the
 * TSA said; rejects only when no RFC 3161 answer came back (network, HTTP status, not a TimeStampResp).
 * A granted answer is checked against the request: imprint, nonce, policy and the token's signature.
 */
export async function queryTimeStamp(
  url: string,
  data: Uint8Array,
  opts: TimeStampQueryOptions = {},
): Promise<TimeStampQueryResult> {
  const hash = opts.hash ?? 'sm3';
  const nonce = opts.nonce === false ? undefined : randomNonce();
  const request = buildTimeStampReq({
    hash,
    data,
    certReq: opts.certReq ?? true,
    ...(nonce !== undefined ? { nonce } : {}),
    ...(opts.policy ? { reqPolicy: opts.policy } : {}),
  });
  const doFetch = opts.fetch ?? globalThis.fetch;
  const res = await doFetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/timestamp-query', accept: 'application/timestamp-reply' },
    body: request,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
  });
  const body = new Uint8Array(await res.arrayBuffer());
  if (!res.ok) throw new Error(`TSA ${url} answered HTTP ${res.status}`);
  const parsed = parseTimeStampResp(body);
  const granted = parsed.status === 0 || parsed.status === 1;
  if (!granted || !parsed.token) {
    const why = `${parsed.statusName ?? `status ${parsed.status}`}${parsed.failInfo.length ? ` (${parsed.failInfo.join(', ')})` : ''}${parsed.statusStrings.length ? `: ${parsed.statusStrings.join('; ')}` : ''}`;
    return { granted: false, response: body, parsed, errors: [`the TSA refused: ${why}`] };
  }
  const verification = verifyTimeStampToken(parsed.token, {
    imprint: { hash, hashedMessage: digest(hash, data) },
  });
  // Without certReq the token carries no certificate, so only its content can be checked here.
  const errors =
    opts.certReq === false
      ? verification.checks
          .filter((c) => !c.ok && /imprint|well-formed|TSTInfo/.test(c.check))
          .map((c) => `${c.check}: ${c.detail ?? 'failed'}`)
      : [...verification.errors];
  if (nonce !== undefined && verification.nonce !== nonce) errors.push('the nonce was not echoed');
  if (opts.policy && verification.policy !== opts.policy)
    errors.push(`policy ${verification.policy} is not the one asked for (${opts.policy})`);
  return { granted: errors.length === 0, response: body, parsed, token: parsed.token, errors, verification };
}

/** What {@link verifyTimeStamp} checks a token against. */
export type TimeStampCheckOptions = {
  /** Trust anchors (root certificates); without them only the signature and the imprint are checked. */
  anchors?: readonly ParsedCertificate[];
  /** Further certificates (the TSA certificate when the token does not carry it, issuing CAs). */
  certificates?: readonly ParsedCertificate[];
  /** Validate the chain at this time instead of genTime. */
  at?: Date;
};

/**
 * Verifies a TimeStampToken or a whole TimeStampResp over `data`, offline: imprint, CMS signature, ESS
 * signing certificate, the TSA certificate's critical timeStamping EKU and validity at genTime, and its
 * chain to `anchors` at genTime. Never throws; `valid` and `errors` say the outcome.
 */
export function verifyTimeStamp(
  tokenOrResponse: Uint8Array,
  data: Uint8Array,
  opts: TimeStampCheckOptions = {},
): TimeStampVerifyResult {
  return verifyTimeStampToken(tokenOrResponse, {
    data,
    ...(opts.anchors ? { anchors: opts.anchors } : {}),
    ...(opts.certificates ? { certificates: opts.certificates } : {}),
    ...(opts.at ? { at: opts.at } : {}),
  });
}
