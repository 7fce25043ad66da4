/**
 * The transport tier of conventions.md §3: every error a route lets through becomes one RFC 9457
 * `application/problem+json` body here and nowhere else. Domain errors carry their code and safe detail;
 * Fastify's own request errors (schema, JSON syntax, body size, media type) become `REQUEST_INVALID`;
 * anything else is a 500 that names only the request id — the cause goes to the log, never to the client.
 */

import { DomainError, ERROR_CODES, type ErrorCode } from '@medsign/errors';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/** The problem document every error response carries (RFC 9457, plus the medsign error code). */
export type Problem = {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code?: ErrorCode;
  /** The request id, also in the `x-request-id` header and in every log line of the request. */
  instance: string;
};

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** JSON schema of {@link Problem}, shared by the OpenAPI document of every route. */
export const problemSchema = {
  $id: 'Problem',
  type: 'object',
  description: 'RFC 9457 problem details; `code` is a medsign error code (docs/errors.md).',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
    instance: { type: 'string' },
  },
  required: ['type', 'title', 'status', 'instance'],
} as const;

const STATUS_TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** A problem document for a domain error code (title: the code's meaning from the one table). */
export function problemForCode(code: ErrorCode, status: number, detail: string, instance: string): Problem {
  return {
    type: `urn:medsign:error:${code}`,
    title: ERROR_CODES[code].meaning,
    status,
    detail,
    code,
    instance,
  };
}

/** Writes a problem response (also sets WWW-Authenticate on 401, as RFC 6750 asks of bearer APIs). */
export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  if (problem.status === 401) reply.header('www-authenticate', 'Bearer realm="medsign"');
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}

/** Whether an error is one of Fastify's own 4xx request errors (validation, content type, body, JSON). */
function isRequestError(error: unknown): error is FastifyError & { statusCode: number } {
  const e = error as Partial<FastifyError>;
  return (
    typeof e?.statusCode === 'number' &&
    e.statusCode >= 400 &&
    e.statusCode < 500 &&
    (e.validation !== undefined || (typeof e.code === 'string' && e.code.startsWith('FST_')))
  );
}

/** The one error handler (registered by buildApp). */
export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const instance = String(request.id);
  if (error instanceof DomainError) {
    if (error.status >= 500) request.log.error({ err: error }, `request failed: ${error.code}`);
    // 4xx: the code is enough to explain it; the detail may name applicant fields, so it stays out of logs.
    else request.log.info({ code: error.code, status: error.status }, 'request refused');
    return sendProblem(reply, problemForCode(error.code, error.status, error.detail, instance));
  }
  if (isRequestError(error)) {
    const status = error.statusCode;
    const detail =
      error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError
        ? 'the body is not valid JSON'
        : error.message;
    request.log.info({ code: 'REQUEST_INVALID', fastifyCode: error.code, status }, 'request refused');
    return sendProblem(reply, problemForCode('REQUEST_INVALID', status, detail, instance));
  }
  request.log.error({ err: error }, 'unexpected error');
  return sendProblem(reply, {
    type: 'about:blank',
    title: STATUS_TITLES[500]!,
    status: 500,
    detail: `internal error; quote request id ${instance} to the administrator`,
    instance,
  });
}

/** The 404 for routes that do not exist (or whose role is switched off). */
export function handleNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(reply, {
    type: 'about:blank',
    title: STATUS_TITLES[404]!,
    status: 404,
    detail: `no route ${request.method} ${request.url.split('?')[0]}`,
    instance: String(request.id),
  });
}
