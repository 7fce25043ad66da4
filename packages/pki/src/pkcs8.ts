/**
 * Password-protected private keys: PKCS#8 EncryptedPrivateKeyInfo (RFC 5958 §3) with the password-based
 * encryption schemes that real files carry —
 *
 * - PBES2 (RFC 8018 §6.2) with PBKDF2 (prf HMAC-SHA-1/224/256/384/512 or HMAC-SM3, GM/T 0006 OID
 *   1.2.156.10197.1.401.2) or scrypt (RFC 7914, read only), and AES-128/192/256-CBC, DES-EDE3-CBC or
 *   SM4-CBC (1.2.156.10197.1.104.2);
 * - the PKCS#12 PBE schemes (RFC 7292 Appendix C: SHA-1 + 3-key/2-key 3DES, 128/40-bit RC2) with the
 *   PKCS#12 key derivation (Appendix B), which `openssl pkcs8 -v1` and every PKCS#12 shrouded key bag use.
 *
 * Writing uses PBES2 only. The same machinery decrypts PKCS#12 bags (pkcs12.ts).
 *
 * Errors: a wrong passphrase (or a corrupted ciphertext) is a DecryptError whose message says so and never
 * carries key bytes; a malformed structure is a DecodeError; an algorithm we do not implement is an
 * UnsupportedError.
 */

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  pbkdf2Sync,
  randomBytes,
  scryptSync,
} from 'node:crypto';
import { DecodeError, DecryptError, encodePem, sm4Decrypt, sm4Encrypt } from '@medsign/gm';
import {
  checkDerStructure,
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeTlv,
  encodeUnsignedInteger,
  readChildren,
  readOid,
  readTlv,
  readUnsignedInteger,
  TAG,
  type Tlv,
} from '@medsign/gm/der';
import { derFromInput, outerSequence } from './der-input.js';
import { UnsupportedError } from './errors.js';
import { PrivateKey } from './keys.js';
import * as oid from './oids.js';
import { rc2CbcDecrypt } from './rc2.js';

/** PEM label of an EncryptedPrivateKeyInfo (RFC 7468 §11). */
export const ENCRYPTED_PRIVATE_KEY_PEM_LABEL = 'ENCRYPTED PRIVATE KEY';

/** Key derivation for writing: PBKDF2 with HMAC-SHA-256 (RFC 8018) or HMAC-SM3 (GM/T 0006 OID). */
export type PbeKdf = 'pbkdf2-hmac-sha256' | 'pbkdf2-hmac-sm3';
/** Cipher for writing. */
export type PbeCipher = 'aes-256-cbc' | 'sm4-cbc';

/**
 * Default PBKDF2 iteration count for both PRFs: 600,000, the OWASP (2023) figure for PBKDF2-HMAC-SHA256.
 * For HMAC-SM3 there is no published guidance; SM3 has the same structure and cost class as SHA-256
 * (64 rounds over 512-bit blocks) and is no cheaper on attacker hardware, so the same count gives about
 * the same work factor. It costs ~0.1 s (SHA-256, with CPU SHA extensions) / ~0.2 s (SM3) here per
 * encryption or decryption. (GmSSL writes 65,536 for SM3; medsign reads any count up to MAX_PBE_ITERATIONS.)
 */
export const DEFAULT_PBKDF2_ITERATIONS = 600_000;

/**
 * Upper bound on the iteration count accepted from a file, so an attacker-supplied file cannot hang the
 * process (10 million ≈ 2–4 s of PBKDF2 here).
 */
export const MAX_PBE_ITERATIONS = 10_000_000;

/** Options for encryptPrivateKey. */
export type EncryptPrivateKeyOptions = {
  /** Default 'pbkdf2-hmac-sha256'. */
  kdf?: PbeKdf;
  /** Default 'aes-256-cbc'. OpenSSL 3.0 reads 'sm4-cbc' with the SHA-256 prf but knows no HMAC-SM3 prf. */
  cipher?: PbeCipher;
  /** PBKDF2 iterations, default DEFAULT_PBKDF2_ITERATIONS. */
  iterations?: number;
};

