/**
 * Signing-service commands. `app create`, `signer add` and `signer unlock` are operator commands on the data
 * directory (same services and audit as the server); `sign` is a client: it calls a running server's API
 * through @medsign/sdk, exactly as a hospital system would.
 */

import { MedsignApiError, MedsignClient, type SignatureFormat } from '@medsign/sdk';
import {
  bindClientCertificate,
  createApp,
  DEFAULT_SECRET_GRACE_SECONDS,
  enrolSigner,
  parseGrace,
  rotateAppSecret,
  SIGNER_KEY_TYPES,
  unbindClientCertificate,
  unlockSigner,
  type SignerKeyType,
} from '@medsign/sign';
import { parse, required } from '../args.js';
import { CliError, EXIT, readInput, writeOutput } from '../io.js';
import { actor, withServices } from './ca-admin.js';
import { DATA_OPTIONS } from './server-args.js';

export const SIGN_USAGE = `Signing service:
  medsign app create --name HIS --type HIS|LIS|RIS|PACS|EMR|nursing|anaesthesia|other [--department D]
                     [--operations sign,verify,read] [--ip-ranges 10.1.0.0/16,…] [--rate-limit N]
                     [--client-cert FILE] [--json]
                     registers a hospital system; prints its app id and secret ONCE; --client-cert binds a
                     TLS client certificate from our CA (ECDSA/RSA, profile tls-client) for mTLS
  medsign app rotate-secret --id ID [--grace 24h] [--json]
                     a new secret (printed ONCE); the old one stays valid for the grace (0: revoked at once)
  medsign app bind-cert --id ID --cert FILE [--json]    binds a TLS client certificate (mTLS)
  medsign app unbind-cert --id ID --fingerprint SHA256HEX
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
    'client-cert': { type: 'string' },
    json: { type: 'boolean' },
  });
  const clientCert = values['client-cert']
    ? readInput(values['client-cert'], 'client certificate')
    : undefined;
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
    // Registered first: a certificate that cannot be bound leaves the application without one (bind-cert later).
    const bound = clientCert
      ? await bindClientCertificate(app.id, clientCert, actor(), s.sign.deps)
      : undefined;
    if (values.json) {
      process.stdout.write(
        JSON.stringify({
          ...app,
          createdAt: app.createdAt.toISOString(),
          secret,
          ...(bound ? { clientCertificate: bound.fingerprint } : {}),
        }) + '\n',
      );
    } else {
      process.stdout.write(
        `app id:     ${app.id}\napp secret: ${secret}\n` +
          (bound ? `client certificate (SHA-256): ${bound.fingerprint}\n` : '') +
          `\nThe secret is shown once and kept only encrypted: hand it to the ${app.name} vendor now.\n`,
      );
    }
    return EXIT.ok;
  });
}

async function appRotateSecret(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...DATA_OPTIONS,
    id: { type: 'string' },
    grace: { type: 'string' },
    json: { type: 'boolean' },
  });
  let grace = DEFAULT_SECRET_GRACE_SECONDS;
  if (values.grace !== undefined) {
    try {
      grace = parseGrace(values.grace);
    } catch (e) {
      throw new CliError(`--grace: ${(e as Error).message}`);
    }
  }
  const id = required(values.id, '--id');
  return withServices(values, async (s) => {
    const r = await rotateAppSecret(id, grace, actor(), s.sign.deps);
    const until = r.previousValidUntil?.toISOString() ?? null;
    process.stdout.write(
      values.json
        ? JSON.stringify({ id: r.app.id, secret: r.secret, previousValidUntil: until }) + '\n'
        : `app id:     ${r.app.id}\napp secret: ${r.secret}\n\n` +
            (until
              ? `The previous secret stays valid until ${until}; switch the ${r.app.name} system before then.\n`
              : 'The previous secret no longer works.\n') +
            'The new secret is shown once and kept only encrypted.\n',
    );
    return EXIT.ok;
  });
}

async function appBindCert(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...DATA_OPTIONS,
    id: { type: 'string' },
    cert: { type: 'string' },
    json: { type: 'boolean' },
  });
  const id = required(values.id, '--id');
  const cert = readInput(required(values.cert, '--cert FILE'), 'client certificate');
  return withServices(values, async (s) => {
    const b = await bindClientCertificate(id, cert, actor(), s.sign.deps);
    process.stdout.write(
      values.json
        ? JSON.stringify({ appId: b.appId, fingerprint: b.fingerprint, caId: b.caId, serial: b.serial }) +
            '\n'
        : `bound certificate ${b.serial} (CA ${b.caId}) to ${b.appId}\nSHA-256: ${b.fingerprint}\n`,
    );
    return EXIT.ok;
  });
}

async function appUnbindCert(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...DATA_OPTIONS,
    id: { type: 'string' },
    fingerprint: { type: 'string' },
  });
  const id = required(values.id, '--id');
  const fingerprint = required(values.fingerprint, '--fingerprint');
  return withServices(values, async (s) => {
    await unbindClientCertificate(id, fingerprint, actor(), s.sign.deps);
    process.stderr.write(`medsign: unbound certificate ${fingerprint} from ${id}\n`);
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
  if (sub === 'rotate-secret') return appRotateSecret(rest);
  if (sub === 'bind-cert') return appBindCert(rest);
  if (sub === 'unbind-cert') return appUnbindCert(rest);
  throw new CliError(
    `unknown subcommand app ${sub ?? ''} (medsign app create|rotate-secret|bind-cert|unbind-cert …)`,
  );
}

/** `medsign signer …`. */
export function signerCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'add') return signerAdd(rest);
  if (sub === 'unlock') return signerUnlock(rest);
  throw new CliError(`unknown subcommand signer ${sub ?? ''} (medsign signer add|unlock …)`);
}

export { signCommand };
