/**
 * The certificate lifecycle API under /api/v1: applications (submit with a CSR or a server-side key,
 * list/search, get, approve, reject) and certificate renewal. Routes translate HTTP to the CA core's
 * CertificateLifecycle; the state machine and its rules live there. Approving, rejecting and renewing need
 * a reviewing role (roles.ts); the submitter of an application cannot review it (the core refuses).
 * Personal fields (ID number, phone) are masked in every response and never logged.
 */

import { normaliseSerial, type Application, type IssueResult } from '@medsign/ca';
import { DomainError } from '@medsign/errors';
import { SOFTWARE_KEY_TYPES } from '@medsign/keystore';
import type { KeyType } from '@medsign/pki';
import type { ApplicationState } from '@medsign/store';
import type { FastifyPluginAsync } from 'fastify';
import { REVIEW_ROLES } from '../roles.js';
import type { Services } from '../services.js';
import { authenticate, bearerSecurity, callerOf, requireRole } from './auth.js';
import { applicantSchema, errors, maskApplicant, type StatusListener } from './certificates.js';
import type { Metrics } from './observability.js';

const STATES: readonly ApplicationState[] = ['pending', 'approved', 'issued', 'rejected'];

const refSchema = {
  type: ['object', 'null'],
  properties: { caId: { type: 'string' }, serial: { type: 'string' } },
} as const;

const applicationSchema = {
  type: 'object',
  required: ['id', 'profile', 'state', 'applicant', 'key', 'submittedBy', 'submittedAt'],
  properties: {
    id: { type: 'string' },
    profile: { type: 'string' },
    state: { type: 'string', enum: STATES },
    applicant: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'idNumber and phone masked',
    },
    key: {
      type: 'object',
      properties: {
        kind: { type: 'string', enum: ['csr', 'server-key'] },
        keyId: { type: 'string', description: 'keystore id of a server-held key' },
      },
    },
    caId: { type: ['string', 'null'] },
    validityDays: { type: ['integer', 'null'] },
    submittedBy: { type: 'string' },
    submittedAt: { type: 'string', format: 'date-time' },
    review: {
      type: ['object', 'null'],
      properties: {
        by: { type: 'string' },
        at: { type: 'string', format: 'date-time' },
        reason: { type: ['string', 'null'] },
      },
    },
    certificate: refSchema,
  },
} as const;

const issuedSchema = {
  type: 'object',
  required: ['caId', 'serial', 'certificate'],
  properties: {
    caId: { type: 'string' },
    serial: { type: 'string' },
    subject: { type: 'string' },
    notBefore: { type: 'string', format: 'date-time' },
    notAfter: { type: 'string', format: 'date-time' },
    certificate: { type: 'string', description: 'PEM' },
  },
} as const;

const keyTypeSchema = {
  type: 'string',
  enum: SOFTWARE_KEY_TYPES,
  description: 'the keystore generates and keeps a key of this type for the applicant ("cloud certificate")',
} as const;

/** JSON view of an application (personal fields masked). */
export function applicationView(a: Application) {
  return {
    id: a.id,
    profile: a.profileId,
    state: a.state,
    applicant: maskApplicant(a.applicant),
    key: a.key.kind === 'csr' ? { kind: 'csr' } : { kind: 'server-key', keyId: a.key.keyId },
    caId: a.caId ?? null,
    validityDays: a.validityDays ?? null,
    submittedBy: a.submittedBy,
    submittedAt: a.submittedAt.toISOString(),
    review: a.review
      ? { by: a.review.by, at: a.review.at.toISOString(), reason: a.review.reason ?? null }
      : null,
    certificate: a.certificate ?? null,
  };
}

function issuedView(r: IssueResult) {
  return {
    caId: r.caId,
    serial: r.serial,
    subject: r.certificate.subjectText,
    notBefore: r.certificate.notBefore.toISOString(),
    notAfter: r.certificate.notAfter.toISOString(),
    certificate: r.certificate.toPem(),
  };
}

type ApplyBody = {
  profile: string;
  applicant: Application['applicant'];
  csr?: string;
  serverKeyType?: KeyType;
  caId?: string;
  validityDays?: number;
};
type SearchQuery = {
  state?: ApplicationState;
  profile?: string;
  employeeNo?: string;
  department?: string;
  name?: string;
  idNumber?: string;
  submittedBy?: string;
  limit: number;
  offset: number;
};
type RenewBody = { csr?: string; serverKeyType?: KeyType; validityDays?: number; supersede?: boolean };

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 64 } },
} as const;

