/**
 * Raised when bytes that claim to be an encoding (DER, PEM, a ciphertext layout) are malformed.
 * `offset` points at the first byte that could not be accepted, when known.
 */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  readonly offset: number | undefined;
  constructor(message: string, offset?: number) {
    super(offset === undefined ? message : `${message} (at offset ${offset})`);
    this.offset = offset;
  }
}

/** Raised when a decryption fails its integrity check (tampered or wrong-key SM2 ciphertext, SM4-GCM tag). */
export class DecryptError extends Error {
  override readonly name = 'DecryptError';
}
