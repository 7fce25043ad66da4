/**
 * The certificate API of the `ca`/`admin` roles under /api/v1: issue (CSR or public key), look up, search the
 * inventory, revoke / hold / resume, statistics, and the catalogue of profiles and CAs. Routes only
 * translate HTTP to the CA core (issueCertificate, revokeCertificate …) and the store; every rule lives there.
 * Personal fields (ID number, phone) are masked in every response and never logged.
 */

import { normaliseSerial, type Applicant } from '@medsign/ca';
import { DomainError } from '@medsign/errors';
import { encodePem } from '@medsign/gm';
import { describePublicKey } from '@medsign/pki';
import type { CertificateDimension, CertificateRecord, CertificateStatus } from '@medsign/store';
import type { FastifyPluginAsync } from 'fastify';
import { maskApplicant } from '../masking.js';
import { AUDIT_ROLES } from '../roles.js';
import type { Services } from '../services.js';
import { problemRef } from './schemas.js';
import { authenticate, bearerSecurity, callerOf, requireRole } from './auth.js';
import type { Metrics } from './observability.js';

export const errors = { 400: problemRef, 401: problemRef, 403: problemRef, 404: problemRef, 409: problemRef };

export { maskApplicant, maskPersonal } from '../masking.js';

export const applicantSchema = {
  type: 'object',
  required: ['name'],
  description:
    'Applicant fields; extra string fields feed custom extension templates. idNumber and phone are masked in responses.',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 128 },
    employeeNo: { type: 'string', maxLength: 64 },
    department: { type: 'string', maxLength: 128 },
    organization: { type: 'string', maxLength: 128 },
    country: { type: 'string', minLength: 2, maxLength: 2 },
    idNumber: { type: 'string', maxLength: 64 },
    phone: { type: 'string', maxLength: 32 },
    email: { type: 'string', maxLength: 254 },
  },
  additionalProperties: { type: 'string', maxLength: 1024 },
  maxProperties: 32,
} as const;

export const certificateSchema = {
  type: 'object',
  required: ['caId', 'serial', 'subject', 'profile', 'status', 'notBefore', 'notAfter'],
  properties: {
    caId: { type: 'string' },
    serial: { type: 'string', description: 'lower-case hex without leading zeros' },
    subject: { type: 'string' },
    profile: { type: 'string' },
    status: { type: 'string', enum: ['good', 'revoked', 'hold'] },
    notBefore: { type: 'string', format: 'date-time' },
    notAfter: { type: 'string', format: 'date-time' },
    department: { type: ['string', 'null'] },
    employeeNo: { type: ['string', 'null'] },
    fingerprint: { type: 'string', description: 'SM3 of the DER, hex' },
    revokedAt: { type: ['string', 'null'], format: 'date-time' },
    revocationReason: { type: ['string', 'null'] },
    createdAt: { type: 'string', format: 'date-time' },
    certificate: { type: 'string', description: 'PEM' },
  },
} as const;

/** JSON view of an inventory record (`withPem` adds the certificate itself). */
export function certificateView(r: CertificateRecord, withPem: boolean) {
  return {
    caId: r.caId,
    serial: r.serial,
    subject: r.subject,
    profile: r.profile,
    status: r.status,
    notBefore: r.notBefore.toISOString(),
    notAfter: r.notAfter.toISOString(),
    department: r.department ?? null,
    employeeNo: r.employeeNo ?? null,
    fingerprint: r.fingerprint,
    revokedAt: r.revokedAt ? r.revokedAt.toISOString() : null,
    revocationReason: r.revocationReason ?? null,
    createdAt: r.createdAt?.toISOString(),
    ...(withPem ? { certificate: encodePem('CERTIFICATE', r.der) } : {}),
  };
}

type IssueBody = {
  profile: string;
  csr?: string;
  publicKeyInfo?: string;
  applicant: Applicant;
  caId?: string;
  validityDays?: number;
};
type SearchQuery = {
  subject?: string;
  serial?: string;
  department?: string;
  profile?: string;
  status?: CertificateStatus;
  caId?: string;
  idNumber?: string;
  expiringBefore?: string;
  expiringAfter?: string;
  order?: 'newest' | 'expiry';
  limit: number;
  offset: number;
};
type CertParams = { caId: string; serial: string };

