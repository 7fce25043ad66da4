/**
 * Operator commands on a data directory, without a running server: `cert issue|revoke|list`, `crl`,
 * `audit verify`. They open the same services the server runs on (database, keystore, CA core), so what
 * they do is audited exactly like an API call, with the operating-system user as the actor.
 */

import { userInfo } from 'node:os';
import { normaliseSerial, type Applicant } from '@medsign/ca';
import { DomainError } from '@medsign/errors';
import { encodePem } from '@medsign/gm';
import { nameAttribute, ParsedCsr } from '@medsign/pki';
import { loadConfig } from '@medsign/server/config';
import { openServices, type Services } from '@medsign/server/services';
import type { CertificateStatus } from '@medsign/store';
import { parse, required } from '../args.js';
import { CliError, EXIT, readInput, writeOutput } from '../io.js';
import { lifecycleCommand } from './lifecycle.js';
import { cliErrorOf, DATA_OPTIONS, dataDirOf } from './server-args.js';

export const CA_ADMIN_USAGE = `Operator commands (work directly on the data directory; --data DIR, default ./medsign-data):
  medsign cert issue --csr REQ.pem --profile doctor [--name … --employee-no … --department … --organization …
                     --id-number … --ca ID --validity-days N --out FILE]   prints the certificate (PEM)
  medsign cert revoke --serial HEX --reason keyCompromise [--ca ID]
  medsign cert list [--json] [--status good|revoked|hold] [--profile P] [--department D] [--subject TEXT]
                    [--ca ID] [--limit N]
  medsign crl [--ca ID] [--delta] [--out FILE]  publishes a fresh full CRL (and its delta) that every server
                                            then serves; writes it (or --delta) as DER to a .crl/.der file, else PEM
  medsign audit verify [--json]             checks the audit hash chain; exit 1 and the first broken seq`;

/**
 * The audit actor of a CLI command: the operating-system user, and the operator's own name when given
 * (`--operator`), so that two people sharing the service account are told apart (an application's
 * submitter cannot approve it).
 */
export function actor(operator?: string): string {
  let os: string;
  try {
    os = userInfo().username;
  } catch {
    os = 'unknown';
  }
  if (operator !== undefined && !/^[\w.@-]{1,64}$/.test(operator))
    throw new CliError('--operator must be 1–64 letters, digits or . _ @ -');
  return operator ? `cli:${os}:${operator}` : `cli:${os}`;
}

/** Opens the services of the data directory for one command and closes them afterwards. */
export async function withServices<T>(
  values: { data?: string; config?: string },
  fn: (s: Services) => Promise<T>,
): Promise<T> {
  let services: Services | undefined;
  try {
    services = await openServices(
      loadConfig({
        dataDir: dataDirOf(values.data),
        ...(values.config ? { configFile: values.config } : {}),
        env: process.env,
      }),
    );
    return await fn(services);
  } catch (e) {
    throw cliErrorOf(e);
  } finally {
    await services?.close();
  }
}

/** Applicant flags shared by `cert issue` and `cert apply`. */
export const APPLICANT_OPTIONS = {
  name: { type: 'string' },
  'employee-no': { type: 'string' },
  department: { type: 'string' },
  organization: { type: 'string' },
  country: { type: 'string' },
  'id-number': { type: 'string' },
  phone: { type: 'string' },
} as const;

/**
 * The applicant from the flags; the subject fields default to those in the request (if one is given and
 * readable), so `--csr` alone works for simple profiles.
 */