/** A password in the encodings the schemes use: PBES2 takes its UTF-8 bytes, PKCS#12 PBE a BMPString. */
export type PbePassword = {
  /** PBES2/PBKDF2 and PBMAC1 input: UTF-8, as OpenSSL, Windows and Java pass it. */
  bytes: Uint8Array;
  /** PKCS#12 KDF input (RFC 7292 B.1): big-endian UTF-16 with a trailing 00 00. */
  bmp: Uint8Array;
};

/** Encodes a password for both scheme families. */
export function pbePassword(password: string): PbePassword {
  if (typeof password !== 'string') throw new TypeError('password must be a string');
  const bmp = new Uint8Array(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) {
    const unit = password.charCodeAt(i);
    bmp[2 * i] = unit >> 8;
    bmp[2 * i + 1] = unit & 0xff;
  }
  return { bytes: new Uint8Array(Buffer.from(password, 'utf8')), bmp };
}

// ---------------------------------------------------------------------------------------------------
// Algorithm tables

type Pbes2CipherInfo = { name: string; keyLength: number; ivLength: number };

const PBES2_CIPHERS: Readonly<Record<string, Pbes2CipherInfo>> = {
  [oid.id_aes128_CBC]: { name: 'aes-128-cbc', keyLength: 16, ivLength: 16 },
  [oid.id_aes192_CBC]: { name: 'aes-192-cbc', keyLength: 24, ivLength: 16 },
  [oid.id_aes256_CBC]: { name: 'aes-256-cbc', keyLength: 32, ivLength: 16 },
  [oid.id_des_ede3_cbc]: { name: 'des-ede3-cbc', keyLength: 24, ivLength: 8 },
  [oid.id_sm4_cbc]: { name: 'sm4-cbc', keyLength: 16, ivLength: 16 },
};

/** PBKDF2 prf OID → Node digest name. An absent prf means HMAC-SHA-1 (RFC 8018 A.2). */
const PBKDF2_PRFS: Readonly<Record<string, string>> = {
  [oid.id_hmacWithSHA1]: 'sha1',
  [oid.id_hmacWithSHA224]: 'sha224',
  [oid.id_hmacWithSHA256]: 'sha256',
  [oid.id_hmacWithSHA384]: 'sha384',
  [oid.id_hmacWithSHA512]: 'sha512',
  [oid.id_hmac_sm3]: 'sm3',
};

type Pkcs12PbeInfo =
  | { cipher: 'des-ede3-cbc' | 'des-ede-cbc'; keyLength: number }
  | { cipher: 'rc2-cbc'; keyLength: number; effectiveBits: number };

/** RFC 7292 Appendix C. All use SHA-1 in the PKCS#12 KDF and an 8-byte IV. */
const PKCS12_PBES: Readonly<Record<string, Pkcs12PbeInfo>> = {
  [oid.id_pbeWithSHAAnd3_KeyTripleDES_CBC]: { cipher: 'des-ede3-cbc', keyLength: 24 },
  [oid.id_pbeWithSHAAnd2_KeyTripleDES_CBC]: { cipher: 'des-ede-cbc', keyLength: 16 },
  [oid.id_pbeWithSHAAnd128BitRC2_CBC]: { cipher: 'rc2-cbc', keyLength: 16, effectiveBits: 128 },
  [oid.id_pbewithSHAAnd40BitRC2_CBC]: { cipher: 'rc2-cbc', keyLength: 5, effectiveBits: 40 },
};

const PBE_NAMES: Readonly<Record<string, string>> = {
  [oid.id_pbeWithSHAAnd128BitRC4]: 'pbeWithSHAAnd128BitRC4',
  [oid.id_pbeWithSHAAnd40BitRC4]: 'pbeWithSHAAnd40BitRC4',
  '1.2.840.113549.1.5.3': 'pbeWithMD5AndDES-CBC (PBES1)',
  '1.2.840.113549.1.5.10': 'pbeWithSHA1AndDES-CBC (PBES1)',
  '1.2.840.113549.1.5.6': 'pbeWithMD5AndRC2-CBC (PBES1)',
  '1.2.840.113549.1.5.11': 'pbeWithSHA1AndRC2-CBC (PBES1)',
};

