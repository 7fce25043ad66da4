/**
 * The `crl` role: `GET /pki/crl/{caId}.crl` (DER, application/pkix-crl) and `.pem` — the URL every
 * certificate's CRL distribution point names — and the delta CRL at `/pki/crl/{caId}-delta.crl` / `.pem`,
 * which the full CRL's Freshest CRL extension names. Both serve the newest CRL stored in the database
 * (crl-publisher.ts), so every process sharing it answers the same. Responses carry ETag (CA and CRL
 * number), Last-Modified (thisUpdate), Expires (nextUpdate) and a max-age up to the next scheduled CRL
 * (never past nextUpdate), and answer conditional requests with 304.
 */

import { encodePem } from '@medsign/gm';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { CrlKind, CrlPublisher } from '../crl-publisher.js';
import { binaryResponse, problemRef } from './schemas.js';

const params = {
  type: 'object',
  required: ['caId'],
  properties: { caId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
} as const;

/** Whether a conditional GET can be answered 304 Not Modified (If-None-Match wins over If-Modified-Since). */
function notModified(request: FastifyRequest, etag: string, lastModified: Date): boolean {
  const inm = request.headers['if-none-match'];
  if (inm !== undefined)
    return inm
      .split(',')
      .map((t) => t.trim().replace(/^W\//, ''))
      .some((t) => t === etag || t === '*');
  const ims = request.headers['if-modified-since'];
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  return !Number.isNaN(since) && Math.floor(lastModified.getTime() / 1000) * 1000 <= since;
}

/** `/pki/crl/*`. */
export function crlRoutes(publisher: CrlPublisher, now: () => Date): FastifyPluginAsync {
  return async (app) => {
    // The delta routes first: find-my-way would otherwise take "x-delta" for the CA id of a full CRL.
    for (const kind of ['delta', 'full'] as const) {
      for (const format of ['crl', 'pem'] as const) {
        const what = kind === 'full' ? "The CA's current full CRL" : "The CA's current delta CRL";
        app.get<{ Params: { caId: string } }>(
          `/pki/crl/:caId${kind === 'delta' ? '-delta' : ''}.${format}`,
          {
            schema: {
              tags: ['pki'],
              summary: `${what} (${format === 'crl' ? 'DER' : 'PEM'})`,
              params,
              response: {
                200:
                  format === 'crl'
                    ? binaryResponse('application/pkix-crl', `${what}, DER`)
                    : binaryResponse('application/x-pem-file', `${what}, PEM`),
                304: { type: 'null', description: 'Not modified since the ETag or date given' },
                404: problemRef,
              },
            },
          },
          (request, reply) => serve(publisher, now, kind, format, request, reply),
        );
      }
    }
  };
}

async function serve(
  publisher: CrlPublisher,
  now: () => Date,
  kind: CrlKind,
  format: 'crl' | 'pem',
  request: FastifyRequest<{ Params: { caId: string } }>,
  reply: FastifyReply,
) {
  const crl = await publisher.current(request.params.caId, kind);
  const s = publisher.schedule;
  const interval = (kind === 'full' ? s.fullIntervalMinutes : s.deltaIntervalMinutes) * 60_000;
  // Cached until the next scheduled CRL is due, never past nextUpdate (a revocation may come sooner).
  const until = Math.min(crl.nextUpdate.getTime(), crl.thisUpdate.getTime() + interval);
  const maxAge = Math.max(0, Math.floor((until - now().getTime()) / 1000));
  const etag = `"${request.params.caId}-${crl.crlNumber}${format === 'pem' ? '-pem' : ''}"`;
  reply
    .header('cache-control', `public, max-age=${maxAge}, no-transform`)
    .header('etag', etag)
    .header('last-modified', crl.thisUpdate.toUTCString())
    .header('expires', crl.nextUpdate.toUTCString());
  if (notModified(request, etag, crl.thisUpdate)) return reply.code(304).send();
  if (format === 'crl') return reply.type('application/pkix-crl').send(Buffer.from(crl.der));
  return reply
    .type('application/x-pem-file; charset=utf-8')
    .send(Buffer.from(encodePem('X509 CRL', crl.der)));
}
