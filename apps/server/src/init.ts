/**
 * `medsign init`: turns an empty directory into a working CA installation — data directory (0700),
 * config file, migrated database, keystore (KEK from a 0600 key file by default), per algorithm an
 * offline-style root CA (20 years) and an online issuing CA (10 years, pathLen 0), service certificates
 * issued through the CA core with the built-in profiles (TSA, OCSP signer, seal maker), and the first
 * administrator with a one-time password that is returned exactly once.
 *
 * Idempotent and resumable: every step first looks for what it would create (keys by label, CAs by id,
 * service certificates by key, the admin by count), so a second run changes nothing — not even the audit
 * log — and reports `created: false`; a run interrupted half-way finishes the missing steps.
 */

import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { issueCertificate as caIssue } from '@medsign/ca';
import { DomainError } from '@medsign/errors';
import { bytesToHex } from '@medsign/gm';
import { openSoftwareKeyStore, type KeyHandle, type KeyStore } from '@medsign/keystore';
import {
  authorityInfoAccessExtension,
  authorityKeyIdentifierExtension,
  basicConstraintsExtension,
  issueCertificate as signCertificate,
  keyIdentifier,
  keyUsageExtension,
  ParsedCertificate,
  subjectKeyIdentifierExtension,
  type KeyType,
  type NameAttribute,
} from '@medsign/pki';
import { openStore, type Store } from '@medsign/store';
import { createAccount } from './adapters/admin-auth.js';
import { keystoreAuditHook } from './adapters/audit.js';
import { CONFIG_FILE_NAME, loadConfig, type LoadConfigOptions, type MedsignConfig } from './config.js';
import { ensureReportSigner } from './reports.js';
import { buildCaDeps, kekSource } from './services.js';

/** The CA key algorithms init can set up (SM2 is always set up). */
export type CaAlgorithm = 'sm2' | 'rsa' | 'ecdsa';
export const CA_ALGORITHMS: readonly CaAlgorithm[] = ['sm2', 'rsa', 'ecdsa'];

/** Options of {@link initDataDir}. */
export type InitOptions = {
  dataDir: string;
  /** Extra algorithms besides SM2. */
  algorithms?: readonly CaAlgorithm[];
  /** Database URL for a new installation (written into the config file). */
  db?: string;
  /** Organisation name in CA subjects (new installations). */
  organization?: string;
  configFile?: string;
  env?: LoadConfigOptions['env'];
  overrides?: LoadConfigOptions['overrides'];
  /** Clock (tests). */
  now?: () => Date;
};

/** What init did. `admin` is present only on the run that created the account: show it once, never store it. */
export type InitResult = {
  created: boolean;
  /** Human-readable list of what was created, in order (empty when nothing was). */
  steps: string[];
  config: MedsignConfig;
  admin?: { username: string; password: string };
};

/** Username of the first administrator. */
export const FIRST_ADMIN = 'admin';

const DAY = 86_400_000;
const ROOT_DAYS = 20 * 365 + 5;
const ISSUING_DAYS = 10 * 365 + 2;
const ACTOR = 'system:init';

/** Key types per algorithm: CA keys are stronger where the family allows (they live 10–20 years). */
const KEY_TYPES: Record<CaAlgorithm, { root: KeyType; issuing: KeyType; service: KeyType; label: string }> = {
  sm2: { root: 'sm2', issuing: 'sm2', service: 'sm2', label: 'SM2' },
  rsa: { root: 'rsa-3072', issuing: 'rsa-3072', service: 'rsa-2048', label: 'RSA' },
  ecdsa: { root: 'ec-p384', issuing: 'ec-p256', service: 'ec-p256', label: 'ECDSA' },
};

/** The ids init gives the CAs of an algorithm (they appear in CRL and caIssuers URLs). */
export function caIds(alg: CaAlgorithm): { root: string; issuing: string } {
  return { root: `${alg}-root`, issuing: `${alg}-issuing` };
}

/** Service certificates init issues: TSA and OCSP signer per algorithm, the seal maker for SM2. */
function serviceProfiles(alg: CaAlgorithm): { profile: string; what: string }[] {
  const list = [
    { profile: 'tsa', what: 'TSA' },
    { profile: 'ocsp-signer', what: 'OCSP' },
  ];
  if (alg === 'sm2') list.push({ profile: 'seal-maker', what: 'Seal Maker' });
  return list;
}

/** Keystore label of a service key (also how services find the key of a service certificate). */
export function serviceKeyLabel(profile: string, alg: CaAlgorithm): string {
  return `service:${profile}:${alg}`;
}

