/**
 * The HTTP face of medsign: one Fastify app that composes a route plugin per enabled role (ca/admin →
 * certificate API, crl → CRLs, ocsp → OCSP, tsa → time-stamps) plus health, metrics and the OpenAPI document generated from
 * the same JSON schemas that validate every request. Services come in ready-made (services.ts), so this
 * file knows HTTP and nothing about databases or keys; errors become problem+json in problem.ts only.
 */

import { randomUUID } from 'node:crypto';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { buildOcspErrorResponse } from '@medsign/pki';
import Fastify, {
  LogController,
  type FastifyInstance,
  type FastifyReply,
  type FastifyServerOptions,
} from 'fastify';
import { handleError, handleNotFound, problemSchema } from './problem.js';
import { authRoutes } from './routes/auth.js';
import { caCertificateRoutes } from './routes/ca-certs.js';
import { applicationRoutes } from './routes/applications.js';
import { certificateRoutes } from './routes/certificates.js';
import { crlRoutes } from './routes/crl.js';
import { createMetrics, instrumentRequests, observabilityRoutes } from './routes/observability.js';
import { OCSP_RESPONSE_TYPE, ocspRoutes } from './routes/ocsp.js';
import { timeSourceRoutes } from './routes/time-source.js';
import { hmacSecuritySchemes, signRoutes } from './routes/sign.js';
import { verifyPageRoutes } from './routes/verify-page.js';
import { signAdminRoutes } from './routes/sign-admin.js';
import { signCors } from './routes/sign-cors.js';
import { tsaRoutes } from './routes/tsa.js';
import type { Services } from './services.js';

/** Default limit on request bodies: CSRs and applicant data are a few KiB; nothing legitimate nears this. */
export const BODY_LIMIT = 1024 * 1024;

/** Options of {@link buildApp}. */
export type AppOptions = {
  /** false: no logs (tests); true: pino JSON at the configured level; an object: pino options merged in. */
  logger?: boolean | object;
  /** false: do not start the CRL schedule (tests drive CrlPublisher.runDue themselves). Default true. */
  crlSchedule?: boolean;
  /** Serve HTTPS with these options (tls-server.ts: certificate, key, mTLS client-certificate request). */
  https?: HttpsServerOptions;
};

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** pino options: JSON lines, request ids, no bodies, no query strings, no credentials. */
function loggerOptions(services: Services, logger: AppOptions['logger']): FastifyServerOptions['logger'] {
  if (logger === false || logger === undefined) return false;
  const configured = (services.config as { logLevel?: string }).logLevel;
  return {
    level: configured ?? 'info',
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'password'],
      censor: '[redacted]',
    },
    serializers: {
      // The query string may carry a searched name or department: log the path only.
      req: (req: { method: string; url: string; id: string; ip?: string }) => ({
        id: req.id,
        method: req.method,
        path: req.url.split('?')[0],
        remote: req.ip,
      }),
      res: (res: { statusCode: number }) => ({ status: res.statusCode }),
    },
    ...(typeof logger === 'object' ? logger : {}),
  };
}

type OpenApiLike = {
  paths?: Record<
    string,
    Record<string, { responses?: Record<string, { content?: Record<string, unknown> }> }>
  >;
};

/** Renames application/json to application/problem+json on every 4xx/5xx response of the document. */
function problemMediaType(doc: OpenApiLike): void {
  for (const operations of Object.values(doc.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        const json = response.content?.['application/json'];
        if (Number(status) >= 400 && json && response.content) {
          delete response.content['application/json'];
          response.content['application/problem+json'] = json;
        }
      }
    }
  }
}

