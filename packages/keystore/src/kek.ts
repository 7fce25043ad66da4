/**
 * The key-encryption key (KEK) of the software keystore: where the 32-byte master secret comes from,
 * and the keystore header that lets a wrong secret be reported at open, before any key is decrypted.
 *
 * Sources:
 * - a passphrase, stretched with scrypt (N=2^15, r=8, p=1 by default; salt and parameters in the header);
 * - a key file holding 32 bytes (raw, or hex/base64 text), readable by its owner only;
 * - an environment variable holding the 32 bytes as hex or base64.
 *
 * The header is a record under the reserved id `__kek__` in the same KeyRecordRepository as the keys
 * (metadata: format, kdf, salt, scrypt parameters, check value; empty SPKI and ciphertext), so every
 * repository — memory, files, SQL — carries it without a second port. Its check value is
 * HMAC-SM3(KEK, "medsign-kek-check"): 32 bytes that confirm a KEK without revealing it. (It lets an
 * attacker holding the header test passphrase guesses offline — exactly as any sealed record would —
 * at scrypt's cost per guess.)
 */

import { randomBytes, scrypt } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { bytesToHex, constantTimeEqual, hexToBytes, hmacSm3 } from '@medsign/gm';
import { wipe } from './bytes.js';
import { KeyStoreError } from './errors.js';
import type { KeyRecord } from './records.js';

/** scrypt cost parameters (RFC 7914). */
export type ScryptParams = { N: number; r: number; p: number };

/** The default cost: N=2^15, r=8, p=1 (32 MiB, ~0.1 s on a server core). */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });

/**
 * Upper bounds on header parameters. The header is read from storage before it is authenticated, so
 * a tampered header must not make `open` allocate gigabytes or run for hours.
 */
const SCRYPT_LIMITS = { maxN: 2 ** 20, maxR: 32, maxP: 16 } as const;

/** Length of the KEK. */
export const KEK_LENGTH = 32;

/** The reserved record id of the keystore header. */
export const KEK_HEADER_ID = '__kek__';

const HEADER_FORMAT = 'medsign-kek/1';
const HEADER_ALGORITHM = 'medsign-kek';
const CHECK_LABEL = 'medsign-kek-check';

/** Where the KEK comes from. Build one with `passphraseKek`, `keyFileKek` or `envKek`. */
export type KekSource =
  | { kind: 'passphrase'; passphrase: string; scrypt?: ScryptParams }
  | { kind: 'key-file'; path: string; create?: boolean }
  | { kind: 'env'; variable: string; env?: Readonly<Record<string, string | undefined>> };

/**
 * A passphrase, stretched with scrypt. `params` apply when the keystore is created; an existing
 * keystore uses the parameters in its header.
 */
export function passphraseKek(passphrase: string, params?: ScryptParams): KekSource {
  return params ? { kind: 'passphrase', passphrase, scrypt: params } : { kind: 'passphrase', passphrase };
}

/**
 * A 32-byte key file. With `create`, a missing file is created (mode 0600) — but only for a new
 * keystore: if the keystore already exists, a missing key file is an error, never a new key.
 */
export function keyFileKek(path: string, opts: { create?: boolean } = {}): KekSource {
  return { kind: 'key-file', path, create: opts.create ?? false };
}

/** An environment variable holding the 32 bytes as hex (64 digits) or base64; `env` defaults to process.env. */
export function envKek(
  variable: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): KekSource {
  return { kind: 'env', variable, env };
}

/** The parsed `__kek__` header. */
export type KekHeader = {
  kdf: 'scrypt' | 'none';
  salt?: Uint8Array;
  scrypt?: ScryptParams;
  check: Uint8Array;
  createdAt: Date;
};

/** HMAC-SM3(KEK, "medsign-kek-check"). */
export function kekCheckValue(kek: Uint8Array): Uint8Array {
  return hmacSm3(kek, CHECK_LABEL);
}

/** The header as a KeyRecord. */
export function headerToRecord(header: KekHeader): KeyRecord {
  const metadata: Record<string, string> = {
    format: HEADER_FORMAT,
    kdf: header.kdf,
    check: bytesToHex(header.check),
  };
  if (header.kdf === 'scrypt') {
    metadata.salt = bytesToHex(header.salt!);
    metadata.N = String(header.scrypt!.N);
    metadata.r = String(header.scrypt!.r);
    metadata.p = String(header.scrypt!.p);
  }
  return {
    id: KEK_HEADER_ID,
    label: KEK_HEADER_ID,
    algorithm: HEADER_ALGORITHM,
    publicKeyInfo: new Uint8Array(0),
    encrypted: new Uint8Array(0),
    createdAt: header.createdAt,
    metadata,
  };
}