/** `/api/v1/applications*` and `/api/v1/certificates/{caId}/{serial}/renew`. */
export function applicationRoutes(
  services: Services,
  metrics: Metrics,
  onStatusChange: StatusListener,
): FastifyPluginAsync {
  return async (app) => {
    app.addHook('preHandler', authenticate(services));
    const reviewer = requireRole(...REVIEW_ROLES);

    app.post<{ Body: ApplyBody }>(
      '/applications',
      {
        schema: {
          tags: ['applications'],
          summary: 'Apply for a certificate with a PKCS#10 request, or with a key the keystore generates',
          security: bearerSecurity,
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['profile', 'applicant'],
            properties: {
              profile: { type: 'string', minLength: 1, maxLength: 64 },
              applicant: applicantSchema,
              csr: { type: 'string', minLength: 1, maxLength: 65536, description: 'PKCS#10 request, PEM' },
              serverKeyType: keyTypeSchema,
              caId: { type: 'string', maxLength: 64 },
              validityDays: { type: 'integer', minimum: 1, maximum: 36500 },
            },
          },
          response: { 201: applicationSchema, ...errors },
        },
      },
      async (request, reply) => {
        const b = request.body;
        const a = await services.lifecycle.apply({
          profileId: b.profile,
          applicant: b.applicant,
          ...(b.csr !== undefined ? { csr: b.csr } : {}),
          ...(b.serverKeyType !== undefined ? { serverKeyType: b.serverKeyType } : {}),
          ...(b.caId !== undefined ? { caId: b.caId } : {}),
          ...(b.validityDays !== undefined ? { validityDays: b.validityDays } : {}),
          actor: callerOf(request).actor,
        });
        request.log.info({ application: a.id, profile: a.profileId }, 'application submitted');
        return reply.code(201).send(applicationView(a));
      },
    );

    app.get<{ Querystring: SearchQuery }>(
      '/applications',
      {
        schema: {
          tags: ['applications'],
          summary: 'List and search applications (newest first)',
          security: bearerSecurity,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              state: { type: 'string', enum: STATES },
              profile: { type: 'string', maxLength: 64 },
              employeeNo: { type: 'string', maxLength: 64 },
              department: { type: 'string', maxLength: 128 },
              name: { type: 'string', maxLength: 128, description: 'substring of the name' },
              idNumber: {
                type: 'string',
                maxLength: 64,
                description: 'exact ID number (matched by keyed hash)',
              },
              submittedBy: { type: 'string', maxLength: 128 },
              limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
              offset: { type: 'integer', minimum: 0, default: 0 },
            },
          },
          response: {
            200: {
              type: 'object',
              required: ['total', 'items'],
              properties: { total: { type: 'integer' }, items: { type: 'array', items: applicationSchema } },
            },
            ...errors,
          },
        },
      },
      async (request) => {
        const q = request.query;
        const page = await services.applications.search({
          ...(q.state ? { state: q.state } : {}),
          ...(q.profile ? { profile: q.profile } : {}),
          ...(q.employeeNo ? { employeeNo: q.employeeNo } : {}),
          ...(q.department ? { department: q.department } : {}),
          ...(q.name ? { name: q.name } : {}),
          ...(q.idNumber ? { idNumber: q.idNumber } : {}),
          ...(q.submittedBy ? { submittedBy: q.submittedBy } : {}),
          limit: q.limit,
          offset: q.offset,
        });
        return { total: page.total, items: page.items.map(applicationView) };
      },
    );

    app.get<{ Params: { id: string } }>(
      '/applications/:id',
      {
        schema: {
          tags: ['applications'],
          summary: 'One application',
          security: bearerSecurity,
          params: idParams,
          response: { 200: applicationSchema, ...errors },
        },
      },
      async (request) => {
        const a = await services.applications.get(request.params.id);
        if (!a) throw new DomainError('CA_APPLICATION_NOT_FOUND', `no application ${request.params.id}`);
        return applicationView(a);
      },
    );

    app.post<{ Params: { id: string }; Body: { reason?: string } }>(
      '/applications/:id/approve',
      {
        preHandler: reviewer,
        schema: {
          tags: ['applications'],
          summary: 'Approve a pending application and issue its certificate (security administrator / RA)',
          security: bearerSecurity,
          params: idParams,
          body: {
            type: ['object', 'null'],
            additionalProperties: false,
            properties: { reason: { type: 'string', maxLength: 1024 } },
          },
          response: {
            200: {
              type: 'object',
              required: ['application', 'certificate'],
              properties: { application: applicationSchema, certificate: issuedSchema },
            },
            ...errors,
          },
        },
      },
      async (request) => {
        const reason = request.body?.reason;
        const { application, issued } = await services.lifecycle.approve({
          id: request.params.id,
          actor: callerOf(request).actor,
          ...(reason !== undefined ? { reason } : {}),
        });
        metrics.issued.inc({ ca: issued.caId, profile: application.profileId });
        request.log.info(
          { application: application.id, caId: issued.caId, serial: issued.serial },
          'application approved and issued',
        );
        return { application: applicationView(application), certificate: issuedView(issued) };
      },
    );

    app.post<{ Params: { id: string }; Body: { reason: string } }>(
      '/applications/:id/reject',
      {
        preHandler: reviewer,
        schema: {
          tags: ['applications'],
          summary: 'Reject a pending application, with a reason (security administrator / RA)',
          security: bearerSecurity,
          params: idParams,
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['reason'],
            properties: { reason: { type: 'string', minLength: 1, maxLength: 1024 } },
          },
          response: { 200: applicationSchema, ...errors },
        },
      },
      async (request) => {
        const a = await services.lifecycle.reject({
          id: request.params.id,
          actor: callerOf(request).actor,
          reason: request.body.reason,
        });
        request.log.info({ application: a.id }, 'application rejected');
        return applicationView(a);
      },
    );

    app.post<{ Params: { caId: string; serial: string }; Body: RenewBody }>(
      '/certificates/:caId/:serial/renew',
      {
        preHandler: reviewer,
        schema: {
          tags: ['certificates'],
          summary:
            'Renew a certificate: same key (default), a new PKCS#10 request, or a new server-held key; optionally revoke the old one as superseded',
          security: bearerSecurity,
          params: {
            type: 'object',
            required: ['caId', 'serial'],
            properties: {
              caId: { type: 'string', maxLength: 64 },
              serial: { type: 'string', maxLength: 64, description: 'hex serial number' },
            },
          },
          body: {
            type: ['object', 'null'],
            additionalProperties: false,
            properties: {
              csr: { type: 'string', minLength: 1, maxLength: 65536, description: 'PKCS#10 request, PEM' },
              serverKeyType: keyTypeSchema,
              validityDays: { type: 'integer', minimum: 1, maximum: 36500 },
              supersede: {
                type: 'boolean',
                description: 'revoke the old certificate (reason superseded) once the new one is stored',
              },
            },
          },
          response: {
            201: {
              type: 'object',
              required: ['caId', 'serial', 'certificate', 'replaces', 'superseded'],
              properties: {
                ...issuedSchema.properties,
                replaces: refSchema,
                superseded: { type: 'boolean' },
              },
            },
            ...errors,
          },
        },
      },
      async (request, reply) => {
        const b = request.body ?? {};
        const { caId } = request.params;
        const r = await services.lifecycle.renew({
          caId,
          serial: normaliseSerial(request.params.serial),
          ...(b.csr !== undefined ? { csr: b.csr } : {}),
          ...(b.serverKeyType !== undefined ? { serverKeyType: b.serverKeyType } : {}),
          ...(b.validityDays !== undefined ? { validityDays: b.validityDays } : {}),
          ...(b.supersede !== undefined ? { supersede: b.supersede } : {}),
          actor: callerOf(request).actor,
        });
        metrics.issued.inc({ ca: r.caId, profile: r.profile });
        if (r.superseded) {
          onStatusChange(caId);
          metrics.revoked.inc({ ca: caId, reason: 'superseded' });
        }
        request.log.info({ caId: r.caId, serial: r.serial, replaces: r.replaces }, 'renewed');
        return reply.code(201).send({ ...issuedView(r), replaces: r.replaces, superseded: r.superseded });
      },
    );
  };
}