export function applicantOf(
  values: { [K in keyof typeof APPLICANT_OPTIONS]?: string },
  csr?: Uint8Array,
): Applicant {
  let fromCsr: ParsedCsr | undefined;
  if (csr) {
    try {
      fromCsr = ParsedCsr.parse(csr);
    } catch {
      // The CA core reports the malformed request with its reason (CA_CSR_INVALID).
    }
  }
  const pick = (flag: string | undefined, attr: string) =>
    flag ?? (fromCsr ? nameAttribute(fromCsr.subject, attr) : undefined);
  const applicant: Applicant = { name: '' };
  for (const [k, v] of Object.entries({
    name: pick(values.name, 'CN'),
    employeeNo: pick(values['employee-no'], 'SERIALNUMBER'),
    department: pick(values.department, 'OU'),
    organization: pick(values.organization, 'O'),
    country: pick(values.country, 'C'),
    idNumber: values['id-number'],
    phone: values.phone,
  })) {
    if (v !== undefined && v !== '') applicant[k] = v;
  }
  return applicant;
}

/** `--validity-days N`, checked. */
export function validityOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const days = Number(value);
  if (!Number.isInteger(days)) throw new CliError('--validity-days must be an integer');
  return days;
}

async function issue(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...DATA_OPTIONS,
    ...APPLICANT_OPTIONS,
    csr: { type: 'string' },
    profile: { type: 'string' },
    ca: { type: 'string' },
    'validity-days': { type: 'string' },
    out: { type: 'string' },
  });
  const csr = readInput(required(values.csr, '--csr FILE'), 'certificate request');
  const profileId = required(values.profile, '--profile');
  const applicant = applicantOf(values, csr);
  const validityDays = validityOf(values['validity-days']);
  return withServices(values, async (s) => {
    const r = await s.backend.issue({
      profileId,
      csr,
      applicant,
      ...(values.ca ? { caId: values.ca } : {}),
      ...(validityDays !== undefined ? { validityDays } : {}),
      actor: actor(),
    });
    writeOutput(values.out, r.certificate.toPem());
    process.stderr.write(`medsign: issued ${r.serial} under ${r.caId} (profile ${profileId})\n`);
    return EXIT.ok;
  });
}

/** The CA of a serial when --ca is not given: the one CA that issued it. */
export async function caOfSerial(s: Services, serial: string, ca: string | undefined): Promise<string> {
  if (ca) return ca;
  const hex = normaliseSerial(serial);
  const found = await s.store.certificates.search({ serial: hex, limit: 10 });
  if (found.total === 0) throw new DomainError('CA_CERT_NOT_FOUND', `no certificate with serial ${hex}`);
  if (found.total > 1)
    throw new CliError(
      `serial ${hex} exists under several CAs (${found.items.map((c) => c.caId).join(', ')}); add --ca ID`,
    );
  return found.items[0]!.caId;
}

async function revoke(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...DATA_OPTIONS,
    serial: { type: 'string' },
    reason: { type: 'string' },
    ca: { type: 'string' },
  });
  const serial = required(values.serial, '--serial HEX');
  const reason = values.reason ?? 'unspecified';
  return withServices(values, async (s) => {
    const caId = await caOfSerial(s, serial, values.ca);
    const r = await s.backend.revoke({ caId, serial, reason, actor: actor() });
    // The running servers serve the newest stored CRL: publish one that lists this revocation now.
    await s.crls.publish(caId, 'full');
    process.stdout.write(
      `${r.status === 'hold' ? 'suspended' : 'revoked'} ${r.serial} of ${caId} (${reason}) at ${r.revokedAt!.toISOString()}\n`,
    );
    return EXIT.ok;
  });
}

const STATUSES: readonly CertificateStatus[] = ['good', 'revoked', 'hold'];

