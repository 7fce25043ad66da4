/**
 * Byte helpers for secrets. @medsign/gm keeps its own `copyBytes` / `wipe` internal (not exported), so
 * the keystore has these two, with the same rules: copy with `new Uint8Array(bytes)` — never a
 * Buffer's `slice()`, which shares memory (wiping it would touch the caller's buffer or Node's pool).
 */

/** A copy with its own memory. */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/** Overwrites secrets in place (best effort: the engine or OpenSSL may hold other copies). */
export function wipe(...buffers: (Uint8Array | undefined)[]): void {
  for (const b of buffers) b?.fill(0);
}

/** Plain equality for public values (public keys); secrets use gm's constantTimeEqual. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
