/**
 * @medsign/sdk — the typed client of the medsign signing API, for Node.js 20+ and browsers (it needs only
 * `fetch`, Web Crypto's `getRandomValues`/`randomUUID` and SM3 from @medsign/gm). Every request is signed
 * with HMAC-SM3 as docs/integration/auth.md defines (the same code as the server checks: @medsign/sign/auth).
 *
 * In a browser the application secret must not be in the page: give the client a `sign` hook instead, which
 * asks the page's own backend to sign each request (`signRequestParts` there, `backendSigner` here).
 *
 * Retries: network failures, 429 (after Retry-After) and 502/503/504 are retried with a fresh timestamp and
 * nonce. A signing request always carries an Idempotency-Key (the caller's, or a random one per call), so a
 * retry after a lost answer returns the first signature instead of signing twice.
 */

import {
  AUTH_HEADERS,
  bodyDigest,
  canonicalRequest,
  NONCE_PATTERN,
  signRequest,
  type RequestParts,
} from '@medsign/sign/auth';
import { checkWebhook, type WebhookHeaderSource } from '@medsign/sign/webhook';

export { WEBHOOK_HEADERS, type WebhookHeaderSource } from '@medsign/sign/webhook';
export {
  AUTH_HEADERS,
  bodyDigest,
  canonicalRequest,
  signRequest,
  type RequestParts,
} from '@medsign/sign/auth';
import type { TlsClientOptions } from './node-tls.js';

export { tlsFetch, type TlsClientOptions } from './node-tls.js';

export type SignatureFormat = 'p1' | 'p7-detached' | 'p7-attached';

/** Business metadata recorded with a signature (opaque ids; no patient data). */
export type SignatureMetadata = {
  system?: string;
  docType?: string;
  docId?: string;
  departmentCode?: string;
  visitRef?: string;
};

export type SignInput = {
  /** The signer's employee number. */
  signer: string;
  /** The PIN; leave it out to sign under a live signing authorisation granted to this application. */
  pin?: string;
  /** The data (bytes, or text as UTF-8) — or `digest`. */
  data?: Uint8Array | string;
  /** hex digest of the data (p7-detached only). */
  digest?: string;
  digestAlgorithm?: 'sm3' | 'sha256';
  format?: SignatureFormat;
  oids?: 'rfc5652' | 'gm';
  timestamp?: boolean;
  metadata?: SignatureMetadata;
  /** Keep the data sealed with the record, for preview and evidence (not with `digest`). */
  storeOriginal?: boolean;
};

export type SignResponse = {
  id: string;
  format: SignatureFormat;
  /** base64 */
  signature: string;
  /** PEM */
  certificate: string;
  certSerial: string;
  /** base64 TimeStampToken, or null. */
  token: string | null;
  digestAlgorithm: string;
  digest: string;
  createdAt: string;
};

export type AuthorisationInput = {
  signer: string;
  pin: string;
  /** 60 (1 hour) to 86 400 (60 days). */
  durationMinutes: number;
  /** Applications that may sign with it (default: this one). */
  apps?: string[];
};

export type Authorisation = {
  id: string;
  signer: string;
  apps: string[];
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
};

export type VerifyInput = {
  data?: Uint8Array | string;
  /** The signature bytes (P1 raw DER, or CMS DER/PEM) — or base64 text of them. */
  signature: Uint8Array | string;
  /** P1: the signer's certificate (PEM). */
  certificate?: string;
  /** P1: the RFC 3161 TimeStampToken over the signature value (bytes, or base64 text). */
  token?: Uint8Array | string;
};

export type VerifyAspect = { ok: boolean; detail?: string };

export type VerifyReportInput = {
  /**
   * The artifact to verify: bytes (DER, PEM or a signed PDF), or text (PEM) sent as UTF-8 — a certificate,
   * chain, CSR, CRL, OCSP response, CMS/PKCS#7 signature, RFC 3161 response or token, or a signed PDF.
   */
  artifact: Uint8Array | string;
  /** Detached content (CMS detached signature, time-stamp token): bytes, or text as UTF-8. */
  data?: Uint8Array | string;
  /** The PDF report's own signature: `ecdsa` (default; PDF readers verify it) or `sm2`. */
  signatureAlgorithm?: 'ecdsa' | 'sm2';
};

