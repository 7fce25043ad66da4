/**
 * The `medsign` command-line tool. Every command returns an exit code: 0 success/valid, 1 invalid
 * signature or failed check, 2 usage error or unreadable input — with one line on stderr, never a stack.
 */

import { readFileSync } from 'node:fs';
import { GM_USAGE, gmCommand } from './commands/gm.js';
import { CMS_USAGE, cmsCommand } from './commands/cms.js';
import { certCommand, VERIFY_USAGE, verifyCommand } from './commands/verify.js';
import { auditCommand, CA_ADMIN_USAGE, caCertCommand, crlCommand } from './commands/ca-admin.js';
import { INIT_USAGE, initCommand } from './commands/init.js';
import { LIFECYCLE_USAGE } from './commands/lifecycle.js';
import { START_USAGE, startCommand } from './commands/start.js';
import { USER_USAGE, userCommand } from './commands/users.js';
import { appCommand, SIGN_USAGE, signCommand, signerCommand } from './commands/sign.js';
import { EVIDENCE_USAGE, evidenceCommand } from './commands/evidence.js';
import { TS_USAGE, tsCommand } from './commands/ts.js';
import { CliError, EXIT } from './io.js';

const version = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export const USAGE = `medsign ${version} — hospital e-signature platform (SM2 certificates, seals, time-stamps)

Usage: medsign <command> [options]

Commands:
  verify  verify a certificate, chain, CSR, CRL, OCSP response, CMS signature or time-stamp
  init    set up a data directory: CAs, service certificates, first administrator
  start   run the platform server (runs init on first use)
  cert    show a certificate (medsign cert show FILE); issue, revoke, list certificates of the CA;
          apply, review (approve/reject) and renew
  crl     sign and write a CRL
  audit   verify the audit log's hash chain (medsign audit verify)
  user    add an operator account (medsign user add …)
  app     register a hospital system with the signing service (medsign app create …)
  signer  add a signer with a server-held key, unlock a locked key
  sign    sign a file through a running server's signing API
  evidence  the evidence report (PDF or JSON) of a signature, through a running server's API
  cms     make a CMS / PKCS#7 signature (medsign cms sign …)
  ts      time-stamps: query a TSA, verify a token offline, export the trust bundle
  gm      SM2 / SM3 / SM4 operations
  help    show this help
  version print the version

${INIT_USAGE}

${START_USAGE}

${CA_ADMIN_USAGE}

${LIFECYCLE_USAGE}

${USER_USAGE}
${SIGN_USAGE}

${EVIDENCE_USAGE}

${VERIFY_USAGE}

${TS_USAGE}

${CMS_USAGE}

${GM_USAGE}`;

async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(USAGE + '\n');
    return EXIT.ok;
  }
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE + '\n');
      return EXIT.ok;
    case 'version':
    case '--version':
    case '-v':
      process.stdout.write(version + '\n');
      return EXIT.ok;
    case 'init':
      return initCommand(rest);
    case 'start':
      return startCommand(rest);
    case 'crl':
      return crlCommand(rest);
    case 'audit':
      return auditCommand(rest);
    case 'user':
      return userCommand(rest);
    case 'gm':
      return gmCommand(rest);
    case 'verify':
      return verifyCommand(rest);
    case 'cert':
      return rest[0] === 'show' ? certCommand(rest) : caCertCommand(rest);
    case 'cms':
      return cmsCommand(rest);
    case 'evidence':
      return evidenceCommand(rest);
    case 'app':
      return appCommand(rest);
    case 'signer':
      return signerCommand(rest);
    case 'sign':
      return signCommand(rest);
    case 'ts':
      return tsCommand(rest);
    default:
      throw new CliError(`unknown command ${command} (try medsign --help)`);
  }
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (e) {
    if (e instanceof CliError) {
      process.stderr.write(`medsign: ${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`medsign: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT.usage;
  }
}
