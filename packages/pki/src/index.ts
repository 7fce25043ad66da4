/**
 * @medsign/pki — PKI formats on the @peculiar/asn1-* schemas with GM additions: algorithms and the
 * Signer port, keys, names, extensions, certificates and path validation.
 */

export * from './algorithms.js';
export * from './certificate.js';
export * from './chain.js';
export * from './errors.js';
export * from './extensions.js';
export * from './keys.js';
export * from './name.js';
export * as oids from './oids.js';
export { derFromInput, looksLikePem } from './der-input.js';
export * from './verifier.js';