/** The JSON verification report (`verifyReport(…, 'json')`; also embedded in the PDF). */
export type VerificationReport = {
  type: 'medsign.verification-report';
  version: 1;
  reportId: string;
  generatedAt: string;
  issuer: { organization: string; url: string };
  artifact: { kind: string; size: number; sm3: string; sha256: string };
  data?: { size: number; sm3: string; sha256: string };
  result: {
    valid: boolean;
    fields: { key: string; value: string }[];
    checks: { check: string; ok: boolean; detail?: string; subject?: string }[];
    errors: string[];
  };
  trustAnchors: string[];
};

export type VerifyResponse = {
  valid: boolean;
  format: 'p1' | 'p7';
  signer?: { subject: string; issuer: string; serial: string; notBefore: string; notAfter: string };
  signature: VerifyAspect;
  dataIntegrity: VerifyAspect;
  chain: VerifyAspect;
  /** The certificate's status at our CA now. */
  certificateStatus: VerifyAspect & {
    status: 'good' | 'revoked' | 'hold' | 'unknown';
    revokedAt?: string;
    reason?: string;
  };
  /** Its status when it signed (time-stamp genTime, else CMS signingTime, else our record's time). */
  statusAtSigning: StatusAtSigning;
  timestamp?: VerifyAspect & { time?: string; serial?: string; tsa?: string };
  checks: { check: string; ok: boolean; detail?: string; subject?: string }[];
  errors: string[];
};

/** A certificate's status at the signing time. */
export type StatusAtSigning = VerifyAspect & {
  status: 'good' | 'revoked' | 'hold' | 'unknown' | 'expired' | 'not-yet-valid';
  time?: string;
  timeSource?: 'timestamp' | 'signingTime' | 'record';
  revokedAt?: string;
};

/** A stored original (GET /signatures/{id}/original). */
export type StoredOriginal = {
  id: string;
  size: number;
  /** base64 */
  data: string;
  digestAlgorithm: 'sm3' | 'sha256';
  digest: string;
  /** The original's digest equals the signed digest. */
  digestMatches: boolean;
};

/** A signature made on the client (USB key: SKF / PKCS#11) to be checked and recorded. */
export type PremadeInput = {
  /** The signer's employee number. */
  signer: string;
  format: SignatureFormat;
  /** The signed data (bytes, or text as UTF-8); a p7-attached signature may carry it instead. */
  data?: Uint8Array | string;
  /** The signature: P1 value (SM2 DER or r‖s as SKF returns it) or the CMS SignedData — bytes or base64 text. */
  signature: Uint8Array | string;
  /** The signer certificate, PEM (P1: required). */
  certificate?: string;
  timestamp?: boolean;
  metadata?: SignatureMetadata;
  storeOriginal?: boolean;
};

/** One statement of the evidence; its other facts depend on the statement (docs/integration/evidence.md). */
export type EvidenceStatement = {
  statement: '真实身份' | '真实意愿' | '签名未改' | '原文未改';
  label: string;
  /** null: not checked (no original stored or supplied). */
  ok: boolean | null;
  detail?: string;
  [fact: string]: unknown;
};

/** An event of the hash-chained audit log, as evidence cites it. */
export type EvidenceEventRef = { seq: number; hash: string; time: string; actor: string; action: string };

