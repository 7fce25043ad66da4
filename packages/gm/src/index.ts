/**
 * @medsign/gm — the Chinese commercial cryptography core: SM2 (GB/T 32918), SM3 (GB/T 32905),
 * HMAC-SM3, the SM2 KDF and SM4 (GB/T 32907) in ECB/CBC/CTR/GCM.
 */

export * from './sm2/index.js';
export { sm3, SM3, hmacSm3, sm2Kdf, SM3_DIGEST_LENGTH } from './sm3.js';
export {
  sm4Encrypt,
  sm4Decrypt,
  SM4_KEY_LENGTH,
  SM4_BLOCK_LENGTH,
  SM4_GCM_TAG_LENGTH,
  type Sm4Mode,
  type Sm4Options,
} from './sm4.js';
export { DecodeError, DecryptError } from './errors.js';
export {
  bytesToHex,
  hexToBytes,
  concatBytes,
  copyBytes,
  constantTimeEqual,
  type BytesLike,
} from './bytes.js';
export { encodePem, decodePem, decodePemBlocks } from './pem.js';
