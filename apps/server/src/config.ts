/**
 * The server configuration: a YAML or JSON file (`<dataDir>/medsign.yaml`, written by `medsign init`, or
 * `--config FILE`) overlaid with environment variables, validated once at start. Every error is one line
 * naming the key (`CONFIG_INVALID: port: must be an integer 1–65535 (from MEDSIGN_PORT)`), because the
 * person reading it is an IT operator at 3 a.m., not the author.
 *
 * Secrets never live in the file: the keystore passphrase only comes from the environment
 * (MEDSIGN_KEYSTORE_PASSPHRASE); the file names a key file path at most.
 */

import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { DomainError } from '@medsign/errors';
import { DEFAULT_TSA_POLICY } from '@medsign/tsa';
import { parse as parseYaml } from 'yaml';
import { parseHostPort } from './adapters/sntp-client.js';

/** The roles one server process can play; each can be switched off. */
export type Role = 'ca' | 'ocsp' | 'crl' | 'tsa' | 'sign' | 'seal' | 'admin';

/** Every role, in the order the docs list them (also the default: all on). */
export const ALL_ROLES: readonly Role[] = ['ca', 'ocsp', 'crl', 'tsa', 'sign', 'seal', 'admin'];

/** pino levels. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Where the keystore's key-encryption key comes from. Default: a key file `<dataDir>/keystore.key`
 * (mode 0600, made by init) — an unattended restart needs no operator; the file must be backed up apart
 * from the database. With MEDSIGN_KEYSTORE_PASSPHRASE set at init, the keystore is sealed under that
 * passphrase (scrypt) instead and every start needs it in the environment.
 */
export type KeystoreKekConfig =
  { kind: 'key-file'; path: string } | { kind: 'passphrase'; passphrase: string };

/** A GNSS receiver: an NMEA device (serial tty or named pipe) or gpsd over TCP. */
export type GnssConfig = { kind: 'nmea'; path: string } | { kind: 'gpsd'; address: string };

/**
 * The time source the TSA is bound to. No NTP server and no GNSS receiver: the system clock is trusted
 * (keep the host on NTP) and /healthz says so. Otherwise the monitor checks the clock every
 * `pollSeconds` and the TSA refuses (timeNotAvailable) while no source answered within `windowSeconds`
 * or |offset| + bound exceeds `accuracyMs`.
 */
export type TimeSourceConfig = {
  /** NTP servers, `host[:port]` (port 123 by default). */
  ntp: string[];
  gnss?: GnssConfig;
  /** Largest delay from the second a GNSS report names to its arrival, ms (without PPS). */
  gnssLatencyMs: number;
  /** The accuracy the clock must keep (and the accuracy written into tokens), ms. */
  accuracyMs: number;
  pollSeconds: number;
  windowSeconds: number;
  /** One sampled check is kept in the history per this interval (state changes always). */
  sampleSeconds: number;
  /** Sampled checks older than this are pruned from the history (state changes are kept). */
  historyDays: number;
};

/** The signing service's policy (`sign:` in the config file). */
export type SignConfig = {
  /** Wrong PINs in a row that lock a signer's key (1–100, default 5). */
  maxPinFailures: number;
  /** Accepted clock skew of signed API requests, seconds (30–3600, default 300). */
  replayWindowSeconds: number;
  /** Largest data one signing request may carry, bytes (1 KiB–64 MiB, default 4 MiB). */
  maxDataBytes: number;
  /** Document types a signature may be made for (default: the built-in list of @medsign/sign). */
  documentTypes?: string[];
  /**
   * Keep the original of every data signing request, sealed (SM4-GCM), unless the request says
   * `storeOriginal: false` (default false: only requests with `storeOriginal: true`). MEDSIGN_SIGN_STORE_ORIGINALS.
   */
  storeOriginals?: boolean;
  /**
   * The public base URL evidence reports point to for online verification (e.g. https://sign.example.org);
   * default: the URL of the request that asked for the report. MEDSIGN_SIGN_PUBLIC_URL.
   */
  publicUrl?: string;
  /** Documents per sign job (1–100 000, default 1000). */
  maxJobDocuments: number;
  /** Data per sign job, bytes (1 KiB–1 GiB, default 64 MiB). */
  maxJobBytes: number;
  /** How long a sign job waits for its authorisation, minutes (1–10 080, default 60). */
  jobExpiryMinutes: number;
  /** Documents signed at once for sign jobs, per server process (1–64, default 2). */
  jobConcurrency: number;
  /** Webhook delivery attempts in all (1–20, default 6). */
  webhookMaxAttempts: number;
  /** Wait before the first webhook retry, seconds, doubled per retry (1–3600, default 30). */
  webhookRetrySeconds: number;
  /** Timeout of one webhook attempt, seconds (1–120, default 10). */
  webhookTimeoutSeconds: number;
  /**
   * Web origins (scheme://host[:port], exact) whose pages may call the signing API from a browser (CORS);
   * empty (the default): no CORS headers at all. MEDSIGN_SIGN_CORS_ORIGINS: the same, comma-separated.
   */
  corsOrigins: string[];
};

