/**
 * The sign-job API of the `sign` role under /api/v1 (registered inside signRoutes, so the same HMAC-SM3
 * authentication, raw-body parser and per-application metrics apply): create a job of many documents keyed
 * by business ids, authorise it once, read its state and per-document results, cancel it before signing.
 * Jobs run in the background of this process (sign-jobs.ts); the rules live in @medsign/sign's jobs.ts.
 */

import { DomainError } from '@medsign/errors';
import { encodePem } from '@medsign/gm';
import {
  authoriseSignJob,
  cancelSignJob,
  createSignJob,
  getSignJob,
  SIGN_JOB_STATES,
  SIGNATURE_FORMATS,
  type SignJobDeps,
  type SignJobDocumentState,
  type SignJobRecord,
  type SignJobRequest,
} from '@medsign/sign';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import { buildSignJobDeps, SignJobScheduler } from '../sign-jobs.js';
import { appOf, hmacSecurity, idempotencyOf } from './sign.js';
import {
  docTypeProperty,
  formatProperty,
  idempotencyHeaders,
  idParams,
  metaField,
  oidsProperty,
  pinProperty,
  signErrors,
  signerProperty,
  visitRefProperty,
} from './sign-schemas.js';

const errors = signErrors;

/** Results listed inline in a job's answer; more through /results. */
const INLINE_RESULTS = 100;

const schedulers = new WeakMap<Services, SignJobScheduler>();

/** The sign-job scheduler of a server's services (tests, operations). */
export function signJobScheduler(services: Services): SignJobScheduler | undefined {
  return schedulers.get(services);
}

const documentSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['businessId'],
  properties: {
    businessId: {
      type: 'string',
      minLength: 1,
      maxLength: 128,
      description: "the hospital system's id of this document, unique in the job",
    },
    data: { type: 'string', description: 'the data, base64 — or' },
    digest: { type: 'string', maxLength: 128, description: 'its digest, hex (p7-detached only)' },
    digestAlgorithm: { type: 'string', enum: ['sm3', 'sha256'] },
    system: metaField,
    docType: docTypeProperty,
    docId: metaField,
    departmentCode: metaField,
    visitRef: visitRefProperty,
  },
} as const;

const resultSchema = {
  type: 'object',
  required: ['businessId', 'state'],
  properties: {
    businessId: { type: 'string' },
    state: { type: 'string', enum: ['pending', 'signed', 'failed'] },
    signatureId: { type: ['string', 'null'] },
    errorCode: { type: ['string', 'null'] },
    errorDetail: { type: ['string', 'null'] },
    signature: { type: 'string', description: 'base64 (with include=signature)' },
    token: { type: ['string', 'null'], description: 'base64 TimeStampToken (with include=signature)' },
    digest: { type: 'string', description: 'hex digest of the signed data (with include=signature)' },
  },
} as const;

const jobSchema = {
  type: 'object',
  required: ['id', 'state', 'signer', 'documents', 'signed', 'failed', 'pending', 'createdAt'],
  properties: {
    id: { type: 'string' },
    state: { type: 'string', enum: [...SIGN_JOB_STATES] },
    signer: { type: 'string', description: 'employee number' },
    format: { type: 'string', enum: [...SIGNATURE_FORMATS] },
    oids: { type: 'string' },
    timestamp: { type: 'boolean' },
    metadata: { type: 'object', additionalProperties: { type: 'string' } },
    callbackUrl: { type: ['string', 'null'] },
    authorisation: {
      type: ['string', 'null'],
      description: 'how the signer authorised the job: pin or authorisation (null while awaiting)',
    },
    documents: { type: 'integer' },
    pending: { type: 'integer' },
    signed: { type: 'integer' },
    failed: { type: 'integer' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    expiresAt: {
      type: 'string',
      format: 'date-time',
      description: 'the deadline for the authorisation',
    },
    authorisedAt: { type: ['string', 'null'], format: 'date-time' },
    completedAt: { type: ['string', 'null'], format: 'date-time' },
    certificate: { type: 'string', description: "the signer's certificate, PEM (P1 signatures need it)" },
    webhook: {
      type: ['object', 'null'],
      properties: {
        state: { type: 'string', enum: ['none', 'pending', 'delivered', 'failed'] },
        deliveryId: { type: ['string', 'null'] },
        attempts: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              attempt: { type: 'integer' },
              at: { type: 'string', format: 'date-time' },
              status: { type: ['integer', 'null'] },
              error: { type: ['string', 'null'] },
              durationMs: { type: 'integer' },
            },
          },
        },
      },
    },
    results: {
      type: 'array',
      items: resultSchema,
      description: `the first ${INLINE_RESULTS} documents in request order; GET …/results pages through all`,
    },
  },
} as const;