function yamlString(s: string): string {
  return JSON.stringify(s); // a JSON string is a valid YAML scalar
}

function writeConfigFile(
  path: string,
  o: { db?: string; publicBaseUrl?: string; organization: string; keyFile: boolean },
): void {
  const lines = [
    '# medsign configuration, written by `medsign init`. YAML (JSON works too).',
    '# Environment variables override these values: MEDSIGN_HOST, MEDSIGN_PORT, MEDSIGN_DB,',
    '# MEDSIGN_PUBLIC_URL, MEDSIGN_ROLES (comma list), MEDSIGN_LOG_LEVEL, MEDSIGN_SESSION_MINUTES,',
    '# MEDSIGN_KEYSTORE_KEY_FILE, MEDSIGN_KEYSTORE_PASSPHRASE (the passphrase only ever comes from the environment).',
    'host: 127.0.0.1',
    'port: 8080',
    '# The base of CRL, OCSP and CA-certificate URLs written into every certificate: set it to the address',
    '# hospital systems reach this server at BEFORE issuing certificates (default http://HOST:PORT).',
    // Given at init (MEDSIGN_PUBLIC_URL), it is already in the CA and service certificates: keep it.
    o.publicBaseUrl
      ? `publicBaseUrl: ${yamlString(o.publicBaseUrl)}`
      : '# publicBaseUrl: http://medsign.hospital.local:8080',
    o.db
      ? `db: ${yamlString(o.db)}`
      : '# db: postgres://medsign:PASSWORD@127.0.0.1:5432/medsign   (default: SQLite medsign.db in this directory)',
    `organization: ${yamlString(o.organization)}`,
    'roles: [ca, ocsp, crl, tsa, sign, seal, admin]',
    'logLevel: info',
    'sessionMinutes: 480',
  ];
  if (o.keyFile) {
    lines.push(
      '# The key-encryption key of the keystore. Back this file up SEPARATELY from the database:',
      '# together they are the CA keys.',
      'keystore:',
      '  keyFile: keystore.key',
    );
  } else {
    lines.push(
      '# The keystore is sealed under the passphrase in MEDSIGN_KEYSTORE_PASSPHRASE (needed at every start).',
    );
  }
  // 0600: the file may hold a database password.
  writeFileSync(path, lines.join('\n') + '\n', { mode: 0o600, flag: 'wx' });
}

function notBeforeOf(now: Date): Date {
  return new Date(Math.floor(now.getTime() / 1000) * 1000 - 5 * 60_000);
}

function caSerial(): bigint {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return BigInt('0x' + b.toString('hex'));
}

async function findOrGenerateKey(
  keystore: KeyStore,
  existing: KeyHandle[],
  type: KeyType,
  label: string,
  role: string,
  steps: string[],
): Promise<KeyHandle> {
  const found = existing.find((k) => k.label === label);
  if (found) return found;
  const handle = await keystore.generate(type, label, { role });
  existing.push(handle);
  steps.push(`generated ${type} key "${label}"`);
  return handle;
}