/** The validated configuration the server and the CLI run with. */
export type MedsignConfig = {
  /** Absolute path of the data directory (config, SQLite database, key file). */
  dataDir: string;
  /** The file the values came from, if any. */
  configFile?: string;
  host: string;
  port: number;
  /** Base of the URLs written into certificates (CRL DP, OCSP, caIssuers); no trailing slash. */
  publicBaseUrl: string;
  /** Database URL: `sqlite:PATH` or `postgres://…`. */
  db: string;
  roles: Role[];
  logLevel: LogLevel;
  keystore: KeystoreKekConfig;
  /** Admin session lifetime in minutes. */
  sessionMinutes: number;
  /** Organisation name used in the CA subjects made by init. */
  organization: string;
  timeSource: TimeSourceConfig;
  sign: SignConfig;
  /** The time-stamp authority (role `tsa`). */
  tsa: TsaConfig;
  /**
   * Worker threads that make the SM2 signatures of CA, OCSP and service keys, so signing runs on other
   * cores than the request handling; 0 signs on the main thread. Default: the cores less one.
   */
  signerThreads: number;
  /** When CRLs are published (crl-publisher.ts); a revocation publishes at once besides. */
  crl: CrlSchedule;
  /** HTTPS instead of HTTP, with mTLS for signing-API applications (docs/operations.md); absent: plain HTTP. */
  tls?: TlsConfig;
};

/**
 * The server's TLS certificate and key (PEM files, absolute paths). The certificate may come from our own CA
 * (`medsign cert issue --profile tls-server`, ECDSA or RSA) or from the hospital's PKI. Client certificates
 * are requested (not required) and accepted when issued by one of our ECDSA/RSA CAs and bound to an
 * application.
 */
export type TlsConfig = { certFile: string; keyFile: string };

/** The CRL schedule: a full CRL every `fullIntervalMinutes`, a delta CRL every `deltaIntervalMinutes`. */
export type CrlSchedule = {
  fullIntervalMinutes: number;
  /** nextUpdate of a full CRL, after its thisUpdate (longer than the interval: a missed run is not an outage). */
  validityHours: number;
  deltaIntervalMinutes: number;
  /** nextUpdate of a delta CRL, after its thisUpdate. */
  deltaValidityMinutes: number;
};

/** Default CRL schedule: full hourly (valid 24 h), delta every 15 minutes (valid 1 h). */
export const DEFAULT_CRL_SCHEDULE: CrlSchedule = {
  fullIntervalMinutes: 60,
  validityHours: 24,
  deltaIntervalMinutes: 15,
  deltaValidityMinutes: 60,
};

/** TSA settings: the policy written into tokens, the others a request may ask for, the accuracy. */
export type TsaConfig = {
  /** TSAPolicyId of tokens whose request names no policy (default: medsign's 2.25 policy OID). */
  policy: string;
  /** More policies a request may name in reqPolicy (any other is refused with unacceptedPolicy). */
  acceptedPolicies: string[];
};

const OID = /^[0-2](\.(0|[1-9]\d*))+$/;

/** Options of {@link loadConfig}. */
export type LoadConfigOptions = {
  dataDir: string;
  /** An explicit config file (`--config FILE`); default `<dataDir>/medsign.yaml` if it exists. */
  configFile?: string;
  /** The environment (process.env at the app edge; tests pass their own). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Command-line overrides (win over file and environment). */
  overrides?: { port?: number | string; host?: string; db?: string };
};

/** Name of the config file init writes into the data directory. */
export const CONFIG_FILE_NAME = 'medsign.yaml';
/** Name of the default KEK file in the data directory. */
export const KEY_FILE_NAME = 'keystore.key';

const FILE_KEYS = [
  'host',
  'port',
  'publicBaseUrl',
  'db',
  'roles',
  'logLevel',
  'keystore',
  'sessionMinutes',
  'organization',
  'timeSource',
  'sign',
  'tsa',
  'signerThreads',
  'crl',
  'tls',
] as const;