/** Builds the app for the enabled roles; the caller listens (start.ts) or injects requests (tests). */
export async function buildApp(services: Services, opts: AppOptions = {}): Promise<FastifyInstance> {
  const roles = new Set(services.config.roles);
  // With `https` Fastify serves TLS; the instance is typed as the HTTP one (the routes do not care).
  const fastify = Fastify as unknown as (
    o: FastifyServerOptions & { https?: HttpsServerOptions },
  ) => FastifyInstance;
  const app = fastify({
    ...(opts.https ? { https: opts.https } : {}),
    logger: loggerOptions(services, opts.logger),
    bodyLimit: BODY_LIMIT,
    // A caller may pass its own id for correlation (x-request-id), if it is short and plain.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
    // One line per request, written by the onResponse hook below (route template, status, time, actor).
    logController: new LogController({ disableRequestLogging: true }),
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: false },
    },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 4096 },
    // A URL that is not even valid percent-encoding: OCSP GET clients still get an OCSP answer.
    frameworkErrors: (error, request, rawReply) => {
      const reply = rawReply as FastifyReply;
      if (request.method === 'GET' && request.url.startsWith('/pki/ocsp/') && roles.has('ocsp'))
        return reply
          .code(200)
          .type(OCSP_RESPONSE_TYPE)
          .send(Buffer.from(buildOcspErrorResponse('malformedRequest')));
      return handleError(error, request, reply);
    },
  });

  app.addSchema(problemSchema);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(handleNotFound);

  // Binary request bodies (OCSP requests, PKCS#10) arrive as Buffers; the route decides what they mean.
  app.addContentTypeParser(
    ['application/ocsp-request', 'application/pkcs10'],
    { parseAs: 'buffer' },
    (_request, body, done) => done(null, body),
  );

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // Browser pages of the listed origins may call the signing API (off by default).
  if (roles.has('sign')) signCors(app, services.config.sign.corsOrigins ?? []);
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        ...(request.caller ? { actor: request.caller.actor } : {}),
      },
      'request completed',
    );
  });

  const metrics = createMetrics();
  instrumentRequests(app, metrics);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'medsign API',
        description:
          'Hospital e-signature platform: certificate authority (issue, revoke, search), CRL and OCSP, and the ' +
          'signing service for hospital systems (HMAC-SM3 signed requests, or mTLS client certificates over HTTPS: docs/integration/auth.md). ' +
          'Errors are application/problem+json with a medsign error code (docs/errors.md).',
        version: '0.1.0',
      },
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' }, ...hmacSecuritySchemes },
      },
      tags: [
        { name: 'auth', description: 'Operator login' },
        { name: 'applications', description: 'Apply, review (approve/reject) and issue' },
        { name: 'certificates', description: 'Issue, look up, renew, revoke, statistics' },
        { name: 'catalogue', description: 'Profiles and issuing CAs' },
        { name: 'audit', description: 'The hash-chained audit log' },
        {
          name: 'signing',
          description: 'Sign, verify and signature records for hospital systems (HMAC-SM3)',
        },
        { name: 'pki', description: 'Public PKI endpoints: CRL, OCSP, CA certificates' },
        { name: 'tsa', description: 'RFC 3161 time-stamp authority' },
        { name: 'operations', description: 'Health and metrics' },
      ],
    },
    // Error responses are problem documents: say so with their media type in the OpenAPI document.
    transformObject: (documentObject) => {
      const doc =
        'openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject;
      problemMediaType(doc as OpenApiLike);
      return doc;
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  // The reference page serves Swagger UI's assets from the package itself: it works on an offline intranet.
  await app.register(swaggerUi, { routePrefix: '/api/docs', staticCSP: true });

  await app.register(observabilityRoutes(services, metrics));

  // CRLs: counted as they are published; the schedule runs while the app does (crl role).
  const published = (caId: string, kind: string) => metrics.crlsGenerated.inc({ ca: caId, kind });
  const failed = (caId: string, error: unknown) =>
    app.log.error({ caId, err: error }, 'CRL publication failed (the next scheduled run retries)');
  services.crls.listeners.add(published);
  services.crls.errorListeners.add(failed);
  app.addHook('onClose', async () => {
    services.crls.listeners.delete(published);
    services.crls.errorListeners.delete(failed);
    await services.crls.stop();
  });
  if (roles.has('crl') && opts.crlSchedule !== false) services.crls.start();
  if (roles.has('ca') || roles.has('admin')) {
    await app.register(
      async (api) => {
        await api.register(authRoutes(services));
        await api.register(certificateRoutes(services, metrics, (caId) => services.crls.changed(caId)));
        await api.register(applicationRoutes(services, metrics, (caId) => services.crls.changed(caId)));
        await api.register(timeSourceRoutes(services));
        if (roles.has('sign')) await api.register(signAdminRoutes(services));
      },
      { prefix: '/api/v1' },
    );
  }
  if (roles.has('sign')) {
    await app.register(signRoutes(services, metrics), { prefix: '/api/v1' });
    await app.register(verifyPageRoutes(services));
  }
  if (roles.has('crl')) await app.register(crlRoutes(services.crls, () => services.ca.clock.now()));
  if (roles.has('ocsp')) await app.register(ocspRoutes(services, metrics));
  if (roles.has('ca') || roles.has('crl') || roles.has('ocsp'))
    await app.register(caCertificateRoutes(services));
  if (roles.has('tsa')) {
    // Units load now, so a TSA certificate that is unusable stops the start instead of the first request.
    await services.tsa.units();
    await app.register(tsaRoutes(services, metrics));
  }

  return app;
}