async function ensureHierarchy(
  alg: CaAlgorithm,
  ctx: {
    store: Store;
    keystore: KeyStore;
    keys: KeyHandle[];
    config: MedsignConfig;
    now: Date;
    steps: string[];
  },
): Promise<void> {
  const { store, keystore, keys, config, now, steps } = ctx;
  const t = KEY_TYPES[alg];
  const ids = caIds(alg);
  const org = config.organization;
  const base: NameAttribute[] = [
    ['C', 'CN'],
    ['O', org],
  ];

  let root = await store.cas.get(ids.root);
  if (!root) {
    const key = await findOrGenerateKey(keystore, keys, t.root, `ca:${ids.root}`, 'root-ca', steps);
    const subject: NameAttribute[] = [...base, ['CN', `${org} ${t.label} Root CA`]];
    const ski = keyIdentifier(key.publicKeyInfo);
    const notBefore = notBeforeOf(now);
    const der = await signCertificate(
      {
        serialNumber: caSerial(),
        issuer: subject,
        subject,
        notBefore,
        notAfter: new Date(notBefore.getTime() + ROOT_DAYS * DAY),
        publicKeyInfo: key.publicKeyInfo,
        extensions: [
          basicConstraintsExtension({ ca: true }),
          keyUsageExtension(['keyCertSign', 'cRLSign']),
          subjectKeyIdentifierExtension(ski),
          authorityKeyIdentifierExtension(ski),
        ],
      },
      await keystore.signer(key.id, `self-sign root CA ${ids.root}`),
    );
    const cert = ParsedCertificate.parse(der);
    root = {
      id: ids.root,
      name: `${org} ${t.label} Root CA`,
      algorithm: alg,
      certificate: der,
      keyRef: key.id,
      parentId: null,
      status: 'active',
      createdAt: now,
    };
    await store.cas.insert(root);
    await store.serials.reserveUniqueSerial(ids.root, () => cert.serialNumber, { maxAttempts: 1 });
    await store.audit.append({
      actor: ACTOR,
      action: 'ca.create',
      target: ids.root,
      detail: {
        algorithm: alg,
        role: 'root',
        keyId: key.id,
        notAfter: cert.notAfter.toISOString(),
        fingerprint: cert.fingerprint('sm3'),
      },
    });
    steps.push(`created root CA ${ids.root} (valid until ${cert.notAfter.toISOString().slice(0, 10)})`);
  }

  if (!(await store.cas.get(ids.issuing))) {
    const rootCert = ParsedCertificate.parse(root.certificate);
    const key = await findOrGenerateKey(keystore, keys, t.issuing, `ca:${ids.issuing}`, 'issuing-ca', steps);
    const subject: NameAttribute[] = [...base, ['CN', `${org} ${t.label} Issuing CA`]];
    const notBefore = notBeforeOf(now);
    const serial = await store.serials.reserveUniqueSerial(ids.root, () => caSerial());
    const der = await signCertificate(
      {
        serialNumber: BigInt('0x' + serial),
        issuer: rootCert.subject,
        subject,
        notBefore,
        notAfter: new Date(Math.min(notBefore.getTime() + ISSUING_DAYS * DAY, rootCert.notAfter.getTime())),
        publicKeyInfo: key.publicKeyInfo,
        extensions: [
          basicConstraintsExtension({ ca: true, pathLength: 0 }),
          keyUsageExtension(['keyCertSign', 'cRLSign']),
          subjectKeyIdentifierExtension(keyIdentifier(key.publicKeyInfo)),
          authorityKeyIdentifierExtension(
            rootCert.subjectKeyIdentifier ?? keyIdentifier(rootCert.publicKeyInfo),
          ),
          authorityInfoAccessExtension({ caIssuers: [`${config.publicBaseUrl}/pki/ca/${ids.root}.cer`] }),
        ],
      },
      await keystore.signer(root.keyRef, `issue CA certificate ${ids.issuing}`),
    );
    const cert = ParsedCertificate.parse(der);
    await store.cas.insert({
      id: ids.issuing,
      name: `${org} ${t.label} Issuing CA`,
      algorithm: alg,
      certificate: der,
      keyRef: key.id,
      parentId: ids.root,
      status: 'active',
      createdAt: now,
    });
    await store.audit.append({
      actor: ACTOR,
      action: 'ca.create',
      target: ids.issuing,
      detail: {
        algorithm: alg,
        role: 'issuing',
        parent: ids.root,
        keyId: key.id,
        notAfter: cert.notAfter.toISOString(),
        fingerprint: cert.fingerprint('sm3'),
      },
    });
    steps.push(`created issuing CA ${ids.issuing} (valid until ${cert.notAfter.toISOString().slice(0, 10)})`);
  }
}

/**
 * Initialises (or completes) the data directory. Returns `created: false` when everything already
 * existed. The admin password in the result is the only copy: print it once.
 */