/** Keys of the `crl` mapping, their environment variables and ranges. */
const CRL_KEYS = [
  ['fullIntervalMinutes', 'MEDSIGN_CRL_FULL_INTERVAL_MINUTES', 1, 10_080],
  ['validityHours', 'MEDSIGN_CRL_VALIDITY_HOURS', 1, 720],
  ['deltaIntervalMinutes', 'MEDSIGN_CRL_DELTA_INTERVAL_MINUTES', 1, 1_440],
  ['deltaValidityMinutes', 'MEDSIGN_CRL_DELTA_VALIDITY_MINUTES', 2, 10_080],
] as const;

function invalid(key: string, why: string, source: string): DomainError {
  return new DomainError('CONFIG_INVALID', `${key}: ${why} (from ${source})`);
}

type Source = { value: unknown; source: string };

/** The SQLite URL of the default database in a data directory. */
export function defaultDbUrl(dataDir: string): string {
  return `sqlite:${join(resolve(dataDir), 'medsign.db')}`;
}

/** Reads and parses a config file (YAML is a superset of JSON, so one parser reads both). */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DomainError(
      'CONFIG_INVALID',
      `${path}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new DomainError(
      'CONFIG_INVALID',
      `${path}: not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new DomainError('CONFIG_INVALID', `${path}: must be a mapping of keys to values`);
  return doc as Record<string, unknown>;
}

function asPort(s: Source): number {
  const v = typeof s.value === 'string' && /^\d+$/.test(s.value.trim()) ? Number(s.value) : s.value;
  // 0 asks the OS for a free port (tests, side-by-side instances); the URL printed at start shows it.
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535)
    throw invalid('port', 'must be an integer 0–65535', s.source);
  return v;
}

/** An integer in [min, max], from a number or (environment) a string of digits. */
function asInteger(key: string, s: Source, min: number, max: number): number {
  const v = typeof s.value === 'string' && /^\d+$/.test(s.value.trim()) ? Number(s.value) : s.value;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw invalid(key, `must be an integer ${min}–${max}`, s.source);
  return v;
}

function asString(key: string, s: Source): string {
  if (typeof s.value !== 'string' || s.value.trim() === '')
    throw invalid(key, 'must be a non-empty string', s.source);
  return s.value.trim();
}

function asRoles(s: Source): Role[] {
  let list: unknown[];
  if (typeof s.value === 'string')
    list = s.value
      .split(',')
      .map((r) => r.trim())
      .filter(Boolean);
  else if (Array.isArray(s.value)) list = s.value;
  else if (s.value && typeof s.value === 'object') {
    // { ca: true, tsa: false, … }: switch listed roles off, the others stay on.
    const obj = s.value as Record<string, unknown>;
    for (const [k, v] of Object.entries(obj)) {
      if (!ALL_ROLES.includes(k as Role))
        throw invalid(`roles.${k}`, `unknown role (known: ${ALL_ROLES.join(', ')})`, s.source);
      if (typeof v !== 'boolean') throw invalid(`roles.${k}`, 'must be true or false', s.source);
    }
    return ALL_ROLES.filter((r) => obj[r] !== false);
  } else
    throw invalid(
      'roles',
      'must be a list of roles, a comma-separated string or a map role: true|false',
      s.source,
    );
  const out: Role[] = [];
  for (const r of list) {
    if (typeof r !== 'string' || !ALL_ROLES.includes(r as Role))
      throw invalid('roles', `unknown role ${JSON.stringify(r)} (known: ${ALL_ROLES.join(', ')})`, s.source);
    if (!out.includes(r as Role)) out.push(r as Role);
  }
  return out;
}

function asUrl(s: Source): string {
  const text = asString('publicBaseUrl', s);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid('publicBaseUrl', `${JSON.stringify(text)} is not a URL`, s.source);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalid('publicBaseUrl', 'must be an http:// or https:// URL', s.source);
  if (url.search || url.hash) throw invalid('publicBaseUrl', 'must not have a query or fragment', s.source);
  return text.replace(/\/+$/, '');
}

function asDb(s: Source, dataDir: string): string {
  const text = asString('db', s);
  if (/^postgres(ql)?:\/\//i.test(text)) return text;
  if (/^sqlite:/i.test(text)) {
    let path = text.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2);
    if (path === '') throw invalid('db', 'sqlite: URL names no file', s.source);
    if (path === ':memory:') return 'sqlite::memory:';
    return `sqlite:${isAbsolute(path) ? path : resolve(dataDir, path)}`;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text))
    throw invalid('db', 'must be sqlite:PATH, a file path or postgres://…', s.source);
  return `sqlite:${isAbsolute(text) ? text : resolve(dataDir, text)}`;
}

