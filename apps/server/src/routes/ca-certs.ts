/**
 * Issuer certificates for relying parties: `GET /pki/ca/{caId}.cer` is the AIA caIssuers URL in every
 * certificate (DER, application/pkix-cert, RFC 5280 §4.2.2.1), `.pem` the same in PEM, and
 * `/pki/ca/{caId}/chain.pem` the issuing CA followed by its chain up to the root, so a client can build
 * the path from any leaf without out-of-band files. Root CAs are served too: the issuing CA's own
 * caIssuers URL names its root, and a client walking AIA must reach it.
 */

import { DomainError } from '@medsign/errors';
import { ParsedCertificate } from '@medsign/pki';
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
  type Served = { certificate: ParsedCertificate; chain: readonly ParsedCertificate[] };
  const roots = new Map<string, Promise<Served | undefined>>();
  const find = async (caId: string): Promise<Served> => {
    const issuing = services.ca.cas.find((c) => c.id === caId);
    if (issuing) return issuing;
    // Not an issuing CA: a root (offline-style, only in the cas table). Cached: CA certificates never change.
    let root = roots.get(caId);
    if (!root) {
      root = services.store.cas
        .get(caId)
        .then((r) =>
          r && r.parentId === null && r.status === 'active'
            ? { certificate: ParsedCertificate.parse(r.certificate), chain: [] }
            : undefined,
        );
      roots.set(caId, root);
      root.then(
        (v) => v || roots.delete(caId),
        () => roots.delete(caId),
      );
    }
    const found = await root;
    if (!found) throw new DomainError('CA_NOT_FOUND', `no CA "${caId}"`);
    return found;
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
          summary: 'CA certificate, issuing or root (DER; the AIA caIssuers URL)',
          params,
          response: response('application/pkix-cert', 'The CA certificate, DER'),
        },
      },
      async (request, reply) => {
        const der = (await find(request.params.caId)).certificate.der;
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
          summary: 'CA certificate, issuing or root (PEM)',
          params,
          response: response('application/x-pem-file', 'The CA certificate, PEM'),
        },
      },
      async (request, reply) =>
        reply
          .type('application/x-pem-file; charset=utf-8')
          .send(Buffer.from((await find(request.params.caId)).certificate.toPem())),
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
        const ca = await find(request.params.caId);
        const text = [ca.certificate, ...ca.chain].map((c) => c.toPem()).join('');
        return reply.type('application/x-pem-file; charset=utf-8').send(Buffer.from(text));
      },
    );
  };
}