/** The evidence of a signature record (schema medsign-evidence/v1). */
export type Evidence = {
  schema: 'medsign-evidence/v1';
  reportId: string;
  generatedAt: string;
  signatureId: string;
  ok: boolean;
  record: {
    id: string;
    format: SignatureFormat;
    digestAlgorithm: string;
    digest: string;
    createdAt: string;
    metadata: SignatureMetadata;
  };
  identity: EvidenceStatement & {
    signer: { name: string; employeeNo: string; departmentCode: string } | null;
    certificate: {
      subject: string;
      issuer: string;
      serial: string;
      notBefore: string;
      notAfter: string;
      keyAlgorithm: string;
      fingerprintSha256: string;
      fingerprintSm3: string;
    };
    chain: { ok: boolean; at: string; path: { subject: string; serial: string }[]; root: string | null };
    issuingCa: { id: string; subject: string | null };
    review: { ok: boolean; method: string; summary: string; [fact: string]: unknown };
    statusAtSigning: StatusAtSigning;
    statusNow: VerifyResponse['certificateStatus'];
  };
  intent: EvidenceStatement & {
    method: 'pin' | 'authorisation' | 'usbkey' | null;
    time: string;
    authorisation?: {
      id: string;
      grantedAt?: string;
      expiresAt?: string;
      apps?: string[];
      grantedVia?: string;
      inForce: boolean | null;
      /** The grant's audit event (the PIN was entered then) and, if revoked later, the revocation's. */
      grantEvent?: EvidenceEventRef;
      revokeEvent?: EvidenceEventRef;
    };
    /** The sign job this signature was made in (the intent was shown once for the job). */
    job?: { id: string; authoriseEvent?: EvidenceEventRef };
    application: { id: string; name: string | null; systemType: string | null };
    clientIp: string | null;
    audit: {
      ok: boolean;
      seq: number | null;
      hash: string | null;
      matches: boolean;
      chainVerified: boolean;
      checked: number;
      detail?: string;
    };
  };
  signatureIntact: EvidenceStatement & { format: string; checkedOver: 'data' | 'signed-attributes' | null };
  originalIntact: EvidenceStatement & {
    source: 'supplied' | 'stored' | 'embedded' | null;
    size?: number;
    digestAlgorithm: string;
    signedDigest: string;
    digest?: string;
    sm3?: string;
    sha256?: string;
  };
  timestamp: {
    ok: boolean;
    time?: string;
    tsa?: string;
    serial?: string;
    policy?: string;
    detail?: string;
  } | null;
  verification: { id: string; url: string | null };
};

export type SignatureRecord = {
  id: string;
  appId: string;
  signer: string;
  caId: string;
  certSerial: string;
  format: SignatureFormat;
  digestAlgorithm: string;
  digest: string;
  signature: string;
  token: string | null;
  metadata: SignatureMetadata;
  createdAt: string;
};

export type SignatureSearch = {
  signer?: string;
  department?: string;
  app?: string;
  docType?: string;
  docId?: string;
  /** Fuzzy text: part of the employee number, signer name, document id/type, visit reference or record id. */
  q?: string;
  /** ISO-8601 date-times. */
  from?: string;
  to?: string;
  limit?: number;
  offset?: number;
};

/** One document of a sign job. */
export type SignJobDocumentInput = {
  /** The hospital system's id of the document, unique in the job. */
  businessId: string;
  /** The data (bytes, or text as UTF-8) — or `digest`. */
  data?: Uint8Array | string;
  digest?: string;
  digestAlgorithm?: 'sm3' | 'sha256';
} & SignatureMetadata;

export type SignJobInput = {
  signer: string;
  /** Signs at once; leave out to use a live authorisation, or to authorise later (`authoriseSignJob`). */
  pin?: string;
  format?: SignatureFormat;
  oids?: 'rfc5652' | 'gm';
  timestamp?: boolean;
  /** Metadata common to every document (a document's own fields take precedence). */
  metadata?: SignatureMetadata;
  documents: SignJobDocumentInput[];
  /** http(s) URL that gets an HMAC-SM3 signed webhook when the job ends (check it with `verifyWebhook`). */
  callbackUrl?: string;
};

export type SignJobState =
  'awaiting-authorisation' | 'signing' | 'completed' | 'completed-with-errors' | 'expired' | 'cancelled';

/** One document's outcome. */
export type SignJobResult = {
  businessId: string;
  state: 'pending' | 'signed' | 'failed';
  signatureId: string | null;
  errorCode: string | null;
  errorDetail: string | null;
  /** With `include: 'signature'`: base64 signature, token and hex digest. */
  signature?: string;
  token?: string | null;
  digest?: string;
};

export type SignJob = {
  id: string;
  state: SignJobState;
  signer: string;
  format: SignatureFormat;
  oids: 'rfc5652' | 'gm';
  timestamp: boolean;
  metadata: SignatureMetadata;
  callbackUrl: string | null;
  /** `pin` or `authorisation`; null while awaiting. */
  authorisation: string | null;
  documents: number;
  pending: number;
  signed: number;
  failed: number;
  createdAt: string;
  updatedAt: string;
  expiresAt: string;
  authorisedAt: string | null;
  completedAt: string | null;
  /** The signer's certificate (PEM): P1 signatures verify with it. */
  certificate?: string;
  webhook: {
    state: 'none' | 'pending' | 'delivered' | 'failed';
    deliveryId: string | null;
    attempts: {
      attempt: number;
      at: string;
      status: number | null;
      error: string | null;
      durationMs: number;
    }[];
  } | null;
  /** The first 100 documents' results in request order (`signJobResults` pages through all). */
  results: SignJobResult[];
};

