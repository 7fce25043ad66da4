/**
 * The software keystore: private keys as PKCS#8 sealed with SM4-GCM (default) or AES-256-GCM under a
 * KEK (kek.ts, envelope.ts), records in a KeyRecordRepository (memory, files, or SQL in the store
 * package). It implements the KeyStore port, so CA, TSA and OCSP code is unchanged when keys move to
 * PKCS#11, an SKF USB key or an SDF crypto card.
 *
 * Memory discipline: the KEK is wiped as soon as the two wrapping keys are derived; a decrypted key
 * lives only as a pki PrivateKey (SM2 keeps its native handle; RSA/ECDSA a Node KeyObject), cached per
 * key id until `close()` destroys it; every PKCS#8 plaintext buffer is wiped right after use.
 * (Node KeyObjects and the ASN.1 parser's internal copies cannot be wiped from JavaScript.)
 */

import { randomUUID } from 'node:crypto';
import { bytesToHex, sm3, type Sm2SignerPool } from '@medsign/gm';
import {
  describePublicKey,
  PrivateKey,
  type KeyType,
  type PublicKeyDescription,
  type SignatureAlgorithmName,
  type Signer,
} from '@medsign/pki';
import { bytesEqual, copyBytes, wipe } from './bytes.js';
import {
  deriveWrapKeys,
  describeEnvelope,
  openKey,
  sealKey,
  type KeyCipher,
  type WrapKeys,
} from './envelope.js';
import { KeyStoreError } from './errors.js';
import {
  deriveKek,
  headerFromRecord,
  headerToRecord,
  KEK_HEADER_ID,
  type KekHeader,
  type KekSource,
} from './kek.js';
import type {
  Clock,
  KeyAuditEvent,
  KeyAuditHook,
  KeyHandle,
  KeySessionEvent,
  KeyStore,
  KeyStoreHealth,
} from './keystore.js';
import type { KeyRecord, KeyRecordRepository } from './records.js';
import {
  derivePersonalDataKeys,
  personalDataCipher,
  type PersonalDataCipher,
  type PersonalDataKeys,
} from './personal-data.js';

/** Every key type the software keystore generates and imports (all of pki's KeyType). */
export const SOFTWARE_KEY_TYPES = [
  'sm2',
  'rsa-2048',
  'rsa-3072',
  'rsa-4096',
  'ec-p256',
  'ec-p384',
] as const satisfies readonly KeyType[];

// Compile-time proof that the list above covers KeyType.
const _allKeyTypes: Exclude<KeyType, (typeof SOFTWARE_KEY_TYPES)[number]> extends never ? true : never = true;
void _allKeyTypes;

/** Options of `openSoftwareKeyStore`. */
export type SoftwareKeyStoreOptions = {
  /** Where records (and the `__kek__` header) live. */
  records: KeyRecordRepository;
  /** Where the master secret comes from. */
  kek: KekSource;
  /** Receives every generate/import/sign event; a failing hook fails the operation. */
  audit?: KeyAuditHook;
  /** Time for createdAt and event times (default: the system clock). */
  clock?: Clock;
  /** Cipher for keys sealed from now on (default 'sm4-gcm'); existing records keep theirs. */
  cipher?: KeyCipher;
  /**
   * SM2 signatures are made on this pool's worker threads (other cores) instead of the caller's thread.
   * The pool belongs to the caller, who closes it after the keystore.
   */
  sm2Pool?: Sm2SignerPool;
};

const systemClock: Clock = { now: () => new Date() };

const MAX_LABEL = 256;
const MAX_PURPOSE = 256;
const MAX_METADATA_ENTRIES = 64;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function invalid(detail: string): KeyStoreError {
  return new KeyStoreError('KEYSTORE_INVALID_ARGUMENT', detail);
}

function checkText(value: unknown, name: string, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max || CONTROL.test(value)) {
    throw invalid(
      `${name} must be a non-empty string of at most ${max} characters without control characters`,
    );
  }
  return value;
}

function checkMetadata(metadata: unknown): Record<string, string> {
  if (metadata === undefined) return {};
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw invalid('metadata must be an object of strings');
  }
  const entries = Object.entries(metadata);
  if (entries.length > MAX_METADATA_ENTRIES)
    throw invalid(`metadata may hold at most ${MAX_METADATA_ENTRIES} entries`);
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (typeof v !== 'string') throw invalid('metadata values must be strings');
    out[k] = v;
  }
  return out;
}

