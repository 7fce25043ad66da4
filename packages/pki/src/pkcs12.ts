/**
 * PKCS#12 / PFX (RFC 7292) in password privacy and password integrity mode: what hospitals receive from
 * other CAs and export from Windows (.pfx/.p12), and what medsign hands out.
 *
 * Import reads the modern form (PBES2/AES bags, HMAC-SHA-256 MAC — OpenSSL 3, Windows 10 1709+, Java 17)
 * and the legacy forms (pbeWithSHAAnd3-KeyTripleDES-CBC, 2-key 3DES, 128/40-bit RC2 bags with a SHA-1
 * MAC — OpenSSL 1.x, `openssl pkcs12 -legacy`, older Windows), plus PBMAC1 (RFC 9579) MACs. The MAC is
 * checked over the exact received authSafe bytes before anything inside is decrypted or parsed.
 *
 * Export writes what `openssl pkcs12 -export` in OpenSSL 3 writes: certificates in an encryptedData
 * ContentInfo and the key in a pkcs8ShroudedKeyBag, both PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), and an
 * HMAC-SHA256 MAC keyed through the PKCS#12 KDF. (Windows before 10 1709 / Server 2016 cannot read AES
 * PFX files.)
 *
 * Inputs must be DER. Encoders that write BER (indefinite lengths, e.g. Bouncy Castle's "PKCS12" keystore
 * type) are refused with a DecodeError.
 */

import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { constantTimeEqual, DecodeError, DecryptError } from '@medsign/gm';
import {
  checkDerStructure,
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeTlv,
  encodeUnsignedInteger,
  readBitStringBytes,
  readChildren,
  readOid,
  readTlv,
  readUnsignedInteger,
  TAG,
  type Tlv,
} from '@medsign/gm/der';
import { ParsedCertificate } from './certificate.js';
import { encodeSetOf, outerSequence, tlvBytes } from './der-input.js';
import { UnsupportedError } from './errors.js';
import { PrivateKey } from './keys.js';
import * as oid from './oids.js';
import {
  decryptPrivateKeyInfo,
  encodeEncryptedPrivateKeyInfo,
  MAX_PBE_ITERATIONS,
  pbeDecrypt,
  pbePassword,
  pbes2Encrypt,
  pkcs12Kdf,
  readAlgorithmId,
  type PbePassword,
} from './pkcs8.js';

/** What importPkcs12 returns: the key, its certificate, the other certificates, and the bag attributes. */
export type Pkcs12Contents = {
  privateKey: PrivateKey;
  /** The certificate whose public key matches the private key. */
  certificate: ParsedCertificate;
  /** The other certificates, issuer order first (leaf's issuer, its issuer, …), then any unrelated ones. */
  chain: ParsedCertificate[];
  /** PKCS#9 friendlyName of the key (or of its certificate). */
  friendlyName?: string;
  /** PKCS#9 localKeyId of the key (or of its certificate). */
  localKeyId?: Uint8Array;
};

/** Options for importPkcs12. */
export type ImportPkcs12Options = {
  /**
   * Accept a PFX without a MAC (`openssl pkcs12 -nomac`). Default false: without a MAC nothing vouches
   * for the contents, and a wrong password is only noticed through padding.
   */
  allowMissingMac?: boolean;
};

/** Options for exportPkcs12. */
export type ExportPkcs12Options = {
  privateKey: PrivateKey;
  /** The certificate of `privateKey`. */
  certificate: ParsedCertificate;
  /** CA certificates to include (intermediate first). */
  chain?: readonly ParsedCertificate[];
  password: string;
  /** PKCS#9 friendlyName on the key and certificate bags (Windows shows it as the certificate's name). */
  friendlyName?: string;
  /** PBKDF2 iterations for both bags and the MAC's PKCS#12 KDF iterations; default DEFAULT_PKCS12_ITERATIONS. */
  iterations?: number;
};

/**
 * Default iteration count for exportPkcs12 (each bag's PBKDF2 and the MAC). Higher than OpenSSL's 2048,
 * and low enough that the three derivations together stay within the total-work limits some PFX
 * loaders (.NET) enforce.
 */
