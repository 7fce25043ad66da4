/**
 * SM2 key objects: the public API for signing, verification, encryption and key encodings
 * (raw, hex, SEC1, PKCS#8, SPKI, PEM). Inputs are validated here; backends do curve work only.
 */

import {
  bytesToBigInt,
  bytesToHex,
  checkBytes,
  copyBytes,
  hexToBytes,
  toBytes,
  wipe,
  type BytesLike,
} from '../bytes.js';
import {
  encodeBitString,
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
  readWhole,
  TAG,
  type Tlv,
} from '../der.js';
import { DecodeError, DecryptError } from '../errors.js';
import { decodePem, encodePem } from '../pem.js';
import type { Sm2Backend, Sm2PrivateMaterial, Sm2PublicMaterial } from './backend.js';
import { parseSm2Ciphertext, encodeSm2Ciphertext, type Sm2CiphertextFormat } from './ciphertext.js';
import { OID, SM2_CURVE, SM2_DEFAULT_ID, SM2_SIZE } from './curve.js';
import { decodePoint, encodePoint } from './point.js';
import { activeSm2Backend } from './select.js';
import { sm2SignatureToDer, sm2SignatureToRaw } from './signature.js';
import { computeZ, digestWithZ } from './z.js';

/** Options for signing and verifying: the signer ID bound into Z (default "1234567812345678"). */
export type Sm2SignOptions = { id?: BytesLike };
export type Sm2CipherOptions = { format?: Sm2CiphertextFormat };

const DEFAULT_ID_BYTES = toBytes(SM2_DEFAULT_ID);

function isDefaultId(id: BytesLike | undefined): boolean {
  if (id === undefined || id === SM2_DEFAULT_ID) return true;
  if (typeof id === 'string') return false;
  return id.length === DEFAULT_ID_BYTES.length && id.every((b, i) => b === DEFAULT_ID_BYTES[i]);
}

function checkDigest(e: Uint8Array): Uint8Array {
  return checkBytes(e, 'digest', 32);
}

/** Per-backend key material, so that a backend switch never hands one backend another's handle. */
class MaterialSlots<M extends Sm2PublicMaterial> {
  readonly #slots = new Map<Sm2Backend, M>();
  constructor(private readonly make: () => M) {}
  get(backend: Sm2Backend): M {
    let m = this.#slots.get(backend);
    if (!m) {
      m = this.make();
      this.#slots.set(backend, m);
    }
    return m;
  }
  clear(): void {
    for (const [backend, m] of this.#slots) backend.release(m);
    this.#slots.clear();
  }
}

const ecAlgorithm = () => encodeSequence(encodeOid(OID.ecPublicKey), encodeOid(OID.sm2p256v1));

/**
 * Reads an AlgorithmIdentifier and accepts it for SM2: id-ecPublicKey with the sm2p256v1 curve, or
 * the bare sm2p256v1 OID that some older encoders used as the algorithm.
 */
function checkSm2Algorithm(tlv: Tlv, what: string): void {
  if (tlv.tag !== TAG.SEQUENCE) throw new DecodeError(`${what}: expected AlgorithmIdentifier`, tlv.start);
  const parts = readChildren(tlv.value);
  const alg = readOid(parts[0] ?? tlv, `${what}.algorithm`);
  if (
    alg === OID.ecPublicKey &&
    parts.length === 2 &&
    readOid(parts[1]!, `${what}.parameters`) === OID.sm2p256v1
  ) {
    return;
  }
  if (alg === OID.sm2p256v1 && (parts.length === 1 || (parts.length === 2 && parts[1]!.tag === TAG.NULL)))
    return;
  throw new DecodeError(`${what}: not an SM2 key (algorithm ${alg})`, tlv.start);
}

export class SM2PublicKey {
  /** 65 bytes 04‖X‖Y. */
  readonly #point: Uint8Array;
  readonly #materials: MaterialSlots<Sm2PublicMaterial>;
  #defaultZ: Uint8Array | undefined;

  private constructor(point: Uint8Array) {
    this.#point = point;
    this.#materials = new MaterialSlots(() => ({ pub: this.#point }));
  }

  /** From 65 bytes 04‖X‖Y or 33 bytes 02/03‖X; the point must lie on the curve. */
  static fromBytes(point: Uint8Array): SM2PublicKey {
    return new SM2PublicKey(encodePoint(decodePoint(point, 'SM2 public key')));
  }

  static fromHex(hex: string): SM2PublicKey {
    return SM2PublicKey.fromBytes(hexToBytes(hex));
  }

