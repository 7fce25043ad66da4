/** `medsign gm …`: SM2 keys, signatures and encryption, SM3 digests and SM4 encryption from the shell. */

import {
  bytesToHex,
  DecodeError,
  DecryptError,
  hexToBytes,
  SM2_CIPHERTEXT_FORMATS,
  SM2PrivateKey,
  SM2PublicKey,
  sm3,
  sm4Decrypt,
  sm4Encrypt,
  type Sm2CiphertextFormat,
  type Sm4Mode,
} from '@medsign/gm';
import { parse, required } from '../args.js';
import { CliError, EXIT, readInput, writeOutput, writeSecret } from '../io.js';

export const GM_USAGE = `Usage:
  medsign gm sm2 keygen [--out key.pem]                                   PKCS#8 PEM
  medsign gm sm2 pubkey --key key.pem [--out pub.pem]                     SPKI PEM
  medsign gm sm2 sign --key key.pem [--id STR] [--in FILE] [--out sig.der]
  medsign gm sm2 verify --pubkey pub.pem --sig sig.der [--id STR] [--in FILE]
  medsign gm sm2 encrypt --pubkey pub.pem [--format der|c1c3c2|c1c2c3] [--in F] [--out F]
  medsign gm sm2 decrypt --key key.pem [--format der|c1c3c2|c1c2c3] [--in F] [--out F]
  medsign gm sm3 [FILE]                                                   hex digest
  medsign gm sm4 encrypt|decrypt --mode ecb|cbc|ctr|gcm --key HEX [--iv HEX] [--aad HEX] [--in F] [--out F]

Input defaults to standard input and output to standard output. SM2 signatures use the
ID "1234567812345678" unless --id is given. Exit codes: 0 success/valid, 1 invalid, 2 usage or input error.`;

const isPem = (bytes: Uint8Array) =>
  Buffer.from(bytes.subarray(0, 64)).toString('latin1').includes('-----BEGIN');

function loadPrivateKey(path: string): SM2PrivateKey {
  const bytes = readInput(path, 'key');
  try {
    if (isPem(bytes)) return SM2PrivateKey.fromPem(Buffer.from(bytes).toString('utf8'));
    try {
      return SM2PrivateKey.fromPkcs8(bytes);
    } catch {
      return SM2PrivateKey.fromSec1(bytes);
    }
  } catch (e) {
    throw new CliError(`cannot load SM2 private key from ${path}: ${(e as Error).message}`);
  } finally {
    bytes.fill(0);
  }
}

function loadPublicKey(path: string): SM2PublicKey {
  const bytes = readInput(path, 'public key');
  try {
    if (isPem(bytes)) return SM2PublicKey.fromPem(Buffer.from(bytes).toString('utf8'));
    return bytes[0] === 0x30 ? SM2PublicKey.fromSpki(bytes) : SM2PublicKey.fromBytes(bytes);
  } catch (e) {
    throw new CliError(`cannot load SM2 public key from ${path}: ${(e as Error).message}`);
  }
}

function cipherFormat(value: string | undefined): Sm2CiphertextFormat {
  const f = (value ?? 'der') as Sm2CiphertextFormat;
  if (!SM2_CIPHERTEXT_FORMATS.includes(f))
    throw new CliError(`--format must be one of ${SM2_CIPHERTEXT_FORMATS.join(', ')}`);
  return f;
}

function hexOption(value: string | undefined, flag: string): Uint8Array | undefined {
  if (value === undefined) return undefined;
  try {
    return hexToBytes(value);
  } catch {
    throw new CliError(`${flag} must be hex`);
  }
}