export const DEFAULT_PKCS12_ITERATIONS = 100_000;

/** Nesting limit for safeContentsBag recursion (attacker-controlled depth). */
const MAX_BAG_DEPTH = 4;

/** MacData digest OIDs → hash names for the PKCS#12 KDF and HMAC. */
const MAC_HASHES: Readonly<Record<string, string>> = {
  [oid.id_sha1]: 'sha1',
  [oid.id_sha256]: 'sha256',
  [oid.id_sha384]: 'sha384',
  [oid.id_sha512]: 'sha512',
  [oid.id_sm3]: 'sm3',
};

/** PBMAC1 messageAuthScheme OIDs → HMAC hash names. */
const HMAC_SCHEMES: Readonly<Record<string, string>> = {
  [oid.id_hmacWithSHA1]: 'sha1',
  [oid.id_hmacWithSHA224]: 'sha224',
  [oid.id_hmacWithSHA256]: 'sha256',
  [oid.id_hmacWithSHA384]: 'sha384',
  [oid.id_hmacWithSHA512]: 'sha512',
  [oid.id_hmac_sm3]: 'sm3',
};

const HASH_LENGTHS: Readonly<Record<string, number>> = {
  sha1: 20,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64,
  sm3: 32,
};

function wrongPassword(detail: string): DecryptError {
  return new DecryptError(`PKCS#12: wrong password or corrupted file (${detail})`);
}

function children(tlv: Tlv | undefined, tag: number, what: string): Tlv[] {
  if (!tlv || tlv.tag !== tag) throw new DecodeError(`${what}: unexpected or missing field`, tlv?.start);
  return readChildren(tlv.value);
}

/** Reads `[0] EXPLICIT` content holding exactly one value. */
function explicit0(tlv: Tlv | undefined, what: string): Tlv {
  const inner = children(tlv, 0xa0, what);
  if (inner.length !== 1) throw new DecodeError(`${what}: [0] must hold exactly one value`, tlv?.start);
  return inner[0]!;
}

function octets(tlv: Tlv | undefined, what: string): Uint8Array {
  if (!tlv || tlv.tag !== TAG.OCTET_STRING)
    throw new DecodeError(`${what}: expected OCTET STRING`, tlv?.start);
  return tlv.value;
}

/** Parses a whole DER value that was decrypted or unwrapped from an OCTET STRING. */
function innerSequence(der: Uint8Array, what: string): Tlv[] {
  checkDerStructure(der, what);
  const seq = readTlv(der, 0);
  if (seq.tag !== TAG.SEQUENCE) throw new DecodeError(`${what}: expected SEQUENCE`);
  return readChildren(seq.value);
}

// ---------------------------------------------------------------------------------------------------
// MAC

type MacData = {
  tlv: Tlv;
  digestAlg: ReturnType<typeof readAlgorithmId>;
  digest: Uint8Array;
  salt: Uint8Array;
  iterations: number;
};

function readMacData(tlv: Tlv): MacData {
  const f = children(tlv, TAG.SEQUENCE, 'MacData');
  if (f.length < 2 || f.length > 3) throw new DecodeError('MacData: wrong number of fields', tlv.start);
  const di = children(f[0], TAG.SEQUENCE, 'MacData.mac');
  if (di.length !== 2) throw new DecodeError('MacData.mac: expected DigestInfo', f[0]!.start);
  const digestAlg = readAlgorithmId(di[0]!, 'MacData.mac.digestAlgorithm');
  const digest = octets(di[1], 'MacData.mac.digest');
  const salt = octets(f[1], 'MacData.macSalt');
  let iterations = 1;
  if (f[2]) {
    const v = readUnsignedInteger(f[2], 'MacData.iterations');
    if (v < 1n) throw new DecodeError('MacData.iterations must be positive', f[2].start);
    if (v > BigInt(MAX_PBE_ITERATIONS)) {
      throw new UnsupportedError(`MacData.iterations ${v} exceeds the limit of ${MAX_PBE_ITERATIONS}`);
    }
    iterations = Number(v);
  }
  return { tlv, digestAlg, digest, salt, iterations };
}

