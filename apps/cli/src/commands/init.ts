/** `medsign init`: set up a data directory (CAs, service certificates, first administrator). */

import { CA_ALGORITHMS, initDataDir, type CaAlgorithm } from '@medsign/server/init';
import { parse } from '../args.js';
import { CliError, EXIT } from '../io.js';
import { cliErrorOf, DATA_OPTIONS, dataDirOf } from './server-args.js';

export const INIT_USAGE = `medsign init [--data DIR] [--algorithms sm2,rsa,ecdsa] [--db URL] [--organization NAME]
  Creates the data directory (default ./medsign-data): config, database, keystore, a root and an issuing CA
  per algorithm (SM2 always), TSA / OCSP / seal-maker certificates and the first administrator, whose
  one-time password is printed once. Running it again changes nothing and says so.
  The keystore key-encryption key is DIR/keystore.key (mode 0600) unless MEDSIGN_KEYSTORE_PASSPHRASE is set.`;

/** Parses `sm2,rsa,ecdsa`. */
export function parseAlgorithms(text: string | undefined): CaAlgorithm[] {
  if (text === undefined) return [];
  const out: CaAlgorithm[] = [];
  for (const a of text
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)) {
    if (!CA_ALGORITHMS.includes(a as CaAlgorithm))
      throw new CliError(`--algorithms: unknown algorithm ${a} (known: ${CA_ALGORITHMS.join(', ')})`);
    out.push(a as CaAlgorithm);
  }
  return out;
}

export async function initCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...DATA_OPTIONS,
    algorithms: { type: 'string' },
    db: { type: 'string' },
    organization: { type: 'string' },
  });
  const out = (line: string) => void process.stdout.write(line + '\n');
  try {
    const r = await initDataDir({
      dataDir: dataDirOf(values.data),
      algorithms: parseAlgorithms(values.algorithms),
      ...(values.db ? { db: values.db } : {}),
      ...(values.organization ? { organization: values.organization } : {}),
      ...(values.config ? { configFile: values.config } : {}),
      env: process.env,
    });
    if (!r.created) {
      out(`medsign init: ${r.config.dataDir} is already initialised; nothing changed.`);
      return EXIT.ok;
    }
    for (const step of r.steps) out(`medsign init: ${step}`);
    if (r.admin) {
      out('');
      out('  First administrator account — shown ONCE, write it down now:');
      out(`    username: ${r.admin.username}`);
      out(`    password: ${r.admin.password}`);
      out('  You must change this password at the first login.');
    }
    out('');
    out(`Start the server with: medsign start --data ${r.config.dataDir}`);
    return EXIT.ok;
  } catch (e) {
    throw cliErrorOf(e);
  }
}