/**
 * Loads the configuration: defaults ← file ← environment ← command-line overrides. Throws a DomainError
 * `CONFIG_INVALID` whose detail names the first bad key and where its value came from.
 *
 * Environment: MEDSIGN_HOST, MEDSIGN_PORT, MEDSIGN_DB, MEDSIGN_PUBLIC_URL, MEDSIGN_ROLES (comma list),
 * MEDSIGN_LOG_LEVEL, MEDSIGN_SESSION_MINUTES, MEDSIGN_KEYSTORE_PASSPHRASE, MEDSIGN_KEYSTORE_KEY_FILE, and the
 * time source: MEDSIGN_TIME_NTP (comma list), MEDSIGN_TIME_GNSS, MEDSIGN_TIME_ACCURACY_MS,
 * MEDSIGN_TIME_POLL_SECONDS, MEDSIGN_TIME_WINDOW_SECONDS, MEDSIGN_TIME_SAMPLE_SECONDS,
 * MEDSIGN_TIME_GNSS_LATENCY_MS, MEDSIGN_TIME_HISTORY_DAYS,
 * MEDSIGN_TSA_POLICY,
 * MEDSIGN_SIGNER_THREADS, MEDSIGN_CRL_FULL_INTERVAL_MINUTES, MEDSIGN_CRL_VALIDITY_HOURS,
 * MEDSIGN_CRL_DELTA_INTERVAL_MINUTES, MEDSIGN_CRL_DELTA_VALIDITY_MINUTES, MEDSIGN_TLS_CERT_FILE,
 * MEDSIGN_TLS_KEY_FILE.
 */
export function loadConfig(options: LoadConfigOptions): MedsignConfig {
  const env = options.env ?? {};
  const dataDir = resolve(options.dataDir);
  const configFile = options.configFile
    ? resolve(options.configFile)
    : existsSync(join(dataDir, CONFIG_FILE_NAME))
      ? join(dataDir, CONFIG_FILE_NAME)
      : undefined;
  const file = configFile ? readConfigFile(configFile) : {};
  const fileSource = configFile ?? 'defaults';
  for (const key of Object.keys(file)) {
    if (!(FILE_KEYS as readonly string[]).includes(key))
      throw invalid(key, `unknown key (known: ${FILE_KEYS.join(', ')})`, fileSource);
  }

  const pick = (
    key: (typeof FILE_KEYS)[number],
    envName: string | undefined,
    cli?: unknown,
  ): Source | undefined => {
    if (cli !== undefined) return { value: cli, source: 'the command line' };
    if (envName && env[envName] !== undefined && env[envName] !== '')
      return { value: env[envName], source: envName };
    if (file[key] !== undefined) return { value: file[key], source: fileSource };
    return undefined;
  };

  const o = options.overrides ?? {};
  const hostS = pick('host', 'MEDSIGN_HOST', o.host);
  const host = hostS ? asString('host', hostS) : '127.0.0.1';
  const portS = pick('port', 'MEDSIGN_PORT', o.port);
  const port = portS ? asPort(portS) : 8080;
  const urlS = pick('publicBaseUrl', 'MEDSIGN_PUBLIC_URL');
  const publicBaseUrl = urlS
    ? asUrl(urlS)
    : `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host}:${port}`;
  const dbS = pick('db', 'MEDSIGN_DB', o.db);
  const db = dbS ? asDb(dbS, dataDir) : defaultDbUrl(dataDir);
  const rolesS = pick('roles', 'MEDSIGN_ROLES');
  const roles = rolesS ? asRoles(rolesS) : [...ALL_ROLES];
  const levelS = pick('logLevel', 'MEDSIGN_LOG_LEVEL');
  let logLevel: LogLevel = 'info';
  if (levelS) {
    const l = asString('logLevel', levelS);
    if (!LOG_LEVELS.includes(l as LogLevel))
      throw invalid('logLevel', `must be one of ${LOG_LEVELS.join(', ')}`, levelS.source);
    logLevel = l as LogLevel;
  }
  const sessS = pick('sessionMinutes', 'MEDSIGN_SESSION_MINUTES');
  let sessionMinutes = 480;
  if (sessS) {
    const v =
      typeof sessS.value === 'string' && /^\d+$/.test(sessS.value) ? Number(sessS.value) : sessS.value;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 10_080)
      throw invalid('sessionMinutes', 'must be an integer 1–10080', sessS.source);
    sessionMinutes = v;
  }
  const threadsS = pick('signerThreads', 'MEDSIGN_SIGNER_THREADS');
  const signerThreads = threadsS
    ? asInteger('signerThreads', threadsS, 0, 64)
    : Math.max(0, Math.min(64, availableParallelism() - 1));
  const crl = crlSchedule(file.crl, fileSource, env);
  const orgS = pick('organization', 'MEDSIGN_ORGANIZATION');
  const organization = orgS ? asString('organization', orgS) : 'medsign';

  const timeSource = timeSourceConfig(file.timeSource, fileSource, env);
  const sign = asSignConfig(file.sign, env, fileSource);

  // The keystore KEK: passphrase from the environment only; else a key file (env, file, default).
  let keystore: KeystoreKekConfig;
  const fileKs = file.keystore;
  if (fileKs !== undefined && (typeof fileKs !== 'object' || fileKs === null || Array.isArray(fileKs)))
    throw invalid('keystore', 'must be a mapping (keyFile: PATH)', fileSource);
  const ks = (fileKs ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(ks)) {
    if (k === 'passphrase')
      throw invalid(
        'keystore.passphrase',
        'secrets do not belong in the config file; set MEDSIGN_KEYSTORE_PASSPHRASE',
        fileSource,
      );
    if (k !== 'keyFile') throw invalid(`keystore.${k}`, 'unknown key (known: keyFile)', fileSource);
  }
  const passphrase = env.MEDSIGN_KEYSTORE_PASSPHRASE;
  if (passphrase !== undefined && passphrase !== '') {
    if (passphrase.length < 12)
      throw invalid('keystore passphrase', 'must be at least 12 characters', 'MEDSIGN_KEYSTORE_PASSPHRASE');
    keystore = { kind: 'passphrase', passphrase };
  } else {
    const kf: Source | undefined = env.MEDSIGN_KEYSTORE_KEY_FILE
      ? { value: env.MEDSIGN_KEYSTORE_KEY_FILE, source: 'MEDSIGN_KEYSTORE_KEY_FILE' }
      : ks.keyFile !== undefined
        ? { value: ks.keyFile, source: fileSource }
        : undefined;
    const path = kf ? asString('keystore.keyFile', kf) : join(dataDir, KEY_FILE_NAME);
    keystore = { kind: 'key-file', path: isAbsolute(path) ? path : resolve(dataDir, path) };
  }

  const tsa = tsaConfig(file.tsa, fileSource, env);
  const tls = tlsConfig(file.tls, fileSource, env, dataDir);

  return {
    dataDir,
    ...(configFile ? { configFile } : {}),
    host,
    port,
    publicBaseUrl,
    db,
    roles,
    logLevel,
    keystore,
    sessionMinutes,
    organization,
    timeSource,
    sign,
    tsa,
    signerThreads,
    crl,
    ...(tls ? { tls } : {}),
  };
}

