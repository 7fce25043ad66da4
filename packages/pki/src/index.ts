/**
 * @medsign/pki — PKI formats on the @peculiar/asn1-* schemas with GM additions: algorithms and the
 * Signer port, keys, names, extensions, certificates and path validation.
 */

export * from './algorithms.js';
export * from './certificate.js';
export * from './chain.js';
export { Checks, type Check } from './checks.js';
export * from './crl.js';
export * from './csr.js';
export * from './ocsp.js';
export { DecodeError, UnsupportedError } from './errors.js';
export * from './extensions.js';
export * from './gm-extensions.js';
export * from './lints/index.js';
export * from './keys.js';
export * from './name.js';
export {
  DEFAULT_PBKDF2_ITERATIONS,
  ENCRYPTED_PRIVATE_KEY_PEM_LABEL,
  MAX_PBE_ITERATIONS,
  decryptPrivateKey,
  describeEncryptedPrivateKey,
  encryptPrivateKey,
  encryptPrivateKeyPem,
  type EncryptPrivateKeyOptions,
  type EncryptedPrivateKeyDescription,
  type PbeCipher,
  type PbeKdf,
} from './pkcs8.js';
export * from './pkcs12.js';
export * as oids from './oids.js';
export { derFromInput, looksLikePem } from './der-input.js';
export * from './verifier.js';
export * from './cms.js';
export * from './cms-attributes.js';
export * from './cms-verify.js';
export * from './tsp.js';
