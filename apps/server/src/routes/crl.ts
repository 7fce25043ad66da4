/**
 * The `crl` role: `GET /pki/crl/{caId}.crl` (DER, application/pkix-crl) and `.pem`, the URL every
 * certificate's CRL distribution point names. CRLs are generated on demand and cached per CA until a
 * revocation through this server or five minutes pass (another process may have revoked meanwhile), so a
 * burst of relying parties costs one signature, and concurrent misses share one generation.
 */

import { encodePem } from '@medsign/gm';
import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../services.js';
import type { Metrics } from './observability.js';
import { binaryResponse, problemRef } from './schemas.js';

/** How long a generated CRL is served before a fresh one is made. */
export const CRL_CACHE_MS = 5 * 60_000;

type Entry = { der: Promise<Uint8Array>; expires: number };

/** Per-CA cache of the current full CRL. */
export class CrlCache {
  readonly #entries = new Map<string, Entry>();
  readonly #services: Services;
  readonly #metrics: Metrics;
  readonly #ttlMs: number;

  constructor(services: Services, metrics: Metrics, ttlMs = CRL_CACHE_MS) {
    this.#services = services;
    this.#metrics = metrics;
    this.#ttlMs = ttlMs;
  }

  /** The CA's current CRL, generating one when none is cached or the cached one is stale. */
  async get(caId: string): Promise<{ der: Uint8Array; maxAgeS: number }> {
    const now = this.#services.ca.clock.now().getTime();
    let entry = this.#entries.get(caId);
    if (!entry || entry.expires <= now) {
      const der = this.#services.backend.crl({ caId, actor: 'crl-endpoint' });
      entry = { der, expires: now + this.#ttlMs };
      this.#entries.set(caId, entry);
      // A failed generation must not be served from the cache.
      der.then(
        () => this.#metrics.crlsGenerated.inc({ ca: caId }),
        () => {
          if (this.#entries.get(caId) === entry) this.#entries.delete(caId);
        },
      );
    }
    return { der: await entry.der, maxAgeS: Math.max(0, Math.floor((entry.expires - now) / 1000)) };
  }

  /** Drops the cached CRL of a CA (after a revocation, hold or resume). */
  invalidate(caId: string): void {
    this.#entries.delete(caId);
  }
}

const params = {
  type: 'object',
  required: ['caId'],
  properties: { caId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
} as const;

/** `/pki/crl/*`. */
export function crlRoutes(cache: CrlCache): FastifyPluginAsync {
  return async (app) => {
    for (const format of ['crl', 'pem'] as const) {
      app.get<{ Params: { caId: string } }>(
        `/pki/crl/:caId.${format}`,
        {
          schema: {
            tags: ['pki'],
            summary: format === 'crl' ? "The CA's current full CRL (DER)" : "The CA's current full CRL (PEM)",
            params,
            response: {
              200:
                format === 'crl'
                  ? binaryResponse('application/pkix-crl', 'The CRL, DER')
                  : binaryResponse('application/x-pem-file', 'The CRL, PEM'),
              404: problemRef,
            },
          },
        },
        async (request, reply) => {
          const { der, maxAgeS } = await cache.get(request.params.caId);
          reply.header('cache-control', `public, max-age=${maxAgeS}`);
          if (format === 'crl') return reply.type('application/pkix-crl').send(Buffer.from(der));
          return reply
            .type('application/x-pem-file; charset=utf-8')
            .send(Buffer.from(encodePem('X509 CRL', der)));
        },
      );
    }
  };
}