async function list(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...DATA_OPTIONS,
    json: { type: 'boolean' },
    status: { type: 'string' },
    profile: { type: 'string' },
    department: { type: 'string' },
    subject: { type: 'string' },
    ca: { type: 'string' },
    limit: { type: 'string' },
  });
  if (values.status !== undefined && !STATUSES.includes(values.status as CertificateStatus))
    throw new CliError(`--status must be one of ${STATUSES.join(', ')}`);
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError('--limit must be 1–1000');
  return withServices(values, async (s) => {
    const page = await s.store.certificates.search({
      limit,
      ...(values.status ? { status: values.status as CertificateStatus } : {}),
      ...(values.profile ? { profile: values.profile } : {}),
      ...(values.department ? { department: values.department } : {}),
      ...(values.subject ? { subject: values.subject } : {}),
      ...(values.ca ? { caId: values.ca } : {}),
    });
    const rows = page.items.map((c) => ({
      serial: c.serial,
      ca: c.caId,
      profile: c.profile,
      status: c.status,
      subject: c.subject,
      department: c.department,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
      revokedAt: c.revokedAt?.toISOString() ?? null,
      revocationReason: c.revocationReason,
    }));
    if (values.json) {
      process.stdout.write(JSON.stringify({ total: page.total, items: rows }) + '\n');
    } else {
      for (const r of rows)
        process.stdout.write(
          `${r.serial}  ${r.ca}  ${r.profile}  ${r.status}  ${r.notAfter.slice(0, 10)}  ${r.subject}\n`,
        );
      process.stderr.write(`${rows.length} of ${page.total} certificate(s)\n`);
    }
    return EXIT.ok;
  });
}

/** `medsign cert issue|revoke|list` (`cert show` stays in verify.ts). */
export async function caCertCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const lifecycle = lifecycleCommand(sub, rest);
  if (lifecycle) return lifecycle;
  switch (sub) {
    case 'issue':
      return issue(rest);
    case 'revoke':
      return revoke(rest);
    case 'list':
      return list(rest);
    default:
      throw new CliError(
        sub
          ? `unknown command cert ${sub}`
          : 'missing cert command (show, issue, revoke, list, apply, applications, approve, reject, renew)',
      );
  }
}

/**
 * `medsign crl [--ca ID] [--delta] [--out FILE]`: publishes through the same CRL publisher as the server (stored
 * in the database, so every server serves this CRL from now on, with the next CRL number), then writes it.
 */
export async function crlCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...DATA_OPTIONS,
    ca: { type: 'string' },
    out: { type: 'string' },
    delta: { type: 'boolean' },
  });
  return withServices(values, async (s) => {
    const caId = values.ca ?? s.ca.cas.find((c) => c.id === 'sm2-issuing')?.id ?? s.ca.cas[0]?.id;
    if (!caId) throw new DomainError('CA_NOT_FOUND', 'no issuing CA');
    if (!s.ca.cas.some((c) => c.id === caId))
      throw new DomainError('CA_NOT_FOUND', `no issuing CA has the id ${caId}`);
    await s.crls.publish(caId, 'full');
    const { der } = await s.crls.current(caId, values.delta ? 'delta' : 'full');
    const asDer = values.out !== undefined && /\.(crl|der)$/i.test(values.out);
    writeOutput(values.out, asDer ? der : encodePem('X509 CRL', der));
    if (values.out) process.stderr.write(`medsign: CRL of ${caId} written to ${values.out}\n`);
    return EXIT.ok;
  });
}

/** `medsign audit verify [--json]`: exit 0 when the whole chain verifies, 1 at the first break. */
export async function auditCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'verify')
    throw new CliError(sub ? `unknown command audit ${sub}` : 'missing audit command (verify)');
  const { values } = parse(rest, { ...DATA_OPTIONS, json: { type: 'boolean' } });
  return withServices(values, async (s) => {
    const v = await s.store.audit.verify();
    if (values.json) process.stdout.write(JSON.stringify(v) + '\n');
    else if (v.ok)
      process.stdout.write(
        `audit log OK: ${v.checked} event(s)${v.head ? `, head seq ${v.head.seq} hash ${v.head.hash}` : ''}\n`,
      );
    else
      process.stdout.write(
        `audit log BROKEN at seq ${v.firstBreak!.seq}: ${v.firstBreak!.reason} — ${v.firstBreak!.message}\n`,
      );
    return v.ok ? EXIT.ok : EXIT.invalid;
  });
}