function sm2(argv: string[]): number {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'keygen': {
      const { values } = parse(rest, { out: { type: 'string' } });
      const key = SM2PrivateKey.generate();
      writeSecret(values.out, key.toPem());
      key.destroy();
      return EXIT.ok;
    }
    case 'pubkey': {
      const { values } = parse(rest, { key: { type: 'string' }, out: { type: 'string' } });
      const key = loadPrivateKey(required(values.key, '--key'));
      writeOutput(values.out, key.publicKey.toPem());
      key.destroy();
      return EXIT.ok;
    }
    case 'sign': {
      const { values } = parse(rest, {
        key: { type: 'string' },
        id: { type: 'string' },
        in: { type: 'string' },
        out: { type: 'string' },
      });
      const key = loadPrivateKey(required(values.key, '--key'));
      const data = readInput(values.in);
      const sig = key.sign(data, values.id === undefined ? {} : { id: values.id });
      key.destroy();
      writeOutput(values.out, sig);
      return EXIT.ok;
    }
    case 'verify': {
      const { values } = parse(rest, {
        pubkey: { type: 'string' },
        sig: { type: 'string' },
        id: { type: 'string' },
        in: { type: 'string' },
      });
      const pub = loadPublicKey(required(values.pubkey, '--pubkey'));
      const sig = readInput(required(values.sig, '--sig'), 'signature');
      const ok = pub.verify(readInput(values.in), sig, values.id === undefined ? {} : { id: values.id });
      process.stdout.write(ok ? 'signature valid\n' : 'signature INVALID\n');
      return ok ? EXIT.ok : EXIT.invalid;
    }
    case 'encrypt': {
      const { values } = parse(rest, {
        pubkey: { type: 'string' },
        format: { type: 'string' },
        in: { type: 'string' },
        out: { type: 'string' },
      });
      const pub = loadPublicKey(required(values.pubkey, '--pubkey'));
      const format = cipherFormat(values.format);
      const data = readInput(values.in);
      if (data.length === 0) throw new CliError('nothing to encrypt: the input is empty');
      writeOutput(values.out, pub.encrypt(data, { format }));
      return EXIT.ok;
    }
    case 'decrypt': {
      const { values } = parse(rest, {
        key: { type: 'string' },
        format: { type: 'string' },
        in: { type: 'string' },
        out: { type: 'string' },
      });
      const key = loadPrivateKey(required(values.key, '--key'));
      const format = cipherFormat(values.format);
      try {
        writeOutput(values.out, key.decrypt(readInput(values.in), { format }));
      } catch (e) {
        if (e instanceof DecryptError)
          throw new CliError('decryption failed: wrong key or tampered ciphertext', EXIT.invalid);
        if (e instanceof DecodeError) throw new CliError(`not a ${format} SM2 ciphertext: ${e.message}`);
        throw e;
      } finally {
        key.destroy();
      }
      return EXIT.ok;
    }
    default:
      throw new CliError(sub ? `unknown command gm sm2 ${sub}` : 'missing gm sm2 command');
  }
}

function sm3Command(argv: string[]): number {
  const { positionals } = parse(argv, {}, 1);
  writeOutput(undefined, bytesToHex(sm3(readInput(positionals[0]))) + '\n');
  return EXIT.ok;
}

function sm4Command(argv: string[]): number {
  const [sub, ...rest] = argv;
  if (sub !== 'encrypt' && sub !== 'decrypt')
    throw new CliError(sub ? `unknown command gm sm4 ${sub}` : 'missing gm sm4 encrypt|decrypt');
  const { values } = parse(rest, {
    mode: { type: 'string' },
    key: { type: 'string' },
    iv: { type: 'string' },
    aad: { type: 'string' },
    in: { type: 'string' },
    out: { type: 'string' },
  });
  const mode = required(values.mode, '--mode') as Sm4Mode;
  if (!['ecb', 'cbc', 'ctr', 'gcm'].includes(mode)) throw new CliError('--mode must be ecb, cbc, ctr or gcm');
  const key = hexOption(required(values.key, '--key'), '--key')!;
  const iv = hexOption(values.iv, '--iv');
  const aad = hexOption(values.aad, '--aad');
  if (mode !== 'ecb' && !iv) throw new CliError(`--iv is required in ${mode.toUpperCase()} mode`);
  const opts = { mode, key, ...(iv ? { iv } : {}), ...(aad ? { aad } : {}) };
  const data = readInput(values.in);
  try {
    writeOutput(values.out, sub === 'encrypt' ? sm4Encrypt(data, opts) : sm4Decrypt(data, opts));
  } catch (e) {
    if (e instanceof DecryptError) throw new CliError(e.message, EXIT.invalid);
    if (e instanceof RangeError) throw new CliError(e.message);
    throw e;
  } finally {
    key.fill(0);
  }
  return EXIT.ok;
}

/** Entry for `medsign gm …`; returns the exit code. */
export function gmCommand(argv: string[]): number {
  const [algorithm, ...rest] = argv;
  switch (algorithm) {
    case 'sm2':
      return sm2(rest);
    case 'sm3':
      return sm3Command(rest);
    case 'sm4':
      return sm4Command(rest);
    default:
      throw new CliError(
        algorithm ? `unknown command gm ${algorithm}` : 'missing gm algorithm (sm2, sm3, sm4)',
      );
  }
}