function corrupt(why: string): KeyStoreError {
  return new KeyStoreError('KEYSTORE_CORRUPT_RECORD', `keystore header ${KEK_HEADER_ID}: ${why}`);
}

function checkScryptParams(p: ScryptParams, where: 'header' | 'argument'): void {
  const ok =
    Number.isInteger(p.N) &&
    p.N >= 2 &&
    p.N <= SCRYPT_LIMITS.maxN &&
    (p.N & (p.N - 1)) === 0 &&
    Number.isInteger(p.r) &&
    p.r >= 1 &&
    p.r <= SCRYPT_LIMITS.maxR &&
    Number.isInteger(p.p) &&
    p.p >= 1 &&
    p.p <= SCRYPT_LIMITS.maxP;
  if (ok) return;
  const what = `scrypt parameters must have N a power of two in [2, 2^20], r in [1, 32], p in [1, 16]`;
  throw where === 'header' ? corrupt(what) : new KeyStoreError('KEYSTORE_INVALID_ARGUMENT', what);
}

/** Parses the header record; anything unexpected is KEYSTORE_CORRUPT_RECORD. */
export function headerFromRecord(record: KeyRecord): KekHeader {
  const m = record.metadata;
  if (record.algorithm !== HEADER_ALGORITHM || m.format !== HEADER_FORMAT)
    throw corrupt(`not a ${HEADER_FORMAT} header`);
  const hex = (v: string | undefined, name: string, length: number): Uint8Array => {
    if (v === undefined || !/^[0-9a-f]*$/.test(v) || v.length !== 2 * length) throw corrupt(`bad ${name}`);
    return hexToBytes(v);
  };
  const check = hex(m.check, 'check value', 32);
  if (m.kdf === 'none') return { kdf: 'none', check, createdAt: record.createdAt };
  if (m.kdf !== 'scrypt') throw corrupt('unknown kdf');
  const int = (v: string | undefined, name: string): number => {
    if (v === undefined || !/^[1-9][0-9]{0,9}$/.test(v)) throw corrupt(`bad scrypt ${name}`);
    return Number(v);
  };
  const params = { N: int(m.N, 'N'), r: int(m.r, 'r'), p: int(m.p, 'p') };
  checkScryptParams(params, 'header');
  return { kdf: 'scrypt', salt: hex(m.salt, 'salt', 32), scrypt: params, check, createdAt: record.createdAt };
}

/** scrypt as a promise, off the event loop thread. */
function runScrypt(passphrase: Uint8Array, salt: Uint8Array, p: ScryptParams): Promise<Uint8Array> {
  // OpenSSL needs about 128·r·(N + p + 2) bytes; Node's default cap (32 MiB) is exactly the default cost.
  const maxmem = 128 * p.r * (p.N + p.p + 2) + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(passphrase, salt, KEK_LENGTH, { N: p.N, r: p.r, p: p.p, maxmem }, (err, key) => {
      if (err) reject(err);
      else {
        const out = new Uint8Array(key);
        key.fill(0);
        resolve(out);
      }
    });
  });
}

/** Decodes 32 key bytes from text: 64 hex digits or base64 (standard or URL-safe). */
function decodeKeyText(text: string): Uint8Array | undefined {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return hexToBytes(t);
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) {
    const buf = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    const out = new Uint8Array(buf);
    buf.fill(0);
    return out.length === KEK_LENGTH ? out : undefined;
  }
  return undefined;
}

/**
 * Creates a key file with 32 random bytes, mode 0600. Refuses to replace an existing file (that
 * would orphan every key sealed under the old one).
 */
export async function createKeyFile(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const key = randomBytes(KEK_LENGTH);
  let fh;
  try {
    fh = await open(path, 'wx', 0o600);
  } catch (e) {
    key.fill(0);
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new KeyStoreError(
        'KEYSTORE_INVALID_ARGUMENT',
        `key file ${path} already exists; it is never replaced`,
      );
    }
    throw e;
  }
  try {
    await fh.chmod(0o600);
    await fh.writeFile(key);
    await fh.sync();
  } finally {
    key.fill(0);
    await fh.close();
  }
}

