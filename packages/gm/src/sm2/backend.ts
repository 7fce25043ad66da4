/**
 * The contract both SM2 implementations fulfil. The public API (keys.ts, index.ts) validates every
 * input, computes Z and e = SM3(Z ‖ M) and converts encodings; a backend only does the curve work.
 */

/**
 * A validated private key: d ∈ [1, n−2] (32 bytes) and its public point (65 bytes, 04‖X‖Y).
 * A material object is only ever handed to one backend (keys.ts keeps one per backend), so `handle`
 * always holds that backend's own cache.
 */
export interface Sm2PrivateMaterial {
  readonly d: Uint8Array;
  readonly pub: Uint8Array;
  /** Backend-private cache slot (e.g. a native EVP_PKEY handle); never serialised. */
  handle?: unknown;
}

/** A validated public key: 65 bytes 04‖X‖Y, on the curve, not the point at infinity. */
export interface Sm2PublicMaterial {
  readonly pub: Uint8Array;
  handle?: unknown;
}

export interface Sm2Backend {
  readonly name: 'native' | 'portable';
  /** A fresh uniformly random private scalar d ∈ [1, n−2], 32 bytes big-endian, from a CSPRNG. */
  randomPrivateKey(): Uint8Array;
  /** d·G, 65 bytes uncompressed. `d` is already range-checked. */
  publicKey(d: Uint8Array): Uint8Array;
  /** Checks that 65-byte 04‖X‖Y has coordinates in [0, p−1] and lies on the curve. */
  isValidPublicKey(pub: Uint8Array): boolean;
  /** GB/T 32918.2 §6.1 steps A2–A7 over a 32-byte digest e; returns raw r‖s (64 bytes). */
  signDigest(key: Sm2PrivateMaterial, e: Uint8Array): Uint8Array;
  /** §7.1 steps B3–B7; r and s are already checked to be in [1, n−1]. Never throws. */
  verifyDigest(key: Sm2PublicMaterial, e: Uint8Array, rs: Uint8Array): boolean;
  /** GB/T 32918.4 §6.1; returns C1 ‖ C3 ‖ C2 with C1 uncompressed (97 + |M| bytes). */
  encrypt(key: Sm2PublicMaterial, message: Uint8Array): Uint8Array;
  /** §7.1 over C1 ‖ C3 ‖ C2 (C1 uncompressed); returns undefined when C1 is invalid or C3 does not match. */
  decrypt(key: Sm2PrivateMaterial, ciphertext: Uint8Array): Uint8Array | undefined;
  /** Frees any cached handle; the caller wipes d. */
  release(key: Sm2PrivateMaterial | Sm2PublicMaterial): void;
}
