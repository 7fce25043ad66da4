/**
 * The SM2 recommended curve sm2p256v1 (GB/T 32918.5 / GM/T 0003.5): y² = x³ + ax + b over F_p, h = 1.
 * Also the Fp-256 test curve of GB/T 32918.2/.4 Annex A, used only to check the standard's examples.
 */

export type CurveParams = {
  readonly name: string;
  readonly p: bigint;
  readonly a: bigint;
  readonly b: bigint;
  readonly n: bigint;
  readonly Gx: bigint;
  readonly Gy: bigint;
};

export const SM2_CURVE: CurveParams = {
  name: 'sm2p256v1',
  p: 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn,
  a: 0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffcn,
  b: 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n,
  n: 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n,
  Gx: 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n,
  Gy: 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n,
};

/** GB/T 32918 Annex A "Fp-256" example curve. Never for production keys. */
export const SM2_TEST_CURVE: CurveParams = {
  name: 'gbt32918-annex-fp256',
  p: 0x8542d69e4c044f18e8b92435bf6ff7de457283915c45517d722edb8b08f1dfc3n,
  a: 0x787968b4fa32c3fd2417842e73bbfeff2f3c848b6831d7e0ec65228b3937e498n,
  b: 0x63e4c6d3b23b0c849cf84241484bfe48f61d59a5b16ba06e6e12d1da27c5249an,
  n: 0x8542d69e4c044f18e8b92435bf6ff7dd297720630485628d5ae74ee7c32e79b7n,
  Gx: 0x421debd61b62eab6746434ebc3cc315e32220b3badd50bdc4c4e6c147fedd43dn,
  Gy: 0x0680512bcbb42c07d47349d2153b70c4e5d7fdfcbfa36ea1a85841b9e46e09a2n,
};

/** Field element and scalar size in bytes. */
export const SM2_SIZE = 32;
/** Default signer ID of GM/T 0009: ASCII "1234567812345678". */
export const SM2_DEFAULT_ID = '1234567812345678';

/** OIDs used by gm's own key encodings (the full table lives in @medsign/pki). */
export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  sm2p256v1: '1.2.156.10197.1.301',
} as const;
