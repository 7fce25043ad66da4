/**
 * What the 3 a.m. call needs first: `GET /healthz` says what is wrong (database, keystore, CA expiry …) with
 * 503 when the platform is down, and `GET /metrics` gives Prometheus the request, issuance, revocation,
 * OCSP and CRL counters. Each app owns its registry, so two apps in one process (tests) never share counts.
 */

import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { HealthReport, Services } from '../services.js';
import { binaryResponse } from './schemas.js';

/** The counters routes bump; labels stay low-cardinality (route templates, never raw URLs or serials). */
export type Metrics = {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'method' | 'route' | 'status'>;
  issued: Counter<'ca' | 'profile'>;
  revoked: Counter<'ca' | 'reason'>;
  ocspResponses: Counter<'status'>;
  crlsGenerated: Counter<'ca' | 'kind'>;
  /** Signing-API requests per application, operation and outcome (`ok` or the error code). */
  signRequests: Counter<'app' | 'operation' | 'outcome'>;
  tsaResponses: Counter<'unit' | 'status' | 'failInfo'>;
};

/** A fresh registry with the platform's metrics and Node's default process metrics. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'medsign_' });
  const labels = ['method', 'route', 'status'] as const;
  return {
    registry,
    requests: new Counter({
      name: 'medsign_http_requests_total',
      help: 'HTTP requests by route template and status',
      labelNames: labels,
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'medsign_http_request_duration_seconds',
      help: 'HTTP request latency by route template and status',
      labelNames: labels,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    issued: new Counter({
      name: 'medsign_certificates_issued_total',
      help: 'Certificates issued through this server',
      labelNames: ['ca', 'profile'],
      registers: [registry],
    }),
    revoked: new Counter({
      name: 'medsign_certificates_revoked_total',
      help: 'Certificates revoked or put on hold through this server',
      labelNames: ['ca', 'reason'],
      registers: [registry],
    }),
    signRequests: new Counter({
      name: 'medsign_sign_requests_total',
      help: 'Signing-API requests by application id, operation (sign/verify/read) and outcome (ok or error code)',
      labelNames: ['app', 'operation', 'outcome'],
      registers: [registry],
    }),
    ocspResponses: new Counter({
      name: 'medsign_ocsp_responses_total',
      help: 'OCSP responses: responseStatus for errors, certificate status (good/revoked/unknown) otherwise',
      labelNames: ['status'],
      registers: [registry],
    }),
    crlsGenerated: new Counter({
      name: 'medsign_crls_generated_total',
      help: 'CRLs published by this process (kind: full or delta)',
      labelNames: ['ca', 'kind'],
      registers: [registry],
    }),
    tsaResponses: new Counter({
      name: 'medsign_tsa_responses_total',
      help: 'Time-stamp responses by unit: status granted or rejection, with the failInfo of a rejection',
      labelNames: ['unit', 'status', 'failInfo'],
      registers: [registry],
    }),
  };
}

/** Counts every response by route template (onResponse, so errors and 404s are counted too). */
export function instrumentRequests(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    };
    metrics.requests.inc(labels);
    metrics.duration.observe(labels, reply.elapsedTime / 1000);
  });
}

const healthSchema = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'degraded', 'down'] },
    checks: {
      type: 'array',
      items: {
        type: 'object',
        properties: { name: { type: 'string' }, ok: { type: 'boolean' }, detail: { type: 'string' } },
        required: ['name', 'ok', 'detail'],
      },
    },
  },
  required: ['status', 'checks'],
} as const;

/**
 * Gauges read from the time source at scrape time: usable (1/0), and the offset and its bound in seconds
 * (absent while no source has answered).
 */
function timeSourceGauges(services: Services, registry: Registry): void {
  const status = () => services.timeSource.status();
  new Gauge({
    name: 'medsign_time_source_usable',
    help: '1 while the time source is usable (the TSA grants tokens), 0 otherwise',
    registers: [registry],
    collect() {
      this.set(status().usable ? 1 : 0);
    },
  });
  for (const [name, field, help] of [
    ['medsign_time_source_offset_seconds', 'offsetMs', 'System clock minus the chosen time source, seconds'],
    ['medsign_time_source_bound_seconds', 'boundMs', 'Error bound of the measured offset, seconds'],
  ] as const) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const v = status()[field];
        if (v === undefined) this.reset();
        else this.set(v / 1000);
      },
    });
  }
}

/** `/healthz` and `/metrics`, registered whatever the roles. */
export function observabilityRoutes(services: Services, metrics: Metrics): FastifyPluginAsync {
  return async (app) => {
    timeSourceGauges(services, metrics.registry);
    app.get(
      '/healthz',
      {
        schema: {
          tags: ['operations'],
          summary: 'Health of the database, keystore, CA certificates and time source',
          description: '200 when ok or degraded (each check says what), 503 when down.',
          response: { 200: healthSchema, 503: healthSchema },
        },
      },
      async (request, reply) => {
        let report: HealthReport;
        try {
          report = await services.health();
        } catch (error) {
          request.log.error({ err: error }, 'health check threw');
          report = {
            status: 'down',
            checks: [{ name: 'health', ok: false, detail: 'the health check itself failed; see the log' }],
          };
        }
        if (report.status === 'down') {
          request.log.warn(
            { failing: report.checks.filter((c) => !c.ok).map((c) => c.name) },
            'health: down',
          );
        }
        return reply.code(report.status === 'down' ? 503 : 200).send(report);
      },
    );

    app.get(
      '/metrics',
      {
        schema: {
          tags: ['operations'],
          summary: 'Prometheus metrics (text exposition format)',
          response: { 200: binaryResponse('text/plain', 'Prometheus text exposition format 0.0.4') },
        },
      },
      async (_request, reply) => {
        const text = await metrics.registry.metrics();
        return reply.type(metrics.registry.contentType).send(text);
      },
    );
  };
}
