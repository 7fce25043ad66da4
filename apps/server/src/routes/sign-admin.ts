/**
 * Administration of the signing service for operators (bearer token, role `admin`), the same actions as the
 * CLI's `medsign app create`, `signer add` and `signer unlock`: register an application (its secret is in this
 * one answer only), enrol a signer, unlock a signer's key after too many wrong PINs. All audited by the core.
 */

import {
  createApp,
  enrolSigner,
  OPERATIONS,
  SIGNER_KEY_TYPES,
  SYSTEM_TYPES,
  unlockSigner,
  type NewApp,
  type NewSigner,
  type SignerView,
} from '@medsign/sign';
import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../services.js';
import { authenticate, bearerSecurity, callerOf, requireRole } from './auth.js';
import { problemRef } from './schemas.js';

const errors = { 400: problemRef, 401: problemRef, 403: problemRef, 404: problemRef, 409: problemRef };

const signerSchema = {
  type: 'object',
  required: ['id', 'employeeNo', 'name', 'departmentCode', 'caId', 'certSerial', 'locked'],
  properties: {
    id: { type: 'string' },
    employeeNo: { type: 'string' },
    name: { type: 'string' },
    departmentCode: { type: 'string' },
    profile: { type: 'string' },
    caId: { type: 'string' },
    certSerial: { type: 'string' },
    locked: { type: 'boolean' },
    failedPins: { type: 'integer' },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

function signerJson(s: SignerView) {
  return {
    id: s.id,
    employeeNo: s.employeeNo,
    name: s.name,
    departmentCode: s.departmentCode,
    profile: s.profile,
    caId: s.caId,
    certSerial: s.certSerial,
    locked: s.locked,
    failedPins: s.failedPins,
    createdAt: s.createdAt.toISOString(),
  };
}

/** `/api/v1/apps`, `/api/v1/signers`, `/api/v1/signers/{employeeNo}/unlock` (role admin). */
export function signAdminRoutes(services: Services): FastifyPluginAsync {
  return async (app) => {
    app.addHook('preHandler', authenticate(services));
    app.addHook('preHandler', requireRole('admin'));

    app.post<{ Body: NewApp }>(
      '/apps',
      {
        schema: {
          tags: ['signing'],
          summary: 'Register a hospital system with the signing service; the secret is in this answer only',
          security: bearerSecurity,
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'systemType'],
            properties: {
              name: { type: 'string', minLength: 1, maxLength: 128 },
              systemType: { type: 'string', enum: [...SYSTEM_TYPES] },
              ownerDepartment: { type: 'string', maxLength: 128 },
              operations: { type: 'array', items: { type: 'string', enum: [...OPERATIONS] }, maxItems: 3 },
              ipRanges: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 64 },
              rateLimit: { type: 'integer', minimum: 1, maximum: 1_000_000 },
            },
          },
          response: {
            201: {
              type: 'object',
              required: ['id', 'secret'],
              properties: {
                id: { type: 'string' },
                secret: { type: 'string', description: 'shown once; kept only encrypted' },
                name: { type: 'string' },
                systemType: { type: 'string' },
                operations: { type: 'array', items: { type: 'string' } },
                ipRanges: { type: 'array', items: { type: 'string' } },
                rateLimit: { type: 'integer' },
              },
            },
            ...errors,
          },
        },
      },
      async (request, reply) => {
        const { app: created, secret } = await createApp(
          request.body,
          callerOf(request).actor,
          services.sign.deps,
        );
        reply.header('cache-control', 'no-store');
        return reply.code(201).send({ ...created, createdAt: created.createdAt.toISOString(), secret });
      },
    );

    app.post<{ Body: NewSigner }>(
      '/signers',
      {
        schema: {
          tags: ['signing'],
          summary:
            "Enrol a signer: a server-held key in the keystore and a certificate from this platform's CA",
          security: bearerSecurity,
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'employeeNo', 'departmentCode', 'pin'],
            properties: {
              name: { type: 'string', minLength: 1, maxLength: 64 },
              employeeNo: { type: 'string', minLength: 1, maxLength: 32 },
              departmentCode: { type: 'string', minLength: 1, maxLength: 32 },
              pin: { type: 'string', minLength: 6, maxLength: 32 },
              profile: { type: 'string', maxLength: 64 },
              keyType: { type: 'string', enum: [...SIGNER_KEY_TYPES] },
            },
          },
          response: {
            201: {
              ...signerSchema,
              properties: { ...signerSchema.properties, certificate: { type: 'string' } },
            },
            ...errors,
          },
        },
      },
      async (request, reply) => {
        const r = await enrolSigner(request.body, callerOf(request).actor, services.sign.deps);
        return reply.code(201).send({ ...signerJson(r.signer), certificate: r.certificatePem });
      },
    );

    app.post<{ Params: { employeeNo: string } }>(
      '/signers/:employeeNo/unlock',
      {
        schema: {
          tags: ['signing'],
          summary: "Unlock a signer's key locked after too many wrong PINs",
          security: bearerSecurity,
          params: {
            type: 'object',
            required: ['employeeNo'],
            properties: { employeeNo: { type: 'string', maxLength: 32 } },
          },
          response: { 200: signerSchema, ...errors },
        },
      },
      async (request) =>
        signerJson(
          await unlockSigner(request.params.employeeNo, callerOf(request).actor, services.sign.deps),
        ),
    );
  };
}
