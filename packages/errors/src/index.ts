/**
 * Domain errors (conventions.md §3, tier 2): one class, one table of codes. Each code has a coarse kind
 * that the transport maps to a status (HTTP problem+json, CLI exit code); `detail` is safe to show to the
 * caller, `cause` is for logs only. docs/errors.md is generated from this table and a test keeps it in sync.
 */

/** Coarse kinds, each with one HTTP status. */
export const ERROR_KINDS = {
  malformed: 400,
  unauthorized: 401,
  forbidden: 403,
  notFound: 404,
  conflict: 409,
  tooLarge: 413,
  rateLimited: 429,
  unavailable: 503,
  internal: 500,
} as const;

export type ErrorKind = keyof typeof ERROR_KINDS;

/** Every domain error code: its kind and what it means (English; the docs table shows it). */
export const ERROR_CODES = {
  CA_PROFILE_NOT_FOUND: { kind: 'notFound', meaning: 'No certificate profile has this id.' },
  CA_NOT_FOUND: {
    kind: 'notFound',
    meaning: 'No certificate authority has this id, or none fits the key algorithm.',
  },
  CA_CSR_INVALID: {
    kind: 'malformed',
    meaning: 'The certificate request is malformed or its proof of possession does not verify.',
  },
  CA_KEY_NOT_ALLOWED: {
    kind: 'malformed',
    meaning: 'The profile does not accept this key algorithm or size.',
  },
  CA_SUBJECT_INVALID: {
    kind: 'malformed',
    meaning: 'A subject field the profile needs is missing or not acceptable.',
  },
  CA_VALIDITY_INVALID: {
    kind: 'malformed',
    meaning: 'The requested validity is outside what the profile or the issuing CA allows.',
  },
  CA_LINT_FAILED: {
    kind: 'internal',
    meaning: 'The certificate to be issued failed an error-level lint; nothing was signed.',
  },
  CA_SIGNATURE_CHECK_FAILED: {
    kind: 'internal',
    meaning:
      'The signed certificate did not match what was linted, or its signature did not verify; it was not stored.',
  },
  CA_SERIAL_COLLISION: { kind: 'unavailable', meaning: 'No unique serial number could be reserved; retry.' },
  CA_CERT_NOT_FOUND: {
    kind: 'notFound',
    meaning: 'No certificate with this serial number was issued by this CA.',
  },
  CA_ALREADY_REVOKED: { kind: 'conflict', meaning: 'The certificate is already revoked.' },
  CA_NOT_ON_HOLD: {
    kind: 'conflict',
    meaning: 'Only a certificate on hold (certificateHold) can be resumed.',
  },
  CA_REASON_INVALID: { kind: 'malformed', meaning: 'Unknown revocation reason.' },
  CA_APPLICATION_INVALID: {
    kind: 'malformed',
    meaning:
      'The application or review is incomplete: give exactly one of a CSR or a server-side key type, and a reason when rejecting.',
  },
  CA_APPLICATION_NOT_FOUND: { kind: 'notFound', meaning: 'No certificate application has this id.' },
  CA_APPLICATION_DUPLICATE: {
    kind: 'conflict',
    meaning:
      'An application for the same employee number and profile is already pending; review or reject it first.',
  },
  CA_APPLICATION_STATE: {
    kind: 'conflict',
    meaning:
      'The application is not pending (already approved, issued or rejected), so it cannot be reviewed again.',
  },
  CA_APPLICATION_SELF_REVIEW: {
    kind: 'forbidden',
    meaning: 'Whoever submitted an application cannot approve or reject it; another operator must review it.',
  },
  CA_RENEW_NOT_ALLOWED: {
    kind: 'conflict',
    meaning: 'Only a valid certificate can be renewed; this one is revoked or on hold.',
  },
  CONFIG_INVALID: {
    kind: 'malformed',
    meaning: 'A configuration file value or environment override is invalid; the detail names the key.',
  },
  SERVER_NOT_INITIALIZED: {
    kind: 'unavailable',
    meaning:
      'The data directory holds no certificate authority yet; run `medsign init` (or `medsign start`).',
  },
  AUTH_PASSWORD_POLICY: {
    kind: 'malformed',
    meaning: 'The new password is too short, too long or equal to the old one.',
  },
  REQUEST_INVALID: {
    kind: 'malformed',
    meaning:
      'The HTTP request is not acceptable: malformed JSON, a field that fails the schema, a body too large (413) or of an unsupported media type (415).',
  },
  AUTH_REQUIRED: { kind: 'unauthorized', meaning: 'This operation needs a bearer token (log in first).' },
  AUTH_FAILED: {
    kind: 'unauthorized',
    meaning: 'Wrong username or password, or the token is unknown or has expired.',
  },
  AUTH_PASSWORD_CHANGE_REQUIRED: {
    kind: 'forbidden',
    meaning:
      'This account still has its one-time password: change it (POST /api/v1/auth/password) before anything else.',
  },
  AUTH_FORBIDDEN: { kind: 'forbidden', meaning: 'The authenticated user may not perform this operation.' },
  AUTH_ACCOUNT_EXISTS: {
    kind: 'conflict',
    meaning: 'An operator account with this username already exists.',
  },

  KEYSTORE_WRONG_PASSPHRASE: {
    kind: 'unauthorized',
    meaning: 'The passphrase does not open this keystore (its KEK check value does not match).',
  },
  KEYSTORE_WRONG_KEK: {
    kind: 'unauthorized',
    meaning:
      'The key file or environment key does not open this keystore, or the keystore was created with another kind of master secret.',
  },
  KEYSTORE_KEK_UNAVAILABLE: {
    kind: 'unavailable',
    meaning:
      'The master secret could not be read: missing key file, unset environment variable or empty passphrase.',
  },
  KEYSTORE_INVALID_KEK: {
    kind: 'malformed',
    meaning: 'The key file or environment variable does not hold exactly 32 key bytes (raw, hex or base64).',
  },
  KEYSTORE_INSECURE_KEY_FILE: {
    kind: 'forbidden',
    meaning: 'The key file is not a regular file readable by its owner only (chmod 600 it).',
  },
  KEYSTORE_KEY_NOT_FOUND: { kind: 'notFound', meaning: 'No key has this id.' },
  KEYSTORE_LABEL_EXISTS: { kind: 'conflict', meaning: 'A key with this label already exists.' },
  KEYSTORE_KEY_EXISTS: {
    kind: 'conflict',
    meaning: 'This key (same public key) is already in the keystore.',
  },
  KEYSTORE_RECORD_EXISTS: {
    kind: 'conflict',
    meaning: 'The repository already holds a record with this id; records are never overwritten.',
  },
  KEYSTORE_CORRUPT_RECORD: {
    kind: 'internal',
    meaning:
      'A key record or the keystore header is malformed, tampered with or moved between records; nothing was decrypted.',
  },
  KEYSTORE_INVALID_KEY: {
    kind: 'malformed',
    meaning:
      'The key to import is not a readable PKCS#8 SM2, RSA (2048/3072/4096) or ECDSA (P-256/P-384) key.',
  },
  KEYSTORE_INVALID_ARGUMENT: {
    kind: 'malformed',
    meaning: 'A key type, label, purpose or metadata value is not acceptable.',
  },
  KEYSTORE_ALGORITHM_MISMATCH: {
    kind: 'malformed',
    meaning: 'The signature algorithm does not fit the key (e.g. SHA256withRSA for an SM2 key).',
  },
  KEYSTORE_CLOSED: { kind: 'unavailable', meaning: 'The keystore was closed; its keys were destroyed.' },

  APP_INVALID: {
    kind: 'malformed',
    meaning:
      'An application registration field is not acceptable (name, system type, operation, IP range or rate limit).',
  },
  APP_AUTH_REQUIRED: {
    kind: 'unauthorized',
    meaning:
      'The request carries no complete HMAC-SM3 signature headers (X-Medsign-App-Id, -Timestamp, -Nonce, -Signature).',
  },
  APP_AUTH_FAILED: {
    kind: 'unauthorized',
    meaning:
      'Unknown or disabled application, or the request signature does not match (check the canonical string in docs/integration/auth.md).',
  },
  APP_REQUEST_STALE: {
    kind: 'unauthorized',
    meaning: 'The request timestamp is outside the accepted window (check the caller clock).',
  },
  APP_REQUEST_REPLAYED: {
    kind: 'unauthorized',
    meaning: 'This nonce was already used by the application within the replay window.',
  },
  APP_IP_FORBIDDEN: {
    kind: 'forbidden',
    meaning: 'The client address is outside the IP ranges registered for the application.',
  },
  APP_OPERATION_FORBIDDEN: {
    kind: 'forbidden',
    meaning: 'The application is not registered for this operation.',
  },
  APP_RATE_LIMITED: {
    kind: 'rateLimited',
    meaning:
      'The application sent more requests than its rate limit allows; retry after the Retry-After delay.',
  },
  APP_NOT_FOUND: { kind: 'notFound', meaning: 'No registered application has this id.' },
  VERIFY_PAGE_RATE_LIMITED: {
    kind: 'rateLimited',
    meaning: 'Too many verify-online page views from this client address; retry after the Retry-After delay.',
  },
  APP_CERT_NOT_ACCEPTED: {
    kind: 'unauthorized',
    meaning:
      'The TLS client certificate does not authenticate an application: it does not chain to a CA of this platform, is expired, or is not bound to an application (mTLS, docs/integration/auth.md).',
  },
  APP_CERT_REVOKED: {
    kind: 'forbidden',
    meaning: 'The TLS client certificate of the application is revoked or on hold at our CA.',
  },
  APP_CERT_INVALID: {
    kind: 'malformed',
    meaning:
      'The certificate to bind to an application cannot be used for mTLS: unreadable, not issued by a CA of this platform, an SM2 key (TLS here is ECDSA/RSA only), or its extended key usage excludes clientAuth.',
  },
  APP_CERT_BOUND: {
    kind: 'conflict',
    meaning: 'This client certificate is already bound to an application.',
  },
  SIGN_SIGNER_NOT_FOUND: { kind: 'notFound', meaning: 'No signer has this employee number or id.' },
  SIGN_SIGNER_EXISTS: { kind: 'conflict', meaning: 'A signer with this employee number already exists.' },
  SIGN_SIGNER_INVALID: {
    kind: 'malformed',
    meaning:
      'A signer field is not acceptable (name, employee number, department code, PIN of 6–32 characters).',
  },
  SIGN_PIN_WRONG: {
    kind: 'forbidden',
    meaning: 'The PIN is wrong; after the configured number of wrong PINs the signing key is locked.',
  },
  SIGN_SIGNER_LOCKED: {
    kind: 'forbidden',
    meaning: 'The signing key is locked after too many wrong PINs; an administrator must unlock it.',
  },
  SIGN_SIGNER_NOT_LOCKED: { kind: 'conflict', meaning: 'The signing key is not locked.' },
  SIGN_INTENT_REQUIRED: {
    kind: 'forbidden',
    meaning:
      "Neither the signer's PIN nor a signing authorisation for this application: the signer's intent is not shown.",
  },
  SIGN_AUTHORISATION_EXPIRED: {
    kind: 'forbidden',
    meaning:
      "The signer's authorisation for this application has expired or was revoked; sign with the PIN or grant a new one.",
  },
  SIGN_AUTHORISATION_INVALID: {
    kind: 'malformed',
    meaning:
      'A signing authorisation must last 1 hour to 60 days and name registered applications (at most 16).',
  },
  SIGN_AUTHORISATION_NOT_FOUND: {
    kind: 'notFound',
    meaning: 'No signing authorisation with this id names the calling application.',
  },
  SIGN_CERT_REVOKED: { kind: 'forbidden', meaning: 'The signer certificate is revoked: it cannot sign.' },
  SIGN_CERT_ON_HOLD: {
    kind: 'forbidden',
    meaning: 'The signer certificate is suspended (certificateHold): it cannot sign.',
  },
  SIGN_CERT_EXPIRED: { kind: 'forbidden', meaning: 'The signer certificate has expired: it cannot sign.' },
  SIGN_CERT_NOT_YET_VALID: {
    kind: 'forbidden',
    meaning: 'The signer certificate is not valid yet: it cannot sign.',
  },
  SIGN_TIMESTAMP_UNAVAILABLE: {
    kind: 'unavailable',
    meaning: 'A time-stamp was asked for but no time-stamp authority is available; nothing was signed.',
  },
  SIGN_DATA_INVALID: {
    kind: 'malformed',
    meaning:
      'The data to sign or verify is not acceptable: malformed base64, data and digest both or neither given, a digest of the wrong length, or a digest where the format needs the data.',
  },
  SIGN_PAYLOAD_TOO_LARGE: {
    kind: 'tooLarge',
    meaning: 'The data to sign is larger than the configured limit; sign its digest (p7-detached) instead.',
  },
  SIGN_DOC_TYPE_UNKNOWN: {
    kind: 'malformed',
    meaning: 'The document type is not one of the configured document types.',
  },
  SIGN_SIGNATURE_INVALID: {
    kind: 'malformed',
    meaning: 'The signature or certificate to verify cannot be read (malformed base64, DER or PEM).',
  },
  SIGN_SIGNATURE_NOT_FOUND: { kind: 'notFound', meaning: 'No signature record has this id.' },
  SIGN_IDEMPOTENCY_CONFLICT: {
    kind: 'conflict',
    meaning: 'This Idempotency-Key was already used by the application with a different request.',
  },
  SIGN_ORIGINAL_NOT_STORED: {
    kind: 'notFound',
    meaning:
      'The signature record has no stored original (it was not asked for with storeOriginal, or only a digest was signed).',
  },
  SIGN_ORIGINALS_UNAVAILABLE: {
    kind: 'unavailable',
    meaning:
      'Storing originals was asked for but this server has no cipher to seal them; nothing was signed.',
  },
  SIGN_PREMADE_SIGNATURE_INVALID: {
    kind: 'malformed',
    meaning:
      'The pre-made (USB-key) signature does not verify over the data with its certificate, or cannot be read; nothing was recorded.',
  },
  SIGN_PREMADE_CERT_UNTRUSTED: {
    kind: 'forbidden',
    meaning:
      'The certificate of a pre-made (USB-key) signature does not chain to a CA of this platform, or the CA does not know it; nothing was recorded.',
  },
  SIGN_PREMADE_SIGNER_MISMATCH: {
    kind: 'forbidden',
    meaning:
      'The certificate of a pre-made (USB-key) signature was not issued to the named signer (employee number, or name in the subject); nothing was recorded.',
  },
  SIGN_JOB_NOT_FOUND: {
    kind: 'notFound',
    meaning: 'No sign job has this id for the calling application.',
  },
  SIGN_JOB_INVALID: {
    kind: 'malformed',
    meaning:
      'The sign job is not acceptable: no documents, a business id missing, malformed or used twice in the job, or a callback URL that is not http/https.',
  },
  SIGN_JOB_TOO_LARGE: {
    kind: 'tooLarge',
    meaning:
      'The sign job has more documents or more data than the configured limits (sign.maxJobDocuments, sign.maxJobBytes); split it.',
  },
  SIGN_JOB_STATE: {
    kind: 'conflict',
    meaning:
      'The sign job is not in a state that allows this: it can be authorised only while awaiting authorisation, and cancelled only before signing starts.',
  },
  SIGN_JOB_EXPIRED: {
    kind: 'conflict',
    meaning: 'The sign job waited longer than allowed for the authorisation and expired; nothing was signed.',
  },
  SIGN_JOB_DOCUMENT_FAILED: {
    kind: 'internal',
    meaning:
      "An unexpected error stopped one document's signature in a sign job (recorded per document; quote the job id to the administrator).",
  },
  TSA_UNIT_NOT_FOUND: {
    kind: 'notFound',
    meaning:
      'No time-stamping unit has this id on this server (units: sm2, rsa, ecdsa — those `medsign init` created).',
  },
  TSA_CERTIFICATE_INVALID: {
    kind: 'internal',
    meaning:
      'A TSA unit cannot start: its key does not match its certificate, or the certificate lacks the critical timeStamping-only extended key usage.',
  },
  REPORT_ARTIFACT_INVALID: {
    kind: 'malformed',
    meaning:
      'The artifact to report on cannot be read: malformed base64, or not a certificate, CSR, CRL, OCSP response, CMS signature, time-stamp or PDF.',
  },
} as const satisfies Record<string, { kind: ErrorKind; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The one domain error class. */
export class DomainError extends Error {
  override readonly name = 'DomainError';
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  /** Safe to show to the caller (no secrets, no personal data in clear). */
  readonly detail: string;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    const entry = ERROR_CODES[code];
    super(`${code}: ${detail ?? entry.meaning}`, options);
    this.code = code;
    this.kind = entry.kind;
    this.detail = detail ?? entry.meaning;
  }

  /** HTTP status for this error's kind. */
  get status(): number {
    return ERROR_KINDS[this.kind];
  }
}

/** The Markdown of docs/errors.md, generated from the table. */
export function renderErrorsMarkdown(): string {
  const rows = (Object.keys(ERROR_CODES) as ErrorCode[])
    .sort()
    .map(
      (code) =>
        `| \`${code}\` | ${ERROR_CODES[code].kind} | ${ERROR_KINDS[ERROR_CODES[code].kind]} | ${ERROR_CODES[code].meaning} |`,
    );
  return [
    '# medsign error codes',
    '',
    'Generated from `packages/errors/src/index.ts` (a test fails when this file and the table differ).',
    'HTTP APIs answer with `application/problem+json` carrying the code; the CLI prints it on one line.',
    '',
    '| code | kind | HTTP | meaning |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
