/**
 * Key records as files: one JSON file per record (`<id>.json`) in one directory, so the software
 * keystore works without a database (a single-node install, the CLI, tests).
 *
 * Writes are atomic and never overwrite: the record goes to a temporary file (mode 0600) that is
 * fsynced and then hard-linked to its final name — `link()` fails if the name exists, which is the
 * "put refuses to overwrite" rule without a check-then-write race — and the directory is fsynced.
 * A reader therefore sees either no file or a whole one. Where the filesystem has no hard links the
 * fallback is check-then-rename (atomic, but the overwrite check is then not race-free).
 *
 * File format (`format: "medsign-keyrecord/1"`): id, label, algorithm, publicKeyInfo and encrypted
 * in base64, createdAt as ISO 8601, metadata as an object of strings.
 */

import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyStoreError } from './errors.js';
import { compareRecords, type KeyRecord, type KeyRecordRepository } from './records.js';

const FORMAT = 'medsign-keyrecord/1';

/** Ids that are safe as file names: no separators, no leading dot, bounded length. */
const SAFE_ID = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

function errorCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

function toJson(record: KeyRecord): string {
  return (
    JSON.stringify(
      {
        format: FORMAT,
        id: record.id,
        label: record.label,
        algorithm: record.algorithm,
        publicKeyInfo: Buffer.from(record.publicKeyInfo).toString('base64'),
        encrypted: Buffer.from(record.encrypted).toString('base64'),
        createdAt: record.createdAt.toISOString(),
        metadata: record.metadata,
      },
      null,
      2,
    ) + '\n'
  );
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function fromJson(text: string, file: string): KeyRecord {
  const bad = (why: string) => new KeyStoreError('KEYSTORE_CORRUPT_RECORD', `record file ${file}: ${why}`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('not a JSON object');
  const o = v as Record<string, unknown>;
  if (o.format !== FORMAT) throw bad(`format is not ${FORMAT}`);
  for (const f of ['id', 'label', 'algorithm', 'publicKeyInfo', 'encrypted', 'createdAt'] as const) {
    if (typeof o[f] !== 'string') throw bad(`${f} must be a string`);
  }
  const bytes = (f: 'publicKeyInfo' | 'encrypted'): Uint8Array => {
    const s = o[f] as string;
    if (s.length % 4 !== 0 || !BASE64.test(s)) throw bad(`${f} is not base64`);
    return new Uint8Array(Buffer.from(s, 'base64'));
  };
  const createdAt = new Date(o.createdAt as string);
  if (Number.isNaN(createdAt.getTime())) throw bad('createdAt is not a date');
  const meta = o.metadata;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta))
    throw bad('metadata must be an object');
  const metadata: Record<string, string> = {};
  for (const [k, val] of Object.entries(meta)) {
    if (typeof val !== 'string') throw bad('metadata values must be strings');
    metadata[k] = val;
  }
  return {
    id: o.id as string,
    label: o.label as string,
    algorithm: o.algorithm as string,
    publicKeyInfo: bytes('publicKeyInfo'),
    encrypted: bytes('encrypted'),
    createdAt,
    metadata,
  };
}

/** Makes a directory's new entries durable (best effort where directories cannot be opened). */
async function syncDirectory(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Some platforms (Windows) cannot fsync a directory; the rename/link itself is still atomic.
  } finally {
    await fh?.close();
  }
}

/** One JSON file per record under `directory` (created with mode 0700 on first write). */
export class FileKeyRecordRepository implements KeyRecordRepository {
  /** @param directory where the `<id>.json` files live; nothing else should be written there. */
  constructor(readonly directory: string) {}

  #path(id: string): string {
    return join(this.directory, `${id}.json`);
  }

  async put(record: KeyRecord): Promise<void> {
    if (!SAFE_ID.test(record.id)) {
      throw new KeyStoreError(
        'KEYSTORE_INVALID_ARGUMENT',
        'record id must be 1-128 characters of A-Z a-z 0-9 . _ - and not start with a dot',
      );
    }
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
    const final = this.#path(record.id);
    const temp = join(this.directory, `.${record.id}.${randomBytes(8).toString('hex')}.tmp`);
    const fh = await open(temp, 'wx', 0o600);
    try {
      await fh.writeFile(toJson(record), 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      try {
        await link(temp, final);
      } catch (e) {
        if (errorCode(e) === 'EEXIST') throw e;
        // No hard links here (some network or FUSE filesystems): check, then rename atomically.
        const exists = await stat(final).then(
          () => true,
          () => false,
        );
        if (exists) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
        await rename(temp, final);
      }
    } catch (e) {
      if (errorCode(e) === 'EEXIST') {
        throw new KeyStoreError('KEYSTORE_RECORD_EXISTS', `a record with id ${record.id} already exists`);
      }
      throw e;
    } finally {
      await unlink(temp).catch(() => undefined);
    }
    await syncDirectory(this.directory);
  }

  async get(id: string): Promise<KeyRecord | undefined> {
    // An id that cannot be a file name here (e.g. "../x") names no record; it must not reach the path.
    if (typeof id !== 'string' || !SAFE_ID.test(id)) return undefined;
    let text: string;
    try {
      text = await readFile(this.#path(id), 'utf8');
    } catch (e) {
      if (errorCode(e) === 'ENOENT') return undefined;
      throw e;
    }
    const record = fromJson(text, `${id}.json`);
    if (record.id !== id) {
      throw new KeyStoreError('KEYSTORE_CORRUPT_RECORD', `record file ${id}.json holds record ${record.id}`);
    }
    return record;
  }

  async list(): Promise<KeyRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch (e) {
      if (errorCode(e) === 'ENOENT') return [];
      throw e;
    }
    const out: KeyRecord[] = [];
    for (const name of names) {
      if (name.startsWith('.') || !name.endsWith('.json')) continue;
      const record = await this.get(name.slice(0, -'.json'.length));
      if (record) out.push(record);
    }
    return out.sort(compareRecords);
  }
}
