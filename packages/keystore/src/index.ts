/**
 * @medsign/keystore — the KeyStore port (handles and signers out, keys never) and the software
 * keystore: PKCS#8 sealed with SM4-GCM or AES-256-GCM under a KEK from a passphrase (scrypt), a key
 * file or an environment variable; records in memory, in files, or (store package) in SQL.
 */

export * from './keystore.js';
export * from './errors.js';
export { MemoryKeyRecordRepository, type KeyRecord, type KeyRecordRepository } from './records.js';
export { FileKeyRecordRepository } from './file-records.js';
export {
  createKeyFile,
  DEFAULT_SCRYPT_PARAMS,
  envKek,
  KEK_HEADER_ID,
  KEK_LENGTH,
  keyFileKek,
  passphraseKek,
  type KekSource,
  type ScryptParams,
} from './kek.js';
export { describeEnvelope, KEY_CIPHERS, type KeyCipher } from './envelope.js';
export type { SecretSealer } from './secrets.js';
export {
  openSoftwareKeyStore,
  SOFTWARE_KEY_TYPES,
  SoftwareKeyStore,
  type SoftwareKeyStoreOptions,
} from './software.js';
