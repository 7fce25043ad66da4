/**
 * `medsign ts query|verify|export-trust`: time-stamp a file at an RFC 3161 TSA, verify a token (or a
 * whole response) offline from the token, the data and the trust anchors alone, and export what such a
 * verification needs years later (TSA chains, root certificates, current CRLs, a README).
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePem } from '@medsign/gm';
import {
  DecodeError,
  UnsupportedError,
  verifyArtifact,
  type HashName,
  type ParsedCertificate,
  type VerificationReport,
} from '@medsign/pki';
import { queryTimeStamp } from '@medsign/tsa';
import { parse, required } from '../args.js';
import { CliError, EXIT, readInput, writeOutput } from '../io.js';
import { actor, withServices } from './ca-admin.js';
import { DATA_OPTIONS } from './server-args.js';
import { loadTrusted, renderReport } from './verify.js';

export const TS_USAGE = `Time-stamps (RFC 3161):
  medsign ts query FILE --url URL [--hash sm3|sha256|sha384|sha512] [--policy OID] [--no-cert]
                   [--token] [--out FILE]      time-stamps FILE; writes the TimeStampResp (.tsr), or with
                                               --token the bare token; exit 1 when the TSA refused
  medsign ts verify TOKEN --data FILE --ca ROOT.pem [--ca …] [--at ISO-TIME] [--json]
                                               verifies a token or response offline (no call to the TSA)
  medsign ts export-trust --out DIR [--data DATA-DIR]
                                               TSA chains, root certificates, current CRLs and a README
                                               for verifying this installation's tokens years from now`;

const HASHES: readonly HashName[] = ['sm3', 'sha256', 'sha384', 'sha512'];

async function query(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      url: { type: 'string' },
      hash: { type: 'string' },
      policy: { type: 'string' },
      'no-cert': { type: 'boolean' },
      token: { type: 'boolean' },
      out: { type: 'string' },
    },
    1,
  );
  const file = required(positionals[0], 'FILE');
  const url = required(values.url, '--url URL');
  const hash = (values.hash ?? 'sm3') as HashName;
  if (!HASHES.includes(hash)) throw new CliError(`--hash must be one of ${HASHES.join(', ')}`);
  const data = readInput(file, 'file');
  let r;
  try {
    r = await queryTimeStamp(url, data, {
      hash,
      certReq: !values['no-cert'],
      ...(values.policy ? { policy: values.policy } : {}),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    throw new CliError(
      `time-stamp request to ${url} failed: ${(e as Error).message}${cause ? ` (${cause})` : ''}`,
    );
  }
  if (r.token) writeOutput(values.out, values.token ? r.token : r.response);
  else if (values.out && !values.token) writeOutput(values.out, r.response);
  if (!r.granted) {
    process.stderr.write(`medsign: ${r.errors.join('; ')}\n`);
    return EXIT.invalid;
  }
  const v = r.verification!;
  process.stderr.write(
    `medsign: time-stamp granted: genTime ${v.tstInfo!.genTimeText}, serial ${v.serial!.toString(16)}, TSA ${v.tsaName ?? '-'}${values.out ? `, written to ${values.out}` : ''}\n`,
  );
  return EXIT.ok;
}

function verify(argv: string[]): number {
  const { values, positionals } = parse(
    argv,
    {
      data: { type: 'string' },
      ca: { type: 'string', multiple: true },
      at: { type: 'string' },
      json: { type: 'boolean' },
    },
    1,
  );
  const file = required(positionals[0], 'TOKEN');
  const input = readInput(file, 'time-stamp');
  const data = readInput(required(values.data, '--data FILE'), 'data');
  const trusted: ParsedCertificate[] = loadTrusted(values.ca ?? []);
  let at: Date | undefined;
  if (values.at !== undefined) {
    at = new Date(values.at);
    if (Number.isNaN(at.getTime())) throw new CliError(`--at must be an ISO date-time, got ${values.at}`);
  }
  let report: VerificationReport;
  try {
    report = verifyArtifact(input, { data, trusted, ...(at ? { at } : {}) });
  } catch (e) {
    if (e instanceof DecodeError || e instanceof UnsupportedError)
      throw new CliError(`${file}: ${e.message}`);
    throw e;
  }
  if (report.kind !== 'timestamp-token' && report.kind !== 'timestamp-response')
    throw new CliError(`${file}: not a time-stamp token or response (it is a ${report.kind})`);
  writeOutput(undefined, values.json ? JSON.stringify(report) + '\n' : renderReport(report));
  return report.valid ? EXIT.ok : EXIT.invalid;
}

/** The README written beside the exported files. */
function trustReadme(units: { id: string; file: string; chain: string; root: string }[], at: Date): string {
  const first = units[0];
  return `# Verifying this hospital's time-stamps offline

Exported by \`medsign ts export-trust\` on ${at.toISOString()}. These files are everything needed to
verify a time-stamp token of this installation without contacting it — also after the service, its
database or its vendor contract are gone. Keep this folder (read-only) with the archived documents.

| unit | TSA certificate | chain (TSA → issuing CA → root) | trust anchor |
| --- | --- | --- | --- |
${units.map((u) => `| ${u.id} | ${u.file} | ${u.chain} | ${u.root} |`).join('\n')}

\`*-issuing.crl\`: the issuing CAs' CRLs at export time (a TSA certificate revoked *before* a token's
genTime makes the token worthless; one revoked later does not). Export again after a revocation or once a
year and keep every export: the CRL in force at genTime is the one that matters.

## With medsign

    npx medsign ts verify TOKEN.tsr --data DOCUMENT --ca ${first?.root ?? 'ROOT.pem'}

Exit 0: valid — the token was signed by the TSA certificate of this hospital, the document is the one that
was time-stamped, and genTime (printed) is when. Exit 1: invalid (the report says which check failed).
Works on a whole TimeStampResp (.tsr) or a bare token.

## With OpenSSL (RSA and ECDSA units; OpenSSL 3.0 cannot verify SM2 tokens)

    openssl ts -verify -data DOCUMENT -in TOKEN.tsr -CAfile tsa-rsa-chain.pem          # a response
    openssl ts -verify -data DOCUMENT -in TOKEN.tst -token_in -CAfile tsa-rsa-chain.pem # a bare token
    openssl ts -reply -in TOKEN.tsr -text                                               # what it says

## With Bouncy Castle (any unit, SM2 included)

    tsp-verify TOKEN.tsr DOCUMENT tsa-sm2.pem --ca sm2-root.pem

(the medsign test suite's BC peer; any RFC 3161 verifier that knows SM2/SM3 — GB/T 20520 — works alike:
signature SM3withSM2 with the default ID 1234567812345678, ESS signingCertificateV2 with SM3).

## What is checked

1. the imprint in the token equals the hash (SM3 or SHA-2, as named in the token) of the document;
2. the CMS signature over the signed attributes, and signingCertificateV2 names the TSA certificate;
3. the TSA certificate has the critical extended key usage timeStamping only (RFC 3161 §2.3) and was
   valid at genTime; its chain leads to the root given, all valid at genTime;
4. (by hand, with the CRLs here) the TSA and issuing CA certificates were not revoked before genTime.
`;
}