/** The KeyType of a public key, if it is one the keystore handles. */
function keyTypeOf(d: PublicKeyDescription): KeyType | undefined {
  if (d.family === 'sm2') return 'sm2';
  if (d.family === 'rsa') {
    return d.bits === 2048 || d.bits === 3072 || d.bits === 4096 ? (`rsa-${d.bits}` as KeyType) : undefined;
  }
  if (d.curve === 'P-256') return 'ec-p256';
  if (d.curve === 'P-384') return 'ec-p384';
  return undefined;
}

function isKeyType(v: unknown): v is KeyType {
  return (SOFTWARE_KEY_TYPES as readonly unknown[]).includes(v);
}

function digestHex(data: Uint8Array): string {
  return bytesToHex(sm3(data));
}

/** Checks a stored record's public fields and turns it into a handle; KEYSTORE_CORRUPT_RECORD otherwise. */
function toHandle(record: KeyRecord): KeyHandle {
  const bad = (why: string) => new KeyStoreError('KEYSTORE_CORRUPT_RECORD', `record ${record.id}: ${why}`);
  if (!isKeyType(record.algorithm)) throw bad('unknown algorithm');
  let type: KeyType | undefined;
  try {
    type = keyTypeOf(describePublicKey(record.publicKeyInfo));
  } catch {
    throw bad('unreadable public key');
  }
  if (type !== record.algorithm) throw bad('public key does not match the algorithm');
  return Object.freeze({
    id: record.id,
    label: record.label,
    algorithm: record.algorithm,
    publicKeyInfo: copyBytes(record.publicKeyInfo),
  });
}

type Loaded = { key: PrivateKey; handle: KeyHandle };
type Session = { event: Omit<KeySessionEvent, 'action' | 'at' | 'signatures'>; count: number };

/** The software implementation of the KeyStore port. Open one with `openSoftwareKeyStore`. */
export class SoftwareKeyStore implements KeyStore {
  readonly #records: KeyRecordRepository;
  readonly #audit: KeyAuditHook | undefined;
  readonly #clock: Clock;
  readonly #cipher: KeyCipher;
  readonly #header: KekHeader;
  readonly #wrap: WrapKeys;
  readonly #personalKeys: PersonalDataKeys;
  /** Field-level encryption of personal data under keys derived from the KEK (personal-data.ts). */
  readonly personalData: PersonalDataCipher;
  readonly #sm2Pool: Sm2SignerPool | undefined;
  /** Decrypted keys by id; a promise so concurrent first uses decrypt once. */
  readonly #cache = new Map<string, Promise<Loaded>>();
  /** Labels being created right now (one process: two concurrent generates must not both pass the check). */
  readonly #pendingLabels = new Set<string>();
  /** Open session signers: their close event is audited when the keystore closes. */
  readonly #sessions = new Set<Session>();
  #closed = false;