export async function initDataDir(options: InitOptions): Promise<InitResult> {
  const now = (options.now ?? (() => new Date()))();
  const dataDir = resolve(options.dataDir);
  const steps: string[] = [];
  const algorithms: CaAlgorithm[] = ['sm2'];
  for (const a of options.algorithms ?? []) {
    if (!CA_ALGORITHMS.includes(a))
      throw new DomainError(
        'CONFIG_INVALID',
        `algorithms: unknown algorithm ${JSON.stringify(a)} (known: sm2, rsa, ecdsa)`,
      );
    if (!algorithms.includes(a)) algorithms.push(a);
  }

  if (!existsSync(dataDir)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    chmodSync(dataDir, 0o700);
    steps.push(`created data directory ${dataDir}`);
  } else if (!statSync(dataDir).isDirectory()) {
    throw new DomainError('CONFIG_INVALID', `data directory ${dataDir} is not a directory`);
  }

  const configPath = join(dataDir, CONFIG_FILE_NAME);
  const env = options.env ?? {};
  if (!options.configFile && !existsSync(configPath)) {
    // Validate the --db value through the same loader before writing it.
    const checked = loadConfig({
      dataDir,
      env: env.MEDSIGN_PUBLIC_URL ? { MEDSIGN_PUBLIC_URL: env.MEDSIGN_PUBLIC_URL } : {},
      ...(options.db ? { overrides: { db: options.db } } : {}),
    });
    writeConfigFile(configPath, {
      ...(options.db ? { db: options.db } : {}),
      ...(env.MEDSIGN_PUBLIC_URL ? { publicBaseUrl: checked.publicBaseUrl } : {}),
      organization: options.organization ?? env.MEDSIGN_ORGANIZATION ?? 'medsign',
      keyFile: !env.MEDSIGN_KEYSTORE_PASSPHRASE,
    });
    steps.push(`wrote ${configPath}`);
  }
  const config = loadConfig({
    dataDir,
    ...(options.configFile ? { configFile: options.configFile } : {}),
    env,
    overrides: { ...(options.overrides ?? {}), ...(options.db ? { db: options.db } : {}) },
  });
  if (options.db) {
    const written = loadConfig({
      dataDir,
      ...(options.configFile ? { configFile: options.configFile } : {}),
      env: {},
    }).db;
    if (written !== config.db)
      throw new DomainError(
        'CONFIG_INVALID',
        `db: this data directory is configured for ${written.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')}; edit ${configPath} to move it`,
      );
  }

  const store = await openStore(config.db, { now: () => now });
  let keystore: KeyStore | undefined;
  let admin: InitResult['admin'];
  try {
    const hadKeys = (await store.keys.list()).length > 0;
    keystore = await openSoftwareKeyStore({
      records: store.keys,
      kek: kekSource(config, true),
      audit: keystoreAuditHook(store, ACTOR),
      clock: { now: () => now },
    });
    if (!hadKeys)
      steps.push(
        config.keystore.kind === 'key-file'
          ? `created keystore (key-encryption key in ${config.keystore.path}, mode 0600)`
          : 'created keystore (sealed under MEDSIGN_KEYSTORE_PASSPHRASE)',
      );
    const keys = await keystore.list();
    for (const alg of algorithms) await ensureHierarchy(alg, { store, keystore, keys, config, now, steps });

    // Service certificates through the CA core, exactly as any other certificate is issued.
    const deps = await buildCaDeps(config, store, keystore, () => now);
    for (const alg of algorithms) {
      const ids = caIds(alg);
      for (const { profile, what } of serviceProfiles(alg)) {
        const label = serviceKeyLabel(profile, alg);
        const key = await findOrGenerateKey(keystore, keys, KEY_TYPES[alg].service, label, profile, steps);
        const issued = await store.certificates.search({ caId: ids.issuing, profile, limit: 1000 });
        const spki = bytesToHex(key.publicKeyInfo);
        if (issued.items.some((c) => bytesToHex(ParsedCertificate.parse(c.der).publicKeyInfo) === spki))
          continue;
        const r = await caIssue(
          {
            profileId: profile,
            publicKeyInfo: key.publicKeyInfo,
            applicant: {
              name: `${config.organization} ${what} (${KEY_TYPES[alg].label})`,
              organization: config.organization,
              country: 'CN',
            },
            caId: ids.issuing,
            actor: ACTOR,
          },
          deps,
        );
        steps.push(`issued ${profile} certificate ${r.serial} under ${ids.issuing}`);
      }
    }

    // The platform's report-signing key and certificate (signed PDF evidence and verification reports).
    const report = await ensureReportSigner({
      store,
      keystore,
      ca: deps,
      organization: config.organization,
      actor: ACTOR,
      now: () => now,
    });
    steps.push(...report.steps);

    if ((await store.users.count()) === 0) {
      admin = await createAccount(store, { username: FIRST_ADMIN, roles: ['admin'], actor: ACTOR, now });
      steps.push(
        `created administrator "${FIRST_ADMIN}" (one-time password, must be changed at first login)`,
      );
    }
    if (steps.length)
      await store.audit.append({
        actor: ACTOR,
        action: 'init.complete',
        target: null,
        detail: { steps: steps.length, algorithms: algorithms.join(',') },
      });
  } finally {
    await keystore?.close().catch(() => undefined);
    await store.close();
  }
  return { created: steps.length > 0, steps, config, ...(admin ? { admin } : {}) };
}