/** PBMAC1 (RFC 9579): PBKDF2 (keyLength required) + an HMAC scheme; the password goes in as UTF-8. */
function pbmac1(mac: MacData, password: PbePassword, data: Uint8Array): Uint8Array {
  const f = children(mac.digestAlg.params, TAG.SEQUENCE, 'PBMAC1-params');
  if (f.length !== 2)
    throw new DecodeError('PBMAC1-params: expected keyDerivationFunc and messageAuthScheme');
  const kdf = readAlgorithmId(f[0]!, 'PBMAC1-params.keyDerivationFunc');
  const scheme = readAlgorithmId(f[1]!, 'PBMAC1-params.messageAuthScheme');
  if (kdf.oid !== oid.id_PBKDF2) throw new UnsupportedError(`PBMAC1: unsupported key derivation ${kdf.oid}`);
  const hmacHash = HMAC_SCHEMES[scheme.oid];
  if (!hmacHash) throw new UnsupportedError(`PBMAC1: unsupported MAC scheme ${scheme.oid}`);
  const p = children(kdf.params, TAG.SEQUENCE, 'PBMAC1 PBKDF2-params');
  if (p.length < 3 || p.length > 4) throw new DecodeError('PBMAC1 PBKDF2-params: keyLength is required');
  const salt = octets(p[0], 'PBKDF2-params.salt');
  const iterations = readUnsignedInteger(p[1]!, 'PBKDF2-params.iterationCount');
  const keyLength = readUnsignedInteger(p[2]!, 'PBKDF2-params.keyLength');
  if (iterations < 1n || iterations > BigInt(MAX_PBE_ITERATIONS)) {
    throw new UnsupportedError(`PBMAC1 iteration count ${iterations} is outside 1..${MAX_PBE_ITERATIONS}`);
  }
  if (keyLength < 1n || keyLength > 256n) throw new DecodeError('PBMAC1 keyLength out of range');
  let prf = 'sha1';
  if (p[3]) {
    const prfAlg = readAlgorithmId(p[3], 'PBKDF2-params.prf');
    const name = HMAC_SCHEMES[prfAlg.oid];
    if (!name) throw new UnsupportedError(`PBMAC1: unsupported PBKDF2 prf ${prfAlg.oid}`);
    prf = name;
  }
  const key = pbkdf2Sync(password.bytes, salt, Number(iterations), Number(keyLength), prf);
  try {
    return new Uint8Array(createHmac(hmacHash, key).update(data).digest());
  } finally {
    key.fill(0);
  }
}

/** The MAC of `data` under `mac`'s algorithm for one password encoding. */
function computeMac(mac: MacData, password: PbePassword, data: Uint8Array): Uint8Array {
  if (mac.digestAlg.oid === oid.id_PBMAC1) return pbmac1(mac, password, data);
  const hash = MAC_HASHES[mac.digestAlg.oid];
  if (!hash) throw new UnsupportedError(`PKCS#12: unsupported MAC digest algorithm ${mac.digestAlg.oid}`);
  if (mac.digestAlg.params && mac.digestAlg.params.tag !== TAG.NULL) {
    throw new DecodeError('MacData.mac.digestAlgorithm: parameters must be NULL or absent');
  }
  const key = pkcs12Kdf(hash, password.bmp, mac.salt, 'mac', mac.iterations, HASH_LENGTHS[hash]!);
  try {
    return new Uint8Array(createHmac(hash, key).update(data).digest());
  } finally {
    key.fill(0);
  }
}

/**
 * Password encodings to try, in order: the standard one (RFC 7292 B.1: UTF-16BE + 00 00; UTF-8 for
 * PBES2); for an empty password also the "no password" form (empty bytes) OpenSSL falls back to; for a
 * non-ASCII password the form OpenSSL before 1.1.0 wrote (each UTF-8 byte widened to 16 bits).
 */
