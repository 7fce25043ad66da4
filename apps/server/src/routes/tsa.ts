/**
 * The `tsa` role (RFC 3161 §3.4, time-stamp protocol over HTTP): `POST /tsa` (the default SM2 unit) and
 * `POST /tsa/{unit}` (`sm2`, `rsa`, `ecdsa` — those `medsign init` created). The body is a DER
 * TimeStampReq (application/timestamp-query); the answer is always a TimeStampResp with HTTP 200
 * (application/timestamp-reply): whatever the body is — garbage, empty, too large, another media type —
 * the client gets a `rejection` with failInfo in band, never a 500 or a dropped connection. Only an
 * unknown unit is an HTTP error (404 problem+json), since there is no unit to answer for.
 */

import { DomainError } from '@medsign/errors';
import { buildTimeStampResp, type PkiFailureInfoName } from '@medsign/pki';
import { MAX_REQUEST_BYTES, type TimeStampOutcome, type TsaUnit } from '@medsign/tsa';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { Metrics } from './observability.js';
import { binaryResponse, problemRef } from './schemas.js';

/** Media type of every answer (RFC 3161 §3.4). */
export const TSA_RESPONSE_TYPE = 'application/timestamp-reply';
/** Media type of requests. */
export const TSA_REQUEST_TYPE = 'application/timestamp-query';

function send(reply: FastifyReply, der: Uint8Array): FastifyReply {
  return reply
    .code(200)
    .type(TSA_RESPONSE_TYPE)
    .header('cache-control', 'no-store')
    .send(Buffer.from(der.buffer, der.byteOffset, der.byteLength));
}

function inBand(failInfo: PkiFailureInfoName, text: string): Uint8Array {
  return buildTimeStampResp({ status: 'rejection', failInfo: [failInfo], statusString: text });
}

/** `POST /tsa` and `POST /tsa/:unit`. */
export function tsaRoutes(services: Services, metrics: Metrics): FastifyPluginAsync {
  const count = (unit: string, o: Pick<TimeStampOutcome, 'granted' | 'failInfo'>) =>
    metrics.tsaResponses.inc({
      unit,
      status: o.granted ? 'granted' : 'rejection',
      failInfo: o.failInfo ?? '',
    });

  async function answer(request: FastifyRequest, reply: FastifyReply, unitId: string) {
    const units = await services.tsa.units();
    const unit: TsaUnit | undefined = units.get(unitId as never);
    if (!unit)
      throw new DomainError(
        'TSA_UNIT_NOT_FOUND',
        `no TSA unit ${JSON.stringify(unitId)} here (units: ${[...units.keys()].join(', ') || 'none'})`,
      );
    const body = request.body;
    const der = Buffer.isBuffer(body)
      ? new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
      : new Uint8Array();
    const outcome = await services.tsa.respond(unit, der, request.ip);
    if (outcome.error !== undefined) request.log.error({ err: outcome.error }, 'TSA could not issue a token');
    count(unit.id, outcome);
    return send(reply, outcome.der);
  }

  const schema = {
    tags: ['tsa'],
    consumes: [TSA_REQUEST_TYPE],
    // Any bytes are accepted (the TSA core judges them), so nothing validates the body.
    body: { type: 'string', format: 'binary', description: 'TimeStampReq, DER' },
    response: {
      200: binaryResponse(TSA_RESPONSE_TYPE, 'TimeStampResp, DER (always HTTP 200; refusals carry failInfo)'),
      404: problemRef,
    },
  };

  return async (app) => {
    // Every media type is read as bytes here (clients that omit or misname it still get an RFC 3161
    // answer); the parsers of the rest of the app are not touched (this plugin is encapsulated).
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_REQUEST_BYTES }, (_r, body, done) =>
      done(null, body),
    );
    // A body Fastify refuses (too large, broken transfer) is still answered in band.
    app.setErrorHandler(async (error, request, reply) => {
      if (error instanceof DomainError) throw error;
      const status = (error as { statusCode?: number }).statusCode ?? 500;
      if (status >= 500) request.log.error({ err: error }, 'TSA request failed');
      const unit = (request.params as { unit?: string }).unit ?? services.tsa.defaultUnit;
      const failInfo: PkiFailureInfoName = status >= 500 ? 'systemFailure' : 'badDataFormat';
      count(unit, { granted: false, failInfo });
      return send(
        reply,
        inBand(
          failInfo,
          status === 413 ? `request larger than ${MAX_REQUEST_BYTES} bytes` : 'the request could not be read',
        ),
      );
    });

    app.post(
      '/tsa',
      {
        bodyLimit: MAX_REQUEST_BYTES,
        validatorCompiler: () => () => true,
        schema: { ...schema, summary: 'RFC 3161 time-stamp with the default unit (SM2/SM3)' },
      },
      async (request, reply) => answer(request, reply, services.tsa.defaultUnit),
    );
    app.post<{ Params: { unit: string } }>(
      '/tsa/:unit',
      {
        bodyLimit: MAX_REQUEST_BYTES,
        validatorCompiler: () => () => true,
        schema: {
          ...schema,
          summary: 'RFC 3161 time-stamp with one unit: sm2, rsa or ecdsa',
          params: { type: 'object', properties: { unit: { type: 'string' } }, required: ['unit'] },
        },
      },
      async (request, reply) => answer(request, reply, request.params.unit),
    );
  };
}
