/** Shared test helpers: a cheap scrypt cost, a recording audit hook, a repository that counts reads. */

import assert from 'node:assert/strict';
import type { KeyAuditEvent, KeyRecord, KeyRecordRepository, ScryptParams } from '../src/index.js';
import { KeyStoreError } from '../src/index.js';

/** scrypt cost for tests that are not about scrypt (the default N=2^15 is covered separately). */
export const FAST_SCRYPT: ScryptParams = { N: 2 ** 10, r: 8, p: 1 };

export const PASSPHRASE = 'correct horse battery staple — 医院';

/** Collects audit events. */
export function recorder(): { events: KeyAuditEvent[]; hook: (e: KeyAuditEvent) => void } {
  const events: KeyAuditEvent[] = [];
  return { events, hook: (e) => void events.push(e) };
}

/** Asserts that `fn` rejects with a KeyStoreError of `code`; returns it. */
export async function rejectsWith(fn: () => Promise<unknown>, code: string): Promise<KeyStoreError> {
  let caught: unknown;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof KeyStoreError, `expected KeyStoreError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

/** Wraps a repository and records every call (to prove what was — and was not — read). */
export class CountingRepository implements KeyRecordRepository {
  readonly calls: string[] = [];
  constructor(readonly inner: KeyRecordRepository) {}
  put(record: KeyRecord): Promise<void> {
    this.calls.push(`put:${record.id}`);
    return this.inner.put(record);
  }
  get(id: string): Promise<KeyRecord | undefined> {
    this.calls.push(`get:${id}`);
    return this.inner.get(id);
  }
  list(): Promise<KeyRecord[]> {
    this.calls.push('list');
    return this.inner.list();
  }
}

/** Index of `needle` in `haystack`, or -1. */
export function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(
    Buffer.from(needle.buffer, needle.byteOffset, needle.byteLength),
  );
}
