/**
 * SM2 public-key cryptography (GB/T 32918): keys, signatures with the user-ID binding Z, encryption,
 * and the encodings other systems use. `SM2PrivateKey` / `SM2PublicKey` are the entry points.
 */

export { SM2PrivateKey, SM2PublicKey, type Sm2SignOptions, type Sm2CipherOptions } from './keys.js';
export { SM2_CURVE, SM2_DEFAULT_ID, SM2_SIZE } from './curve.js';
export { computeZ, SM2_MAX_ID_LENGTH } from './z.js';
export { sm2SignatureToDer, sm2SignatureFromDer, sm2SignatureToRaw } from './signature.js';
export {
  convertSm2Ciphertext,
  parseSm2Ciphertext,
  encodeSm2Ciphertext,
  SM2_CIPHERTEXT_FORMATS,
  type Sm2CiphertextFormat,
  type Sm2CiphertextParts,
} from './ciphertext.js';
export { activeSm2Backend, useSm2Backend, getSm2Backend, type Sm2BackendName } from './select.js';
export { Sm2SignerPool, type Sm2SignerPoolOptions } from './pool.js';