/** Hooks the certificate routes call when a status changes (the CRL cache listens). */
export type StatusListener = (caId: string) => void;

/** `/api/v1/certificates*`, `/api/v1/profiles`, `/api/v1/cas`, `/api/v1/audit/verify`. */
export function certificateRoutes(
  services: Services,
  metrics: Metrics,
  onStatusChange: StatusListener,
): FastifyPluginAsync {
  return async (app) => {
    app.addHook('preHandler', authenticate(services));

    app.post<{ Body: IssueBody }>(
      '/certificates',
      {
        schema: {
          tags: ['certificates'],
          summary: 'Issue a certificate from a PKCS#10 request (or a public key) under a profile',
          security: bearerSecurity,
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['profile', 'applicant'],
            properties: {
              profile: { type: 'string', minLength: 1, maxLength: 64 },
              csr: { type: 'string', minLength: 1, maxLength: 65536, description: 'PKCS#10 request, PEM' },
              publicKeyInfo: {
                type: 'string',
                minLength: 1,
                maxLength: 65536,
                description:
                  'SubjectPublicKeyInfo, base64 DER (for keys generated server-side or on a token)',
              },
              applicant: applicantSchema,
              caId: { type: 'string', maxLength: 64 },
              validityDays: { type: 'integer', minimum: 1, maximum: 36500 },
            },
          },
          response: {
            201: {
              type: 'object',
              required: ['serial', 'caId', 'certificate', 'notAfter'],
              properties: {
                serial: { type: 'string' },
                caId: { type: 'string' },
                profile: { type: 'string' },
                subject: { type: 'string' },
                notBefore: { type: 'string', format: 'date-time' },
                notAfter: { type: 'string', format: 'date-time' },
                certificate: { type: 'string', description: 'PEM' },
                applicant: { type: 'object', additionalProperties: { type: 'string' } },
              },
            },
            ...errors,
          },
        },
      },
      async (request, reply) => {
        const body = request.body;
        if ((body.csr === undefined) === (body.publicKeyInfo === undefined))
          throw new DomainError(
            'CA_CSR_INVALID',
            'give exactly one of csr (PEM) or publicKeyInfo (base64 DER)',
          );
        const result = await services.backend.issue({
          profileId: body.profile,
          ...(body.csr !== undefined ? { csr: body.csr } : {}),
          ...(body.publicKeyInfo !== undefined
            ? { publicKeyInfo: new Uint8Array(Buffer.from(body.publicKeyInfo, 'base64')) }
            : {}),
          applicant: body.applicant,
          ...(body.caId !== undefined ? { caId: body.caId } : {}),
          ...(body.validityDays !== undefined ? { validityDays: body.validityDays } : {}),
          actor: callerOf(request).actor,
        });
        metrics.issued.inc({ ca: result.caId, profile: body.profile });
        request.log.info({ caId: result.caId, serial: result.serial, profile: body.profile }, 'issued');
        const cert = result.certificate;
        return reply.code(201).send({
          serial: result.serial,
          caId: result.caId,
          profile: body.profile,
          subject: cert.subjectText,
          notBefore: cert.notBefore.toISOString(),
          notAfter: cert.notAfter.toISOString(),
          certificate: cert.toPem(),
          applicant: maskApplicant(body.applicant),
        });
      },
    );

    app.get<{ Querystring: SearchQuery }>(
      '/certificates',
      {
        schema: {
          tags: ['certificates'],
          summary: 'Search the certificate inventory',
          security: bearerSecurity,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              subject: { type: 'string', maxLength: 256, description: 'substring of the subject' },
              serial: { type: 'string', maxLength: 64, pattern: '^(0x)?[0-9a-fA-F:]+$' },
              department: { type: 'string', maxLength: 128 },
              profile: { type: 'string', maxLength: 64 },
              status: { type: 'string', enum: ['good', 'revoked', 'hold'] },
              caId: { type: 'string', maxLength: 64 },
              idNumber: {
                type: 'string',
                maxLength: 64,
                description: "the applicant's exact ID number (matched by keyed hash, never stored in clear)",
              },
              expiringBefore: { type: 'string', format: 'date-time' },
              expiringAfter: { type: 'string', format: 'date-time' },
              order: { type: 'string', enum: ['newest', 'expiry'] },
              limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
              offset: { type: 'integer', minimum: 0, default: 0 },
            },
          },
          response: {
            200: {
              type: 'object',
              required: ['total', 'items'],
              properties: { total: { type: 'integer' }, items: { type: 'array', items: certificateSchema } },
            },
            ...errors,
          },
        },
      },
      async (request) => {
        const q = request.query;
        const page = await services.store.certificates.search({
          ...(q.subject ? { subject: q.subject } : {}),
          ...(q.serial ? { serial: normaliseSerial(q.serial) } : {}),
          ...(q.department ? { department: q.department } : {}),
          ...(q.profile ? { profile: q.profile } : {}),
          ...(q.status ? { status: q.status } : {}),
          ...(q.caId ? { caId: q.caId } : {}),
          ...(q.idNumber
            ? { idNumberIndex: services.keystore.personalData.index('idNumber', q.idNumber) }
            : {}),
          ...(q.expiringBefore ? { expiringBefore: new Date(q.expiringBefore) } : {}),
          ...(q.expiringAfter ? { expiringAfter: new Date(q.expiringAfter) } : {}),
          ...(q.order ? { order: q.order } : {}),
          limit: q.limit,
          offset: q.offset,
        });
        return { total: page.total, items: page.items.map((r) => certificateView(r, false)) };
      },
    );

    app.get<{ Querystring: { by: CertificateDimension; caId?: string } }>(
      '/certificates/stats',
      {
        schema: {
          tags: ['certificates'],
          summary: 'Certificate counts by department, profile, status or issuance month',
          security: bearerSecurity,
          querystring: {
            type: 'object',
            additionalProperties: false,
            required: ['by'],
            properties: {
              by: { type: 'string', enum: ['department', 'profile', 'status', 'month'] },
              caId: { type: 'string', maxLength: 64 },
            },
          },
          response: {
            200: {
              type: 'object',
              required: ['by', 'counts'],
              properties: {
                by: { type: 'string' },
                counts: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['key', 'count'],
                    properties: { key: { type: ['string', 'null'] }, count: { type: 'integer' } },
                  },
                },
              },
            },
            ...errors,
          },
        },
      },
      async (request) => ({
        by: request.query.by,
        counts: await services.store.certificates.countsBy(
          request.query.by,
          request.query.caId ? { caId: request.query.caId } : {},
        ),
      }),
    );

    const certParams = {
      type: 'object',
      required: ['caId', 'serial'],
      properties: {
        caId: { type: 'string', maxLength: 64 },
        serial: { type: 'string', maxLength: 64, description: 'hex serial number' },
      },
    } as const;

    app.get<{ Params: CertParams }>(
      '/certificates/:caId/:serial',
      {
        schema: {
          tags: ['certificates'],
          summary: 'One certificate, with its PEM',
          security: bearerSecurity,
          params: certParams,
          response: { 200: certificateSchema, ...errors },
        },
      },
      async (request) => {
        const { caId } = request.params;
        const serial = normaliseSerial(request.params.serial);
        const record = await services.store.certificates.findBySerial(caId, serial);
        if (!record) throw new DomainError('CA_CERT_NOT_FOUND', `no certificate ${serial} from CA ${caId}`);
        return certificateView(record, true);
      },
    );

    app.post<{ Params: CertParams; Body: { reason: string } }>(
      '/certificates/:caId/:serial/revoke',
      {
        schema: {
          tags: ['certificates'],
          summary: 'Revoke a certificate, or suspend it with reason certificateHold',
          security: bearerSecurity,
          params: certParams,
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['reason'],
            properties: {
              reason: {
                type: 'string',
                maxLength: 64,
                description:
                  'RFC 5280 reason: unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise',
              },
            },
          },
          response: { 200: certificateSchema, ...errors },
        },
      },
      async (request) => {
        const { caId, serial } = request.params;
        const record = await services.backend.revoke({
          caId,
          serial,
          reason: request.body.reason,
          actor: callerOf(request).actor,
        });
        onStatusChange(caId);
        metrics.revoked.inc({ ca: caId, reason: request.body.reason });
        request.log.info({ caId, serial: record.serial, reason: request.body.reason }, 'revoked');
        return certificateView(await reload(record.caId, record.serial), false);
      },
    );

    app.post<{ Params: CertParams }>(
      '/certificates/:caId/:serial/resume',
      {
        schema: {
          tags: ['certificates'],
          summary: 'Lift a certificateHold',
          security: bearerSecurity,
          params: certParams,
          response: { 200: certificateSchema, ...errors },
        },
      },
      async (request) => {
        const { caId, serial } = request.params;
        const record = await services.backend.resume({ caId, serial, actor: callerOf(request).actor });
        onStatusChange(caId);
        request.log.info({ caId, serial: record.serial }, 'resumed');
        return certificateView(await reload(record.caId, record.serial), false);
      },
    );

    async function reload(caId: string, serial: string): Promise<CertificateRecord> {
      const record = await services.store.certificates.findBySerial(caId, serial);
      if (!record) throw new DomainError('CA_CERT_NOT_FOUND', `no certificate ${serial} from CA ${caId}`);
      return record;
    }

    app.get(
      '/profiles',
      {
        schema: {
          tags: ['catalogue'],
          summary: 'Certificate profiles this CA issues under',
          security: bearerSecurity,
          response: {
            200: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  id: { type: 'string' },
                  name: { type: 'string' },
                  description: { type: 'string' },
                  keyFamilies: { type: 'array', items: { type: 'string' } },
                  validityDays: { type: 'integer' },
                  keyUsage: { type: 'array', items: { type: 'string' } },
                  extKeyUsage: { type: 'array', items: { type: 'string' } },
                  requiredFields: { type: 'array', items: { type: 'string' } },
                  customExtensions: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        oid: { type: 'string' },
                        critical: { type: 'boolean' },
                        encoding: { type: 'string' },
                        value: { type: 'string' },
                      },
                    },
                  },
                },
              },
            },
            401: problemRef,
          },
        },
      },
      async () => services.ca.profiles,
    );

    app.get(
      '/cas',
      {
        schema: {
          tags: ['catalogue'],
          summary: 'Issuing CAs, with the URLs relying parties use',
          security: bearerSecurity,
          response: {
            200: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  id: { type: 'string' },
                  subject: { type: 'string' },
                  serial: { type: 'string' },
                  keyAlgorithm: { type: 'string' },
                  notBefore: { type: 'string', format: 'date-time' },
                  notAfter: { type: 'string', format: 'date-time' },
                  fingerprintSm3: { type: 'string' },
                  fingerprintSha256: { type: 'string' },
                  crl: { type: 'string' },
                  ocsp: { type: 'string' },
                  certificate: { type: 'string' },
                },
              },
            },
            401: problemRef,
          },
        },
      },
      async () =>
        services.ca.cas.map((ca) => {
          const base = services.ca.urls.baseUrl.replace(/\/+$/, '');
          let keyAlgorithm = 'unknown';
          try {
            const k = describePublicKey(ca.certificate.publicKeyInfo);
            keyAlgorithm = k.family === 'rsa' ? `rsa-${k.bits}` : k.family;
          } catch {
            // an unusual key is still listed
          }
          return {
            id: ca.id,
            subject: ca.certificate.subjectText,
            serial: ca.certificate.serialNumber,
            keyAlgorithm,
            notBefore: ca.certificate.notBefore.toISOString(),
            notAfter: ca.certificate.notAfter.toISOString(),
            fingerprintSm3: ca.certificate.fingerprint('sm3'),
            fingerprintSha256: ca.certificate.fingerprint('sha256'),
            crl: `${base}/pki/crl/${ca.id}.crl`,
            ocsp: `${base}/pki/ocsp`,
            certificate: `${base}/pki/ca/${ca.id}.cer`,
          };
        }),
    );

    app.get(
      '/audit/verify',
      {
        preHandler: requireRole(...AUDIT_ROLES),
        schema: {
          tags: ['audit'],
          summary: 'Verify the whole SM3 hash chain of the audit log',
          security: bearerSecurity,
          response: {
            200: {
              type: 'object',
              required: ['ok', 'checked'],
              properties: {
                ok: { type: 'boolean' },
                checked: { type: 'integer' },
                firstBreak: {
                  type: 'object',
                  properties: {
                    seq: { type: 'integer' },
                    reason: { type: 'string' },
                    message: { type: 'string' },
                  },
                },
                head: {
                  type: 'object',
                  properties: { seq: { type: 'integer' }, hash: { type: 'string' } },
                },
              },
            },
            401: problemRef,
            403: problemRef,
          },
        },
      },
      async () => services.store.audit.verify(),
    );
  };
}