// ---------------------------------------------------------------------------------------------------
// Small DER helpers

/** An AlgorithmIdentifier split into OID and the optional parameters TLV. */
export type AlgorithmId = { oid: string; params?: Tlv };

/** Reads AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }. */
export function readAlgorithmId(tlv: Tlv, what: string): AlgorithmId {
  if (tlv.tag !== TAG.SEQUENCE) throw new DecodeError(`${what}: expected AlgorithmIdentifier`, tlv.start);
  const parts = readChildren(tlv.value);
  if (parts.length < 1 || parts.length > 2) {
    throw new DecodeError(`${what}: AlgorithmIdentifier must have one or two fields`, tlv.start);
  }
  const id = readOid(parts[0]!, `${what}.algorithm`);
  return parts[1] ? { oid: id, params: parts[1] } : { oid: id };
}

function expectSequence(tlv: Tlv | undefined, what: string): Tlv[] {
  if (!tlv || tlv.tag !== TAG.SEQUENCE) throw new DecodeError(`${what}: expected SEQUENCE`, tlv?.start);
  return readChildren(tlv.value);
}

function expectOctets(tlv: Tlv | undefined, what: string): Uint8Array {
  if (!tlv || tlv.tag !== TAG.OCTET_STRING)
    throw new DecodeError(`${what}: expected OCTET STRING`, tlv?.start);
  return tlv.value;
}

/** A positive INTEGER that must not exceed `max` (UnsupportedError above it: well-formed, but refused). */
function readBoundedCount(tlv: Tlv | undefined, what: string, max: number): number {
  if (!tlv) throw new DecodeError(`${what}: missing`);
  const v = readUnsignedInteger(tlv, what);
  if (v < 1n) throw new DecodeError(`${what}: must be positive`, tlv.start);
  if (v > BigInt(max)) throw new UnsupportedError(`${what} ${v} exceeds the limit of ${max}`);
  return Number(v);
}

/** NULL or absent parameters (hash and HMAC AlgorithmIdentifiers are written both ways). */
function expectNullOrAbsent(params: Tlv | undefined, what: string): void {
  if (params && !(params.tag === TAG.NULL && params.value.length === 0)) {
    throw new DecodeError(`${what}: parameters must be NULL or absent`, params.start);
  }
}

const NULL_DER = encodeTlv(TAG.NULL, new Uint8Array(0));

function wrongPassphrase(cause?: unknown): DecryptError {
  return new DecryptError(
    'decryption failed: wrong passphrase or corrupted file',
    cause === undefined ? undefined : { cause },
  );
}

// ---------------------------------------------------------------------------------------------------
// Ciphers