  /** From a DER SubjectPublicKeyInfo. */
  static fromSpki(der: Uint8Array): SM2PublicKey {
    checkBytes(der, 'spki');
    const seq = readWhole(der, TAG.SEQUENCE, 'SubjectPublicKeyInfo');
    const parts = readChildren(seq.value);
    if (parts.length !== 2) throw new DecodeError('SubjectPublicKeyInfo: expected two fields');
    checkSm2Algorithm(parts[0]!, 'SubjectPublicKeyInfo.algorithm');
    return SM2PublicKey.fromBytes(readBitStringBytes(parts[1]!, 'SubjectPublicKeyInfo.subjectPublicKey'));
  }

  /** From PEM "PUBLIC KEY" (SPKI). */
  static fromPem(pem: string): SM2PublicKey {
    const { label, der } = decodePem(pem);
    if (label !== 'PUBLIC KEY') throw new DecodeError(`expected a PUBLIC KEY PEM block, got ${label}`);
    return SM2PublicKey.fromSpki(der);
  }

  /** Uncompressed (65 bytes, default) or compressed (33 bytes) point. */
  toBytes(compressed = false): Uint8Array {
    return compressed ? decodePoint(this.#point).toBytes(true) : copyBytes(this.#point);
  }

  toHex(compressed = false): string {
    return bytesToHex(this.toBytes(compressed));
  }

  toSpki(): Uint8Array {
    return encodeSequence(ecAlgorithm(), encodeBitString(this.#point));
  }

  toPem(): string {
    return encodePem('PUBLIC KEY', this.toSpki());
  }

  equals(other: SM2PublicKey): boolean {
    return this.toHex() === other.toHex();
  }

  /** Z for this key and an ID (default "1234567812345678"; the default's Z is cached). */
  computeZ(id?: BytesLike): Uint8Array {
    if (isDefaultId(id)) {
      this.#defaultZ ??= computeZ(this.#point, DEFAULT_ID_BYTES, SM2_CURVE);
      return this.#defaultZ;
    }
    return computeZ(this.#point, id!, SM2_CURVE);
  }

  /** e = SM3(Z ‖ M), the value an SM2 signature over M is computed on. */
  digest(message: BytesLike, opts: Sm2SignOptions = {}): Uint8Array {
    return digestWithZ(this.computeZ(opts.id), toBytes(message, 'message'));
  }

  /**
   * Verifies a DER or raw r‖s signature over `message` with the signer ID. Returns false — never
   * throws — for any malformed signature or mismatch.
   */
  verify(message: BytesLike, signature: Uint8Array, opts: Sm2SignOptions = {}): boolean {
    let e: Uint8Array;
    try {
      e = this.digest(message, opts);
    } catch {
      return false;
    }
    return this.verifyDigest(e, signature);
  }

  /** Verifies a signature over a precomputed 32-byte e. Returns false for anything malformed. */
  verifyDigest(e: Uint8Array, signature: Uint8Array): boolean {
    try {
      checkDigest(e);
      const rs = sm2SignatureToRaw(signature);
      const r = bytesToBigInt(rs.subarray(0, SM2_SIZE));
      const s = bytesToBigInt(rs.subarray(SM2_SIZE));
      const n = SM2_CURVE.n;
      if (r < 1n || r >= n || s < 1n || s >= n || (r + s) % n === 0n) return false;
      const backend = activeSm2Backend();
      return backend.verifyDigest(this.#materials.get(backend), e, rs);
    } catch {
      return false;
    }
  }

  /** Encrypts to this key; output in GM/T 0009 DER unless another format is named. */
  encrypt(message: BytesLike, opts: Sm2CipherOptions = {}): Uint8Array {
    const m = toBytes(message, 'message');
    if (m.length === 0) throw new RangeError('message must not be empty');
    const backend = activeSm2Backend();
    const raw = backend.encrypt(this.#materials.get(backend), m);
    return encodeSm2Ciphertext(parseSm2Ciphertext(raw, 'c1c3c2'), opts.format ?? 'der');
  }

  /** Drops cached backend handles (the public point itself is not secret). */
  release(): void {
    this.#materials.clear();
  }
}

export class SM2PrivateKey {
  #d: Uint8Array;
  readonly publicKey: SM2PublicKey;
  readonly #materials: MaterialSlots<Sm2PrivateMaterial>;
  #destroyed = false;

  private constructor(d: Uint8Array, publicKey?: SM2PublicKey) {
    const value = bytesToBigInt(d);
    if (d.length !== SM2_SIZE || value < 1n || value > SM2_CURVE.n - 2n) {
      throw new RangeError('SM2 private key must be 32 bytes in [1, n-2]');
    }
    this.#d = d;
    const derived = activeSm2Backend().publicKey(d);
    const pub = SM2PublicKey.fromBytes(derived);
    if (publicKey && !publicKey.equals(pub))
      throw new DecodeError('SM2 private key does not match its public key');
    this.publicKey = pub;
    this.#materials = new MaterialSlots(() => ({ d: this.#alive(), pub: this.publicKey.toBytes() }));
  }

  #alive(): Uint8Array {
    if (this.#destroyed) throw new Error('SM2 private key was destroyed');
    return this.#d;
  }

  /** A new random key from the backend's CSPRNG. */
  static generate(): SM2PrivateKey {
    return new SM2PrivateKey(activeSm2Backend().randomPrivateKey());
  }

  /** From the 32-byte big-endian scalar (copied). */
  static fromBytes(d: Uint8Array): SM2PrivateKey {
    checkBytes(d, 'private key', SM2_SIZE);
    return new SM2PrivateKey(copyBytes(d));
  }

  static fromHex(hex: string): SM2PrivateKey {
    const bytes = hexToBytes(hex);
    try {
      return SM2PrivateKey.fromBytes(bytes);
    } finally {
      wipe(bytes);
    }
  }

  /** From a DER SEC1 ECPrivateKey (RFC 5915); curve parameters, if present, must name sm2p256v1. */
  static fromSec1(der: Uint8Array): SM2PrivateKey {
    checkBytes(der, 'sec1');
    return SM2PrivateKey.#fromEcPrivateKey(der, true);
  }

  static #fromEcPrivateKey(der: Uint8Array, needCurve: boolean): SM2PrivateKey {
    const seq = readWhole(der, TAG.SEQUENCE, 'ECPrivateKey');
    const parts = readChildren(seq.value);
    if (parts.length < 2 || readUnsignedInteger(parts[0]!, 'ECPrivateKey.version') !== 1n) {
      throw new DecodeError('ECPrivateKey: expected version 1');
    }
    const keyTlv = parts[1]!;
    if (keyTlv.tag !== TAG.OCTET_STRING || keyTlv.value.length !== SM2_SIZE) {
      throw new DecodeError('ECPrivateKey.privateKey must be a 32-byte OCTET STRING');
    }
    let sawCurve = false;
    let publicKey: SM2PublicKey | undefined;
    let lastTag = 0;
    for (const field of parts.slice(2)) {
      if (field.tag <= lastTag) throw new DecodeError('ECPrivateKey: fields out of order');
      lastTag = field.tag;
      const inner = readTlv(field.value);
      if (inner.end !== field.value.length)
        throw new DecodeError('ECPrivateKey: trailing bytes in tagged field');
      if (field.tag === 0xa0) {
        if (readOid(inner, 'ECPrivateKey.parameters') !== OID.sm2p256v1) {
          throw new DecodeError('ECPrivateKey: curve is not sm2p256v1');
        }
        sawCurve = true;
      } else if (field.tag === 0xa1) {
        publicKey = SM2PublicKey.fromBytes(readBitStringBytes(inner, 'ECPrivateKey.publicKey'));
      } else {
        throw new DecodeError(`ECPrivateKey: unexpected field tag 0x${field.tag.toString(16)}`);
      }
    }
    if (needCurve && !sawCurve) throw new DecodeError('ECPrivateKey: missing curve parameters');
    return new SM2PrivateKey(copyBytes(keyTlv.value), publicKey);
  }

  /** From a DER PKCS#8 PrivateKeyInfo / OneAsymmetricKey (unencrypted; encrypted PKCS#8 is in @medsign/pki). */
  static fromPkcs8(der: Uint8Array): SM2PrivateKey {
    checkBytes(der, 'pkcs8');
    const seq = readWhole(der, TAG.SEQUENCE, 'PrivateKeyInfo');
    const parts = readChildren(seq.value);
    if (parts.length < 3) throw new DecodeError('PrivateKeyInfo: expected at least three fields');
    const version = readUnsignedInteger(parts[0]!, 'PrivateKeyInfo.version');
    if (version > 1n) throw new DecodeError('PrivateKeyInfo: unsupported version');
    checkSm2Algorithm(parts[1]!, 'PrivateKeyInfo.privateKeyAlgorithm');
    if (parts[2]!.tag !== TAG.OCTET_STRING)
      throw new DecodeError('PrivateKeyInfo.privateKey must be an OCTET STRING');
    // RFC 5958: [0] attributes, then (version 1 only) [1] IMPLICIT BIT STRING publicKey, in that order.
    let publicKey: SM2PublicKey | undefined;
    let lastTag = 0;
    for (const extra of parts.slice(3)) {
      if (extra.tag <= lastTag) throw new DecodeError('PrivateKeyInfo: fields out of order');
      lastTag = extra.tag;
      if (extra.tag === 0x81 && version === 1n) {
        publicKey = SM2PublicKey.fromBytes(
          readBitStringBytes({ ...extra, tag: TAG.BIT_STRING }, 'OneAsymmetricKey.publicKey'),
        );
      } else if (extra.tag !== 0xa0) {
        throw new DecodeError('PrivateKeyInfo: unexpected trailing field');
      }
    }
    const key = SM2PrivateKey.#fromEcPrivateKey(parts[2]!.value, false);
    if (publicKey && !publicKey.equals(key.publicKey)) {
      key.destroy();
      throw new DecodeError('OneAsymmetricKey: publicKey does not match the private key');
    }
    return key;
  }

  /**
   * From PEM: "PRIVATE KEY" (PKCS#8) or "EC PRIVATE KEY" (SEC1). "SM2 PRIVATE KEY" is SEC1 too: OpenSSL
   * 3.0's `openssl ec` writes SM2 keys under that label.
   */
  static fromPem(pem: string): SM2PrivateKey {
    const { label, der } = decodePem(pem);
    try {
      if (label === 'PRIVATE KEY') return SM2PrivateKey.fromPkcs8(der);
      if (label === 'EC PRIVATE KEY' || label === 'SM2 PRIVATE KEY') return SM2PrivateKey.fromSec1(der);
      if (label === 'ENCRYPTED PRIVATE KEY')
        throw new DecodeError('encrypted private keys need @medsign/pki');
      throw new DecodeError(`expected a PRIVATE KEY or EC PRIVATE KEY PEM block, got ${label}`);
    } finally {
      wipe(der);
    }
  }

  /** A copy of the 32-byte scalar. Handle with care: the caller owns wiping it. */
  toBytes(): Uint8Array {
    return copyBytes(this.#alive());
  }

  toHex(): string {
    return bytesToHex(this.#alive());
  }

  #ecPrivateKey(withCurve: boolean): Uint8Array {
    const fields = [encodeUnsignedInteger(1n), encodeOctetString(this.#alive())];
    if (withCurve) fields.push(encodeTlv(0xa0, encodeOid(OID.sm2p256v1)));
    fields.push(encodeTlv(0xa1, encodeBitString(this.publicKey.toBytes())));
    return encodeSequence(...fields);
  }

  /** SEC1 ECPrivateKey DER, as `openssl ec` writes it (curve and public key included). */
  toSec1(): Uint8Array {
    return this.#ecPrivateKey(true);
  }

  /** PKCS#8 PrivateKeyInfo DER, as `openssl genpkey -algorithm SM2` writes it. */
  toPkcs8(): Uint8Array {
    return encodeSequence(
      encodeUnsignedInteger(0n),
      ecAlgorithm(),
      encodeOctetString(this.#ecPrivateKey(false)),
    );
  }

  /** PEM "PRIVATE KEY" (PKCS#8, default) or "EC PRIVATE KEY" (SEC1). */
  toPem(format: 'pkcs8' | 'sec1' = 'pkcs8'): string {
    const der = format === 'sec1' ? this.toSec1() : this.toPkcs8();
    try {
      return encodePem(format === 'sec1' ? 'EC PRIVATE KEY' : 'PRIVATE KEY', der);
    } finally {
      wipe(der);
    }
  }

  /** Signs SM3(Z ‖ message) and returns the DER signature. */
  sign(message: BytesLike, opts: Sm2SignOptions = {}): Uint8Array {
    return this.signDigest(this.publicKey.digest(message, opts));
  }

  /** Signs a precomputed 32-byte e (from `publicKey.digest`) and returns the DER signature. */
  signDigest(e: Uint8Array): Uint8Array {
    checkDigest(e);
    const backend = activeSm2Backend();
    return sm2SignatureToDer(backend.signDigest(this.#materials.get(backend), e));
  }

  /** Decrypts a ciphertext (GM/T 0009 DER unless another format is named); throws DecryptError if it fails. */
  decrypt(ciphertext: Uint8Array, opts: Sm2CipherOptions = {}): Uint8Array {
    const parts = parseSm2Ciphertext(ciphertext, opts.format ?? 'der');
    let c1: Uint8Array;
    try {
      c1 = encodePoint(decodePoint(parts.c1, 'C1'));
    } catch {
      throw new DecryptError('SM2 decryption failed');
    }
    const backend = activeSm2Backend();
    const m = backend.decrypt(this.#materials.get(backend), encodeSm2Ciphertext({ ...parts, c1 }, 'c1c3c2'));
    if (!m) throw new DecryptError('SM2 decryption failed');
    return m;
  }

  /** Wipes the scalar and frees backend handles; the object is unusable afterwards. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#materials.clear();
    wipe(this.#d);
    this.#destroyed = true;
  }
}
