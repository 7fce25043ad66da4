/**
 * `GET /api/v1/time-source`: the current status of the clock the TSA is bound to and its recent history
 * (sampled checks and state changes), for administrators and auditors. The history is also in the audit
 * log for the state changes (`time-source.*`).
 */

import type { TimeSourceEntryKind } from '@medsign/store';
import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../services.js';
import { authenticate, bearerSecurity, requireRole } from './auth.js';
import { problemRef } from './schemas.js';

type HistoryQuery = { limit: number; changesOnly: boolean; since?: string; until?: string };

const num = { type: ['number', 'null'] } as const;
const entrySchema = {
  type: 'object',
  required: ['at', 'node', 'kind', 'usable', 'source', 'offsetMs', 'boundMs', 'detail'],
  properties: {
    at: { type: 'string', format: 'date-time' },
    node: { type: 'string', description: 'the server whose clock was checked (host name)' },
    kind: { type: 'string', enum: ['sample', 'unusable', 'restored', 'switched'] },
    usable: { type: 'boolean' },
    source: { type: ['string', 'null'] },
    previousSource: { type: ['string', 'null'] },
    offsetMs: { ...num, description: 'system clock minus source, ms (positive: the system clock is ahead)' },
    boundMs: num,
    detail: { type: 'string' },
  },
} as const;

/** `/api/v1/time-source` (behind admin authentication; roles admin or auditor). */
export function timeSourceRoutes(services: Services): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: HistoryQuery }>(
      '/time-source',
      {
        preHandler: [authenticate(services), requireRole('admin', 'auditor')],
        schema: {
          tags: ['operations'],
          summary: 'Time-source status and recent history (checks, unusable/restored/switched)',
          security: bearerSecurity,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
              changesOnly: { type: 'boolean', default: false },
              since: { type: 'string', format: 'date-time' },
              until: { type: 'string', format: 'date-time' },
            },
          },
          response: {
            200: {
              type: 'object',
              required: ['status', 'sources', 'history'],
              properties: {
                status: {
                  type: 'object',
                  required: ['usable', 'accuracyMs', 'detail'],
                  properties: {
                    usable: { type: 'boolean' },
                    source: { type: 'string' },
                    offsetMs: { type: 'number' },
                    boundMs: { type: 'number' },
                    accuracyMs: { type: 'number' },
                    checkedAt: { type: 'string', format: 'date-time' },
                    detail: { type: 'string' },
                  },
                },
                sources: {
                  type: 'array',
                  items: { type: 'string' },
                  description: 'configured sources; empty when the system clock is trusted',
                },
                history: { type: 'array', items: entrySchema, description: 'newest first' },
              },
            },
            400: problemRef,
            401: problemRef,
            403: problemRef,
          },
        },
      },
      async (request) => {
        const q = request.query;
        const status = services.timeSource.status();
        const history = await services.store.timeSourceHistory.list({
          limit: q.limit,
          changesOnly: q.changesOnly,
          ...(q.since ? { since: new Date(q.since) } : {}),
          ...(q.until ? { until: new Date(q.until) } : {}),
        });
        return {
          status: {
            ...status,
            ...(status.checkedAt ? { checkedAt: status.checkedAt.toISOString() } : {}),
          },
          sources: services.timeMonitor?.sources ?? [],
          history: history.map((e) => ({
            at: e.at.toISOString(),
            node: e.node,
            kind: e.kind satisfies TimeSourceEntryKind,
            usable: e.usable,
            source: e.source,
            previousSource: e.previousSource,
            offsetMs: e.offsetMs,
            boundMs: e.boundMs,
            detail: e.detail,
          })),
        };
      },
    );
  };
}
