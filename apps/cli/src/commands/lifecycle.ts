/**
 * Operator commands for the certificate lifecycle on a data directory: `cert apply|applications|approve|
 * reject|renew`. They call the same CertificateLifecycle the API does, so every step is audited alike;
 * the actor is the operating-system user plus `--operator NAME`, and whoever submitted an application
 * cannot approve or reject it.
 */

import type { ApplicationState } from '@medsign/store';
import { SOFTWARE_KEY_TYPES } from '@medsign/keystore';
import type { KeyType } from '@medsign/pki';
import { maskApplicant } from '@medsign/server/masking';
import { parse, required } from '../args.js';
import { CliError, EXIT, readInput, writeOutput } from '../io.js';
import { actor, APPLICANT_OPTIONS, applicantOf, caOfSerial, validityOf, withServices } from './ca-admin.js';
import { DATA_OPTIONS } from './server-args.js';

export const LIFECYCLE_USAGE = `Certificate applications (the review workflow; --operator NAME tells operators apart in the audit log):
  medsign cert apply --profile doctor (--csr REQ.pem | --server-key sm2) [--name … --employee-no …
                     --department … --id-number … --phone … --ca ID --validity-days N]   prints the application id
  medsign cert applications [--state pending|approved|issued|rejected] [--profile P] [--employee-no E]
                     [--id-number X] [--json] [--limit N]          ID numbers and phones are shown masked
  medsign cert approve --id ID [--reason TEXT] [--out FILE]   issues the certificate (PEM); not by the submitter
  medsign cert reject --id ID --reason TEXT
  medsign cert renew --serial HEX [--ca ID] [--csr REQ.pem | --server-key sm2] [--supersede] [--out FILE]
                     same key unless a new request or key is given; --supersede revokes the old one`;

const OPERATOR = { operator: { type: 'string' } } as const;
const STATES: readonly ApplicationState[] = ['pending', 'approved', 'issued', 'rejected'];

function keyTypeOf(value: string | undefined): KeyType | undefined {
  if (value === undefined) return undefined;
  if (!(SOFTWARE_KEY_TYPES as readonly string[]).includes(value))
    throw new CliError(`--server-key must be one of ${SOFTWARE_KEY_TYPES.join(', ')}`);
  return value as KeyType;
}

async function apply(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...DATA_OPTIONS,
    ...APPLICANT_OPTIONS,
    ...OPERATOR,
    profile: { type: 'string' },
    csr: { type: 'string' },
    'server-key': { type: 'string' },
    ca: { type: 'string' },
    'validity-days': { type: 'string' },
  });
  const profileId = required(values.profile, '--profile');
  const csr = values.csr !== undefined ? readInput(values.csr, 'certificate request') : undefined;
  const serverKeyType = keyTypeOf(values['server-key']);
  const validityDays = validityOf(values['validity-days']);
  const who = actor(values.operator);
  return withServices(values, async (s) => {
    const a = await s.lifecycle.apply({
      profileId,
      applicant: applicantOf(values, csr),
      ...(csr ? { csr } : {}),
      ...(serverKeyType ? { serverKeyType } : {}),
      ...(values.ca ? { caId: values.ca } : {}),
      ...(validityDays !== undefined ? { validityDays } : {}),
      actor: who,
    });
    process.stdout.write(a.id + '\n');
    process.stderr.write(`medsign: application ${a.id} (profile ${profileId}) is pending review\n`);
    return EXIT.ok;
  });
}