/** The body of a sign-job webhook. */
export type SignJobWebhook = {
  type: 'sign-job.finished';
  deliveryId: string;
  job: {
    id: string;
    state: SignJobState;
    signer: string;
    documents: number;
    signed: number;
    failed: number;
    createdAt: string;
    completedAt: string | null;
  };
};

const FINISHED_JOB_STATES: readonly SignJobState[] = [
  'completed',
  'completed-with-errors',
  'expired',
  'cancelled',
];

/**
 * Checks a sign-job webhook as received: the headers X-Medsign-Webhook-Id, -Timestamp and -Signature, the
 * timestamp within `toleranceSeconds` (default 300) of now, and the HMAC-SM3 signature over the exact body
 * bytes with the application's secret. Pass the raw body (before any JSON parsing). True when it verified.
 */
export function verifyWebhook(
  headers: WebhookHeaderSource,
  body: Uint8Array | string,
  secret: string,
  options: { toleranceSeconds?: number; now?: () => number } = {},
): boolean {
  return checkWebhook(headers, body, secret, {
    ...(options.toleranceSeconds !== undefined ? { toleranceSeconds: options.toleranceSeconds } : {}),
    nowSeconds: Math.floor((options.now?.() ?? Date.now()) / 1000),
  }).ok;
}

/** An RFC 9457 problem answered by the server; `code` is a medsign error code (docs/errors.md). */
export class MedsignApiError extends Error {
  override readonly name = 'MedsignApiError';
  readonly status: number;
  readonly code: string | undefined;
  readonly detail: string | undefined;
  /** The request id to quote to the hospital's administrator. */
  readonly requestId: string | undefined;

  constructor(
    status: number,
    problem: { code?: string; detail?: string; title?: string; instance?: string },
  ) {
    super(`${problem.code ?? `HTTP ${status}`}: ${problem.detail ?? problem.title ?? 'request failed'}`);
    this.status = status;
    this.code = problem.code;
    this.detail = problem.detail;
    this.requestId = problem.instance;
  }
}

/** A request to be signed: the parts the signature covers, and the exact body text (undefined: no body). */
export type SignableRequest = RequestParts & { body: string | undefined };

/**
 * Signs a request without the secret in this process: gets the canonical string (docs/integration/auth.md)
 * and the request it stands for, answers the lower-case hex HMAC-SM3 signature (normally from a backend that
 * checks the request against its own rules and calls {@link signRequestParts}).
 */
export type RequestSigner = (canonical: string, request: SignableRequest) => Promise<string>;

const HEX64 = /^[0-9a-f]{64}$/;
const METHODS = new Set(['GET', 'POST', 'DELETE']);

/**
 * Backend side of the `sign` hook: checks that `request` is a well-formed signing-API request (method, a path
 * under /api/v1/, whole-second timestamp, nonce, and a body digest that matches `body`) and returns its
 * signature under `secret`. Check your own rules first (which paths, which signer the logged-in user may
 * act for — the body is there to read), and the application id, before calling it.
 */