function nodeCbc(decrypt: boolean, name: string, key: Uint8Array, iv: Uint8Array, data: Uint8Array) {
  const c = decrypt ? createDecipheriv(name, key, iv) : createCipheriv(name, key, iv);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

function pbes2Cipher(
  decrypt: boolean,
  info: Pbes2CipherInfo,
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  try {
    if (info.name === 'sm4-cbc') {
      return decrypt
        ? sm4Decrypt(data, { mode: 'cbc', key, iv })
        : sm4Encrypt(data, { mode: 'cbc', key, iv });
    }
    return nodeCbc(decrypt, info.name, key, iv, data);
  } catch (e) {
    if (decrypt) throw wrongPassphrase(e instanceof DecryptError ? undefined : e);
    throw e;
  } finally {
    key.fill(0);
  }
}

// ---------------------------------------------------------------------------------------------------
// PKCS#12 key derivation (RFC 7292 Appendix B.2)

/** Hash parameters for the PKCS#12 KDF: output length u and block length v, in bytes. */
const PKCS12_KDF_HASHES: Readonly<Record<string, { u: number; v: number }>> = {
  sha1: { u: 20, v: 64 },
  sha224: { u: 28, v: 64 },
  sha256: { u: 32, v: 64 },
  sha384: { u: 48, v: 128 },
  sha512: { u: 64, v: 128 },
  sm3: { u: 32, v: 64 },
};

/** Purpose byte of the PKCS#12 KDF (RFC 7292 B.3). */
export type Pkcs12KdfPurpose = 'key' | 'iv' | 'mac';

/**
 * The PKCS#12 KDF (RFC 7292 B.2): derives `length` bytes for encryption keys, IVs or MAC keys from the
 * BMPString password (with its trailing 00 00, see pbePassword), a salt and an iteration count.
 */
export function pkcs12Kdf(
  hash: string,
  bmpPassword: Uint8Array,
  salt: Uint8Array,
  purpose: Pkcs12KdfPurpose,
  iterations: number,
  length: number,
): Uint8Array {
  const h = PKCS12_KDF_HASHES[hash];
  if (!h) throw new UnsupportedError(`PKCS#12 KDF: unsupported hash ${hash}`);
  if (!Number.isSafeInteger(iterations) || iterations < 1)
    throw new RangeError('iterations must be positive');
  const { u, v } = h;
  const id = purpose === 'key' ? 1 : purpose === 'iv' ? 2 : 3;
  const d = new Uint8Array(v).fill(id);
  const repeatTo = (src: Uint8Array): Uint8Array => {
    const out = new Uint8Array(src.length === 0 ? 0 : v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length]!;
    return out;
  };
  const s = repeatTo(salt);
  const p = repeatTo(bmpPassword);
  const iBuf = new Uint8Array(s.length + p.length);
  iBuf.set(s);
  iBuf.set(p, s.length);
  const out = new Uint8Array(length);
  for (let off = 0; off < length; off += u) {
    let a = new Uint8Array(createHash(hash).update(d).update(iBuf).digest());
    for (let r = 1; r < iterations; r++) a = new Uint8Array(createHash(hash).update(a).digest());
    out.set(a.subarray(0, Math.min(u, length - off)), off);
    if (off + u >= length) break;
    // I_j = (I_j + B + 1) mod 2^(8v) for each v-byte block, B = A repeated to v bytes.
    const b = new Uint8Array(v);
    for (let i = 0; i < v; i++) b[i] = a[i % u]!;
    for (let j = 0; j < iBuf.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = iBuf[j + k]! + b[k]! + carry;
        iBuf[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  iBuf.fill(0);
  p.fill(0);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Decryption: PBES2 and PKCS#12 PBE

type Pbes2Params = {
  kdf:
    | { kind: 'pbkdf2'; salt: Uint8Array; iterations: number; keyLength?: number; prf: string }
    | { kind: 'scrypt'; salt: Uint8Array; n: number; r: number; p: number; keyLength?: number };
  cipherOid: string;
  cipher: Pbes2CipherInfo;
  iv: Uint8Array;
};

function parsePbes2Params(params: Tlv | undefined): Pbes2Params {
  const parts = expectSequence(params, 'PBES2-params');
  if (parts.length !== 2)
    throw new DecodeError('PBES2-params: expected keyDerivationFunc and encryptionScheme');
  const kdfAlg = readAlgorithmId(parts[0]!, 'PBES2-params.keyDerivationFunc');
  const encAlg = readAlgorithmId(parts[1]!, 'PBES2-params.encryptionScheme');
  const cipher = PBES2_CIPHERS[encAlg.oid];
  if (!cipher) throw new UnsupportedError(`PBES2: unsupported encryption scheme ${encAlg.oid}`);
  const iv = expectOctets(encAlg.params, 'PBES2 encryptionScheme IV');
  if (iv.length !== cipher.ivLength) {
    throw new DecodeError(`PBES2: ${cipher.name} IV must be ${cipher.ivLength} bytes, got ${iv.length}`);
  }
  let kdf: Pbes2Params['kdf'];
  if (kdfAlg.oid === oid.id_PBKDF2) {
    const f = expectSequence(kdfAlg.params, 'PBKDF2-params');
    if (f.length < 2 || f.length > 4) throw new DecodeError('PBKDF2-params: wrong number of fields');
    if (f[0]!.tag !== TAG.OCTET_STRING) {
      throw new UnsupportedError('PBKDF2-params: only a specified (OCTET STRING) salt is supported');
    }
    const salt = f[0]!.value;
    const iterations = readBoundedCount(f[1], 'PBKDF2 iteration count', MAX_PBE_ITERATIONS);
    let next = 2;
    let keyLength: number | undefined;
    if (f[next]?.tag === TAG.INTEGER) keyLength = readBoundedCount(f[next++], 'PBKDF2 keyLength', 1024);
    let prf = 'sha1';
    if (f[next]) {
      const prfAlg = readAlgorithmId(f[next++]!, 'PBKDF2-params.prf');
      const name = PBKDF2_PRFS[prfAlg.oid];
      if (!name) throw new UnsupportedError(`PBKDF2: unsupported prf ${prfAlg.oid}`);
      expectNullOrAbsent(prfAlg.params, 'PBKDF2-params.prf');
      prf = name;
    }
    if (next !== f.length) throw new DecodeError('PBKDF2-params: unexpected field');
    kdf = { kind: 'pbkdf2', salt, iterations, prf, ...(keyLength !== undefined ? { keyLength } : {}) };
  } else if (kdfAlg.oid === oid.id_scrypt) {
    const f = expectSequence(kdfAlg.params, 'scrypt-params');
    if (f.length < 4 || f.length > 5) throw new DecodeError('scrypt-params: wrong number of fields');
    const salt = expectOctets(f[0], 'scrypt-params.salt');
    const n = readBoundedCount(f[1], 'scrypt costParameter', 1 << 20);
    if ((n & (n - 1)) !== 0 || n < 2) throw new DecodeError('scrypt costParameter must be a power of two');
    const r = readBoundedCount(f[2], 'scrypt blockSize', 32);
    const p = readBoundedCount(f[3], 'scrypt parallelizationParameter', 16);
    const keyLength = f[4] ? readBoundedCount(f[4], 'scrypt keyLength', 1024) : undefined;
    kdf = { kind: 'scrypt', salt, n, r, p, ...(keyLength !== undefined ? { keyLength } : {}) };
  } else {
    throw new UnsupportedError(`PBES2: unsupported key derivation function ${kdfAlg.oid}`);
  }
  if (kdf.keyLength !== undefined && kdf.keyLength !== cipher.keyLength) {
    throw new DecodeError(`PBES2: keyLength ${kdf.keyLength} does not fit ${cipher.name}`);
  }
  return { kdf, cipherOid: encAlg.oid, cipher, iv };
}

function deriveKey(kdf: Pbes2Params['kdf'], password: Uint8Array, length: number): Uint8Array {
  if (kdf.kind === 'pbkdf2') {
    return new Uint8Array(pbkdf2Sync(password, kdf.salt, kdf.iterations, length, kdf.prf));
  }
  const maxmem = 128 * kdf.n * kdf.r * kdf.p + 16 * 1024 * 1024;
  return new Uint8Array(scryptSync(password, kdf.salt, length, { N: kdf.n, r: kdf.r, p: kdf.p, maxmem }));
}

function parsePkcs12PbeParams(params: Tlv | undefined): { salt: Uint8Array; iterations: number } {
  const f = expectSequence(params, 'pkcs-12PbeParams');
  if (f.length !== 2) throw new DecodeError('pkcs-12PbeParams: expected salt and iterations');
  return {
    salt: expectOctets(f[0], 'pkcs-12PbeParams.salt'),
    iterations: readBoundedCount(f[1], 'PKCS#12 PBE iteration count', MAX_PBE_ITERATIONS),
  };
}

/**
 * Decrypts `ciphertext` under the password-based scheme named by the AlgorithmIdentifier `algorithm`
 * (PBES2 or a PKCS#12 PBE scheme). DecryptError on a wrong password or corrupted data, UnsupportedError
 * for a scheme medsign does not implement, DecodeError for malformed parameters.
 */
export function pbeDecrypt(
  algorithm: AlgorithmId,
  password: PbePassword,
  ciphertext: Uint8Array,
): Uint8Array {
  if (algorithm.oid === oid.id_PBES2) {
    const p = parsePbes2Params(algorithm.params);
    const key = deriveKey(p.kdf, password.bytes, p.cipher.keyLength);
    return pbes2Cipher(true, p.cipher, key, p.iv, ciphertext);
  }
  const legacy = PKCS12_PBES[algorithm.oid];
  if (legacy) {
    const { salt, iterations } = parsePkcs12PbeParams(algorithm.params);
    const key = pkcs12Kdf('sha1', password.bmp, salt, 'key', iterations, legacy.keyLength);
    const iv = pkcs12Kdf('sha1', password.bmp, salt, 'iv', iterations, 8);
    try {
      if (legacy.cipher === 'rc2-cbc') return rc2CbcDecrypt(key, legacy.effectiveBits, iv, ciphertext);
      return nodeCbc(true, legacy.cipher, key, iv, ciphertext);
    } catch (e) {
      throw wrongPassphrase(e instanceof DecryptError ? undefined : e);
    } finally {
      key.fill(0);
    }
  }
  const name = PBE_NAMES[algorithm.oid];
  throw new UnsupportedError(
    `unsupported password-based encryption scheme ${algorithm.oid}${name ? ` (${name})` : ''}`,
  );
}

// ---------------------------------------------------------------------------------------------------
// Encryption: PBES2

const KDF_PRF: Readonly<Record<PbeKdf, { oid: string; digest: string }>> = {
  'pbkdf2-hmac-sha256': { oid: oid.id_hmacWithSHA256, digest: 'sha256' },
  'pbkdf2-hmac-sm3': { oid: oid.id_hmac_sm3, digest: 'sm3' },
};

const CIPHER_OIDS: Readonly<Record<PbeCipher, string>> = {
  'aes-256-cbc': oid.id_aes256_CBC,
  'sm4-cbc': oid.id_sm4_cbc,
};

function checkIterations(iterations: number): void {
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_PBE_ITERATIONS) {
    throw new RangeError(`iterations must be an integer in 1..${MAX_PBE_ITERATIONS}`);
  }
}

/**
 * Encrypts `plaintext` with PBES2 (PBKDF2 + CBC, 16-byte random salt, random IV). Returns the DER
 * AlgorithmIdentifier and the ciphertext. The prf AlgorithmIdentifier carries NULL parameters, as
 * OpenSSL writes for hmacWithSHA256 and GmSSL requires for HMAC-SM3.
 */
export function pbes2Encrypt(
  password: Uint8Array,
  plaintext: Uint8Array,
  opts: EncryptPrivateKeyOptions = {},
): { algorithm: Uint8Array; ciphertext: Uint8Array } {
  const kdf = opts.kdf ?? 'pbkdf2-hmac-sha256';
  const cipherName = opts.cipher ?? 'aes-256-cbc';
  const prf = KDF_PRF[kdf];
  const cipherOid = CIPHER_OIDS[cipherName];
  if (!prf) throw new RangeError(`kdf must be one of ${Object.keys(KDF_PRF).join(', ')}`);
  if (!cipherOid) throw new RangeError(`cipher must be one of ${Object.keys(CIPHER_OIDS).join(', ')}`);
  const iterations = opts.iterations ?? DEFAULT_PBKDF2_ITERATIONS;
  checkIterations(iterations);
  const cipher = PBES2_CIPHERS[cipherOid]!;
  const salt = new Uint8Array(randomBytes(16));
  const iv = new Uint8Array(randomBytes(cipher.ivLength));
  const key = new Uint8Array(pbkdf2Sync(password, salt, iterations, cipher.keyLength, prf.digest));
  const ciphertext = pbes2Cipher(false, cipher, key, iv, plaintext);
  const algorithm = encodeSequence(
    encodeOid(oid.id_PBES2),
    encodeSequence(
      encodeSequence(
        encodeOid(oid.id_PBKDF2),
        encodeSequence(
          encodeOctetString(salt),
          encodeUnsignedInteger(BigInt(iterations)),
          encodeSequence(encodeOid(prf.oid), NULL_DER),
        ),
      ),
      encodeSequence(encodeOid(cipherOid), encodeOctetString(iv)),
    ),
  );
  return { algorithm, ciphertext };
}

// ---------------------------------------------------------------------------------------------------
// EncryptedPrivateKeyInfo

/**
 * Checks that decrypted bytes are a DER PrivateKeyInfo/OneAsymmetricKey (SEQUENCE { INTEGER version, … }).
 * Wrong-key CBC output passes the padding check about once in 256 tries; it then fails here, and is
 * reported as a wrong passphrase rather than as a malformed key.
 */
function looksLikePrivateKeyInfo(plain: Uint8Array): boolean {
  try {
    checkDerStructure(plain, 'PrivateKeyInfo');
    const seq = readTlv(plain, 0);
    if (seq.tag !== TAG.SEQUENCE) return false;
    const parts = readChildren(seq.value);
    return parts.length >= 3 && parts[0]!.tag === TAG.INTEGER && parts[1]!.tag === TAG.SEQUENCE;
  } catch {
    return false;
  }
}

/**
 * Decrypts an EncryptedPrivateKeyInfo's content to the PKCS#8 PrivateKeyInfo DER (the caller wipes it).
 * Shared with the PKCS#12 shrouded key bag, which carries the same structure.
 */
export function decryptPrivateKeyInfo(der: Uint8Array, password: PbePassword): Uint8Array {
  const parts = outerSequence(der, 'EncryptedPrivateKeyInfo');
  if (parts.length !== 2) {
    throw new DecodeError('EncryptedPrivateKeyInfo: expected encryptionAlgorithm and encryptedData');
  }
  const alg = readAlgorithmId(parts[0]!, 'EncryptedPrivateKeyInfo.encryptionAlgorithm');
  const data = expectOctets(parts[1], 'EncryptedPrivateKeyInfo.encryptedData');
  const plain = pbeDecrypt(alg, password, data);
  if (!looksLikePrivateKeyInfo(plain)) {
    plain.fill(0);
    throw wrongPassphrase();
  }
  return plain;
}

/** Builds EncryptedPrivateKeyInfo DER from an AlgorithmIdentifier and ciphertext. */
export function encodeEncryptedPrivateKeyInfo(algorithm: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return encodeSequence(algorithm, encodeOctetString(ciphertext));
}

function pkcs8Of(privateKey: PrivateKey | Uint8Array): Uint8Array {
  if (privateKey instanceof PrivateKey) return privateKey.toPkcs8();
  if (!(privateKey instanceof Uint8Array))
    throw new TypeError('privateKey must be a PrivateKey or PKCS#8 DER');
  if (!looksLikePrivateKeyInfo(privateKey))
    throw new DecodeError('privateKey: not a DER PKCS#8 PrivateKeyInfo');
  return new Uint8Array(privateKey); // a copy (Buffer#slice would share memory, and this is wiped)
}

function checkPassphrase(passphrase: string): void {
  if (typeof passphrase !== 'string') throw new TypeError('passphrase must be a string');
  if (passphrase.length === 0) throw new RangeError('passphrase must not be empty');
}

/**
 * Encrypts a private key (a PrivateKey, or PKCS#8 DER) into a PKCS#8 EncryptedPrivateKeyInfo (RFC 5958)
 * with PBES2 (RFC 8018): PBKDF2 with HMAC-SHA-256 or HMAC-SM3, AES-256-CBC or SM4-CBC, a 16-byte random
 * salt. Returns DER; PEM it with ENCRYPTED_PRIVATE_KEY_PEM_LABEL or use encryptPrivateKeyPem.
 */
export function encryptPrivateKey(
  privateKey: PrivateKey | Uint8Array,
  passphrase: string,
  opts: EncryptPrivateKeyOptions = {},
): Uint8Array {
  checkPassphrase(passphrase);
  const plain = pkcs8Of(privateKey);
  try {
    const { algorithm, ciphertext } = pbes2Encrypt(pbePassword(passphrase).bytes, plain, opts);
    return encodeEncryptedPrivateKeyInfo(algorithm, ciphertext);
  } finally {
    plain.fill(0);
  }
}

/** encryptPrivateKey, armoured as PEM "ENCRYPTED PRIVATE KEY". */
export function encryptPrivateKeyPem(
  privateKey: PrivateKey | Uint8Array,
  passphrase: string,
  opts: EncryptPrivateKeyOptions = {},
): string {
  return encodePem(ENCRYPTED_PRIVATE_KEY_PEM_LABEL, encryptPrivateKey(privateKey, passphrase, opts));
}

/**
 * Decrypts a PKCS#8 EncryptedPrivateKeyInfo (DER, or PEM "ENCRYPTED PRIVATE KEY") to a PrivateKey.
 * Reads PBES2 (PBKDF2 with any HMAC-SHA-1/2 or HMAC-SM3 prf, or scrypt; AES-128/192/256-CBC, DES-EDE3-CBC,
 * SM4-CBC) and the PKCS#12 PBE schemes (`openssl pkcs8 -v1 PBE-SHA1-3DES` …). A wrong passphrase is a
 * DecryptError ("wrong passphrase or corrupted file").
 */
export function decryptPrivateKey(input: Uint8Array | string, passphrase: string): PrivateKey {
  if (typeof passphrase !== 'string') throw new TypeError('passphrase must be a string');
  const der = derFromInput(input, [ENCRYPTED_PRIVATE_KEY_PEM_LABEL], 'EncryptedPrivateKeyInfo');
  const plain = decryptPrivateKeyInfo(der, pbePassword(passphrase));
  try {
    return PrivateKey.fromPkcs8(plain);
  } finally {
    plain.fill(0);
  }
}

/** What protects an EncryptedPrivateKeyInfo, read without the passphrase (for display and policy checks). */
export type EncryptedPrivateKeyDescription = {
  scheme: 'PBES2' | 'PKCS12-PBE';
  /** PBES2: 'pbkdf2' or 'scrypt'; PKCS#12 PBE: 'pkcs12-sha1'. */
  kdf: string;
  /** PBKDF2 prf digest ('sha256', 'sm3', 'sha1' when absent …). */
  prf?: string;
  /** Cipher name ('aes-256-cbc', 'sm4-cbc', 'des-ede3-cbc', 'rc2-cbc' …). */
  cipher: string;
  iterations?: number;
  saltLength: number;
};

/** Describes the protection of an EncryptedPrivateKeyInfo (DER or PEM) without decrypting it. */
export function describeEncryptedPrivateKey(input: Uint8Array | string): EncryptedPrivateKeyDescription {
  const der = derFromInput(input, [ENCRYPTED_PRIVATE_KEY_PEM_LABEL], 'EncryptedPrivateKeyInfo');
  const parts = outerSequence(der, 'EncryptedPrivateKeyInfo');
  if (parts.length !== 2) throw new DecodeError('EncryptedPrivateKeyInfo: expected two fields');
  const alg = readAlgorithmId(parts[0]!, 'EncryptedPrivateKeyInfo.encryptionAlgorithm');
  if (alg.oid === oid.id_PBES2) {
    const p = parsePbes2Params(alg.params);
    return p.kdf.kind === 'pbkdf2'
      ? {
          scheme: 'PBES2',
          kdf: 'pbkdf2',
          prf: p.kdf.prf,
          cipher: p.cipher.name,
          iterations: p.kdf.iterations,
          saltLength: p.kdf.salt.length,
        }
      : { scheme: 'PBES2', kdf: 'scrypt', cipher: p.cipher.name, saltLength: p.kdf.salt.length };
  }
  const legacy = PKCS12_PBES[alg.oid];
  if (legacy) {
    const { salt, iterations } = parsePkcs12PbeParams(alg.params);
    return {
      scheme: 'PKCS12-PBE',
      kdf: 'pkcs12-sha1',
      cipher: legacy.cipher,
      iterations,
      saltLength: salt.length,
    };
  }
  throw new UnsupportedError(`unsupported password-based encryption scheme ${alg.oid}`);
}
