/**
 * Issuer certificates for relying parties: `GET /pki/ca/{caId}.cer` is the AIA caIssuers URL in every
 * certificate (DER, application/pkix-cert, RFC 5280 §4.2.2.1), `.pem` the same in PEM, and
 * `/pki/ca/{caId}/chain.pem` the issuing CA followed by its chain up to the root, so a client can build
 * the path from any leaf without out-of-band files.
 */

import { DomainError } from '@medsign/errors';
import type { IssuingCa } from '@medsign/ca';
import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../services.js';
import { binaryResponse, problemRef } from './schemas.js';

const params = {
  type: 'object',
  required: ['caId'],
  properties: { caId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
} as const;

/** `/pki/ca/*`. */
export function caCertificateRoutes(services: Services): FastifyPluginAsync {
  const find = (caId: string): IssuingCa => {
    const ca = services.ca.cas.find((c) => c.id === caId);
    if (!ca) throw new DomainError('CA_NOT_FOUND', `no CA "${caId}"`);
    return ca;
  };
  const response = (mediaType: string, description: string) => ({
    200: binaryResponse(mediaType, description),
    404: problemRef,
  });
  return async (app) => {
    app.get<{ Params: { caId: string } }>(
      '/pki/ca/:caId.cer',
      {
        schema: {
          tags: ['pki'],
          summary: 'Issuing CA certificate (DER; the AIA caIssuers URL)',
          params,
          response: response('application/pkix-cert', 'The issuing CA certificate, DER'),
        },
      },
      async (request, reply) => {
        const der = find(request.params.caId).certificate.der;
        return reply
          .type('application/pkix-cert')
          .header('cache-control', 'public, max-age=3600')
          .send(Buffer.from(der.buffer, der.byteOffset, der.byteLength));
      },
    );
    app.get<{ Params: { caId: string } }>(
      '/pki/ca/:caId.pem',
      {
        schema: {
          tags: ['pki'],
          summary: 'Issuing CA certificate (PEM)',
          params,
          response: response('application/x-pem-file', 'The issuing CA certificate, PEM'),
        },
      },
      async (request, reply) =>
        reply
          .type('application/x-pem-file; charset=utf-8')
          .send(Buffer.from(find(request.params.caId).certificate.toPem())),
    );
    app.get<{ Params: { caId: string } }>(
      '/pki/ca/:caId/chain.pem',
      {
        schema: {
          tags: ['pki'],
          summary: 'Issuing CA certificate followed by its chain up to the root (PEM)',
          params,
          response: response('application/x-pem-file', 'PEM bundle, issuing CA first, root last'),
        },
      },
      async (request, reply) => {
        const ca = find(request.params.caId);
        const text = [ca.certificate, ...ca.chain].map((c) => c.toPem()).join('');
        return reply.type('application/x-pem-file; charset=utf-8').send(Buffer.from(text));
      },
    );
  };
}