export function signRequestParts(secret: string, request: SignableRequest): string {
  const { method, path, timestamp, nonce: n, appId, body } = request;
  if (typeof method !== 'string' || !METHODS.has(method))
    throw new TypeError('method must be GET, POST or DELETE');
  if (typeof path !== 'string' || !path.startsWith('/api/v1/') || /[\s#]/.test(path))
    throw new TypeError('path must be a signing-API path (/api/v1/…)');
  if (!Number.isSafeInteger(timestamp) || timestamp <= 0)
    throw new TypeError('timestamp must be Unix seconds');
  if (typeof n !== 'string' || !NONCE_PATTERN.test(n))
    throw new TypeError('nonce must match [A-Za-z0-9_-]{16,64}');
  if (typeof appId !== 'string' || appId === '') throw new TypeError('appId is required');
  if (body !== undefined && typeof body !== 'string') throw new TypeError('body must be text or undefined');
  const digest = bodyDigest(body);
  if (request.bodyDigest !== undefined && request.bodyDigest !== digest)
    throw new TypeError('bodyDigest does not match the body');
  return signRequest(secret, { method, path, bodyDigest: digest, timestamp, nonce: n, appId });
}

/**
 * A `sign` hook for a web page: POSTs each {@link SignableRequest} as JSON to `endpoint` (the page's own
 * backend, with the user's session cookie) and takes the `signature` of the JSON answer.
 */
export function backendSigner(
  endpoint: string,
  init: {
    headers?: Record<string, string>;
    credentials?: 'omit' | 'same-origin' | 'include';
    fetch?: typeof fetch;
  } = {},
): RequestSigner {
  const f = init.fetch ?? ((...args: Parameters<typeof fetch>) => fetch(...args));
  return async (_canonical, request) => {
    const response = await f(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...init.headers },
      credentials: init.credentials ?? 'same-origin',
      body: JSON.stringify(request),
    });
    if (!response.ok) throw new Error(`the signing backend answered HTTP ${response.status}`);
    const { signature } = (await response.json()) as { signature?: unknown };
    if (typeof signature !== 'string' || !HEX64.test(signature))
      throw new Error('the signing backend answered no signature');
    return signature;
  };
}

export type ClientOptions = {
  /** Base URL of the server, e.g. http://medsign.hospital.local:8080 */
  url: string;
  /** The application id (HMAC-SM3); not needed with a client certificate (`tls.cert` + `tls.key`). */
  appId?: string;
  /** The application secret (Node.js, servers). Never put it in a web page: use `sign` there. */
  appSecret?: string;
  /** Signs each request instead of `appSecret` (e.g. {@link backendSigner}); at most one of the two. */
  sign?: RequestSigner;
  /**
   * Node.js only: TLS options for an https:// server — our CA to trust (`ca`), and for mTLS the client
   * certificate and key bound to the application. With `cert`/`key` and no secret or hook, requests carry no
   * HMAC signature, only a timestamp and nonce (replay protection). Ignored by `fetch` if you pass your own.
   */
  tls?: TlsClientOptions;
  /** Retries after the first attempt (default 2). */
  retries?: number;
  /** Per-attempt timeout (default 30 s). */
  timeoutMs?: number;
  /** Longest wait between attempts, also caps Retry-After (default 5 s). */
  maxBackoffMs?: number;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Unix milliseconds (tests). */
  now?: () => number;
};

const RETRY_STATUSES = new Set([429, 502, 503, 504]);
const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

function base64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

function toBase64(value: Uint8Array | string, text: 'utf8' | 'base64'): string {
  if (typeof value !== 'string') return base64(value);
  return text === 'base64' ? value : base64(new TextEncoder().encode(value));
}