async function applications(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...DATA_OPTIONS,
    state: { type: 'string' },
    profile: { type: 'string' },
    'employee-no': { type: 'string' },
    'id-number': { type: 'string' },
    json: { type: 'boolean' },
    limit: { type: 'string' },
  });
  if (values.state !== undefined && !STATES.includes(values.state as ApplicationState))
    throw new CliError(`--state must be one of ${STATES.join(', ')}`);
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError('--limit must be 1–1000');
  return withServices(values, async (s) => {
    const page = await s.applications.search({
      limit,
      ...(values.state ? { state: values.state as ApplicationState } : {}),
      ...(values.profile ? { profile: values.profile } : {}),
      ...(values['employee-no'] ? { employeeNo: values['employee-no'] } : {}),
      ...(values['id-number'] ? { idNumber: values['id-number'] } : {}),
    });
    const rows = page.items.map((a) => ({
      id: a.id,
      state: a.state,
      profile: a.profileId,
      applicant: maskApplicant(a.applicant),
      key: a.key.kind,
      submittedBy: a.submittedBy,
      submittedAt: a.submittedAt.toISOString(),
      reviewedBy: a.review?.by ?? null,
      reason: a.review?.reason ?? null,
      certificate: a.certificate ? `${a.certificate.caId}/${a.certificate.serial}` : null,
    }));
    if (values.json) {
      process.stdout.write(JSON.stringify({ total: page.total, items: rows }) + '\n');
    } else {
      for (const r of rows)
        process.stdout.write(
          `${r.id}  ${r.state}  ${r.profile}  ${r.applicant.name ?? ''}  ${r.applicant.employeeNo ?? ''}  ${r.submittedAt.slice(0, 10)}  ${r.certificate ?? ''}\n`,
        );
      process.stderr.write(`${rows.length} of ${page.total} application(s)\n`);
    }
    return EXIT.ok;
  });
}

async function approve(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...DATA_OPTIONS,
    ...OPERATOR,
    id: { type: 'string' },
    reason: { type: 'string' },
    out: { type: 'string' },
  });
  const id = required(values.id, '--id');
  const who = actor(values.operator);
  return withServices(values, async (s) => {
    const { issued } = await s.lifecycle.approve({
      id,
      actor: who,
      ...(values.reason !== undefined ? { reason: values.reason } : {}),
    });
    writeOutput(values.out, issued.certificate.toPem());
    process.stderr.write(
      `medsign: application ${id} approved; issued ${issued.serial} under ${issued.caId}\n`,
    );
    return EXIT.ok;
  });
}

async function reject(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...DATA_OPTIONS,
    ...OPERATOR,
    id: { type: 'string' },
    reason: { type: 'string' },
  });
  const id = required(values.id, '--id');
  const reason = required(values.reason, '--reason TEXT');
  const who = actor(values.operator);
  return withServices(values, async (s) => {
    await s.lifecycle.reject({ id, actor: who, reason });
    process.stdout.write(`rejected application ${id}\n`);
    return EXIT.ok;
  });
}

async function renew(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...DATA_OPTIONS,
    ...OPERATOR,
    serial: { type: 'string' },
    ca: { type: 'string' },
    csr: { type: 'string' },
    'server-key': { type: 'string' },
    'validity-days': { type: 'string' },
    supersede: { type: 'boolean' },
    out: { type: 'string' },
  });
  const serial = required(values.serial, '--serial HEX');
  const csr = values.csr !== undefined ? readInput(values.csr, 'certificate request') : undefined;
  const serverKeyType = keyTypeOf(values['server-key']);
  const validityDays = validityOf(values['validity-days']);
  const who = actor(values.operator);
  return withServices(values, async (s) => {
    const caId = await caOfSerial(s, serial, values.ca);
    const r = await s.lifecycle.renew({
      caId,
      serial,
      ...(csr ? { csr } : {}),
      ...(serverKeyType ? { serverKeyType } : {}),
      ...(validityDays !== undefined ? { validityDays } : {}),
      ...(values.supersede ? { supersede: true } : {}),
      actor: who,
    });
    writeOutput(values.out, r.certificate.toPem());
    process.stderr.write(
      `medsign: renewed ${r.replaces.serial} as ${r.serial} under ${r.caId}${r.superseded ? '; the old one is revoked (superseded)' : ''}\n`,
    );
    return EXIT.ok;
  });
}

/** The lifecycle subcommands of `medsign cert`, or undefined when `sub` is not one of them. */
export function lifecycleCommand(sub: string | undefined, argv: string[]): Promise<number> | undefined {
  switch (sub) {
    case 'apply':
      return apply(argv);
    case 'applications':
      return applications(argv);
    case 'approve':
      return approve(argv);
    case 'reject':
      return reject(argv);
    case 'renew':
      return renew(argv);
    default:
      return undefined;
  }
}