/** The `tls` mapping (certFile, keyFile) or MEDSIGN_TLS_CERT_FILE + MEDSIGN_TLS_KEY_FILE; both or neither. */
function tlsConfig(
  value: unknown,
  fileSource: string,
  env: Readonly<Record<string, string | undefined>>,
  dataDir: string,
): TlsConfig | undefined {
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value)))
    throw invalid('tls', 'must be a mapping (certFile, keyFile)', fileSource);
  const t = (value ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(t))
    if (k !== 'certFile' && k !== 'keyFile')
      throw invalid(`tls.${k}`, 'unknown key (known: certFile, keyFile)', fileSource);
  const pickPath = (key: 'certFile' | 'keyFile', envName: string): string | undefined => {
    const s: Source | undefined =
      env[envName] !== undefined && env[envName] !== ''
        ? { value: env[envName], source: envName }
        : t[key] !== undefined
          ? { value: t[key], source: fileSource }
          : undefined;
    if (!s) return undefined;
    const path = asString(`tls.${key}`, s);
    const abs = isAbsolute(path) ? path : resolve(dataDir, path);
    if (!existsSync(abs)) throw invalid(`tls.${key}`, `${abs} does not exist`, s.source);
    return abs;
  };
  const certFile = pickPath('certFile', 'MEDSIGN_TLS_CERT_FILE');
  const keyFile = pickPath('keyFile', 'MEDSIGN_TLS_KEY_FILE');
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile)
    throw invalid(
      'tls',
      'needs both certFile and keyFile (PEM)',
      value !== undefined ? fileSource : 'the environment',
    );
  return { certFile, keyFile };
}

/** timeSource key → [environment variable, default, minimum, maximum] of the numeric settings. */
const TIME_NUMBERS = {
  accuracyMs: ['MEDSIGN_TIME_ACCURACY_MS', 1000, 1, 60_000],
  pollSeconds: ['MEDSIGN_TIME_POLL_SECONDS', 16, 0.1, 3600],
  windowSeconds: ['MEDSIGN_TIME_WINDOW_SECONDS', 64, 0.1, 86_400],
  sampleSeconds: ['MEDSIGN_TIME_SAMPLE_SECONDS', 300, 0.1, 86_400],
  gnssLatencyMs: ['MEDSIGN_TIME_GNSS_LATENCY_MS', 500, 0, 2000],
  historyDays: ['MEDSIGN_TIME_HISTORY_DAYS', 400, 1, 36_500],
} as const;
const TIME_KEYS = ['ntp', 'gnss', ...Object.keys(TIME_NUMBERS)];