/** A random UUID v4; randomUUID exists only in secure contexts (https, localhost), getRandomValues always. */
function uuid(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const x = Array.from(b, (v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

function nonce(): string {
  const b = new Uint8Array(18);
  crypto.getRandomValues(b);
  return base64(b).replace(/\+/g, '-').replace(/\//g, '_');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The signing API client. */
export class MedsignClient {
  readonly #o: Required<Omit<ClientOptions, 'fetch' | 'now' | 'appId' | 'appSecret' | 'sign' | 'tls'>> & {
    fetch: typeof fetch;
    now: () => number;
    /** HMAC-SM3 request signing — with the secret, or through the caller's hook; absent for an mTLS client. */
    hmac?: { appId: string; sign: (parts: RequestParts, body: string | undefined) => Promise<string> };
  };

  constructor(options: ClientOptions) {
    const mtls = Boolean(options.tls?.cert && options.tls.key);
    const { appSecret, sign } = options;
    if (!options.url) throw new TypeError('url is required');
    if (appSecret && sign)
      throw new TypeError('give exactly one of appSecret (Node.js) or sign (a signing hook), not both');
    if (!appSecret && !sign && !mtls)
      throw new TypeError(
        'give exactly one of appSecret (Node.js) or sign (a signing hook, e.g. in a browser) — or a TLS client certificate and key',
      );
    if ((appSecret || sign) && !options.appId)
      throw new TypeError('appId is required with appSecret or sign');
    let tlsFetcher: Promise<typeof fetch> | undefined;
    const tls = options.tls;
    this.#o = {
      url: options.url.replace(/\/+$/, ''),
      ...(options.appId && (appSecret || sign)
        ? {
            hmac: {
              appId: options.appId,
              sign: appSecret
                ? async (parts: RequestParts) => signRequest(appSecret, parts)
                : async (parts: RequestParts, body: string | undefined) =>
                    sign!(canonicalRequest(parts), { ...parts, body }),
            },
          }
        : {}),
      retries: options.retries ?? 2,
      timeoutMs: options.timeoutMs ?? 30_000,
      maxBackoffMs: options.maxBackoffMs ?? 5_000,
      fetch:
        options.fetch ??
        (tls
          ? async (...args) =>
              (await (tlsFetcher ??= import('./node-tls.js').then((m) => m.tlsFetch(tls))))(...args)
          : (...args) => fetch(...args)),
      now: options.now ?? (() => Date.now()),
    };
  }

  /** Signs a document; retries reuse `idempotencyKey` (a random one when not given). */
  sign(input: SignInput, opts: { idempotencyKey?: string } = {}): Promise<SignResponse> {
    const { data, ...rest } = input;
    const body = { ...rest, ...(data !== undefined ? { data: toBase64(data, 'utf8') } : {}) };
    return this.#call<SignResponse>('POST', '/api/v1/sign', body, opts.idempotencyKey ?? uuid());
  }

  /** The signer grants a time-boxed signing authorisation (with the PIN, once). */
  authorise(input: AuthorisationInput): Promise<Authorisation> {
    return this.#call<Authorisation>('POST', '/api/v1/authorisations', input);
  }

  /** Revokes a signing authorisation that names this application. */
  revokeAuthorisation(id: string): Promise<Authorisation> {
    return this.#call<Authorisation>('DELETE', `/api/v1/authorisations/${encodeURIComponent(id)}`);
  }

  /** Verifies a P1 (with `certificate`) or P7 signature. */
  verify(input: VerifyInput): Promise<VerifyResponse> {
    return this.#call<VerifyResponse>('POST', '/api/v1/verify', {
      signature: toBase64(input.signature, 'base64'),
      ...(input.data !== undefined ? { data: toBase64(input.data, 'utf8') } : {}),
      ...(input.certificate !== undefined ? { certificate: input.certificate } : {}),
      ...(input.token !== undefined ? { token: toBase64(input.token, 'base64') } : {}),
    });
  }

  /**
   * Verifies any artifact against the server's CAs and returns the verification report: a signed PDF
   * (Chinese/English, PAdES, the JSON embedded) by default, or the same report as JSON with `'json'`.
   */
  verifyReport(input: VerifyReportInput, format: 'json'): Promise<VerificationReport>;
  verifyReport(input: VerifyReportInput, format?: 'pdf'): Promise<Uint8Array>;
  async verifyReport(
    input: VerifyReportInput,
    format: 'pdf' | 'json' = 'pdf',
  ): Promise<Uint8Array | VerificationReport> {
    const body = {
      artifact: toBase64(input.artifact, 'utf8'),
      ...(input.data !== undefined ? { data: toBase64(input.data, 'utf8') } : {}),
      ...(input.signatureAlgorithm ? { signatureAlgorithm: input.signatureAlgorithm } : {}),
      format,
    };
    if (format === 'json') return this.#call<VerificationReport>('POST', '/api/v1/verify/report', body);
    const response = await this.#call<Response>(
      'POST',
      '/api/v1/verify/report',
      body,
      undefined,
      'application/pdf',
    );
    return new Uint8Array(await response.arrayBuffer());
  }

  /** Searches signature records, newest first. */
  signatures(query: SignatureSearch = {}): Promise<{ total: number; items: SignatureRecord[] }> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return this.#call('GET', `/api/v1/signatures${qs ? `?${qs}` : ''}`);
  }

  /**
   * The matching records as CSV (UTF-8 with BOM, newest first) or, with `{ format: 'xlsx' }`, as an Excel
   * workbook (the same columns). Returns the Response so a large export is read as a stream
   * (`response.body`), not held in memory.
   */
  exportSignatures(
    query: Omit<SignatureSearch, 'limit' | 'offset'> = {},
    opts: { format?: 'csv' | 'xlsx' } = {},
  ): Promise<Response> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    const format = opts.format ?? 'csv';
    if (format !== 'csv' && format !== 'xlsx') throw new TypeError('format must be csv or xlsx');
    return this.#call(
      'GET',
      `/api/v1/signatures/export.${format}${qs ? `?${qs}` : ''}`,
      undefined,
      undefined,
      format === 'csv' ? 'text/csv' : XLSX_TYPE,
    );
  }

  /** One signature record. */
  signature(id: string): Promise<SignatureRecord> {
    return this.#call('GET', `/api/v1/signatures/${encodeURIComponent(id)}`);
  }

  /**
   * Records a signature made on the client with a USB key after the server checked it (signature,
   * certificate from our CA and good, issued to the signer); retries reuse `idempotencyKey`.
   */
  recordPremade(input: PremadeInput, opts: { idempotencyKey?: string } = {}): Promise<SignResponse> {
    const { data, signature, ...rest } = input;
    return this.#call<SignResponse>(
      'POST',
      '/api/v1/signatures',
      {
        ...rest,
        signature: toBase64(signature, 'base64'),
        ...(data !== undefined ? { data: toBase64(data, 'utf8') } : {}),
      },
      opts.idempotencyKey ?? uuid(),
    );
  }

  /**
   * The evidence of a signature record (JSON). With `data` (an original you hold), 原文未改 is checked
   * against it instead of the stored original.
   */
  evidence(id: string, opts: { data?: Uint8Array | string } = {}): Promise<Evidence> {
    const path = `/api/v1/signatures/${encodeURIComponent(id)}`;
    return opts.data === undefined
      ? this.#call('GET', `${path}/evidence.json`)
      : this.#call('POST', `${path}/evidence`, { data: toBase64(opts.data, 'utf8') });
  }

  /**
   * The evidence report of a signature record as a PDF (Chinese with English labels, evidence.json
   * embedded), signed by the platform (PAdES) and time-stamped — with the ECDSA report key (default; PDF
   * readers verify it) or, `signatureAlgorithm: 'sm2'`, the SM2 one.
   */
  async evidencePdf(id: string, opts: { signatureAlgorithm?: 'ecdsa' | 'sm2' } = {}): Promise<Uint8Array> {
    const qs = opts.signatureAlgorithm ? `?signatureAlgorithm=${opts.signatureAlgorithm}` : '';
    const response = await this.#call<Response>(
      'GET',
      `/api/v1/signatures/${encodeURIComponent(id)}/evidence.pdf${qs}`,
      undefined,
      undefined,
      'application/pdf',
    );
    return new Uint8Array(await response.arrayBuffer());
  }

  /** The stored original of a record (signed with `storeOriginal`); the read is audited. */
  original(id: string): Promise<StoredOriginal> {
    return this.#call('GET', `/api/v1/signatures/${encodeURIComponent(id)}/original`);
  }

  /**
   * Creates a sign job; retries reuse `idempotencyKey` (a random one when not given), so a lost answer
   * never makes a second job.
   */
  createSignJob(input: SignJobInput, opts: { idempotencyKey?: string } = {}): Promise<SignJob> {
    const body = {
      ...input,
      documents: input.documents.map(({ data, ...rest }) => ({
        ...rest,
        ...(data !== undefined ? { data: toBase64(data, 'utf8') } : {}),
      })),
    };
    return this.#call<SignJob>('POST', '/api/v1/sign-jobs', body, opts.idempotencyKey ?? uuid());
  }

  /** Authorises a job awaiting authorisation: with the PIN, or without under a live authorisation. */
  authoriseSignJob(id: string, pin?: string): Promise<SignJob> {
    return this.#call<SignJob>(
      'POST',
      `/api/v1/sign-jobs/${encodeURIComponent(id)}/authorise`,
      pin !== undefined ? { pin } : {},
    );
  }

  /** A job: state, counts, the first results. */
  getSignJob(id: string): Promise<SignJob> {
    return this.#call<SignJob>('GET', `/api/v1/sign-jobs/${encodeURIComponent(id)}`);
  }

  /** Cancels a job that awaits authorisation. */
  cancelSignJob(id: string): Promise<SignJob> {
    return this.#call<SignJob>('DELETE', `/api/v1/sign-jobs/${encodeURIComponent(id)}`);
  }

  /** One page of a job's per-document results (in request order). */
  signJobResults(
    id: string,
    query: {
      offset?: number;
      limit?: number;
      state?: 'pending' | 'signed' | 'failed';
      include?: 'signature';
    } = {},
  ): Promise<{ total: number; offset: number; items: SignJobResult[] }> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return this.#call('GET', `/api/v1/sign-jobs/${encodeURIComponent(id)}/results${qs ? `?${qs}` : ''}`);
  }

  /**
   * Polls a job until it leaves `signing` (or, with `untilFinished`, any non-terminal state) or `timeoutMs`
   * passes (then the last state is returned). Prefer the webhook for long jobs.
   */
  async waitForSignJob(
    id: string,
    opts: { intervalMs?: number; timeoutMs?: number; untilFinished?: boolean } = {},
  ): Promise<SignJob> {
    const interval = opts.intervalMs ?? 1000;
    const deadline = this.#o.now() + (opts.timeoutMs ?? 120_000);
    for (;;) {
      const job = await this.getSignJob(id);
      const done = opts.untilFinished ? FINISHED_JOB_STATES.includes(job.state) : job.state !== 'signing';
      if (done || this.#o.now() >= deadline) return job;
      await sleep(interval);
    }
  }

  async #call<T>(
    method: string,
    path: string,
    json?: unknown,
    idempotencyKey?: string,
    /** The media type of a raw (streamed) answer: the Response is returned as is. */
    raw?: string,
  ): Promise<T> {
    const body = json === undefined ? undefined : JSON.stringify(json);
    const digest = bodyDigest(body);
    for (let attempt = 0; ; attempt++) {
      const timestamp = Math.floor(this.#o.now() / 1000);
      const n = nonce();
      const hmac = this.#o.hmac;
      const headers: Record<string, string> = {
        [AUTH_HEADERS.timestamp]: String(timestamp),
        [AUTH_HEADERS.nonce]: n,
        // Without a secret or hook (mTLS) the TLS client certificate authenticates; timestamp and nonce still go.
        ...(hmac
          ? {
              [AUTH_HEADERS.appId]: hmac.appId,
              [AUTH_HEADERS.signature]: await hmac.sign(
                { method, path, bodyDigest: digest, timestamp, nonce: n, appId: hmac.appId },
                body,
              ),
            }
          : {}),
        accept: raw ?? 'application/json',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
      };
      const last = attempt >= this.#o.retries;
      let response: Response;
      // The timeout covers the answer's headers; a streamed export may then take as long as it takes.
      const abort = new AbortController();
      const timer = setTimeout(
        () => abort.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
        this.#o.timeoutMs,
      );
      try {
        response = await this.#o.fetch(this.#o.url + path, {
          method,
          headers,
          ...(body !== undefined ? { body } : {}),
          signal: abort.signal,
        });
      } catch (e) {
        clearTimeout(timer);
        if (last) throw e;
        await sleep(this.#backoff(attempt));
        continue;
      }
      if (response.ok && raw) {
        clearTimeout(timer);
        return response as T;
      }
      try {
        if (response.ok) return (await response.json()) as T;
      } finally {
        if (response.ok) clearTimeout(timer);
      }
      if (!last && RETRY_STATUSES.has(response.status)) {
        clearTimeout(timer);
        const after = Number(response.headers.get('retry-after'));
        await response.body?.cancel();
        await sleep(
          Number.isFinite(after) && after > 0
            ? Math.min(after * 1000, this.#o.maxBackoffMs)
            : this.#backoff(attempt),
        );
        continue;
      }
      let problem: Record<string, string> = {};
      try {
        problem = (await response.json()) as Record<string, string>;
      } catch {
        // not a problem document (a proxy's error page): the status says enough
      } finally {
        clearTimeout(timer);
      }
      throw new MedsignApiError(response.status, problem);
    }
  }

  #backoff(attempt: number): number {
    return Math.min(this.#o.maxBackoffMs, 200 * 2 ** attempt);
  }
}
