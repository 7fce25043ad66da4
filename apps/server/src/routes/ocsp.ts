/**
 * The `ocsp` role (RFC 6960 appendix A): `POST /pki/ocsp` with an application/ocsp-request body and
 * `GET /pki/ocsp/{url-encoded base64 of the DER request}`, both answered with application/ocsp-response.
 * Whatever the request bytes are, the answer is an OCSP response with HTTP 200 — a malformed request gets
 * `malformedRequest` in band, as OCSP clients expect — never a problem document and never a 500.
 */

import type { OcspAnswer } from '@medsign/ca';
import { buildOcspErrorResponse } from '@medsign/pki';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { Metrics } from './observability.js';
import { binaryResponse } from './schemas.js';

/** Largest OCSP request accepted (a request for hundreds of certificates still fits). */
export const OCSP_BODY_LIMIT = 64 * 1024;

/** Media type of every OCSP answer (RFC 6960 appendix A.1). */
export const OCSP_RESPONSE_TYPE = 'application/ocsp-response';

/** Decodes the GET form's path segment: URL-decoded, standard or URL-safe base64. */
export function decodeOcspGetPath(segment: string): Uint8Array | undefined {
  let text: string;
  try {
    text = decodeURIComponent(segment);
  } catch {
    return undefined;
  }
  text = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text)) return undefined;
  const der = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return der.length ? new Uint8Array(der) : undefined;
}

/** `/pki/ocsp` (POST) and `/pki/ocsp/*` (GET). */
export function ocspRoutes(services: Services, metrics: Metrics): FastifyPluginAsync {
  async function answer(request: FastifyRequest, reply: FastifyReply, der: Uint8Array | undefined) {
    let result: OcspAnswer;
    try {
      result = der
        ? await services.backend.ocsp(der)
        : { der: buildOcspErrorResponse('malformedRequest'), statuses: ['malformedRequest'], cached: false };
    } catch (error) {
      // the backend never throws on request bytes; a failure here is ours (keystore, store): say so in band.
      request.log.error({ err: error }, 'OCSP responder failed');
      result = { der: buildOcspErrorResponse('internalError'), statuses: ['internalError'], cached: false };
    }
    // The statuses come with the answer: re-parsing every response just for a metric label cost a full
    // ASN.1 decode per request.
    for (const status of result.statuses) metrics.ocspResponses.inc({ status });
    const response = result.der;
    return reply
      .code(200)
      .type(OCSP_RESPONSE_TYPE)
      .header('cache-control', 'no-store')
      .send(Buffer.from(response.buffer, response.byteOffset, response.byteLength));
  }

  const response = { 200: binaryResponse(OCSP_RESPONSE_TYPE, 'OCSPResponse, DER (always HTTP 200)') };

  return async (app) => {
    app.post(
      '/pki/ocsp',
      {
        bodyLimit: OCSP_BODY_LIMIT,
        validatorCompiler: () => () => true,
        schema: {
          tags: ['pki'],
          summary: 'OCSP (RFC 6960): POST a DER OCSPRequest as application/ocsp-request',
          consumes: ['application/ocsp-request'],
          // Documents the binary body; any bytes are accepted (respondOcsp judges them), so nothing validates it.
          body: { type: 'string', format: 'binary', description: 'OCSPRequest, DER' },
          response,
        },
      },
      async (request, reply) => {
        const body = request.body;
        return answer(
          request,
          reply,
          Buffer.isBuffer(body) && body.length ? new Uint8Array(body) : undefined,
        );
      },
    );

    app.get<{ Params: { '*': string } }>(
      '/pki/ocsp/*',
      {
        schema: {
          tags: ['pki'],
          summary: 'OCSP (RFC 6960): GET with the URL-encoded base64 of the DER OCSPRequest',
          response,
        },
      },
      async (request, reply) => answer(request, reply, decodeOcspGetPath(request.params['*'])),
    );
  };
}
