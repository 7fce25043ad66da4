/**
 * Signature and digest algorithms: names, AlgorithmIdentifiers (what we emit, what we accept) and
 * digests. SM3withSM2 is emitted with absent parameters and accepted with absent or NULL (gm-standards §1.1).
 */

import { createHash } from 'node:crypto';
import { sm3 } from '@medsign/gm';
import { AsnConvert } from '@peculiar/asn1-schema';
import { RsaSaPssParams } from '@peculiar/asn1-rsa';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { DecodeError, UnsupportedError } from './errors.js';
import * as oid from './oids.js';

export type HashName = 'sm3' | 'sha256' | 'sha384' | 'sha512';

export type SignatureAlgorithmName =
  | 'SM3withSM2'
  | 'SHA256withRSA'
  | 'SHA384withRSA'
  | 'SHA512withRSA'
  | 'SHA256withRSAPSS'
  | 'SHA384withRSAPSS'
  | 'SHA512withRSAPSS'
  | 'SHA256withECDSA'
  | 'SHA384withECDSA'
  | 'SHA512withECDSA';

/** The key family a signature algorithm needs. */
export type KeyFamily = 'sm2' | 'rsa' | 'ec';

type SignatureAlgorithmInfo = { oid: string; hash: HashName; key: KeyFamily; pss?: true; nullParams?: true };

export const SIGNATURE_ALGORITHMS: Readonly<Record<SignatureAlgorithmName, SignatureAlgorithmInfo>> = {
  SM3withSM2: { oid: oid.id_sm2_with_sm3, hash: 'sm3', key: 'sm2' },
  SHA256withRSA: { oid: oid.id_sha256WithRSAEncryption, hash: 'sha256', key: 'rsa', nullParams: true },
  SHA384withRSA: { oid: oid.id_sha384WithRSAEncryption, hash: 'sha384', key: 'rsa', nullParams: true },
  SHA512withRSA: { oid: oid.id_sha512WithRSAEncryption, hash: 'sha512', key: 'rsa', nullParams: true },
  SHA256withRSAPSS: { oid: oid.id_RSASSA_PSS, hash: 'sha256', key: 'rsa', pss: true },
  SHA384withRSAPSS: { oid: oid.id_RSASSA_PSS, hash: 'sha384', key: 'rsa', pss: true },
  SHA512withRSAPSS: { oid: oid.id_RSASSA_PSS, hash: 'sha512', key: 'rsa', pss: true },
  SHA256withECDSA: { oid: oid.id_ecdsa_with_SHA256, hash: 'sha256', key: 'ec' },
  SHA384withECDSA: { oid: oid.id_ecdsa_with_SHA384, hash: 'sha384', key: 'ec' },
  SHA512withECDSA: { oid: oid.id_ecdsa_with_SHA512, hash: 'sha512', key: 'ec' },
};

export const HASH_OIDS: Readonly<Record<HashName, string>> = {
  sm3: oid.id_sm3,
  sha256: oid.id_sha256,
  sha384: oid.id_sha384,
  sha512: oid.id_sha512,
};

const HASH_LENGTHS: Readonly<Record<HashName, number>> = { sm3: 32, sha256: 32, sha384: 48, sha512: 64 };

/** Digest of `data` with a named hash. */
export function digest(hash: HashName, data: Uint8Array): Uint8Array {
  if (hash === 'sm3') return sm3(data);
  return new Uint8Array(createHash(hash).update(data).digest());
}

export function hashLength(hash: HashName): number {
  return HASH_LENGTHS[hash];
}

const NULL_PARAMS = new Uint8Array([0x05, 0x00]).buffer;

function isNullOrAbsent(params: ArrayBuffer | null | undefined): boolean {
  if (params === undefined || params === null) return true;
  const b = new Uint8Array(params);
  return b.length === 2 && b[0] === 0x05 && b[1] === 0x00;
}

/** The AlgorithmIdentifier of a hash (parameters absent, as RFC 5754 prefers). */
export function hashAlgorithmIdentifier(hash: HashName): AlgorithmIdentifier {
  return new AlgorithmIdentifier({ algorithm: HASH_OIDS[hash] });
}

/** The hash an AlgorithmIdentifier names (parameters absent or NULL); UnsupportedError for any other. */
export function identifyHash(alg: AlgorithmIdentifier): HashName {
  const found = (Object.keys(HASH_OIDS) as HashName[]).find((h) => HASH_OIDS[h] === alg.algorithm);
  if (!found) throw new UnsupportedError(`unsupported digest algorithm ${alg.algorithm}`);
  if (!isNullOrAbsent(alg.parameters))
    throw new DecodeError(`digest algorithm ${alg.algorithm} has unexpected parameters`);
  return found;
}

