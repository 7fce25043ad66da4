/**
 * Keys for SM2, RSA and ECDSA (P-256, P-384): software private keys, the `Signer` port that CA, TSA and
 * signing services sign through (so keys can live in a keystore, USB key or HSM later), and signature
 * verification against a SubjectPublicKeyInfo. SM2 goes through @medsign/gm — never Node's crypto,
 * which signs SM2 with an empty ID.
 */

import {
  constants,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import {
  DecodeError,
  decodePem,
  encodePem,
  SM2PrivateKey,
  SM2PublicKey,
  type BytesLike,
  type Sm2SignerPool,
} from '@medsign/gm';
import {
  checkDerStructure,
  readBitStringBytes,
  readChildren,
  readOid,
  readWhole,
  TAG,
} from '@medsign/gm/der';
import { AsnConvert } from '@peculiar/asn1-schema';
import { PrivateKeyInfo } from '@peculiar/asn1-pkcs8';
import {
  SIGNATURE_ALGORITHMS,
  type KeyFamily,
  type SignatureAlgorithm,
  type SignatureAlgorithmName,
} from './algorithms.js';
import { UnsupportedError } from './errors.js';
import * as oid from './oids.js';

/** Key types medsign generates and accepts. */
export type KeyType = 'sm2' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096' | 'ec-p256' | 'ec-p384';

/**
 * Signs on behalf of one key. `sign` receives the exact bytes to be signed (a TBS structure, signed
 * attributes, …) and returns the signature value as it goes into the structure (DER for SM2 and ECDSA).
 */
export interface Signer {
  readonly algorithm: SignatureAlgorithmName;
  /** DER SubjectPublicKeyInfo of the signing key. */
  readonly publicKeyInfo: Uint8Array;
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** What a SubjectPublicKeyInfo holds. */
export type PublicKeyDescription = {
  family: KeyFamily;
  curve?: 'sm2p256v1' | 'P-256' | 'P-384';
  bits: number;
};

/** The named curve in ECParameters, if that is what the parameters hold. */
function curveOf(params: ArrayBuffer | Uint8Array | null | undefined): string | undefined {
  if (!params) return undefined;
  try {
    return readOid(readWhole(new Uint8Array(params), TAG.OID, 'ECParameters'), 'ECParameters.namedCurve');
  } catch {
    return undefined;
  }
}

/** The parts of a DER SubjectPublicKeyInfo. */
export type SpkiParts = {
  /** AlgorithmIdentifier.algorithm (dotted OID). */
  algorithm: string;
  /** AlgorithmIdentifier.parameters as a whole TLV, if present. */
  parameters?: Uint8Array;
  /** The subjectPublicKey BIT STRING's bytes. */
  publicKey: Uint8Array;
};

/**
 * Reads a SubjectPublicKeyInfo with the DER reader (strict DER, no trailing bytes): SEQUENCE {
 * SEQUENCE { OID, parameters OPTIONAL }, BIT STRING without unused bits }. DecodeError otherwise.
 * Cheaper than the schema parser, and the CA reads the subject key several times per issuance.
 */
export function readSpki(spki: Uint8Array): SpkiParts {
  checkDerStructure(spki, 'SubjectPublicKeyInfo');
  const top = readWhole(spki, TAG.SEQUENCE, 'SubjectPublicKeyInfo');
  const parts = readChildren(top.value);
  if (parts.length !== 2 || parts[0]!.tag !== TAG.SEQUENCE)
    throw new DecodeError('SubjectPublicKeyInfo: expected AlgorithmIdentifier and BIT STRING');
  const alg = readChildren(parts[0]!.value);
  if (alg.length < 1 || alg.length > 2)
    throw new DecodeError('SubjectPublicKeyInfo: malformed AlgorithmIdentifier');
  const algorithm = readOid(alg[0]!, 'SubjectPublicKeyInfo.algorithm');
  const publicKey = readBitStringBytes(parts[1]!, 'SubjectPublicKeyInfo.subjectPublicKey');
  const p = alg[1];
  return {
    algorithm,
    ...(p ? { parameters: parts[0]!.value.subarray(p.start, p.end) } : {}),
    publicKey,
  };
}

/** Describes an SPKI; UnsupportedError for key types medsign does not handle. */
export function describePublicKey(spki: Uint8Array): PublicKeyDescription {
  // Malformed keys (attacker bytes in a received certificate) are DecodeErrors, not library errors.
  const info = readSpki(spki);
  const alg = info.algorithm;
  if (alg === oid.id_rsaEncryption) {
    let key: KeyObject;
    try {
      key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    } catch (e) {
      throw new DecodeError(`unreadable RSA public key: ${(e as Error).message}`);
    }
    return { family: 'rsa', bits: key.asymmetricKeyDetails?.modulusLength ?? 0 };
  }
  if (alg === oid.id_ecPublicKey || alg === oid.id_sm2p256v1) {
    const curve = alg === oid.id_sm2p256v1 ? oid.id_sm2p256v1 : curveOf(info.parameters);
    if (curve === oid.id_sm2p256v1) return { family: 'sm2', curve: 'sm2p256v1', bits: 256 };
    if (curve === oid.id_prime256v1) return { family: 'ec', curve: 'P-256', bits: 256 };
    if (curve === oid.id_secp384r1) return { family: 'ec', curve: 'P-384', bits: 384 };
    throw new UnsupportedError(`unsupported elliptic curve ${curve ?? '(none)'}`);
  }
  throw new UnsupportedError(`unsupported public key algorithm ${alg}`);
}

type CachedPublicKey = { description: PublicKeyDescription; sm2?: SM2PublicKey; node?: KeyObject };
const publicKeys = new Map<string, CachedPublicKey>();
const PUBLIC_KEY_CACHE_SIZE = 512;

/**
 * A parsed public key for an SPKI, from a small LRU cache: CA, TSA and doctors' keys are verified again
 * and again, and parsing an SPKI (plus building the native key) costs as much as a verification.
 */
function publicKeyFor(spki: Uint8Array): CachedPublicKey {
  const id = Buffer.from(spki).toString('base64');
  let entry = publicKeys.get(id);
  if (entry) {
    publicKeys.delete(id);
  } else {
    const description = describePublicKey(spki);
    entry =
      description.family === 'sm2'
        ? { description, sm2: SM2PublicKey.fromSpki(spki) }
        : { description, node: createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }) };
    if (publicKeys.size >= PUBLIC_KEY_CACHE_SIZE) publicKeys.delete(publicKeys.keys().next().value!);
  }
  publicKeys.set(id, entry);
  return entry;
}

