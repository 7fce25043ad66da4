/**
 * The signing API of the `sign` role under /api/v1, called by hospital systems: sign, verify, read the
 * signature records, and grant/revoke time-boxed signing authorisations. Every request is HMAC-SM3 signed by a registered application (docs/integration/auth.md);
 * the check runs before the body is validated, over the exact body bytes. `Idempotency-Key` on /sign makes a
 * retried request answer the first one's signature instead of signing twice. Routes translate HTTP to the
 * @medsign/sign core only; every rule lives there.
 */

import { Readable } from 'node:stream';
import { DomainError } from '@medsign/errors';
import { bytesToHex, encodePem, sm3 } from '@medsign/gm';
import {
  AUTH_HEADERS,
  authenticateCertificate,
  authenticateRequest,
  AUTHORISATION_MINUTES,
  grantAuthorisation,
  revokeAuthorisation,
  type AuthorisationRecord,
  type GrantRequest,
  bodyDigest,
  IDEMPOTENCY_HEADER,
  RateLimitedError,
  readOriginal,
  buildEvidence,
  recordPremadeSignature,
  type PremadeRequest,
  type SignResult,
  signDocument,
  SIGNATURE_FORMATS,
  verifyDocument,
  type AppView,
  type Operation,
  type SignatureRecord,
  type SignRequest,
  type VerifyRequest,
} from '@medsign/sign';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { evidenceReportDocument } from '../evidence-report.js';
import type { Services } from '../services.js';
import type { Metrics } from './observability.js';
import { xlsxStream } from '../xlsx.js';
import { peerCertificate } from './mtls.js';
import { binaryResponse } from './schemas.js';
import {
  base64BodyLimit,
  docTypeProperty,
  formatProperty,
  idempotencyHeaders,
  idParams,
  metaField,
  oidsProperty,
  pinProperty,
  signErrors,
  signerProperty,
  timestampProperty,
  verifyCheckSchema,
  visitRefProperty,
} from './sign-schemas.js';
import { signJobRoutes } from './sign-jobs.js';
import { registerVerifyReportRoute } from './verify-report.js';
import {
  csvCell,
  EXPORT_COLUMNS,
  exportFilterProperties,
  exportRow,
  recordFilter,
  type RecordFilterQuery,
} from './signature-export.js';

const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

declare module 'fastify' {
  interface FastifyRequest {
    /** The exact body bytes (the request signature covers their SM3 digest). */
    rawBody?: Buffer;
    /** The application that signed the request. */
    signApp?: AppView;
    /** The error code a signing-API request was refused with (for the per-application metrics). */
    signOutcome?: string;
  }
  interface FastifyContextConfig {
    /** The application operation a signing-API route needs. */
    operation?: Operation;
  }
}

const errors = signErrors;

/** OpenAPI security requirement: the four HMAC headers. */
export const hmacSecurity = [
  { medsignAppId: [], medsignTimestamp: [], medsignNonce: [], medsignSignature: [] },
];

/** OpenAPI security schemes of the signing API (added to the document by buildApp). */
export const hmacSecuritySchemes = {
  medsignAppId: { type: 'apiKey', in: 'header', name: 'X-Medsign-App-Id' },
  medsignTimestamp: {
    type: 'apiKey',
    in: 'header',
    name: 'X-Medsign-Timestamp',
    description: 'Unix seconds',
  },
  medsignNonce: {
    type: 'apiKey',
    in: 'header',
    name: 'X-Medsign-Nonce',
    description: '16–64 of [A-Za-z0-9_-]',
  },
  medsignSignature: {
    type: 'apiKey',
    in: 'header',
    name: 'X-Medsign-Signature',
    description: 'hex HMAC-SM3 over the canonical request (docs/integration/auth.md)',
  },
} as const;

const metadataSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Business metadata recorded with the signature (opaque ids only; no patient data).',
  properties: {
    system: { ...metaField, description: 'the calling system, e.g. HIS' },
    docType: docTypeProperty,
    docId: metaField,
    departmentCode: {
      ...metaField,
      description: "the hospital system's department code (default: the signer's)",
    },
    visitRef: visitRefProperty,
  },
} as const;

const recordSchema = {
  type: 'object',
  required: [
    'id',
    'appId',
    'signer',
    'certSerial',
    'format',
    'digestAlgorithm',
    'digest',
    'signature',
    'createdAt',
  ],
  properties: {
    id: { type: 'string' },
    appId: { type: 'string' },
    signer: { type: 'string', description: 'employee number' },
    caId: { type: 'string' },
    certSerial: { type: 'string' },
    format: { type: 'string', enum: [...SIGNATURE_FORMATS] },
    digestAlgorithm: { type: 'string', enum: ['sm3', 'sha256'] },
    digest: { type: 'string', description: 'hex digest of the signed data' },
    signature: { type: 'string', description: 'base64: P1 raw signature (DER) or CMS ContentInfo (DER)' },
    token: { type: ['string', 'null'], description: 'base64 RFC 3161 TimeStampToken, if time-stamped' },
    metadata: metadataSchema,
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

function recordView(r: SignatureRecord) {
  return {
    id: r.id,
    appId: r.appId,
    signer: r.employeeNo,
    caId: r.caId,
    certSerial: r.certSerial,
    format: r.format,
    digestAlgorithm: r.digestAlgorithm,
    digest: r.digest,
    signature: Buffer.from(r.signature).toString('base64'),
    token: r.token ? Buffer.from(r.token).toString('base64') : null,
    metadata: r.metadata,
    createdAt: r.createdAt.toISOString(),
  };
}

/** A request header sent once (undefined when absent or repeated). */
export function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** The application that signed the request (APP_AUTH_REQUIRED on a route without authentication). */
export function appOf(request: FastifyRequest): AppView {
  if (!request.signApp) throw new DomainError('APP_AUTH_REQUIRED');
  return request.signApp;
}

/** The idempotency part of a creating request's context: its `Idempotency-Key` and the SM3 of its body. */
export function idempotencyOf(request: FastifyRequest) {
  const key = header(request, IDEMPOTENCY_HEADER);
  return key
    ? { idempotency: { key, requestHash: bytesToHex(sm3(request.rawBody ?? new Uint8Array())) } }
    : {};
}

type SearchQuery = RecordFilterQuery & { limit: number; offset: number };

/** The verify result's status at the signing time (also in evidence). */
export const statusAtSigningSchema = {
  type: 'object',
  description:
    "the certificate's status when it signed: at the time-stamp's genTime, else the CMS signingTime, else our record's time; against the CA's revocation time",
  properties: {
    ok: { type: 'boolean' },
    status: { type: 'string', enum: ['good', 'revoked', 'hold', 'unknown', 'expired', 'not-yet-valid'] },
    time: { type: 'string', format: 'date-time' },
    timeSource: { type: 'string', enum: ['timestamp', 'signingTime', 'record'] },
    revokedAt: { type: 'string', format: 'date-time' },
    detail: { type: 'string' },
  },
} as const;

/** The answer of /sign and of recording a pre-made signature. */
const signResponseSchema = {
  type: 'object',
  required: ['id', 'signature', 'certificate'],
  properties: {
    id: { type: 'string', description: 'signature record id' },
    format: { type: 'string' },
    signature: { type: 'string', description: 'base64' },
    certificate: { type: 'string', description: "the signer's certificate, PEM" },
    certSerial: { type: 'string' },
    token: {
      type: ['string', 'null'],
      description: 'base64 TimeStampToken (also inside a P7 signature)',
    },
    digestAlgorithm: { type: 'string' },
    digest: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

function signResponse(result: SignResult) {
  const r = result.record;
  return {
    id: r.id,
    format: r.format,
    signature: Buffer.from(r.signature).toString('base64'),
    certificate: encodePem('CERTIFICATE', result.certificate.der),
    certSerial: r.certSerial,
    token: r.token ? Buffer.from(r.token).toString('base64') : null,
    digestAlgorithm: r.digestAlgorithm,
    digest: r.digest,
    createdAt: r.createdAt.toISOString(),
  };
}

/** One statement of the evidence: its own facts besides `ok` (documented in docs/integration/evidence.md). */
const statementSchema = {
  type: 'object',
  required: ['statement', 'label', 'ok'],
  additionalProperties: true,
  properties: {
    statement: { type: 'string' },
    label: { type: 'string' },
    ok: { type: ['boolean', 'null'], description: 'null: not checked (no original)' },
  },
} as const;

/** The evidence JSON (medsign-evidence/v1). */
const evidenceSchema = {
  type: 'object',
  required: [
    'schema',
    'reportId',
    'generatedAt',
    'signatureId',
    'ok',
    'record',
    'identity',
    'intent',
    'signatureIntact',
    'originalIntact',
    'timestamp',
    'verification',
  ],
  properties: {
    schema: { type: 'string', enum: ['medsign-evidence/v1'] },
    reportId: { type: 'string' },
    generatedAt: { type: 'string', format: 'date-time' },
    signatureId: { type: 'string' },
    ok: { type: 'boolean', description: 'all four statements hold (an unchecked original does not fail)' },
    record: { type: 'object', additionalProperties: true },
    identity: { ...statementSchema, description: '真实身份 real identity' },
    intent: { ...statementSchema, description: '真实意愿 real intent' },
    signatureIntact: { ...statementSchema, description: '签名未改 signature unaltered' },
    originalIntact: { ...statementSchema, description: '原文未改 original unaltered' },
    timestamp: {
      type: ['object', 'null'],
      additionalProperties: true,
      description: 'the signature time-stamp, null when there is none',
    },
    verification: {
      type: 'object',
      properties: { id: { type: 'string' }, url: { type: ['string', 'null'] } },
    },
  },
} as const;

/**
 * `/api/v1/sign`, `/api/v1/authorisations*`, `/api/v1/verify`, `/api/v1/verify/report`, `/api/v1/signatures*`
 * (role `sign`).
 */
export function signRoutes(services: Services, metrics: Metrics): FastifyPluginAsync {
  const sign = services.sign;
  return async (app) => {
    // Per-system statistics (who sent what, and what was refused): the outcome is the error code, if any.
    app.addHook('onError', async (request, _reply, error) => {
      request.signOutcome = error instanceof DomainError ? error.code : 'REQUEST_INVALID';
    });
    app.addHook('onResponse', async (request, reply) => {
      const operation = request.routeOptions.config.operation;
      if (!operation) return;
      metrics.signRequests.inc({
        app: request.signApp?.id ?? 'unauthenticated',
        operation,
        outcome: reply.statusCode < 400 ? 'ok' : (request.signOutcome ?? `HTTP_${reply.statusCode}`),
      });
    });

    // The body is kept as received: the request signature covers its SM3 digest.
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
      const raw = body as Buffer;
      request.rawBody = raw;
      if (raw.length === 0) return done(null, undefined);
      try {
        done(null, JSON.parse(raw.toString('utf8')));
      } catch {
        done(
          Object.assign(new SyntaxError('the body is not valid JSON'), {
            statusCode: 400,
            code: 'FST_ERR_CTP_INVALID_JSON_BODY',
          }),
        );
      }
    });

    app.addHook('preValidation', async (request, reply) => {
      const operation = request.routeOptions.config.operation;
      if (!operation) return;
      try {
        // mTLS: no HMAC headers, and the TLS client presented a certificate (credentials.ts in @medsign/sign).
        const peer = header(request, AUTH_HEADERS.appId) === undefined ? peerCertificate(request) : undefined;
        if (peer) {
          request.signApp = await authenticateCertificate(
            {
              ...peer,
              timestamp: header(request, AUTH_HEADERS.timestamp),
              nonce: header(request, AUTH_HEADERS.nonce),
              remoteIp: request.ip,
              operation,
            },
            { ...sign.deps, limiter: sign.limiter },
            (authenticated) => (request.signApp = authenticated),
          );
          request.caller = { actor: `app:${request.signApp.id}`, roles: [], token: '' };
          return;
        }
        request.signApp = await authenticateRequest(
          {
            appId: header(request, AUTH_HEADERS.appId),
            timestamp: header(request, AUTH_HEADERS.timestamp),
            nonce: header(request, AUTH_HEADERS.nonce),
            signature: header(request, AUTH_HEADERS.signature),
            method: request.method,
            path: request.url,
            bodyDigest: bodyDigest(request.rawBody),
            remoteIp: request.ip,
            operation,
          },
          { ...sign.deps, limiter: sign.limiter },
          (authenticated) => (request.signApp = authenticated),
        );
        request.caller = { actor: `app:${request.signApp.id}`, roles: [], token: '' };
      } catch (e) {
        if (e instanceof RateLimitedError) reply.header('retry-after', String(e.retryAfterSeconds));
        throw e;
      }
    });

    app.post<{ Body: SignRequest }>(
      '/sign',
      {
        config: { operation: 'sign' },
        bodyLimit: base64BodyLimit(services.config.sign.maxDataBytes),
        schema: {
          tags: ['signing'],
          summary:
            "Sign a document with a signer's server-held key (P1 or PKCS#7/CMS), optionally time-stamped",
          description:
            "The PIN is the signer's intent for this one request. Send `Idempotency-Key` to make retries safe: the same key with the same body answers the first signature; with another body it is SIGN_IDEMPOTENCY_CONFLICT.",
          security: hmacSecurity,
          headers: idempotencyHeaders,
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['signer'],
            properties: {
              signer: signerProperty,
              pin: pinProperty(
                'the signer PIN; leave it out to sign under a live signing authorisation for this application',
              ),
              data: { type: 'string', description: 'the data, base64' },
              digest: {
                type: 'string',
                maxLength: 128,
                description: 'or its digest, hex (p7-detached only)',
              },
              digestAlgorithm: {
                type: 'string',
                enum: ['sm3', 'sha256'],
                description: 'of digest (default sm3)',
              },
              format: { ...formatProperty, default: 'p7-detached' },
              oids: { ...oidsProperty, description: 'CMS object identifiers (GM/T 0010: SM2 only)' },
              timestamp: timestampProperty,
              metadata: metadataSchema,
              storeOriginal: {
                type: 'boolean',
                description:
                  'keep the data sealed (SM4-GCM) with the record, for preview and evidence (default: the server setting sign.storeOriginals); not with digest',
              },
            },
          },
          response: {
            200: signResponseSchema,
            ...errors,
          },
        },
      },
      async (request, reply) => {
        const result = await signDocument(
          request.body,
          {
            appId: appOf(request).id,
            clientIp: request.ip,
            ...idempotencyOf(request),
          },
          sign.deps,
        );
        const r = result.record;
        if (result.replayed) reply.header('idempotent-replayed', 'true');
        request.log.info({ signature: r.id, format: r.format, replayed: result.replayed }, 'signed');
        return signResponse(result);
      },
    );

    app.post<{ Body: PremadeRequest }>(
      '/signatures',
      {
        config: { operation: 'sign' },
        bodyLimit: base64BodyLimit(services.config.sign.maxDataBytes, 2),
        schema: {
          tags: ['signing'],
          summary: 'Record a pre-made signature (made on the client with a USB key) after checking it',
          description:
            "The signature must verify over the data with the certificate; the certificate must chain to a CA of this platform, be valid and good now, and have been issued to the named signer. It is then recorded like a server-made signature (intent `usbkey`), optionally time-stamped. A bad or forged signature is SIGN_PREMADE_SIGNATURE_INVALID, a foreign certificate SIGN_PREMADE_CERT_UNTRUSTED, another signer's SIGN_PREMADE_SIGNER_MISMATCH; nothing is recorded then. Send `Idempotency-Key` to make retries safe.",
          security: hmacSecurity,
          headers: idempotencyHeaders,
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['signer', 'format', 'signature'],
            properties: {
              signer: signerProperty,
              format: formatProperty,
              data: {
                type: 'string',
                description: 'the signed data, base64 (a p7-attached signature may carry it instead)',
              },
              signature: {
                type: 'string',
                minLength: 1,
                description:
                  'base64: the P1 signature (SM2 DER or r‖s, RSA, ECDSA DER), or the CMS SignedData',
              },
              certificate: {
                type: 'string',
                description: 'the signer certificate, PEM or base64 DER (P1: required)',
              },
              timestamp: timestampProperty,
              metadata: metadataSchema,
              storeOriginal: { type: 'boolean', description: 'keep the data sealed with the record' },
            },
          },
          response: { 200: signResponseSchema, ...errors },
        },
      },
      async (request, reply) => {
        const result = await recordPremadeSignature(
          request.body,
          {
            appId: appOf(request).id,
            clientIp: request.ip,
            ...idempotencyOf(request),
          },
          sign.deps,
          sign.verify,
        );
        if (result.replayed) reply.header('idempotent-replayed', 'true');
        request.log.info(
          { signature: result.record.id, format: result.record.format, replayed: result.replayed },
          'pre-made signature recorded',
        );
        return signResponse(result);
      },
    );

    const authorisationSchema = {
      type: 'object',
      required: ['id', 'signer', 'apps', 'createdAt', 'expiresAt'],
      properties: {
        id: { type: 'string' },
        signer: { type: 'string', description: 'employee number' },
        apps: { type: 'array', items: { type: 'string' } },
        createdAt: { type: 'string', format: 'date-time' },
        expiresAt: { type: 'string', format: 'date-time' },
        revokedAt: { type: ['string', 'null'], format: 'date-time' },
      },
    } as const;
    const authorisationView = (a: AuthorisationRecord, employeeNo: string) => ({
      id: a.id,
      signer: employeeNo,
      apps: a.appIds,
      createdAt: a.createdAt.toISOString(),
      expiresAt: a.expiresAt.toISOString(),
      revokedAt: a.revokedAt ? a.revokedAt.toISOString() : null,
    });

    app.post<{ Body: GrantRequest }>(
      '/authorisations',
      {
        config: { operation: 'sign' },
        schema: {
          tags: ['signing'],
          summary: 'Grant a time-boxed signing authorisation (the signer enters the PIN once)',
          description: `For ${AUTHORISATION_MINUTES.min} minutes to ${AUTHORISATION_MINUTES.max / 1440} days, the named applications (default: the caller) may sign for the signer without a PIN. Revocable; granting, use and revocation are audited.`,
          security: hmacSecurity,
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['signer', 'pin', 'durationMinutes'],
            properties: {
              signer: { type: 'string', minLength: 1, maxLength: 32 },
              pin: { type: 'string', minLength: 1, maxLength: 64 },
              durationMinutes: { type: 'integer' },
              apps: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 16 },
            },
          },
          response: { 201: authorisationSchema, ...errors },
        },
      },
      async (request, reply) => {
        const a = await grantAuthorisation(request.body, appOf(request).id, sign.deps);
        return reply.code(201).send(authorisationView(a, request.body.signer));
      },
    );

    app.delete<{ Params: { id: string } }>(
      '/authorisations/:id',
      {
        config: { operation: 'sign' },
        schema: {
          tags: ['signing'],
          summary: 'Revoke a signing authorisation that names the calling application',
          security: hmacSecurity,
          params: idParams,
          response: { 200: authorisationSchema, ...errors },
        },
      },
      async (request) => {
        const a = await revokeAuthorisation(request.params.id, appOf(request).id, sign.deps);
        const signer = await sign.deps.store.getSigner(a.signerId);
        return authorisationView(a, signer?.employeeNo ?? '');
      },
    );

    const aspect = {
      type: 'object',
      properties: { ok: { type: 'boolean' }, detail: { type: 'string' } },
    } as const;
    app.post<{ Body: VerifyRequest }>(
      '/verify',
      {
        config: { operation: 'verify' },
        bodyLimit: base64BodyLimit(services.config.sign.maxDataBytes, 2),
        schema: {
          tags: ['signing'],
          summary: 'Verify a P1 signature (with its certificate) or a PKCS#7/CMS signature against our roots',
          security: hmacSecurity,
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['signature'],
            properties: {
              data: { type: 'string', description: 'base64 (needed for P1 and detached P7)' },
              signature: {
                type: 'string',
                minLength: 1,
                description: 'base64: P1 raw signature, or CMS DER/PEM',
              },
              certificate: {
                type: 'string',
                description: 'P1 only: the signer certificate, PEM or base64 DER',
              },
              token: {
                type: 'string',
                description:
                  'P1 only: base64 RFC 3161 TimeStampToken over the signature value (a P7 carries its own)',
              },
            },
          },
          response: {
            200: {
              type: 'object',
              required: [
                'valid',
                'format',
                'signature',
                'dataIntegrity',
                'chain',
                'certificateStatus',
                'statusAtSigning',
                'errors',
              ],
              properties: {
                valid: { type: 'boolean' },
                format: { type: 'string', enum: ['p1', 'p7'] },
                signer: {
                  type: 'object',
                  properties: {
                    subject: { type: 'string' },
                    issuer: { type: 'string' },
                    serial: { type: 'string' },
                    notBefore: { type: 'string' },
                    notAfter: { type: 'string' },
                  },
                },
                signature: aspect,
                dataIntegrity: aspect,
                chain: aspect,
                certificateStatus: {
                  type: 'object',
                  description: "the certificate's status at our CA now",
                  properties: {
                    ok: { type: 'boolean' },
                    status: { type: 'string', enum: ['good', 'revoked', 'hold', 'unknown'] },
                    revokedAt: { type: 'string', format: 'date-time' },
                    reason: { type: 'string' },
                    detail: { type: 'string' },
                  },
                },
                statusAtSigning: statusAtSigningSchema,
                timestamp: {
                  type: 'object',
                  properties: {
                    ok: { type: 'boolean' },
                    time: { type: 'string' },
                    serial: { type: 'string', description: 'hex' },
                    tsa: { type: 'string' },
                    detail: { type: 'string' },
                  },
                },
                checks: { type: 'array', items: verifyCheckSchema },
                errors: { type: 'array', items: { type: 'string' } },
              },
            },
            ...errors,
          },
        },
      },
      async (request) => verifyDocument(request.body, sign.verify),
    );

    // POST /verify/report: the verification report (signed PDF or JSON) — routes/verify-report.ts.
    registerVerifyReportRoute(app, services, hmacSecurity);

    app.get<{ Querystring: SearchQuery }>(
      '/signatures',
      {
        config: { operation: 'read' },
        schema: {
          tags: ['signing'],
          summary: 'Search signature records (newest first)',
          security: hmacSecurity,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              ...exportFilterProperties,
              limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
              offset: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 },
            },
          },
          response: {
            200: {
              type: 'object',
              required: ['total', 'items'],
              properties: { total: { type: 'integer' }, items: { type: 'array', items: recordSchema } },
            },
            ...errors,
          },
        },
      },
      async (request) => {
        const { limit, offset, ...filter } = request.query;
        const page = await sign.deps.store.searchSignatures({ ...recordFilter(filter), limit, offset });
        return { total: page.total, items: page.items.map(recordView) };
      },
    );

    const exportQuerystring = {
      type: 'object',
      additionalProperties: false,
      properties: exportFilterProperties,
    } as const;

    app.get<{ Querystring: RecordFilterQuery }>(
      '/signatures/export.csv',
      {
        config: { operation: 'read' },
        schema: {
          tags: ['signing'],
          summary: 'Export the matching signature records as CSV (UTF-8 with BOM, newest first, streamed)',
          security: hmacSecurity,
          querystring: exportQuerystring,
          response: { 200: binaryResponse('text/csv', 'one line per signature record'), ...errors },
        },
      },
      async (request, reply) => {
        const rows = services.store.signing.iterateSignatures(recordFilter(request.query));
        async function* lines() {
          yield '\ufeff' + EXPORT_COLUMNS.join(',') + '\r\n';
          for await (const r of rows) yield exportRow(r).map(csvCell).join(',') + '\r\n';
        }
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', 'attachment; filename="signatures.csv"')
          .send(Readable.from(lines()));
      },
    );

    app.get<{ Querystring: RecordFilterQuery }>(
      '/signatures/export.xlsx',
      {
        config: { operation: 'read' },
        schema: {
          tags: ['signing'],
          summary:
            'Export the matching signature records as an Excel workbook (the CSV columns, newest first, streamed)',
          description:
            'One sheet of text cells (inline strings; a value that looks like a formula stays text), written as the records are read, so memory stays flat at any size.',
          security: hmacSecurity,
          querystring: exportQuerystring,
          response: { 200: binaryResponse(XLSX_TYPE, 'an .xlsx workbook'), ...errors },
        },
      },
      async (request, reply) => {
        const rows = services.store.signing.iterateSignatures(recordFilter(request.query));
        async function* cells() {
          for await (const r of rows) yield exportRow(r);
        }
        return reply
          .type(XLSX_TYPE)
          .header('content-disposition', 'attachment; filename="signatures.xlsx"')
          .send(Readable.from(xlsxStream('signatures', EXPORT_COLUMNS, cells(), sign.deps.clock.now())));
      },
    );

    app.get<{ Params: { id: string } }>(
      '/signatures/:id',
      {
        config: { operation: 'read' },
        schema: {
          tags: ['signing'],
          summary: 'One signature record',
          security: hmacSecurity,
          params: idParams,
          response: { 200: recordSchema, ...errors },
        },
      },
      async (request) => {
        const r = await sign.deps.store.getSignature(request.params.id);
        if (!r) throw new DomainError('SIGN_SIGNATURE_NOT_FOUND', `no signature ${request.params.id}`);
        return recordView(r);
      },
    );

    const baseUrlOf = (request: FastifyRequest) =>
      services.config.sign.publicUrl ?? `${request.protocol}://${request.host}`;
    const evidenceRoute = {
      tags: ['signing'],
      security: hmacSecurity,
      params: idParams,
      response: { 200: evidenceSchema, ...errors },
    };
    app.get<{ Params: { id: string } }>(
      '/signatures/:id/evidence.json',
      {
        config: { operation: 'read' },
        schema: {
          ...evidenceRoute,
          summary:
            'The evidence of a signature (电子签名法 §13): real identity, real intent, signature unaltered, original unaltered, time-stamp',
          description:
            'Machine-readable (schema medsign-evidence/v1). 原文未改 is checked against the stored original, if any (POST with `data` to check a copy you hold). Every report is audited (sign.evidence).',
        },
      },
      async (request) =>
        buildEvidence(
          request.params.id,
          { actor: `app:${appOf(request).id}`, baseUrl: baseUrlOf(request) },
          sign.evidence,
        ),
    );
    app.post<{ Params: { id: string }; Body: { data: string } }>(
      '/signatures/:id/evidence',
      {
        config: { operation: 'read' },
        bodyLimit: base64BodyLimit(services.config.sign.maxDataBytes),
        schema: {
          ...evidenceRoute,
          summary: 'The evidence of a signature, with 原文未改 checked against an original you supply',
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['data'],
            properties: { data: { type: 'string', description: 'the original, base64' } },
          },
        },
      },
      async (request) =>
        buildEvidence(
          request.params.id,
          { actor: `app:${appOf(request).id}`, baseUrl: baseUrlOf(request), data: request.body.data },
          sign.evidence,
        ),
    );

    app.get<{ Params: { id: string }; Querystring: { signatureAlgorithm?: 'ecdsa' | 'sm2' } }>(
      '/signatures/:id/evidence.pdf',
      {
        config: { operation: 'read' },
        schema: {
          tags: ['signing'],
          security: hmacSecurity,
          params: idParams,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              signatureAlgorithm: {
                type: 'string',
                enum: ['ecdsa', 'sm2'],
                default: 'ecdsa',
                description:
                  'the report key: ECDSA P-256 (PDF readers verify it) or SM2 (GM relying parties; pdfsig lists but cannot verify it)',
              },
            },
          },
          summary:
            'The evidence report of a signature as a signed PDF (Chinese with English labels, evidence.json embedded)',
          description:
            'The evidence of /evidence.json rendered as a report with a QR code of the verify-online link, signed with the platform’s report key (PAdES, listed by pdfsig) and time-stamped by the in-process TSA. The report id is in the X-Medsign-Report-Id header.',
          response: {
            200: binaryResponse('application/pdf', 'signed PDF evidence report'),
            ...errors,
          },
        },
      },
      async (request, reply) => {
        const evidence = await buildEvidence(
          request.params.id,
          { actor: `app:${appOf(request).id}`, baseUrl: baseUrlOf(request) },
          sign.evidence,
        );
        const algorithm = request.query.signatureAlgorithm ?? 'ecdsa';
        const signer = await services.reports.signer(algorithm);
        const pdf = await services.reports.signedReport(
          evidenceReportDocument(evidence, {
            organization: services.config.organization,
            reportSigner: {
              subject: signer.certificate.subjectText,
              serial: signer.certificate.serialNumber,
            },
          }),
          { algorithm },
        );
        return reply
          .type('application/pdf')
          .header('x-medsign-report-id', evidence.reportId)
          .header('content-disposition', `inline; filename="evidence-${evidence.signatureId}.pdf"`)
          .send(Buffer.from(pdf));
      },
    );

    app.get<{ Params: { id: string } }>(
      '/signatures/:id/original',
      {
        config: { operation: 'read' },
        schema: {
          tags: ['signing'],
          summary: 'The stored original of a signature record (for preview); every read is audited',
          description:
            'Only records signed with `storeOriginal` (or under the server default sign.storeOriginals) have one: SIGN_ORIGINAL_NOT_STORED otherwise.',
          security: hmacSecurity,
          params: idParams,
          response: {
            200: {
              type: 'object',
              required: ['id', 'size', 'data', 'digestAlgorithm', 'digest', 'digestMatches'],
              properties: {
                id: { type: 'string' },
                size: { type: 'integer', description: 'bytes' },
                data: { type: 'string', description: 'the original, base64' },
                digestAlgorithm: { type: 'string', enum: ['sm3', 'sha256'] },
                digest: { type: 'string', description: 'the signed digest (hex)' },
                digestMatches: {
                  type: 'boolean',
                  description: "the original's digest equals the signed digest",
                },
              },
            },
            ...errors,
          },
        },
      },
      async (request) => {
        const o = await readOriginal(request.params.id, `app:${appOf(request).id}`, sign.deps);
        return {
          id: o.record.id,
          size: o.data.length,
          data: Buffer.from(o.data).toString('base64'),
          digestAlgorithm: o.record.digestAlgorithm,
          digest: o.record.digest,
          digestMatches: o.digestMatches,
        };
      },
    );
    // Sign jobs (routes/sign-jobs.ts): inside this plugin, so the same authentication and metrics apply.
    await app.register(signJobRoutes(services));
  };
}