/** `/api/v1/sign-jobs*` (role `sign`; registered inside signRoutes). */
export function signJobRoutes(services: Services): FastifyPluginAsync {
  return async (app) => {
    let scheduler: SignJobScheduler | undefined;
    const jobs = (): { deps: SignJobDeps; scheduler: SignJobScheduler } => {
      if (!scheduler) {
        scheduler = new SignJobScheduler(
          buildSignJobDeps(services, {
            onUnexpectedError: (err, context) =>
              app.log.error({ err, ...context }, 'sign job document failed unexpectedly'),
          }),
          { concurrency: services.config.sign.jobConcurrency, log: app.log },
        );
        schedulers.set(services, scheduler);
      }
      return { deps: scheduler.deps, scheduler };
    };
    // Test doubles of the services without a signing store run no scheduler.
    const enabled = () => Boolean(services.sign && services.store?.signJobs);
    app.addHook('onReady', async () => {
      if (enabled()) await jobs().scheduler.start();
    });
    app.addHook('onClose', async () => {
      await scheduler?.stop();
    });

    const appId = (request: FastifyRequest): string => appOf(request).id;

    async function view(job: SignJobRecord, deps: SignJobDeps) {
      const [counts, first, signer, attempts] = await Promise.all([
        deps.jobs.countDocuments(job.id),
        deps.jobs.listDocuments(job.id, { offset: 0, limit: INLINE_RESULTS }),
        deps.store.getSigner(job.signerId),
        job.webhookState === 'none' ? Promise.resolve([]) : deps.jobs.listWebhookAttempts(job.id),
      ]);
      return {
        id: job.id,
        state: job.state,
        signer: job.employeeNo,
        format: job.format,
        oids: job.oids,
        timestamp: job.timestamp,
        metadata: job.metadata,
        callbackUrl: job.callbackUrl,
        authorisation: job.intent ? job.intent.split(':')[0]! : null,
        documents: job.documentCount,
        ...counts,
        createdAt: job.createdAt.toISOString(),
        updatedAt: job.updatedAt.toISOString(),
        expiresAt: job.expiresAt.toISOString(),
        authorisedAt: job.authorisedAt?.toISOString() ?? null,
        completedAt: job.completedAt?.toISOString() ?? null,
        ...(signer ? { certificate: encodePem('CERTIFICATE', signer.certificate) } : {}),
        webhook: job.callbackUrl
          ? {
              state: job.webhookState,
              deliveryId: job.webhookDeliveryId,
              attempts: attempts.map((a) => ({
                attempt: a.attempt,
                at: a.at.toISOString(),
                status: a.status,
                error: a.error,
                durationMs: a.durationMs,
              })),
            }
          : null,
        results: first.items.map((d) => ({
          businessId: d.businessId,
          state: d.state,
          signatureId: d.signatureId,
          errorCode: d.errorCode,
          errorDetail: d.errorDetail,
        })),
      };
    }

    const c = services.config.sign;
    app.post<{ Body: SignJobRequest }>(
      '/sign-jobs',
      {
        config: { operation: 'sign' },
        bodyLimit: Math.ceil((c.maxJobBytes * 4) / 3) + c.maxJobDocuments * 2048 + 64 * 1024,
        schema: {
          tags: ['signing'],
          summary: 'Create a sign job: many documents keyed by business ids, authorised once',
          description: `Every document is checked first; a malformed one rejects the job (the error names its index and business id). With \`pin\`, or a live signing authorisation of the signer for this application, signing starts at once; otherwise the job awaits POST /sign-jobs/{id}/authorise until \`expiresAt\` (sign.jobExpiryMinutes). At most sign.maxJobDocuments documents and sign.maxJobBytes bytes of data (SIGN_JOB_TOO_LARGE). \`callbackUrl\` gets an HMAC-SM3 signed webhook when the job ends. Send \`Idempotency-Key\` to make retries safe.`,
          security: hmacSecurity,
          headers: idempotencyHeaders,
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['signer', 'documents'],
            properties: {
              signer: signerProperty,
              pin: pinProperty(
                'the PIN: signs at once (leave out to use an authorisation, or to authorise later)',
              ),
              format: { ...formatProperty, default: 'p7-detached' },
              oids: oidsProperty,
              timestamp: { type: 'boolean' },
              metadata: {
                type: 'object',
                additionalProperties: false,
                description: "metadata common to every document (a document's own fields take precedence)",
                properties: {
                  system: metaField,
                  docType: metaField,
                  docId: metaField,
                  departmentCode: metaField,
                  visitRef: metaField,
                },
              },
              documents: { type: 'array', minItems: 1, items: documentSchema },
              callbackUrl: {
                type: 'string',
                maxLength: 2048,
                description: 'http(s) URL that gets the webhook when the job ends',
              },
            },
          },
          response: { 200: jobSchema, 201: jobSchema, ...errors },
        },
      },
      async (request, reply) => {
        const { deps, scheduler: s } = jobs();
        const { job, replayed } = await createSignJob(
          request.body,
          {
            appId: appId(request),
            clientIp: request.ip,
            ...idempotencyOf(request),
          },
          deps,
        );
        if (job.state === 'signing') s.enqueue(job.id);
        if (replayed) reply.header('idempotent-replayed', 'true');
        request.log.info(
          { job: job.id, state: job.state, documents: job.documentCount, replayed },
          'sign job',
        );
        const fresh = replayed ? await getSignJob(job.id, job.appId, deps) : job;
        return reply.code(replayed ? 200 : 201).send(await view(fresh, deps));
      },
    );

    app.get<{ Params: { id: string } }>(
      '/sign-jobs/:id',
      {
        config: { operation: 'sign' },
        schema: {
          tags: ['signing'],
          summary: "A sign job: state, counts, the first results (the job's own application only)",
          security: hmacSecurity,
          params: idParams,
          response: { 200: jobSchema, ...errors },
        },
      },
      async (request) => {
        const { deps } = jobs();
        return view(await getSignJob(request.params.id, appId(request), deps), deps);
      },
    );

    app.get<{
      Params: { id: string };
      Querystring: { offset: number; limit: number; state?: SignJobDocumentState; include?: 'signature' };
    }>(
      '/sign-jobs/:id/results',
      {
        config: { operation: 'sign' },
        schema: {
          tags: ['signing'],
          summary: 'Per-document results of a sign job, in request order, paged',
          description:
            "`include=signature` adds each signed document's signature (base64), token and digest (then at most 100 per page).",
          security: hmacSecurity,
          params: idParams,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              offset: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 },
              limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
              state: { type: 'string', enum: ['pending', 'signed', 'failed'] },
              include: { type: 'string', enum: ['signature'] },
            },
          },
          response: {
            200: {
              type: 'object',
              required: ['total', 'offset', 'items'],
              properties: {
                total: { type: 'integer' },
                offset: { type: 'integer' },
                items: { type: 'array', items: resultSchema },
              },
            },
            ...errors,
          },
        },
      },
      async (request) => {
        const { deps } = jobs();
        const job = await getSignJob(request.params.id, appId(request), deps);
        const q = request.query;
        const withSignature = q.include === 'signature';
        if (withSignature && q.limit > 100)
          throw new DomainError('REQUEST_INVALID', 'include=signature pages hold at most 100 results');
        const page = await deps.jobs.listDocuments(job.id, {
          offset: q.offset,
          limit: q.limit,
          ...(q.state ? { state: q.state } : {}),
        });
        const items = await Promise.all(
          page.items.map(async (d) => {
            const base = {
              businessId: d.businessId,
              state: d.state,
              signatureId: d.signatureId,
              errorCode: d.errorCode,
              errorDetail: d.errorDetail,
            };
            if (!withSignature || !d.signatureId) return base;
            const r = await deps.store.getSignature(d.signatureId);
            return r
              ? {
                  ...base,
                  signature: Buffer.from(r.signature).toString('base64'),
                  token: r.token ? Buffer.from(r.token).toString('base64') : null,
                  digest: r.digest,
                }
              : base;
          }),
        );
        return { total: page.total, offset: q.offset, items };
      },
    );

    app.post<{ Params: { id: string }; Body: { pin?: string } | undefined }>(
      '/sign-jobs/:id/authorise',
      {
        config: { operation: 'sign' },
        schema: {
          tags: ['signing'],
          summary: 'Authorise a sign job awaiting authorisation (the signer enters the PIN once)',
          description:
            'A wrong PIN counts toward the lockout like any PIN check. Without `pin`, a live signing authorisation of the signer for this application authorises the job. Then signing starts in the background.',
          security: hmacSecurity,
          params: idParams,
          body: {
            type: 'object',
            additionalProperties: false,
            properties: { pin: { type: 'string', minLength: 1, maxLength: 64 } },
          },
          response: { 200: jobSchema, ...errors },
        },
      },
      async (request) => {
        const { deps, scheduler: s } = jobs();
        const job = await authoriseSignJob(
          request.params.id,
          request.body?.pin,
          appId(request),
          deps,
          request.ip,
        );
        s.enqueue(job.id);
        return view(job, deps);
      },
    );

    app.delete<{ Params: { id: string } }>(
      '/sign-jobs/:id',
      {
        config: { operation: 'sign' },
        schema: {
          tags: ['signing'],
          summary: 'Cancel a sign job before signing starts (while it awaits authorisation)',
          security: hmacSecurity,
          params: idParams,
          response: { 200: jobSchema, ...errors },
        },
      },
      async (request) => {
        const { deps, scheduler: s } = jobs();
        const job = await cancelSignJob(request.params.id, appId(request), deps);
        s.deliver(job.id);
        return view(job, deps);
      },
    );
  };
}