/** Options for SM2 verification: the signer ID (default "1234567812345678"). */
export type VerifyOptions = { sm2Id?: BytesLike };

/**
 * Verifies `signature` over `data` with the key in `spki`. Returns false — never throws — for a
 * malformed key or signature, a key that does not fit the algorithm, or a mismatch.
 */
export function verifySignature(
  spki: Uint8Array,
  algorithm: SignatureAlgorithm | SignatureAlgorithmName,
  data: Uint8Array,
  signature: Uint8Array,
  opts: VerifyOptions = {},
): boolean {
  try {
    const alg = typeof algorithm === 'string' ? { name: algorithm } : algorithm;
    const info = SIGNATURE_ALGORITHMS[alg.name];
    const { description: key, sm2, node: publicKey } = publicKeyFor(spki);
    if (!info || key.family !== info.key) return false;
    if (sm2) return sm2.verify(data, signature, opts.sm2Id === undefined ? {} : { id: opts.sm2Id });
    if (key.family === 'rsa') {
      const padding = info.pss
        ? {
            padding: constants.RSA_PKCS1_PSS_PADDING,
            saltLength: alg.saltLength ?? constants.RSA_PSS_SALTLEN_AUTO,
          }
        : { padding: constants.RSA_PKCS1_PADDING };
      return nodeVerify(info.hash, data, { key: publicKey!, ...padding }, signature);
    }
    return nodeVerify(info.hash, data, { key: publicKey!, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

/**
 * {@link verifySignature}, with SM2 checked on `sm2Pool`'s worker threads when one is given (another core;
 * the same answer). Resolves false — never rejects — like verifySignature.
 */
export async function verifySignatureAsync(
  spki: Uint8Array,
  algorithm: SignatureAlgorithm | SignatureAlgorithmName,
  data: Uint8Array,
  signature: Uint8Array,
  opts: VerifyOptions & { sm2Pool?: Sm2SignerPool } = {},
): Promise<boolean> {
  const { sm2Pool, ...rest } = opts;
  if (!sm2Pool) return verifySignature(spki, algorithm, data, signature, rest);
  try {
    const name = typeof algorithm === 'string' ? algorithm : algorithm.name;
    const info = SIGNATURE_ALGORITHMS[name];
    const { description, sm2 } = publicKeyFor(spki);
    if (!info || description.family !== info.key) return false;
    if (!sm2) return verifySignature(spki, algorithm, data, signature, rest);
    return await sm2Pool.verify(sm2, data, signature, rest.sm2Id === undefined ? {} : { id: rest.sm2Id });
  } catch {
    return false;
  }
}

/**
 * A software private key (SM2, RSA or ECDSA). Key bytes stay inside; `signer()` hands out the
 * signing capability, `toPkcs8()` / `toPem()` export it deliberately.
 */
export class PrivateKey {
  readonly #sm2: SM2PrivateKey | undefined;
  readonly #node: KeyObject | undefined;
  readonly publicKeyInfo: Uint8Array;
  readonly description: PublicKeyDescription;

  private constructor(sm2: SM2PrivateKey | undefined, node: KeyObject | undefined) {
    this.#sm2 = sm2;
    this.#node = node;
    this.publicKeyInfo = sm2
      ? sm2.publicKey.toSpki()
      : new Uint8Array(createPublicKey(node!).export({ format: 'der', type: 'spki' }));
    this.description = describePublicKey(this.publicKeyInfo);
  }

  static generate(type: KeyType): PrivateKey {
    switch (type) {
      case 'sm2':
        return new PrivateKey(SM2PrivateKey.generate(), undefined);
      case 'rsa-2048':
      case 'rsa-3072':
      case 'rsa-4096':
        return new PrivateKey(
          undefined,
          generateKeyPairSync('rsa', { modulusLength: Number(type.slice(4)) }).privateKey,
        );
      case 'ec-p256':
      case 'ec-p384':
        return new PrivateKey(
          undefined,
          generateKeyPairSync('ec', { namedCurve: type === 'ec-p256' ? 'prime256v1' : 'secp384r1' })
            .privateKey,
        );
      default:
        throw new RangeError(`unknown key type ${String(type)}`);
    }
  }

  /** From unencrypted PKCS#8 DER (SM2, RSA or EC). */
  static fromPkcs8(der: Uint8Array): PrivateKey {
    const info = AsnConvert.parse(der, PrivateKeyInfo);
    const alg = info.privateKeyAlgorithm;
    const isSm2 =
      alg.algorithm === oid.id_sm2p256v1 ||
      (alg.algorithm === oid.id_ecPublicKey && curveOf(alg.parameters) === oid.id_sm2p256v1);
    if (isSm2) return new PrivateKey(SM2PrivateKey.fromPkcs8(der), undefined);
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
    } catch (e) {
      throw new DecodeError(`unreadable PKCS#8 private key: ${(e as Error).message}`);
    }
    return new PrivateKey(undefined, key);
  }

  /** From PEM: PKCS#8 "PRIVATE KEY", or SEC1 "EC PRIVATE KEY" / "SM2 PRIVATE KEY", or "RSA PRIVATE KEY". */
  static fromPem(pem: string): PrivateKey {
    const { label, der } = decodePem(pem);
    if (label === 'PRIVATE KEY') return PrivateKey.fromPkcs8(der);
    if (label === 'SM2 PRIVATE KEY') return new PrivateKey(SM2PrivateKey.fromSec1(der), undefined);
    if (label === 'EC PRIVATE KEY') {
      try {
        return new PrivateKey(SM2PrivateKey.fromSec1(der), undefined);
      } catch {
        return new PrivateKey(
          undefined,
          createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'sec1' }),
        );
      }
    }
    if (label === 'RSA PRIVATE KEY') {
      return new PrivateKey(
        undefined,
        createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs1' }),
      );
    }
    throw new DecodeError(`expected a private key PEM block, got ${label}`);
  }

  /** The signature algorithm this key signs with unless told otherwise. */
  get defaultAlgorithm(): SignatureAlgorithmName {
    const { family, curve } = this.description;
    if (family === 'sm2') return 'SM3withSM2';
    if (family === 'rsa') return 'SHA256withRSA';
    return curve === 'P-384' ? 'SHA384withECDSA' : 'SHA256withECDSA';
  }

  toPkcs8(): Uint8Array {
    if (this.#sm2) return this.#sm2.toPkcs8();
    return new Uint8Array(this.#node!.export({ format: 'der', type: 'pkcs8' }));
  }

  toPem(): string {
    return encodePem('PRIVATE KEY', this.toPkcs8());
  }

  /**
   * A Signer for this key; the algorithm must fit the key (e.g. no SHA256withRSA for an SM2 key). With
   * `sm2Pool`, an SM2 key signs on the pool's worker threads (another core), the same signature bytes
   * the main thread would make; other key types ignore it.
   */
  signer(
    algorithm: SignatureAlgorithmName = this.defaultAlgorithm,
    opts: { sm2Pool?: Sm2SignerPool } = {},
  ): Signer {
    const info = SIGNATURE_ALGORITHMS[algorithm];
    if (!info) throw new RangeError(`unknown signature algorithm ${String(algorithm)}`);
    if (info.key !== this.description.family) {
      throw new RangeError(`${algorithm} does not fit a ${this.description.family} key`);
    }
    const sm2 = this.#sm2;
    const node = this.#node;
    const signOnce = (data: Uint8Array): Uint8Array => {
      if (sm2) return sm2.sign(data);
      if (info.key === 'rsa') {
        const padding = info.pss
          ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
          : { padding: constants.RSA_PKCS1_PADDING };
        return new Uint8Array(nodeSign(info.hash, data, { key: node!, ...padding }));
      }
      return new Uint8Array(nodeSign(info.hash, data, { key: node!, dsaEncoding: 'der' }));
    };
    const pool = sm2 ? opts.sm2Pool : undefined;
    return {
      algorithm,
      publicKeyInfo: this.publicKeyInfo,
      sign: pool ? (data) => pool.sign(sm2!, data) : async (data) => signOnce(data),
    };
  }

  /** Wipes SM2 key bytes (Node KeyObjects cannot be wiped from JS; they are released with the object). */
  destroy(): void {
    this.#sm2?.destroy();
  }
}