function passwordCandidates(password: string): PbePassword[] {
  const standard = pbePassword(password);
  const out = [standard];
  if (password === '') out.push({ bytes: new Uint8Array(0), bmp: new Uint8Array(0) });
  if ([...password].some((ch) => ch.charCodeAt(0) > 0x7f)) {
    const utf8 = standard.bytes;
    const bmp = new Uint8Array(utf8.length * 2 + 2);
    utf8.forEach((b, i) => (bmp[2 * i + 1] = b));
    out.push({ bytes: utf8, bmp });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Import

type Attributes = { friendlyName?: string; localKeyId?: Uint8Array };
type Bags = {
  keys: { pkcs8: Uint8Array; attrs: Attributes }[];
  certs: { cert: ParsedCertificate; attrs: Attributes }[];
};

function decodeBmpString(bytes: Uint8Array): string {
  if (bytes.length % 2 !== 0) throw new DecodeError('BMPString: odd length');
  let s = '';
  for (let i = 0; i < bytes.length; i += 2) s += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
  return s;
}

function readAttributes(tlv: Tlv | undefined): Attributes {
  const out: Attributes = {};
  if (!tlv) return out;
  for (const attr of children(tlv, 0x31, 'SafeBag.bagAttributes')) {
    const f = children(attr, TAG.SEQUENCE, 'PKCS12Attribute');
    if (f.length !== 2) throw new DecodeError('PKCS12Attribute: expected attrId and attrValues', attr.start);
    const id = readOid(f[0]!, 'PKCS12Attribute.attrId');
    const values = children(f[1], 0x31, 'PKCS12Attribute.attrValues');
    if (id === oid.id_pkcs9_friendlyName && values[0]?.tag === 0x1e) {
      out.friendlyName = decodeBmpString(values[0].value);
    } else if (id === oid.id_pkcs9_localKeyId && values[0]?.tag === TAG.OCTET_STRING) {
      out.localKeyId = new Uint8Array(values[0].value);
    }
  }
  return out;
}

function readSafeContents(der: Uint8Array, password: PbePassword, bags: Bags, depth: number): void {
  if (depth > MAX_BAG_DEPTH) throw new DecodeError('PKCS#12: safeContentsBag nesting too deep');
  for (const bag of innerSequence(der, 'SafeContents')) {
    const f = children(bag, TAG.SEQUENCE, 'SafeBag');
    if (f.length < 2 || f.length > 3) throw new DecodeError('SafeBag: wrong number of fields', bag.start);
    const bagId = readOid(f[0]!, 'SafeBag.bagId');
    const value = explicit0(f[1], 'SafeBag.bagValue');
    const attrs = readAttributes(f[2]);
    if (bagId === oid.id_pkcs12_keyBag) {
      const pkcs8 = new Uint8Array(tlvBytes(value));
      bags.keys.push({ pkcs8, attrs });
    } else if (bagId === oid.id_pkcs12_pkcs8ShroudedKeyBag) {
      bags.keys.push({ pkcs8: decryptPrivateKeyInfo(tlvBytes(value), password), attrs });
    } else if (bagId === oid.id_pkcs12_certBag) {
      const c = children(value, TAG.SEQUENCE, 'CertBag');
      if (c.length !== 2) throw new DecodeError('CertBag: expected certId and certValue', value.start);
      if (readOid(c[0]!, 'CertBag.certId') !== oid.id_pkcs9_x509Certificate) continue;
      const certDer = new Uint8Array(octets(explicit0(c[1], 'CertBag.certValue'), 'CertBag.certValue'));
      bags.certs.push({ cert: ParsedCertificate.parse(certDer), attrs });
    } else if (bagId === oid.id_pkcs12_safeContentsBag) {
      readSafeContents(tlvBytes(value), password, bags, depth + 1);
    }
    // crlBag, secretBag and unknown bag types carry nothing medsign imports.
  }
}

function readEncryptedData(content: Tlv, password: PbePassword): Uint8Array {
  const ed = children(content, TAG.SEQUENCE, 'EncryptedData');
  if (ed.length < 2 || ed.length > 3)
    throw new DecodeError('EncryptedData: wrong number of fields', content.start);
  const version = readUnsignedInteger(ed[0]!, 'EncryptedData.version');
  if (version > 2n) throw new DecodeError('EncryptedData: unsupported version');
  const eci = children(ed[1], TAG.SEQUENCE, 'EncryptedContentInfo');
  if (eci.length !== 3)
    throw new DecodeError('EncryptedContentInfo: encryptedContent is missing', ed[1]!.start);
  if (readOid(eci[0]!, 'EncryptedContentInfo.contentType') !== oid.id_data) {
    throw new UnsupportedError('PKCS#12: encrypted content that is not id-data');
  }
  const alg = readAlgorithmId(eci[1]!, 'EncryptedContentInfo.contentEncryptionAlgorithm');
  if (eci[2]!.tag !== 0x80) {
    throw new DecodeError('EncryptedContentInfo.encryptedContent: expected [0] IMPLICIT OCTET STRING (DER)');
  }
  const plain = pbeDecrypt(alg, password, eci[2]!.value);
  try {
    checkDerStructure(plain, 'SafeContents');
  } catch {
    throw wrongPassword('encrypted certificate bag did not decrypt to DER');
  }
  return plain;
}

function subjectPublicKeyBits(spki: Uint8Array): Uint8Array {
  const parts = outerSequence(spki, 'SubjectPublicKeyInfo');
  return readBitStringBytes(parts[1]!, 'SubjectPublicKeyInfo.subjectPublicKey');
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The certificates other than the leaf: its issuer chain first, then the rest in file order. */
function orderChain(leaf: ParsedCertificate, others: ParsedCertificate[]): ParsedCertificate[] {
  const rest = [...others];
  const out: ParsedCertificate[] = [];
  let current = leaf;
  while (!current.isSelfIssued) {
    const i = rest.findIndex((c) => sameBytes(c.subjectDer, current.issuerDer));
    if (i < 0) break;
    current = rest.splice(i, 1)[0]!;
    out.push(current);
  }
  return [...out, ...rest];
}

/**
 * Imports a PFX (DER): checks the MAC over the exact authSafe bytes first (wrong password or tampering →
 * DecryptError), then decrypts the bags and returns the private key, the certificate that matches it,
 * the other certificates and the key's friendlyName/localKeyId.
 * DecodeError: malformed or not DER; UnsupportedError: public-key modes, an unknown PBE scheme or MAC
 * algorithm, more than one private key, or (by default) no MAC.
 */
export function importPkcs12(
  der: Uint8Array,
  password: string,
  opts: ImportPkcs12Options = {},
): Pkcs12Contents {
  if (!(der instanceof Uint8Array)) throw new TypeError('PKCS#12 input must be DER bytes');
  if (typeof password !== 'string') throw new TypeError('password must be a string');
  const top = outerSequence(der, 'PFX');
  if (top.length < 2 || top.length > 3) throw new DecodeError('PFX: expected version, authSafe and macData');
  if (readUnsignedInteger(top[0]!, 'PFX.version') !== 3n) throw new DecodeError('PFX: version must be 3');
  const ci = children(top[1], TAG.SEQUENCE, 'PFX.authSafe');
  if (ci.length < 1) throw new DecodeError('PFX.authSafe: empty ContentInfo');
  const contentType = readOid(ci[0]!, 'PFX.authSafe.contentType');
  if (contentType === oid.id_signedData) {
    throw new UnsupportedError('PKCS#12 in public-key integrity mode (signedData authSafe) is not supported');
  }
  if (contentType !== oid.id_data || ci.length !== 2)
    throw new DecodeError('PFX.authSafe: expected id-data content');
  const authSafe = octets(explicit0(ci[1], 'PFX.authSafe.content'), 'PFX.authSafe.content');

  // Integrity first: nothing inside authSafe is parsed or decrypted before the MAC matches.
  const candidates = passwordCandidates(password);
  let pw: PbePassword = candidates[0]!;
  if (top[2]) {
    const mac = readMacData(top[2]);
    const match = candidates.find((c) => {
      const expected = computeMac(mac, c, authSafe);
      return expected.length === mac.digest.length && constantTimeEqual(expected, mac.digest);
    });
    if (!match) throw wrongPassword('MAC check failed');
    pw = match;
  } else if (!opts.allowMissingMac) {
    throw new UnsupportedError('PKCS#12 file has no MAC, so its integrity cannot be checked');
  }

  const bags: Bags = { keys: [], certs: [] };
  try {
    for (const item of innerSequence(authSafe, 'AuthenticatedSafe')) {
      const f = children(item, TAG.SEQUENCE, 'AuthenticatedSafe ContentInfo');
      if (f.length !== 2) throw new DecodeError('ContentInfo: expected contentType and content', item.start);
      const type = readOid(f[0]!, 'ContentInfo.contentType');
      const content = explicit0(f[1], 'ContentInfo.content');
      if (type === oid.id_data) {
        readSafeContents(octets(content, 'ContentInfo data'), pw, bags, 0);
      } else if (type === oid.id_encryptedData) {
        const plain = readEncryptedData(content, pw);
        try {
          readSafeContents(plain, pw, bags, 0);
        } finally {
          plain.fill(0);
        }
      } else if (type === oid.id_envelopedData) {
        throw new UnsupportedError('PKCS#12 in public-key privacy mode (envelopedData) is not supported');
      } else {
        throw new UnsupportedError(`PKCS#12: unsupported ContentInfo type ${type}`);
      }
    }

    if (bags.keys.length === 0) throw new DecodeError('PKCS#12: the file holds no private key');
    if (bags.keys.length > 1) {
      throw new UnsupportedError(
        `PKCS#12: the file holds ${bags.keys.length} private keys; medsign imports one`,
      );
    }
    const keyBag = bags.keys[0]!;
    const privateKey = PrivateKey.fromPkcs8(keyBag.pkcs8);
    const keyBits = subjectPublicKeyBits(privateKey.publicKeyInfo);
    const leafIndex = bags.certs.findIndex((c) =>
      sameBytes(subjectPublicKeyBits(c.cert.publicKeyInfo), keyBits),
    );
    if (leafIndex < 0) {
      privateKey.destroy();
      throw new DecodeError('PKCS#12: no certificate in the file matches its private key');
    }
    const leaf = bags.certs[leafIndex]!;
    const chain = orderChain(
      leaf.cert,
      bags.certs.filter((_, i) => i !== leafIndex).map((c) => c.cert),
    );
    const friendlyName = keyBag.attrs.friendlyName ?? leaf.attrs.friendlyName;
    const localKeyId = keyBag.attrs.localKeyId ?? leaf.attrs.localKeyId;
    return {
      privateKey,
      certificate: leaf.cert,
      chain,
      ...(friendlyName !== undefined ? { friendlyName } : {}),
      ...(localKeyId !== undefined ? { localKeyId } : {}),
    };
  } finally {
    for (const k of bags.keys) k.pkcs8.fill(0);
  }
}

// ---------------------------------------------------------------------------------------------------
// Export

function encodeBmpString(text: string): Uint8Array {
  const out = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    out[2 * i] = text.charCodeAt(i) >> 8;
    out[2 * i + 1] = text.charCodeAt(i) & 0xff;
  }
  return encodeTlv(0x1e, out);
}

function encodeAttributes(attrs: Attributes): Uint8Array | undefined {
  const list: Uint8Array[] = [];
  if (attrs.friendlyName !== undefined) {
    list.push(
      encodeSequence(
        encodeOid(oid.id_pkcs9_friendlyName),
        encodeSetOf([encodeBmpString(attrs.friendlyName)]),
      ),
    );
  }
  if (attrs.localKeyId !== undefined) {
    list.push(
      encodeSequence(encodeOid(oid.id_pkcs9_localKeyId), encodeSetOf([encodeOctetString(attrs.localKeyId)])),
    );
  }
  return list.length ? encodeSetOf(list) : undefined;
}

function encodeSafeBag(bagId: string, value: Uint8Array, attrs: Attributes): Uint8Array {
  const encodedAttrs = encodeAttributes(attrs);
  return encodeSequence(encodeOid(bagId), encodeTlv(0xa0, value), ...(encodedAttrs ? [encodedAttrs] : []));
}

function certBag(cert: ParsedCertificate, attrs: Attributes): Uint8Array {
  const value = encodeSequence(
    encodeOid(oid.id_pkcs9_x509Certificate),
    encodeTlv(0xa0, encodeOctetString(cert.der)),
  );
  return encodeSafeBag(oid.id_pkcs12_certBag, value, attrs);
}

function dataContentInfo(content: Uint8Array): Uint8Array {
  return encodeSequence(encodeOid(oid.id_data), encodeTlv(0xa0, encodeOctetString(content)));
}

/**
 * Writes a PFX (DER) holding `privateKey`, its `certificate` and `chain`, protected by `password`:
 * PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) for the certificate ContentInfo and the shrouded key bag, an
 * HMAC-SHA256 MAC, localKeyId = SHA-1 of the certificate (as OpenSSL sets it) and the optional
 * friendlyName on the key and its certificate. RangeError when the key does not match the certificate.
 */
export function exportPkcs12(opts: ExportPkcs12Options): Uint8Array {
  const { privateKey, certificate, password } = opts;
  if (!(privateKey instanceof PrivateKey)) throw new TypeError('privateKey must be a PrivateKey');
  if (!(certificate instanceof ParsedCertificate))
    throw new TypeError('certificate must be a ParsedCertificate');
  if (typeof password !== 'string' || password.length === 0)
    throw new RangeError('password must not be empty');
  if (
    !sameBytes(
      subjectPublicKeyBits(privateKey.publicKeyInfo),
      subjectPublicKeyBits(certificate.publicKeyInfo),
    )
  ) {
    throw new RangeError('the private key does not match the certificate');
  }
  const iterations = opts.iterations ?? DEFAULT_PKCS12_ITERATIONS;
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_PBE_ITERATIONS) {
    throw new RangeError(`iterations must be an integer in 1..${MAX_PBE_ITERATIONS}`);
  }
  const pw = pbePassword(password);
  const attrs: Attributes = {
    localKeyId: new Uint8Array(createHash('sha1').update(certificate.der).digest()),
    ...(opts.friendlyName !== undefined ? { friendlyName: opts.friendlyName } : {}),
  };

  const certContents = encodeSequence(
    certBag(certificate, attrs),
    ...(opts.chain ?? []).map((c) => certBag(c, {})),
  );
  const certEnc = pbes2Encrypt(pw.bytes, certContents, { iterations });
  const encryptedData = encodeSequence(
    encodeOid(oid.id_encryptedData),
    encodeTlv(
      0xa0,
      encodeSequence(
        encodeUnsignedInteger(0n),
        encodeSequence(encodeOid(oid.id_data), certEnc.algorithm, encodeTlv(0x80, certEnc.ciphertext)),
      ),
    ),
  );

  const pkcs8 = privateKey.toPkcs8();
  let keyContents: Uint8Array;
  try {
    const keyEnc = pbes2Encrypt(pw.bytes, pkcs8, { iterations });
    keyContents = encodeSequence(
      encodeSafeBag(
        oid.id_pkcs12_pkcs8ShroudedKeyBag,
        encodeEncryptedPrivateKeyInfo(keyEnc.algorithm, keyEnc.ciphertext),
        attrs,
      ),
    );
  } finally {
    pkcs8.fill(0);
  }

  const authSafe = encodeSequence(encryptedData, dataContentInfo(keyContents));
  const macSalt = new Uint8Array(randomBytes(16));
  const macKey = pkcs12Kdf('sha256', pw.bmp, macSalt, 'mac', iterations, 32);
  const mac = new Uint8Array(createHmac('sha256', macKey).update(authSafe).digest());
  macKey.fill(0);
  const macData = encodeSequence(
    encodeSequence(
      encodeSequence(encodeOid(oid.id_sha256), encodeTlv(TAG.NULL, new Uint8Array(0))),
      encodeOctetString(mac),
    ),
    encodeOctetString(macSalt),
    encodeUnsignedInteger(BigInt(iterations)),
  );
  return encodeSequence(encodeUnsignedInteger(3n), dataContentInfo(authSafe), macData);
}