/** The AlgorithmIdentifier we emit for a signature algorithm. */
export function signatureAlgorithmIdentifier(name: SignatureAlgorithmName): AlgorithmIdentifier {
  const info = SIGNATURE_ALGORITHMS[name];
  if (!info) throw new RangeError(`unknown signature algorithm ${String(name)}`);
  if (info.pss) {
    const hashAlg = new AlgorithmIdentifier({ algorithm: HASH_OIDS[info.hash], parameters: NULL_PARAMS });
    const params = new RsaSaPssParams({
      hashAlgorithm: hashAlg,
      maskGenAlgorithm: new AlgorithmIdentifier({
        algorithm: oid.id_mgf1,
        parameters: AsnConvert.serialize(hashAlg),
      }),
      saltLength: HASH_LENGTHS[info.hash],
    });
    return new AlgorithmIdentifier({ algorithm: info.oid, parameters: AsnConvert.serialize(params) });
  }
  return new AlgorithmIdentifier({
    algorithm: info.oid,
    ...(info.nullParams ? { parameters: NULL_PARAMS } : {}),
  });
}

const signatureDer = new Map<SignatureAlgorithmName, Uint8Array>();
const hashDer = new Map<HashName, Uint8Array>();

/**
 * DER of `signatureAlgorithmIdentifier(name)`, encoded once per process: the schema serializer costs
 * more than an SM2 signature's own arithmetic budget allows on the signing hot path. Do not mutate.
 */
export function signatureAlgorithmDer(name: SignatureAlgorithmName): Uint8Array {
  let der = signatureDer.get(name);
  if (!der)
    signatureDer.set(name, (der = new Uint8Array(AsnConvert.serialize(signatureAlgorithmIdentifier(name)))));
  return der;
}

/** DER of `hashAlgorithmIdentifier(hash)`, encoded once per process. Do not mutate. */
export function hashAlgorithmDer(hash: HashName): Uint8Array {
  let der = hashDer.get(hash);
  if (!der) hashDer.set(hash, (der = new Uint8Array(AsnConvert.serialize(hashAlgorithmIdentifier(hash)))));
  return der;
}

/** What an AlgorithmIdentifier of a signature means; PSS carries its salt length. */
export type SignatureAlgorithm = { name: SignatureAlgorithmName; saltLength?: number };

/**
 * Maps a signature AlgorithmIdentifier to a name. Accepts SM3withSM2 (501) and, when `allowSm2Sign`
 * is set (CMS SignerInfo.signatureAlgorithm per GM/T 0010), the bare sm2-1 OID.
 */
export function identifySignatureAlgorithm(
  alg: AlgorithmIdentifier,
  opts: { allowSm2Sign?: boolean } = {},
): SignatureAlgorithm {
  if (alg.algorithm === oid.id_sm2_with_sm3 || (opts.allowSm2Sign && alg.algorithm === oid.id_sm2_1)) {
    if (!isNullOrAbsent(alg.parameters))
      throw new DecodeError('SM3withSM2 AlgorithmIdentifier has parameters');
    return { name: 'SM3withSM2' };
  }
  if (alg.algorithm === oid.id_RSASSA_PSS) {
    if (!alg.parameters) throw new DecodeError('RSASSA-PSS AlgorithmIdentifier without parameters');
    const params = AsnConvert.parse(alg.parameters, RsaSaPssParams);
    const hash = identifyHash(params.hashAlgorithm);
    if (params.maskGenAlgorithm.algorithm !== oid.id_mgf1 || !params.maskGenAlgorithm.parameters) {
      throw new UnsupportedError('RSASSA-PSS with a mask generation function other than MGF1');
    }
    const mgfHash = identifyHash(AsnConvert.parse(params.maskGenAlgorithm.parameters, AlgorithmIdentifier));
    if (mgfHash !== hash) throw new UnsupportedError('RSASSA-PSS with different message and MGF1 hashes');
    if (params.trailerField !== 1) throw new DecodeError('RSASSA-PSS trailerField must be 1');
    if (hash === 'sm3') throw new UnsupportedError('RSASSA-PSS with SM3');
    return {
      name: `${hash.toUpperCase()}withRSAPSS` as SignatureAlgorithmName,
      saltLength: params.saltLength,
    };
  }
  for (const [name, info] of Object.entries(SIGNATURE_ALGORITHMS) as [
    SignatureAlgorithmName,
    SignatureAlgorithmInfo,
  ][]) {
    if (info.oid !== alg.algorithm || info.pss) continue;
    // RSA PKCS#1 v1.5 takes NULL (RFC 4055 allows absent too); ECDSA takes absent (RFC 5758), NULL tolerated.
    if (!isNullOrAbsent(alg.parameters))
      throw new DecodeError(`${name} AlgorithmIdentifier has unexpected parameters`);
    return { name };
  }
  throw new UnsupportedError(`unsupported signature algorithm ${alg.algorithm}`);
}

/** True when two AlgorithmIdentifiers encode identically (RFC 5280 §4.1.1.2: outer must equal inner). */
export function sameAlgorithmIdentifier(a: AlgorithmIdentifier, b: AlgorithmIdentifier): boolean {
  const x = new Uint8Array(AsnConvert.serialize(a));
  const y = new Uint8Array(AsnConvert.serialize(b));
  return x.length === y.length && x.every((v, i) => v === y[i]);
}
