/**
 * Operator authentication for the admin API: login/logout/password under /api/v1/auth, and the bearer-token
 * check every other /api/v1 route runs first. Tokens are opaque and checked by AdminAuth (which audits
 * logins); the token itself never reaches a log line (the logger redacts the Authorization header).
 */

import { DomainError } from '@medsign/errors';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import { problemRef } from './schemas.js';

/** Who is calling: set by {@link authenticate} on every authenticated route. */
export type Caller = { actor: string; roles: string[]; token: string };

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

/** The bearer token of a request, or undefined when there is none. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/**
 * A preHandler that requires a valid bearer token (AUTH_REQUIRED / AUTH_FAILED otherwise). An account
 * that must change its one-time password may only do that (or log out): everything else is
 * AUTH_PASSWORD_CHANGE_REQUIRED until it has.
 */
export function authenticate(services: Services, opts: { passwordChangeRoute?: boolean } = {}) {
  return async (request: FastifyRequest): Promise<void> => {
    const token = bearerToken(request);
    if (!token) throw new DomainError('AUTH_REQUIRED');
    const who = await services.auth.authenticate(token);
    if (!who) throw new DomainError('AUTH_FAILED', 'the token is unknown or has expired; log in again');
    if (who.mustChangePassword && !opts.passwordChangeRoute)
      throw new DomainError('AUTH_PASSWORD_CHANGE_REQUIRED');
    request.caller = { actor: who.actor, roles: who.roles, token };
  };
}

/** A preHandler (after {@link authenticate}) that requires one of the given roles. */
export function requireRole(...roles: string[]) {
  return async (request: FastifyRequest): Promise<void> => {
    const caller = request.caller;
    if (!caller) throw new DomainError('AUTH_REQUIRED');
    if (!roles.some((r) => caller.roles.includes(r)))
      throw new DomainError('AUTH_FORBIDDEN', `this operation needs the role ${roles.join(' or ')}`);
  };
}

/** The caller set by {@link authenticate} (routes registered behind it can rely on it). */
export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw new DomainError('AUTH_REQUIRED');
  return request.caller;
}

/** OpenAPI security requirement of the bearer-protected routes. */
export const bearerSecurity = [{ bearerAuth: [] }];

type LoginBody = { username: string; password: string };
type PasswordBody = { oldPassword: string; newPassword: string };

/** `/api/v1/auth/*`. */
export function authRoutes(services: Services): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Body: LoginBody }>(
      '/auth/login',
      {
        schema: {
          tags: ['auth'],
          summary: 'Log in; returns a bearer token for the other /api/v1 operations',
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['username', 'password'],
            properties: {
              username: { type: 'string', minLength: 1, maxLength: 128 },
              password: { type: 'string', minLength: 1, maxLength: 1024 },
            },
          },
          response: {
            200: {
              type: 'object',
              required: ['token', 'expiresAt', 'mustChangePassword'],
              properties: {
                token: { type: 'string' },
                expiresAt: { type: 'string', format: 'date-time' },
                mustChangePassword: { type: 'boolean' },
              },
            },
            400: problemRef,
            401: problemRef,
          },
        },
      },
      async (request) => {
        const session = await services.auth.login(request.body.username, request.body.password, request.ip);
        if (!session) throw new DomainError('AUTH_FAILED', 'wrong username or password');
        return {
          token: session.token,
          expiresAt: session.expiresAt.toISOString(),
          mustChangePassword: session.mustChangePassword,
        };
      },
    );

    app.post(
      '/auth/logout',
      {
        preHandler: authenticate(services, { passwordChangeRoute: true }),
        schema: {
          tags: ['auth'],
          summary: 'End the session of the bearer token',
          security: bearerSecurity,
          response: { 204: { type: 'null', description: 'Logged out' }, 401: problemRef },
        },
      },
      async (request, reply) => {
        await services.auth.logout(callerOf(request).token);
        return reply.code(204).send();
      },
    );

    app.post<{ Body: PasswordBody }>(
      '/auth/password',
      {
        preHandler: authenticate(services, { passwordChangeRoute: true }),
        schema: {
          tags: ['auth'],
          summary: "Change the caller's password",
          security: bearerSecurity,
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['oldPassword', 'newPassword'],
            properties: {
              oldPassword: { type: 'string', minLength: 1, maxLength: 1024 },
              newPassword: { type: 'string', minLength: 1, maxLength: 1024 },
            },
          },
          response: {
            204: { type: 'null', description: 'Password changed' },
            400: problemRef,
            401: problemRef,
          },
        },
      },
      async (request, reply) => {
        const ok = await services.auth.changePassword(
          callerOf(request).actor,
          request.body.oldPassword,
          request.body.newPassword,
        );
        if (!ok)
          throw new DomainError('AUTH_FAILED', 'the old password is wrong or the new one is not accepted');
        return reply.code(204).send();
      },
    );
  };
}
