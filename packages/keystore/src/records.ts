/**
 * The persistence port of the software keystore and its in-memory implementation. The store package
 * implements the same port on SQL; `FileKeyRecordRepository` keeps one JSON file per record.
 *
 * A record holds only public values in clear (label, algorithm, SubjectPublicKeyInfo, metadata); the
 * private key is in `encrypted` (see envelope.ts). The KEK header lives in the same repository under
 * the reserved id `__kek__` (see kek.ts), so a repository needs no second table or file.
 */

import { KeyStoreError } from './errors.js';
import { copyBytes } from './bytes.js';

/** One stored key (or the `__kek__` header). Field names and types are the contract with the SQL store. */
export interface KeyRecord {
  id: string;
  label: string;
  /** A pki KeyType ('sm2', 'rsa-2048', …); 'medsign-kek' for the header. */
  algorithm: string;
  /** DER SubjectPublicKeyInfo (empty for the header). */
  publicKeyInfo: Uint8Array;
  /** The sealed PKCS#8 envelope (empty for the header). */
  encrypted: Uint8Array;
  createdAt: Date;
  metadata: Record<string, string>;
}

/** Where key records live. Records are immutable: `put` refuses to overwrite an existing id. */
export interface KeyRecordRepository {
  put(record: KeyRecord): Promise<void>;
  get(id: string): Promise<KeyRecord | undefined>;
  list(): Promise<KeyRecord[]>;
}

/** A deep copy, so neither side can change the other's bytes or metadata afterwards. */
export function cloneRecord(record: KeyRecord): KeyRecord {
  return {
    id: record.id,
    label: record.label,
    algorithm: record.algorithm,
    publicKeyInfo: copyBytes(record.publicKeyInfo),
    encrypted: copyBytes(record.encrypted),
    createdAt: new Date(record.createdAt.getTime()),
    metadata: { ...record.metadata },
  };
}

/** Oldest first, then by id: a stable order for `list()`. */
export function compareRecords(a: KeyRecord, b: KeyRecord): number {
  const t = a.createdAt.getTime() - b.createdAt.getTime();
  return t !== 0 ? t : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Records in memory (tests, throwaway keystores). Stores and returns copies. */
export class MemoryKeyRecordRepository implements KeyRecordRepository {
  readonly #records = new Map<string, KeyRecord>();

  /** Optionally seeded with records (e.g. copies taken from another repository in a test). */
  constructor(initial: Iterable<KeyRecord> = []) {
    for (const r of initial) {
      if (this.#records.has(r.id))
        throw new KeyStoreError('KEYSTORE_RECORD_EXISTS', `duplicate record id ${r.id}`);
      this.#records.set(r.id, cloneRecord(r));
    }
  }

  async put(record: KeyRecord): Promise<void> {
    if (this.#records.has(record.id)) {
      throw new KeyStoreError('KEYSTORE_RECORD_EXISTS', `a record with id ${record.id} already exists`);
    }
    this.#records.set(record.id, cloneRecord(record));
  }

  async get(id: string): Promise<KeyRecord | undefined> {
    const r = this.#records.get(id);
    return r && cloneRecord(r);
  }

  async list(): Promise<KeyRecord[]> {
    return [...this.#records.values()].map(cloneRecord).sort(compareRecords);
  }
}
