/**
 * Administration of the signing service for operators (bearer token, role `admin`), the same actions as the
 * CLI's `medsign app create`, `signer add` and `signer unlock`: register an application (its secret is in this
 * one answer only), enrol a signer, unlock a signer's key after too many wrong PINs. All audited by the core.
 */

import {
  bindClientCertificate,
  createApp,
  MAX_SECRET_GRACE_SECONDS,
  DEFAULT_SECRET_GRACE_SECONDS,
  rotateAppSecret,
  unbindClientCertificate,
  type ClientCertificateBinding,
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

const bindingSchema = {
  type: 'object',
  required: ['appId', 'fingerprint', 'caId', 'serial', 'createdAt'],
  properties: {
    appId: { type: 'string' },
    fingerprint: { type: 'string', description: 'SHA-256 of the certificate DER, hex' },
    caId: { type: 'string' },
    serial: { type: 'string' },
    subject: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    revokedAt: { type: ['string', 'null'], format: 'date-time', description: 'when it was unbound' },
  },
} as const;

function bindingJson(b: ClientCertificateBinding) {
  return {
    appId: b.appId,
    fingerprint: b.fingerprint,
    caId: b.caId,
    serial: b.serial,
    subject: b.subject,
    createdAt: b.createdAt.toISOString(),
    revokedAt: b.revokedAt ? b.revokedAt.toISOString() : null,
  };
}

const appIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 64 } },
} as const;

/**
 * `/api/v1/apps`, `/api/v1/apps/{id}/secret` (rotation), `/api/v1/apps/{id}/certificates` (mTLS bindings),
 * `/api/v1/signers`, `/api/v1/signers/{employeeNo}/unlock` (role admin).
 */
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

    app.post<{ Params: { id: string }; Body: { graceSeconds?: number } }>(
      '/apps/:id/secret',
      {
        schema: {
          tags: ['signing'],
          summary:
            "Rotate an application's secret: a new one (in this answer only) while the old one stays valid for a grace period",
          description: `Both secrets verify during the grace (default ${DEFAULT_SECRET_GRACE_SECONDS} s = 24 h; 0 revokes the old one at once); afterwards only the new one. Rotating again drops an earlier retired secret. Audited (app.secret-rotate).`,
          security: bearerSecurity,
          params: appIdParams,
          body: {
            type: ['object', 'null'],
            additionalProperties: false,
            properties: {
              graceSeconds: { type: 'integer', minimum: 0, maximum: MAX_SECRET_GRACE_SECONDS },
            },
          },
          response: {
            201: {
              type: 'object',
              required: ['id', 'secret', 'previousValidUntil'],
              properties: {
                id: { type: 'string' },
                secret: { type: 'string', description: 'shown once; kept only encrypted' },
                previousValidUntil: {
                  type: ['string', 'null'],
                  format: 'date-time',
                  description: 'the old secret verifies until then (null: no longer)',
                },
              },
            },
            ...errors,
          },
        },
      },
      async (request, reply) => {
        const r = await rotateAppSecret(
          request.params.id,
          request.body?.graceSeconds ?? DEFAULT_SECRET_GRACE_SECONDS,
          callerOf(request).actor,
          services.sign.deps,
        );
        reply.header('cache-control', 'no-store');
        return reply.code(201).send({
          id: r.app.id,
          secret: r.secret,
          previousValidUntil: r.previousValidUntil ? r.previousValidUntil.toISOString() : null,
        });
      },
    );

    app.post<{ Params: { id: string }; Body: { certificate: string } }>(
      '/apps/:id/certificates',
      {
        schema: {
          tags: ['signing'],
          summary: 'Bind a TLS client certificate issued by our CA to an application (mTLS)',
          description:
            'ECDSA or RSA only (no SM2 in Node.js TLS); it must chain to our CA, be good, and allow clientAuth. Requests over TLS presenting it are authenticated without HMAC headers. Audited (app.cert-bind).',
          security: bearerSecurity,
          params: appIdParams,
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['certificate'],
            properties: {
              certificate: { type: 'string', maxLength: 65_536, description: 'PEM, or base64 DER' },
            },
          },
          response: { 201: bindingSchema, ...errors },
        },
      },
      async (request, reply) => {
        const text = request.body.certificate.trim();
        const input = text.includes('-----BEGIN') ? text : new Uint8Array(Buffer.from(text, 'base64'));
        const b = await bindClientCertificate(
          request.params.id,
          input,
          callerOf(request).actor,
          services.sign.deps,
        );
        return reply.code(201).send(bindingJson(b));
      },
    );

    app.get<{ Params: { id: string } }>(
      '/apps/:id/certificates',
      {
        schema: {
          tags: ['signing'],
          summary: "An application's TLS client certificates (unbound ones too)",
          security: bearerSecurity,
          params: appIdParams,
          response: { 200: { type: 'array', items: bindingSchema }, ...errors },
        },
      },
      async (request) =>
        (await services.sign.deps.credentials.listCertificates(request.params.id)).map(bindingJson),
    );

    app.delete<{ Params: { id: string; fingerprint: string } }>(
      '/apps/:id/certificates/:fingerprint',
      {
        schema: {
          tags: ['signing'],
          summary: 'Unbind a TLS client certificate from an application (audited)',
          security: bearerSecurity,
          params: {
            type: 'object',
            required: ['id', 'fingerprint'],
            properties: {
              id: { type: 'string', maxLength: 64 },
              fingerprint: { type: 'string', maxLength: 128 },
            },
          },
          response: { 204: { type: 'null' }, ...errors },
        },
      },
      async (request, reply) => {
        await unbindClientCertificate(
          request.params.id,
          request.params.fingerprint,
          callerOf(request).actor,
          services.sign.deps,
        );
        return reply.code(204).send();
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