async function exportTrust(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...DATA_OPTIONS, out: { type: 'string' } });
  const out = required(values.out, '--out DIR');
  return withServices(values, async (s) => {
    const units = await s.tsa.certificates();
    if (units.length === 0)
      throw new CliError('this installation has no TSA unit (run medsign init)', EXIT.invalid);
    mkdirSync(out, { recursive: true });
    const write = (name: string, data: string | Uint8Array) => writeFileSync(join(out, name), data);
    const rows: { id: string; file: string; chain: string; root: string }[] = [];
    const crlsDone = new Set<string>();
    for (const u of units) {
      const root = u.chain.at(-1)!;
      const issuingId = `${u.id}-issuing`;
      write(`tsa-${u.id}.pem`, u.certificate.toPem());
      write(`tsa-${u.id}-chain.pem`, [u.certificate, ...u.chain].map((c) => c.toPem()).join(''));
      write(`${u.id}-issuing.pem`, u.chain[0]!.toPem());
      write(`${u.id}-root.pem`, root.toPem());
      if (!crlsDone.has(issuingId)) {
        const crl = await s.backend.crl({ caId: issuingId, actor: actor() });
        write(`${issuingId}.crl`, crl);
        write(`${issuingId}.crl.pem`, encodePem('X509 CRL', crl));
        crlsDone.add(issuingId);
      }
      rows.push({
        id: u.id,
        file: `tsa-${u.id}.pem`,
        chain: `tsa-${u.id}-chain.pem`,
        root: `${u.id}-root.pem`,
      });
    }
    write('README.md', trustReadme(rows, s.ca.clock.now()));
    process.stderr.write(`medsign: trust bundle for ${rows.map((r) => r.id).join(', ')} written to ${out}\n`);
    return EXIT.ok;
  });
}

/** `medsign ts …`. */
export async function tsCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'query':
      return query(rest);
    case 'verify':
      return verify(rest);
    case 'export-trust':
      return exportTrust(rest);
    default:
      throw new CliError(
        sub ? `unknown command ts ${sub}` : 'missing ts command (query, verify, export-trust)',
      );
  }
}