function timeSourceConfig(
  value: unknown,
  fileSource: string,
  env: Readonly<Record<string, string | undefined>>,
): TimeSourceConfig {
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value)))
    throw invalid(
      'timeSource',
      'must be a mapping (ntp: [host:port, …], gnss: …, accuracyMs: …)',
      fileSource,
    );
  const ts = (value ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(ts))
    if (!TIME_KEYS.includes(k))
      throw invalid(`timeSource.${k}`, `unknown key (known: ${TIME_KEYS.join(', ')})`, fileSource);
  const from = (key: string, envName: string): Source | undefined =>
    env[envName] !== undefined && env[envName] !== ''
      ? { value: env[envName], source: envName }
      : ts[key] !== undefined
        ? { value: ts[key], source: fileSource }
        : undefined;

  const numbers = {} as Record<keyof typeof TIME_NUMBERS, number>;
  for (const [key, [envName, def, min, max]] of Object.entries(TIME_NUMBERS)) {
    const s = from(key, envName);
    let v: unknown = s?.value ?? def;
    if (typeof v === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(v)) v = Number(v);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
      throw invalid(`timeSource.${key}`, `must be a number ${min}–${max}`, s?.source ?? fileSource);
    numbers[key as keyof typeof TIME_NUMBERS] = v;
  }
  if (numbers.windowSeconds < numbers.pollSeconds)
    throw invalid(
      'timeSource.windowSeconds',
      `must be at least pollSeconds (${numbers.pollSeconds})`,
      from('windowSeconds', 'MEDSIGN_TIME_WINDOW_SECONDS')?.source ?? fileSource,
    );

  const ntpS = from('ntp', 'MEDSIGN_TIME_NTP');
  const ntp: string[] = [];
  if (ntpS) {
    const list =
      typeof ntpS.value === 'string'
        ? ntpS.value
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean)
        : ntpS.value;
    if (!Array.isArray(list)) throw invalid('timeSource.ntp', 'must be a list of host:port', ntpS.source);
    for (const item of list) {
      if (typeof item !== 'string')
        throw invalid('timeSource.ntp', 'must be a list of host:port', ntpS.source);
      try {
        parseHostPort(item.trim(), 123);
      } catch (e) {
        throw invalid('timeSource.ntp', (e as Error).message, ntpS.source);
      }
      if (!ntp.includes(item.trim())) ntp.push(item.trim());
    }
  }
  const gnssS = from('gnss', 'MEDSIGN_TIME_GNSS');
  let gnss: GnssConfig | undefined;
  if (gnssS) {
    const text = asString('timeSource.gnss', gnssS);
    const m = /^(nmea|gpsd):(.+)$/.exec(text);
    if (!m) throw invalid('timeSource.gnss', 'must be nmea:/dev/DEVICE or gpsd:HOST[:PORT]', gnssS.source);
    if (m[1] === 'nmea') {
      if (!isAbsolute(m[2]!))
        throw invalid('timeSource.gnss', 'nmea: needs an absolute device path', gnssS.source);
      gnss = { kind: 'nmea', path: m[2]! };
    } else {
      try {
        parseHostPort(m[2]!, 2947);
      } catch (e) {
        throw invalid('timeSource.gnss', (e as Error).message, gnssS.source);
      }
      gnss = { kind: 'gpsd', address: m[2]! };
    }
  }
  return { ntp, ...(gnss ? { gnss } : {}), ...numbers };
}

const SIGN_LIMITS = {
  maxPinFailures: { env: 'MEDSIGN_SIGN_MAX_PIN_FAILURES', min: 1, max: 100, default: 5 },
  replayWindowSeconds: { env: 'MEDSIGN_SIGN_REPLAY_WINDOW_SECONDS', min: 30, max: 3600, default: 300 },
  maxDataBytes: {
    env: 'MEDSIGN_SIGN_MAX_DATA_BYTES',
    min: 1024,
    max: 64 * 1024 * 1024,
    default: 4 * 1024 * 1024,
  },
  maxJobDocuments: { env: 'MEDSIGN_SIGN_MAX_JOB_DOCUMENTS', min: 1, max: 100_000, default: 1000 },
  maxJobBytes: {
    env: 'MEDSIGN_SIGN_MAX_JOB_BYTES',
    min: 1024,
    max: 1024 * 1024 * 1024,
    default: 64 * 1024 * 1024,
  },
  jobExpiryMinutes: { env: 'MEDSIGN_SIGN_JOB_EXPIRY_MINUTES', min: 1, max: 10_080, default: 60 },
  jobConcurrency: { env: 'MEDSIGN_SIGN_JOB_CONCURRENCY', min: 1, max: 64, default: 2 },
  webhookMaxAttempts: { env: 'MEDSIGN_SIGN_WEBHOOK_MAX_ATTEMPTS', min: 1, max: 20, default: 6 },
  webhookRetrySeconds: { env: 'MEDSIGN_SIGN_WEBHOOK_RETRY_SECONDS', min: 1, max: 3600, default: 30 },
  webhookTimeoutSeconds: { env: 'MEDSIGN_SIGN_WEBHOOK_TIMEOUT_SECONDS', min: 1, max: 120, default: 10 },
} as const;

