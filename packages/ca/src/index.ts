/**
 * @medsign/ca — the certificate authority core: profiles, issuance, revocation, CRL and OCSP,
 * and the application → review → issue → renew lifecycle. Pure logic:
 * the clock, CA keys, storage and the audit log come in through the ports in ports.ts.
 */

export * from './ports.js';
export * from './profiles.js';
export * from './issue.js';
export * from './revocation.js';
export * from './ocsp-cache.js';
export * from './backend.js';
export * from './lifecycle.js';
