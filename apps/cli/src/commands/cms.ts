/** `medsign cms sign`: a CMS / PKCS#7 SignedData over a file with a certificate and its private key. */

import {
  DecodeError,
  decryptPrivateKey,
  loadCertificates,
  PrivateKey,
  signCms,
  type ParsedCertificate,
} from '@medsign/pki';
import { parse, required } from '../args.js';
import { CliError, EXIT, readInput, writeOutput } from '../io.js';

export const CMS_USAGE = `Usage:
  medsign cms sign --cert CERT.pem --key KEY.pem [--in DATA] [--detached] [--gm-oids] [--no-attributes]
                   [--chain CA.pem]... [--out SIG.p7s]

Signs DATA (default: standard input) and writes DER SignedData (default: standard output). The key may be
PKCS#8 / SEC1 / PKCS#1 PEM or encrypted PKCS#8 with its passphrase in the MEDSIGN_KEY_PASSPHRASE
environment variable. --gm-oids writes GM/T 0010 (GB/T 35275) object identifiers (SM2 keys only).`;

function loadKey(path: string): PrivateKey {
  const text = Buffer.from(readInput(path, 'key')).toString('utf8');
  try {
    if (text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) {
      const pass = process.env.MEDSIGN_KEY_PASSPHRASE;
      if (pass === undefined) throw new CliError('the key is encrypted: set MEDSIGN_KEY_PASSPHRASE');
      return decryptPrivateKey(text, pass);
    }
    return PrivateKey.fromPem(text);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot load the private key from ${path}: ${(e as Error).message}`);
  }
}

function loadCerts(path: string, what: string): ParsedCertificate[] {
  try {
    const certs = loadCertificates(readInput(path, what));
    if (certs.length === 0) throw new DecodeError('no certificate');
    return certs;
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

export async function cmsCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'sign') throw new CliError(sub ? `unknown command cms ${sub}` : 'missing cms command (sign)');
  const { values } = parse(rest, {
    cert: { type: 'string' },
    key: { type: 'string' },
    in: { type: 'string' },
    out: { type: 'string' },
    chain: { type: 'string', multiple: true },
    detached: { type: 'boolean' },
    'gm-oids': { type: 'boolean' },
    'no-attributes': { type: 'boolean' },
  });
  const [certificate, ...bundled] = loadCerts(required(values.cert, '--cert'), 'certificate');
  const key = loadKey(required(values.key, '--key'));
  const chain = [...bundled, ...(values.chain ?? []).flatMap((p) => loadCerts(p, 'chain file'))];
  const content = readInput(values.in);
  let der: Uint8Array;
  try {
    der = await signCms({
      content,
      detached: values.detached === true,
      signers: [{ signer: key.signer(), certificate: certificate! }],
      signedAttributes: values['no-attributes'] !== true,
      gmOids: values['gm-oids'] === true,
      certificates: [certificate!, ...chain],
    });
  } catch (e) {
    if (e instanceof RangeError) throw new CliError(e.message);
    throw e;
  } finally {
    key.destroy();
  }
  writeOutput(values.out, der);
  return EXIT.ok;
}
