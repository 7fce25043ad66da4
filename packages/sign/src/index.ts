/**
 * @medsign/sign — the signing service core: registered applications and their HMAC-SM3 request
 * authentication, signers with server-held keys behind a PIN, P1/P7 signatures with optional RFC 3161
 * time-stamps, verification and append-only signature records. Pure logic: the clock, keys, the CA,
 * certificate status, time-stamps, storage and audit come in through the ports in ports.ts.
 */

export * from './ports.js';
export * from './auth.js';
export * from './apps.js';
export * from './credentials.js';
export * from './signers.js';
export * from './authorisations.js';
export * from './signing.js';
export * from './premade.js';
export * from './evidence.js';
export * from './jobs.js';
export * from './webhook.js';
