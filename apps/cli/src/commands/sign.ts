/**
 * Signing-service commands. `app create`, `signer add` and `signer unlock` are operator commands on the data
 * directory (same services and audit as the server); `sign` is a client: it calls a running server's API
 * through @medsign/sdk, exactly as a hospital system would.
 */

import { MedsignApiError, MedsignClient, type SignatureFormat } from '@medsign/sdk';
import { createApp, enrolSigner, SIGNER_KEY_TYPES, unlockSigner, type SignerKeyType } from '@medsign/sign';
import { parse, required } from '../args.js';
import { CliError, EXIT, readInput, writeOutput } from '../io.js';
import { actor, withServices } from './ca-admin.js';
import { DATA_OPTIONS } from './server-args.js';

export const SIGN_USAGE = `Signing service:
  medsign app create --name HIS --type HIS|LIS|RIS|PACS|EMR|nursing|anaesthesia|other [--department D]
                     [--operations sign,verify,read] [--ip-ranges 10.1.0.0/16,…] [--rate-limit N] [--json]
                     registers a hospital system; prints its app id and secret ONCE
  medsign signer add --name 张三 --employee-no D001 --department-code 0101 --pin 123456 [--profile doctor]
                     [--algorithm sm2|rsa|ecdsa] [--json]   server-held key + certificate; prints id and cert serial
  medsign signer unlock --employee-no D001          unlocks a key locked by wrong PINs (audited)
  medsign sign --url URL --app-id ID --app-secret S --signer D001 --pin 123456 --in FILE
               [--format p1|p7-detached|p7-attached] [--gm-oids] [--timestamp] [--doc-type prescription
               --doc-id RX1] --out SIG        signs through the API (SDK); prints the signature id
  (operator commands take --data DIR, default ./medsign-data)`;

async function appCreate(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...DATA_OPTIONS,
    name: { type: 'string' },
    type: { type: 'string' },
    department: { type: 'string' },
    operations: { type: 'string' },
    'ip-ranges': { type: 'string' },
    'rate-limit': { type: 'string' },
    json: { type: 'boolean' },
  });
  const list = (v: string | undefined) =>
    v
      ?.split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  const rate = values['rate-limit'];
  if (rate !== undefined && !/^\d+$/.test(rate)) throw new CliError('--rate-limit must be an integer');
  const operations = list(values.operations);
  const ipRanges = list(values['ip-ranges']);
  return withServices(values, async (s) => {
    const { app, secret } = await createApp(
      {
        name: required(values.name, '--name'),
        systemType: required(values.type, '--type'),
        ...(values.department ? { ownerDepartment: values.department } : {}),
        ...(operations ? { operations } : {}),
        ...(ipRanges ? { ipRanges } : {}),
        ...(rate !== undefined ? { rateLimit: Number(rate) } : {}),
      },
      actor(),
      s.sign.deps,
    );
    if (values.json) {
      process.stdout.write(JSON.stringify({ ...app, createdAt: app.createdAt.toISOString(), secret }) + '\n');
    } else {
      process.stdout.write(
        `app id:     ${app.id}\napp secret: ${secret}\n\n` +
          `The secret is shown once and kept only encrypted: hand it to the ${app.name} vendor now.\n`,
      );
    }
    return EXIT.ok;
  });
}

const ALGORITHMS: Record<string, SignerKeyType> = { sm2: 'sm2', rsa: 'rsa-2048', ecdsa: 'ec-p256' };

async function signerAdd(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...DATA_OPTIONS,
    name: { type: 'string' },
    'employee-no': { type: 'string' },
    'department-code': { type: 'string' },
    pin: { type: 'string' },
    profile: { type: 'string' },
    algorithm: { type: 'string' },
    json: { type: 'boolean' },
  });
  const keyType = ALGORITHMS[values.algorithm ?? 'sm2'];
  if (!keyType)
    throw new CliError(
      `--algorithm must be one of ${Object.keys(ALGORITHMS).join(', ')} (${SIGNER_KEY_TYPES.join(', ')})`,
    );
  return withServices(values, async (s) => {
    const { signer } = await enrolSigner(
      {
        name: required(values.name, '--name'),
        employeeNo: required(values['employee-no'], '--employee-no'),
        departmentCode: required(values['department-code'], '--department-code'),
        pin: required(values.pin, '--pin'),
        ...(values.profile ? { profile: values.profile } : {}),
        keyType,
      },
      actor(),
      s.sign.deps,
    );
    process.stdout.write(
      values.json
        ? JSON.stringify({
            id: signer.id,
            employeeNo: signer.employeeNo,
            caId: signer.caId,
            serial: signer.certSerial,
          }) + '\n'
        : `signer id:   ${signer.id}\ncert serial: ${signer.certSerial} (CA ${signer.caId})\n`,
    );
    return EXIT.ok;
  });
}

async function signerUnlock(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...DATA_OPTIONS, 'employee-no': { type: 'string' } });
  return withServices(values, async (s) => {
    await unlockSigner(required(values['employee-no'], '--employee-no'), actor(), s.sign.deps);
    process.stderr.write(`medsign: unlocked the signing key of ${values['employee-no']}\n`);
    return EXIT.ok;
  });
}

async function signCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    url: { type: 'string' },
    'app-id': { type: 'string' },
    'app-secret': { type: 'string' },
    signer: { type: 'string' },
    pin: { type: 'string' },
    in: { type: 'string' },
    format: { type: 'string' },
    'gm-oids': { type: 'boolean' },
    timestamp: { type: 'boolean' },
    'doc-type': { type: 'string' },
    'doc-id': { type: 'string' },
    out: { type: 'string' },
  });
  const format = (values.format ?? 'p7-detached') as SignatureFormat;
  if (!['p1', 'p7-detached', 'p7-attached'].includes(format))
    throw new CliError('--format must be p1, p7-detached or p7-attached');
  const out = required(values.out, '--out SIG');
  const client = new MedsignClient({
    url: required(values.url, '--url'),
    appId: required(values['app-id'], '--app-id'),
    appSecret: required(values['app-secret'], '--app-secret'),
  });
  const data = readInput(required(values.in, '--in FILE'), 'data');
  try {
    const r = await client.sign({
      signer: required(values.signer, '--signer'),
      pin: required(values.pin, '--pin'),
      data,
      format,
      ...(values['gm-oids'] ? { oids: 'gm' as const } : {}),
      ...(values.timestamp ? { timestamp: true } : {}),
      metadata: {
        ...(values['doc-type'] ? { docType: values['doc-type'] } : {}),
        ...(values['doc-id'] ? { docId: values['doc-id'] } : {}),
      },
    });
    writeOutput(out, Buffer.from(r.signature, 'base64'));
    process.stdout.write(`${r.id}\n`);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof MedsignApiError) throw new CliError(e.message, EXIT.invalid);
    throw new CliError(`cannot reach ${values.url}: ${(e as Error).message}`, EXIT.invalid);
  }
}

/** `medsign app …`. */
export function appCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'create') return appCreate(rest);
  throw new CliError(`unknown subcommand app ${sub ?? ''} (medsign app create …)`);
}

/** `medsign signer …`. */
export function signerCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'add') return signerAdd(rest);
  if (sub === 'unlock') return signerUnlock(rest);
  throw new CliError(`unknown subcommand signer ${sub ?? ''} (medsign signer add|unlock …)`);
}

export { signCommand };
