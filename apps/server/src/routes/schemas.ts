/**
 * Schema pieces shared by the route files, so that the OpenAPI document describes binary PKI answers with
 * their real media types (application/pkix-crl, application/ocsp-response …) instead of JSON.
 */

/** Reference to the shared problem document schema (registered once by buildApp). */
export const problemRef = { $ref: 'Problem#' } as const;

/** A 200 response whose body is bytes (or text) of the given media type, for OpenAPI. */
export function binaryResponse(mediaType: string, description: string) {
  return {
    description,
    content: { [mediaType]: { schema: { type: 'string', format: 'binary' } } },
  } as const;
}