/** The `sign:` mapping (integers may also come from MEDSIGN_SIGN_* variables). */
function asSignConfig(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  fileSource: string,
): SignConfig {
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value)))
    throw invalid('sign', 'must be a mapping', fileSource);
  const m = (value ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(m))
    if (!['documentTypes', 'corsOrigins', 'storeOriginals', 'publicUrl'].includes(k) && !(k in SIGN_LIMITS))
      throw invalid(
        `sign.${k}`,
        `unknown key (known: ${[...Object.keys(SIGN_LIMITS), 'documentTypes', 'corsOrigins', 'storeOriginals', 'publicUrl'].join(', ')})`,
        fileSource,
      );
  const out = {} as SignConfig;
  for (const [k, l] of Object.entries(SIGN_LIMITS) as [
    keyof typeof SIGN_LIMITS,
    (typeof SIGN_LIMITS)[keyof typeof SIGN_LIMITS],
  ][]) {
    const fromEnv = env[l.env];
    const [raw, source] = fromEnv !== undefined && fromEnv !== '' ? [fromEnv, l.env] : [m[k], fileSource];
    const v = typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
    if (v === undefined) out[k] = l.default;
    else if (typeof v !== 'number' || !Number.isInteger(v) || v < l.min || v > l.max)
      throw invalid(`sign.${k}`, `must be an integer ${l.min}–${l.max}`, source);
    else out[k] = v;
  }
  if (m.documentTypes !== undefined) {
    const list = m.documentTypes;
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      !list.every((t) => typeof t === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(t))
    )
      throw invalid('sign.documentTypes', 'must be a non-empty list of names [A-Za-z0-9._-]', fileSource);
    out.documentTypes = [...new Set(list as string[])];
  }
  out.corsOrigins = corsOrigins(m.corsOrigins, env, fileSource);
  const storeEnv = env.MEDSIGN_SIGN_STORE_ORIGINALS;
  const [store, storeSource] =
    storeEnv !== undefined && storeEnv !== ''
      ? [storeEnv === 'true' ? true : storeEnv === 'false' ? false : storeEnv, 'MEDSIGN_SIGN_STORE_ORIGINALS']
      : [m.storeOriginals, fileSource];
  if (store !== undefined) {
    if (typeof store !== 'boolean')
      throw invalid('sign.storeOriginals', 'must be true or false', storeSource);
    out.storeOriginals = store;
  }
  const urlEnv = env.MEDSIGN_SIGN_PUBLIC_URL;
  const [url, urlSource] =
    urlEnv !== undefined && urlEnv !== '' ? [urlEnv, 'MEDSIGN_SIGN_PUBLIC_URL'] : [m.publicUrl, fileSource];
  if (url !== undefined) {
    if (typeof url !== 'string' || !/^https?:\/\/[^\s/?#]+[^\s?#]*$/.test(url))
      throw invalid('sign.publicUrl', 'must be an http(s) URL without query or fragment', urlSource);
    out.publicUrl = url.replace(/\/+$/, '');
  }
  return out;
}

/** `sign.corsOrigins` (or MEDSIGN_SIGN_CORS_ORIGINS, comma-separated): exact http(s) origins, no wildcard. */
function corsOrigins(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  fileSource: string,
): string[] {
  const fromEnv = env.MEDSIGN_SIGN_CORS_ORIGINS;
  const [list, source] =
    fromEnv !== undefined && fromEnv.trim() !== ''
      ? [fromEnv.split(',').map((o) => o.trim()), 'MEDSIGN_SIGN_CORS_ORIGINS']
      : [value ?? [], fileSource];
  const why =
    'must be a list of web origins such as https://his.hospital.local (scheme, host, port; no path)';
  if (!Array.isArray(list)) throw invalid('sign.corsOrigins', why, source);
  const out = new Set<string>();
  for (const o of list) {
    let origin: string | undefined;
    try {
      if (typeof o === 'string') origin = new URL(o).origin;
    } catch {
      // not a URL: refused below
    }
    if (typeof o !== 'string' || origin === undefined || origin === 'null' || origin !== o.replace(/\/$/, ''))
      throw invalid('sign.corsOrigins', `${why}: ${JSON.stringify(o)}`, source);
    if (!/^https?:$/.test(new URL(origin).protocol)) throw invalid('sign.corsOrigins', why, source);
    out.add(origin);
  }
  return [...out];
}

/**
 * The `tsa:` mapping (policy, acceptedPolicies) with MEDSIGN_TSA_POLICY. The accuracy tokens state is the time
 * source's (`timeSource.accuracyMs`): one setting for the bound the clock must hold and the one promised.
 */
function tsaConfig(
  value: unknown,
  fileSource: string,
  env: Readonly<Record<string, string | undefined>>,
): TsaConfig {
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value)))
    throw invalid('tsa', 'must be a mapping (policy, acceptedPolicies)', fileSource);
  const t = (value ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(t))
    if (!['policy', 'acceptedPolicies'].includes(k))
      throw invalid(`tsa.${k}`, 'unknown key (known: policy, acceptedPolicies)', fileSource);
  const oid = (key: string, v: unknown, source: string): string => {
    if (typeof v !== 'string' || !OID.test(v.trim()))
      throw invalid(key, 'must be an object identifier such as 1.2.156.…', source);
    return v.trim();
  };
  const policy = env.MEDSIGN_TSA_POLICY
    ? oid('tsa.policy', env.MEDSIGN_TSA_POLICY, 'MEDSIGN_TSA_POLICY')
    : t.policy !== undefined
      ? oid('tsa.policy', t.policy, fileSource)
      : DEFAULT_TSA_POLICY;
  let acceptedPolicies: string[] = [];
  if (t.acceptedPolicies !== undefined) {
    if (!Array.isArray(t.acceptedPolicies))
      throw invalid('tsa.acceptedPolicies', 'must be a list of object identifiers', fileSource);
    acceptedPolicies = t.acceptedPolicies.map((p) => oid('tsa.acceptedPolicies', p, fileSource));
  }
  return { policy, acceptedPolicies };
}

