/**
 * The KeyStore port: what CA, TSA, OCSP and signing services see of private keys. Software keys
 * (this package), PKCS#11 tokens, SKF USB keys and SDF crypto cards all implement it, so callers only
 * ever hold a key handle and a `Signer` — never key bytes. There is deliberately no export method.
 */

import type { KeyType, SignatureAlgorithmName, Signer } from '@medsign/pki';
import type { PersonalDataCipher } from './personal-data.js';

/** A key as callers see it: an id to sign with, a label for people, and the public half. */
export type KeyHandle = {
  readonly id: string;
  readonly label: string;
  readonly algorithm: KeyType;
  /** DER SubjectPublicKeyInfo. */
  readonly publicKeyInfo: Uint8Array;
};

/** The result of a health probe (for /healthz): never throws, `detail` is safe to show. */
export type KeyStoreHealth = { ok: boolean; detail: string };

/** Keys that are generated, imported and used inside a keystore; handles and signers leave it, keys do not. */
export interface KeyStore {
  /** Generates a key of `type` under a unique `label`; metadata is free-form (e.g. `{ role: 'ca' }`). */
  generate(type: KeyType, label: string, metadata?: Record<string, string>): Promise<KeyHandle>;
  /** Imports an unencrypted PKCS#8 key (migrating existing CA keys); the caller still owns and wipes `pkcs8`. */
  importKey(pkcs8: Uint8Array, label: string, metadata?: Record<string, string>): Promise<KeyHandle>;
  /** The handle for `id`, or undefined. */
  get(id: string): Promise<KeyHandle | undefined>;
  /** All keys, oldest first. */
  list(): Promise<KeyHandle[]>;
  /**
   * A Signer for key `id`. Every `sign()` is audited with `purpose` (e.g. "issue certificate", "OCSP
   * response") and the SM3 digest of the signed bytes; the signature is released only once the audit
   * hook has accepted the event.
   */
  signer(id: string, purpose: string, algorithm?: SignatureAlgorithmName): Promise<Signer>;
  /**
   * Field-level encryption of personal data (ID numbers, phones) under a data key the keystore holds
   * (derived from its master secret): the one way medsign seals such values at rest.
   */
  readonly personalData: PersonalDataCipher;
  /**
   * A Signer for key `id` audited per session instead of per signature, for services that sign thousands
   * of times a second and keep their own durable record of every signature (the TSA's token archive):
   * `key.session-open` is audited before the signer is returned, and `key.session-close` with the number
   * of signatures when the keystore closes. Anything else must use `signer`.
   */
  sessionSigner(id: string, purpose: string, algorithm?: SignatureAlgorithmName): Promise<Signer>;
  /** Whether the keystore can sign now (repository reachable, master secret loaded). */
  health(): Promise<KeyStoreHealth>;
  /** Releases keys (wipes what can be wiped, logs out of tokens); later calls fail with KEYSTORE_CLOSED. */
  close(): Promise<void>;
}

/** A key was generated inside the keystore. */
export type KeyGenerateEvent = {
  action: 'key.generate';
  keyId: string;
  label: string;
  algorithm: KeyType;
  /** SM3 (hex) of the DER SubjectPublicKeyInfo. */
  publicKeyDigest: string;
  at: Date;
};

/** A key was imported from PKCS#8. */
export type KeyImportEvent = {
  action: 'key.import';
  keyId: string;
  label: string;
  algorithm: KeyType;
  /** SM3 (hex) of the DER SubjectPublicKeyInfo. */
  publicKeyDigest: string;
  at: Date;
};

/** A key signed something; the data itself is represented by its SM3 digest only. */
export type KeySignEvent = {
  action: 'key.sign';
  keyId: string;
  label: string;
  purpose: string;
  algorithm: SignatureAlgorithmName;
  /** SM3 (hex) of the exact bytes that were signed. */
  dataDigest: string;
  at: Date;
};

/**
 * A session signer was opened (`key.session-open`) or closed with the keystore (`key.session-close`,
 * with the number of signatures it made); the signatures themselves are recorded by the service.
 */
export type KeySessionEvent = {
  action: 'key.session-open' | 'key.session-close';
  keyId: string;
  label: string;
  purpose: string;
  algorithm: SignatureAlgorithmName;
  /** Random id tying the open and close events together. */
  sessionId: string;
  /** key.session-close: signatures made in the session. */
  signatures?: number;
  at: Date;
};

/** What keystores report to the audit log; never key bytes, KEKs, passphrases or signed data. */
export type KeyAuditEvent = KeyGenerateEvent | KeyImportEvent | KeySignEvent | KeySessionEvent;

/**
 * Receives every key event. A throwing (or rejecting) hook fails the operation: a signature is not
 * released unless its use was recorded.
 */
export type KeyAuditHook = (event: KeyAuditEvent) => Promise<void> | void;

/** Time source (a fake clock in tests). */
export interface Clock {
  now(): Date;
}
