/**
 * CORS for the signing API, so a web page of a hospital system may call it from the browser (@medsign/sdk
 * with a `sign` hook). Off unless `sign.corsOrigins` lists origins; only exact listed origins get CORS
 * headers, and only on the signing-API routes — the operator API and the PKI endpoints never do. No
 * credentials mode: the API authenticates by signed headers, not cookies.
 */

import type { FastifyInstance } from 'fastify';
import { AUTH_HEADERS, IDEMPOTENCY_HEADER } from '@medsign/sign';

/** The routes of routes/sign.ts and routes/sign-jobs.ts (path without the query string). */
const SIGN_API =
  /^\/api\/v1\/(?:sign|verify|sign-jobs(?:\/[^/]+(?:\/[a-z]+)?)?|signatures(?:\/[^/]+)?|authorisations(?:\/[^/]+)?)\/?$/;

const ALLOW_HEADERS = [
  'content-type',
  AUTH_HEADERS.appId,
  AUTH_HEADERS.timestamp,
  AUTH_HEADERS.nonce,
  AUTH_HEADERS.signature,
  IDEMPOTENCY_HEADER,
  'x-request-id',
].join(', ');
const EXPOSE_HEADERS = ['x-request-id', 'retry-after', 'idempotent-replayed', 'content-disposition'].join(
  ', ',
);

/** Adds the CORS hook for `origins` (exact `scheme://host[:port]` strings) to the app. */
export function signCors(app: FastifyInstance, origins: readonly string[]): void {
  if (origins.length === 0) return;
  const allowed = new Set(origins);
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0]!;
    if (!SIGN_API.test(path)) return;
    reply.header('vary', 'Origin');
    const origin = request.headers.origin;
    const ok = typeof origin === 'string' && allowed.has(origin);
    const preflight = request.method === 'OPTIONS' && request.headers['access-control-request-method'];
    if (preflight) {
      // Answered here (there is no OPTIONS route): a refused origin gets no CORS headers, so its browser stops.
      if (ok)
        reply.headers({
          'access-control-allow-origin': origin,
          'access-control-allow-methods': 'GET, POST, DELETE',
          'access-control-allow-headers': ALLOW_HEADERS,
          'access-control-max-age': '600',
        });
      return reply.code(204).send();
    }
    if (ok)
      reply.headers({
        'access-control-allow-origin': origin,
        'access-control-expose-headers': EXPOSE_HEADERS,
      });
  });
}