/** The `crl` mapping of the file overlaid with the MEDSIGN_CRL_* variables, checked for consistency. */
function crlSchedule(
  value: unknown,
  fileSource: string,
  env: Readonly<Record<string, string | undefined>>,
): CrlSchedule {
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value)))
    throw invalid('crl', 'must be a mapping (fullIntervalMinutes, validityHours, …)', fileSource);
  const fromFile = (value ?? {}) as Record<string, unknown>;
  const names = CRL_KEYS.map(([k]) => k as string);
  for (const k of Object.keys(fromFile))
    if (!names.includes(k)) throw invalid(`crl.${k}`, `unknown key (known: ${names.join(', ')})`, fileSource);
  const out = { ...DEFAULT_CRL_SCHEDULE };
  const sources: Record<string, string> = {};
  for (const [key, envName, min, max] of CRL_KEYS) {
    const s: Source | undefined =
      env[envName] !== undefined && env[envName] !== ''
        ? { value: env[envName], source: envName }
        : fromFile[key] !== undefined
          ? { value: fromFile[key], source: fileSource }
          : undefined;
    if (!s) continue;
    out[key] = asInteger(`crl.${key}`, s, min, max);
    sources[key] = s.source;
  }
  const from = (...keys: (keyof CrlSchedule)[]) =>
    keys.map((k) => sources[k]).find((s) => s !== undefined) ?? 'defaults';
  if (out.deltaIntervalMinutes > out.fullIntervalMinutes)
    throw invalid(
      'crl.deltaIntervalMinutes',
      'must not exceed crl.fullIntervalMinutes',
      from('deltaIntervalMinutes', 'fullIntervalMinutes'),
    );
  if (out.validityHours * 60 <= out.fullIntervalMinutes)
    throw invalid(
      'crl.validityHours',
      'must be longer than crl.fullIntervalMinutes (a CRL must stay valid until the next one)',
      from('validityHours', 'fullIntervalMinutes'),
    );
  if (out.deltaValidityMinutes <= out.deltaIntervalMinutes)
    throw invalid(
      'crl.deltaValidityMinutes',
      'must be longer than crl.deltaIntervalMinutes',
      from('deltaValidityMinutes', 'deltaIntervalMinutes'),
    );
  return out;
}

/** A copy safe to log or print: the passphrase and database password masked. */
export function redactConfig(config: MedsignConfig): Record<string, unknown> {
  return {
    ...config,
    db: config.db.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@'),
    keystore:
      config.keystore.kind === 'passphrase' ? { kind: 'passphrase', passphrase: '***' } : config.keystore,
  };
}
