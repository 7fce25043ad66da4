/**
 * Schema pieces shared by the signing API's route files (sign.ts, sign-jobs.ts, verify-report.ts): the
 * request properties sign, pre-made signatures and sign jobs have in common, the Idempotency-Key header,
 * the id path parameter and the problem responses. One definition each, so the OpenAPI document states
 * the same constraint the same way everywhere.
 */

import { DEFAULT_DOCUMENT_TYPES, SIGNATURE_FORMATS } from '@medsign/sign';
import { problemRef } from './schemas.js';

/** The problem+json responses of the given HTTP statuses. */
export function problemResponses<const S extends number>(...statuses: S[]): Record<S, typeof problemRef> {
  return Object.fromEntries(statuses.map((s) => [s, problemRef])) as Record<S, typeof problemRef>;
}

/** The error responses of the signing API's routes. */
export const signErrors = problemResponses(400, 401, 403, 404, 409, 413, 429, 503);

/** `Idempotency-Key` (printable ASCII, 1–128 characters) of the routes that create. */
export const idempotencyHeaders = {
  type: 'object',
  properties: { 'idempotency-key': { type: 'string', pattern: '^[\\x21-\\x7e]{1,128}$' } },
} as const;

/** `:id` of a record, a job or an authorisation. */
export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 64 } },
} as const;

/** One check of the verifier's trace (the verify answer's `checks`, the verification report's `result.checks`). */
export const verifyCheckSchema = {
  type: 'object',
  properties: {
    check: { type: 'string' },
    ok: { type: 'boolean' },
    detail: { type: 'string' },
    subject: { type: 'string' },
  },
} as const;

/** The signer's employee number in a request body. */
export const signerProperty = {
  type: 'string',
  minLength: 1,
  maxLength: 32,
  description: "the signer's employee number",
} as const;

/** The signer PIN in a request body; what leaving it out means differs per route. */
export function pinProperty<const D extends string>(description: D) {
  return { type: 'string', minLength: 1, maxLength: 64, description } as const;
}

/** The signature format in a request body (with `default` where the route has one). */
export const formatProperty = { type: 'string', enum: [...SIGNATURE_FORMATS] } as const;

/** The CMS object identifiers in a request body. */
export const oidsProperty = { type: 'string', enum: ['rfc5652', 'gm'] } as const;

/** "Add a signature time-stamp" in a request body. */
export const timestampProperty = {
  type: 'boolean',
  description: 'add an RFC 3161 signature time-stamp',
} as const;

/** One business metadata field. */
export const metaField = { type: 'string', maxLength: 128 } as const;

/** `docType`: one of the configured document types. */
export const docTypeProperty = {
  ...metaField,
  description: `one of the configured document types (default: ${DEFAULT_DOCUMENT_TYPES.join(', ')})`,
} as const;

/** `visitRef`: an opaque patient-visit reference. */
export const visitRefProperty = {
  ...metaField,
  description: 'patient-visit reference, an opaque id',
} as const;

/** The base64 request body of `copies` data fields of at most `maxBytes` bytes each, plus 64 KiB for the rest. */
export function base64BodyLimit(maxBytes: number, copies = 1): number {
  return Math.ceil((maxBytes * 4) / 3) * copies + 64 * 1024;
}