/** Reads a key file after checking, on the open descriptor, that only its owner can access it. */
async function readKeyFile(path: string, allowCreate: boolean): Promise<Uint8Array> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new KeyStoreError('KEYSTORE_KEK_UNAVAILABLE', `key file ${path} cannot be opened`, { cause: e });
    }
    if (!allowCreate) throw new KeyStoreError('KEYSTORE_KEK_UNAVAILABLE', `key file ${path} does not exist`);
    await createKeyFile(path);
    return readKeyFile(path, false);
  }
  let content: Buffer | undefined;
  try {
    const st = await fh.stat();
    if (!st.isFile())
      throw new KeyStoreError('KEYSTORE_INSECURE_KEY_FILE', `key file ${path} is not a regular file`);
    // POSIX only: Windows reports synthetic modes; there ACLs protect the file.
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new KeyStoreError(
        'KEYSTORE_INSECURE_KEY_FILE',
        `key file ${path} has mode ${mode}: group or others may access it; run chmod 600 on it`,
      );
    }
    if (st.size > 1024)
      throw new KeyStoreError('KEYSTORE_INVALID_KEK', `key file ${path} is too large for a key`);
    content = await fh.readFile();
    if (content.length === KEK_LENGTH) return new Uint8Array(content);
    const key = decodeKeyText(content.toString('latin1'));
    if (!key) {
      throw new KeyStoreError(
        'KEYSTORE_INVALID_KEK',
        `key file ${path} must hold 32 bytes: raw, 64 hex digits or base64 (it holds ${content.length} bytes)`,
      );
    }
    return key;
  } finally {
    content?.fill(0);
    await fh.close();
  }
}

function readEnvKey(variable: string, env: Readonly<Record<string, string | undefined>>): Uint8Array {
  const value = env[variable];
  if (value === undefined || value.trim() === '') {
    throw new KeyStoreError('KEYSTORE_KEK_UNAVAILABLE', `environment variable ${variable} is not set`);
  }
  const key = decodeKeyText(value);
  if (!key) {
    throw new KeyStoreError(
      'KEYSTORE_INVALID_KEK',
      `environment variable ${variable} must hold 32 bytes as 64 hex digits or base64`,
    );
  }
  return key;
}

function describeSource(source: KekSource): string {
  if (source.kind === 'passphrase') return 'a passphrase';
  if (source.kind === 'key-file') return `key file ${source.path}`;
  return `environment variable ${source.variable}`;
}

/**
 * Derives the KEK from `source`. With an existing header the KEK is checked against its check value
 * (KEYSTORE_WRONG_PASSPHRASE / KEYSTORE_WRONG_KEK); without one, a new header is returned for the
 * caller to store. The caller owns (and wipes) the returned KEK.
 */
export async function deriveKek(
  source: KekSource,
  header: KekHeader | undefined,
  now: Date,
): Promise<{ kek: Uint8Array; header: KekHeader }> {
  if (source.kind === 'passphrase') {
    if (typeof source.passphrase !== 'string' || source.passphrase.length === 0) {
      throw new KeyStoreError('KEYSTORE_KEK_UNAVAILABLE', 'the passphrase is empty');
    }
    if (header && header.kdf !== 'scrypt') {
      throw new KeyStoreError(
        'KEYSTORE_WRONG_KEK',
        'this keystore was created with a key file or environment key, not a passphrase',
      );
    }
    const params = header?.scrypt ?? source.scrypt ?? DEFAULT_SCRYPT_PARAMS;
    checkScryptParams(params, header ? 'header' : 'argument');
    const salt = header?.salt ?? new Uint8Array(randomBytes(32));
    const pass = new Uint8Array(Buffer.from(source.passphrase.normalize('NFC'), 'utf8'));
    let kek: Uint8Array;
    try {
      kek = await runScrypt(pass, salt, params);
    } finally {
      wipe(pass);
    }
    return finish(
      kek,
      header,
      { kdf: 'scrypt', salt, scrypt: { ...params } },
      'KEYSTORE_WRONG_PASSPHRASE',
      now,
      source,
    );
  }
  if (header && header.kdf !== 'none') {
    throw new KeyStoreError(
      'KEYSTORE_WRONG_KEK',
      `this keystore was created with a passphrase; ${describeSource(source)} cannot open it`,
    );
  }
  const kek =
    source.kind === 'key-file'
      ? await readKeyFile(source.path, header === undefined && source.create === true)
      : readEnvKey(source.variable, source.env ?? process.env);
  return finish(kek, header, { kdf: 'none' }, 'KEYSTORE_WRONG_KEK', now, source);
}

function finish(
  kek: Uint8Array,
  header: KekHeader | undefined,
  fresh: Omit<KekHeader, 'check' | 'createdAt'>,
  wrongCode: 'KEYSTORE_WRONG_PASSPHRASE' | 'KEYSTORE_WRONG_KEK',
  now: Date,
  source: KekSource,
): { kek: Uint8Array; header: KekHeader } {
  const check = kekCheckValue(kek);
  if (!header) return { kek, header: { ...fresh, check, createdAt: now } };
  if (!constantTimeEqual(check, header.check)) {
    wipe(kek);
    throw new KeyStoreError(
      wrongCode,
      wrongCode === 'KEYSTORE_WRONG_PASSPHRASE'
        ? 'wrong passphrase: it does not open this keystore'
        : `${describeSource(source)} does not hold this keystore's key`,
    );
  }
  return { kek, header };
}