  private constructor(
    opts: SoftwareKeyStoreOptions,
    header: KekHeader,
    wrap: WrapKeys,
    personalKeys: PersonalDataKeys,
  ) {
    this.#records = opts.records;
    this.#audit = opts.audit;
    this.#clock = opts.clock ?? systemClock;
    this.#cipher = opts.cipher ?? 'sm4-gcm';
    this.#header = header;
    this.#wrap = wrap;
    this.#personalKeys = personalKeys;
    this.personalData = personalDataCipher(personalKeys, () => this.#checkOpen());
    this.#sm2Pool = opts.sm2Pool;
  }

  /**
   * Opens (or, on an empty repository, creates) a software keystore; see `openSoftwareKeyStore`.
   */
  static async open(opts: SoftwareKeyStoreOptions): Promise<SoftwareKeyStore> {
    if (opts.cipher !== undefined && opts.cipher !== 'sm4-gcm' && opts.cipher !== 'aes-256-gcm') {
      throw invalid("cipher must be 'sm4-gcm' or 'aes-256-gcm'");
    }
    const clock = opts.clock ?? systemClock;
    for (let attempt = 0; ; attempt++) {
      const stored = await opts.records.get(KEK_HEADER_ID);
      if (stored) {
        const { kek, header } = await deriveKek(opts.kek, headerFromRecord(stored), clock.now());
        const wrap = deriveWrapKeys(kek);
        const personal = derivePersonalDataKeys(kek);
        wipe(kek);
        return new SoftwareKeyStore(opts, header, wrap, personal);
      }
      // No header: a new keystore — unless keys exist, whose KEK would then be lost for good.
      const existing = await opts.records.list();
      if (existing.some((r) => r.id !== KEK_HEADER_ID)) {
        throw new KeyStoreError(
          'KEYSTORE_CORRUPT_RECORD',
          `the repository holds keys but no ${KEK_HEADER_ID} header; refusing to create a new KEK`,
        );
      }
      const { kek, header } = await deriveKek(opts.kek, undefined, clock.now());
      try {
        await opts.records.put(headerToRecord(header));
      } catch (e) {
        wipe(kek);
        // Another process created the keystore at the same moment: open theirs instead (once).
        if (attempt === 0 && (await opts.records.get(KEK_HEADER_ID))) continue;
        throw e;
      }
      const wrap = deriveWrapKeys(kek);
      const personal = derivePersonalDataKeys(kek);
      wipe(kek);
      return new SoftwareKeyStore(opts, header, wrap, personal);
    }
  }

  /** The cipher new keys are sealed with. */
  get cipher(): KeyCipher {
    return this.#cipher;
  }

  /** How the KEK is derived: 'scrypt' (passphrase) or 'none' (key file, environment). */
  get kdf(): 'scrypt' | 'none' {
    return this.#header.kdf;
  }

  #checkOpen(): void {
    if (this.#closed) throw new KeyStoreError('KEYSTORE_CLOSED');
  }

  async #emit(event: KeyAuditEvent): Promise<void> {
    if (this.#audit) await this.#audit(event);
  }

  /** Reserves `label` for the duration of `fn`, refusing labels already stored or being stored. */
  async #withNewLabel<T>(label: string, fn: () => Promise<T>): Promise<T> {
    if (this.#pendingLabels.has(label))
      throw new KeyStoreError('KEYSTORE_LABEL_EXISTS', `label "${label}" is taken`);
    this.#pendingLabels.add(label);
    try {
      const all = await this.#records.list();
      if (all.some((r) => r.id !== KEK_HEADER_ID && r.label === label)) {
        throw new KeyStoreError('KEYSTORE_LABEL_EXISTS', `label "${label}" is taken`);
      }
      return await fn();
    } finally {
      this.#pendingLabels.delete(label);
    }
  }

  /** Seals `key` into a new record, stores it and caches the key. Takes ownership of `key`. */
  async #store(
    key: PrivateKey,
    type: KeyType,
    label: string,
    metadata: Record<string, string>,
  ): Promise<KeyHandle> {
    const id = randomUUID();
    const publicKeyInfo = copyBytes(key.publicKeyInfo);
    let record: KeyRecord;
    const pkcs8 = key.toPkcs8();
    try {
      record = {
        id,
        label,
        algorithm: type,
        publicKeyInfo,
        encrypted: sealKey(this.#wrap, this.#cipher, { id, algorithm: type, publicKeyInfo }, pkcs8),
        createdAt: this.#clock.now(),
        metadata,
      };
    } finally {
      wipe(pkcs8);
    }
    try {
      await this.#records.put(record);
    } catch (e) {
      key.destroy();
      throw e;
    }
    const handle = toHandle(record);
    if (this.#closed) {
      key.destroy();
    } else {
      this.#cache.set(id, Promise.resolve({ key, handle }));
    }
    return handle;
  }

  async generate(type: KeyType, label: string, metadata?: Record<string, string>): Promise<KeyHandle> {
    this.#checkOpen();
    if (!isKeyType(type)) throw invalid(`key type must be one of ${SOFTWARE_KEY_TYPES.join(', ')}`);
    checkText(label, 'label', MAX_LABEL);
    const meta = checkMetadata(metadata);
    const handle = await this.#withNewLabel(label, async () =>
      this.#store(PrivateKey.generate(type), type, label, meta),
    );
    await this.#emit({
      action: 'key.generate',
      keyId: handle.id,
      label: handle.label,
      algorithm: handle.algorithm,
      publicKeyDigest: digestHex(handle.publicKeyInfo),
      at: this.#clock.now(),
    });
    return handle;
  }

  async importKey(pkcs8: Uint8Array, label: string, metadata?: Record<string, string>): Promise<KeyHandle> {
    this.#checkOpen();
    if (!(pkcs8 instanceof Uint8Array)) throw invalid('pkcs8 must be a Uint8Array');
    checkText(label, 'label', MAX_LABEL);
    const meta = checkMetadata(metadata);
    let key: PrivateKey;
    try {
      key = PrivateKey.fromPkcs8(pkcs8);
    } catch (e) {
      throw new KeyStoreError('KEYSTORE_INVALID_KEY', undefined, { cause: e });
    }
    const type = keyTypeOf(key.description);
    if (!type) {
      key.destroy();
      throw new KeyStoreError('KEYSTORE_INVALID_KEY');
    }
    let handle: KeyHandle;
    try {
      handle = await this.#withNewLabel(label, async () => {
        const all = await this.#records.list();
        if (all.some((r) => bytesEqual(r.publicKeyInfo, key.publicKeyInfo))) {
          throw new KeyStoreError('KEYSTORE_KEY_EXISTS');
        }
        // Stored as this library re-encodes it (canonical PKCS#8), not as the caller's bytes.
        return this.#store(key, type, label, meta);
      });
    } catch (e) {
      key.destroy();
      throw e;
    }
    await this.#emit({
      action: 'key.import',
      keyId: handle.id,
      label: handle.label,
      algorithm: handle.algorithm,
      publicKeyDigest: digestHex(handle.publicKeyInfo),
      at: this.#clock.now(),
    });
    return handle;
  }

  async get(id: string): Promise<KeyHandle | undefined> {
    this.#checkOpen();
    if (typeof id !== 'string' || id === KEK_HEADER_ID) return undefined;
    const record = await this.#records.get(id);
    return record && toHandle(record);
  }

  async list(): Promise<KeyHandle[]> {
    this.#checkOpen();
    return (await this.#records.list()).filter((r) => r.id !== KEK_HEADER_ID).map(toHandle);
  }

  /** Decrypts key `id` once and caches it; KEYSTORE_KEY_NOT_FOUND / KEYSTORE_CORRUPT_RECORD otherwise. */
  #load(id: string): Promise<Loaded> {
    const cached = this.#cache.get(id);
    if (cached) return cached;
    const loading = (async (): Promise<Loaded> => {
      const record = id === KEK_HEADER_ID ? undefined : await this.#records.get(id);
      if (!record) throw new KeyStoreError('KEYSTORE_KEY_NOT_FOUND', `no key with id ${id}`);
      const handle = toHandle(record);
      const plaintext = openKey(this.#wrap, record, record.encrypted);
      let key: PrivateKey;
      try {
        key = PrivateKey.fromPkcs8(plaintext);
      } catch (e) {
        throw new KeyStoreError(
          'KEYSTORE_CORRUPT_RECORD',
          `record ${id}: the sealed key is not readable PKCS#8`,
          {
            cause: e,
          },
        );
      } finally {
        wipe(plaintext);
      }
      if (!bytesEqual(key.publicKeyInfo, record.publicKeyInfo)) {
        key.destroy();
        throw new KeyStoreError(
          'KEYSTORE_CORRUPT_RECORD',
          `record ${id}: the sealed key does not match its public key`,
        );
      }
      if (this.#closed) {
        key.destroy();
        throw new KeyStoreError('KEYSTORE_CLOSED');
      }
      return { key, handle };
    })();
    this.#cache.set(id, loading);
    loading.catch(() => {
      if (this.#cache.get(id) === loading) this.#cache.delete(id);
    });
    return loading;
  }

  /** The key's Signer (on the pool for SM2 when there is one), checked against the handle. */
  async #inner(id: string, purpose: string, algorithm?: SignatureAlgorithmName) {
    this.#checkOpen();
    if (typeof id !== 'string') throw new KeyStoreError('KEYSTORE_KEY_NOT_FOUND');
    checkText(purpose, 'purpose', MAX_PURPOSE);
    const { key, handle } = await this.#load(id);
    const alg = algorithm ?? key.defaultAlgorithm;
    let inner: Signer;
    try {
      inner = key.signer(alg, this.#sm2Pool ? { sm2Pool: this.#sm2Pool } : {});
    } catch (e) {
      throw new KeyStoreError(
        'KEYSTORE_ALGORITHM_MISMATCH',
        `${String(alg)} does not fit ${handle.algorithm} key ${id}`,
        {
          cause: e,
        },
      );
    }
    return { inner, handle, alg };
  }

  async signer(id: string, purpose: string, algorithm?: SignatureAlgorithmName): Promise<Signer> {
    const { inner, handle, alg } = await this.#inner(id, purpose, algorithm);
    const publicKeyInfo = copyBytes(handle.publicKeyInfo);
    return Object.freeze({
      algorithm: alg,
      publicKeyInfo,
      sign: async (data: Uint8Array): Promise<Uint8Array> => {
        // A signer handed out before close() must not keep working (an RSA KeyObject would).
        this.#checkOpen();
        if (!(data instanceof Uint8Array)) throw invalid('data to sign must be a Uint8Array');
        const signature = await inner.sign(data);
        await this.#emit({
          action: 'key.sign',
          keyId: handle.id,
          label: handle.label,
          purpose,
          algorithm: alg,
          dataDigest: digestHex(data),
          at: this.#clock.now(),
        });
        return signature;
      },
    });
  }

  async sessionSigner(id: string, purpose: string, algorithm?: SignatureAlgorithmName): Promise<Signer> {
    const { inner, handle, alg } = await this.#inner(id, purpose, algorithm);
    const session = {
      event: { keyId: handle.id, label: handle.label, purpose, algorithm: alg, sessionId: randomUUID() },
      count: 0,
    };
    // The session is on record before its first signature.
    await this.#emit({ action: 'key.session-open', ...session.event, at: this.#clock.now() });
    this.#sessions.add(session);
    return Object.freeze({
      algorithm: alg,
      publicKeyInfo: copyBytes(handle.publicKeyInfo),
      sign: async (data: Uint8Array): Promise<Uint8Array> => {
        this.#checkOpen();
        if (!(data instanceof Uint8Array)) throw invalid('data to sign must be a Uint8Array');
        const signature = await inner.sign(data);
        session.count++;
        return signature;
      },
    });
  }

  async health(): Promise<KeyStoreHealth> {
    if (this.#closed) return { ok: false, detail: 'software keystore is closed' };
    try {
      const records = await this.#records.list();
      const header = records.find((r) => r.id === KEK_HEADER_ID);
      if (!header || !bytesEqual(headerFromRecord(header).check, this.#header.check)) {
        return { ok: false, detail: 'software keystore: the KEK header changed or disappeared since open' };
      }
      const keys = records.filter((r) => r.id !== KEK_HEADER_ID);
      const unreadable = keys.filter((r) => !describeEnvelope(r.encrypted)).length;
      if (unreadable > 0)
        return { ok: false, detail: `software keystore: ${unreadable} record(s) unreadable` };
      const kek = this.#header.kdf === 'scrypt' ? 'passphrase (scrypt)' : 'key file / environment key';
      return {
        ok: true,
        detail: `software keystore: ${keys.length} key(s), new keys sealed with ${this.#cipher}, KEK from ${kek}`,
      };
    } catch (e) {
      const what = e instanceof KeyStoreError ? e.code : ((e as { code?: string }).code ?? (e as Error).name);
      return { ok: false, detail: `software keystore: repository unavailable (${what})` };
    }
  }

  /** Destroys every cached key (SM2 scalars wiped) and the wrapping keys; the keystore is unusable afterwards. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const { event, count } of this.#sessions) {
      // Best effort: a failing audit hook must not keep keys from being wiped.
      await Promise.resolve(
        this.#emit({ action: 'key.session-close', ...event, signatures: count, at: this.#clock.now() }),
      ).catch(() => undefined);
    }
    this.#sessions.clear();
    const pending = [...this.#cache.values()];
    this.#cache.clear();
    await Promise.all(
      pending.map((p) =>
        p.then(
          ({ key }) => key.destroy(),
          () => undefined,
        ),
      ),
    );
    wipe(
      this.#wrap['sm4-gcm'],
      this.#wrap['aes-256-gcm'],
      this.#personalKeys.cipher,
      this.#personalKeys.index,
    );
  }
}

/**
 * Opens (or, on an empty repository, creates) a software keystore. The KEK is derived and checked
 * against the `__kek__` header here, so a wrong passphrase or key fails now with
 * KEYSTORE_WRONG_PASSPHRASE / KEYSTORE_WRONG_KEK, before any key record is read or decrypted.
 */
export function openSoftwareKeyStore(opts: SoftwareKeyStoreOptions): Promise<SoftwareKeyStore> {
  return SoftwareKeyStore.open(opts);
}
