/**
 * The native SM2 backend: native/gm_native.c, an N-API addon over the OpenSSL 3 inside the running
 * node binary (built by `npm run build:native -w @medsign/gm`; it links no libcrypto of its own).
 *
 * The addon signs and verifies the 32-byte e directly (OpenSSL's SM2 provider treats EVP_PKEY_sign
 * input as e, so Z and the hash stay in keys.ts), caches one EVP_PKEY plus its operation contexts per
 * key in `material.handle`, and speaks GM/T 0009 DER for ciphertexts; this file converts those to and
 * from the C1‖C3‖C2 of the backend contract.
 */

import { createRequire } from 'node:module';
import { bytesToBigInt, constantTimeEqual, hexToBytes, wipe } from '../bytes.js';
import type { Sm2Backend, Sm2PrivateMaterial, Sm2PublicMaterial } from './backend.js';
import { convertSm2Ciphertext } from './ciphertext.js';
import { SM2_CURVE, SM2_SIZE } from './curve.js';

/** An opaque N-API external owning an EVP_PKEY; freed by `release` or by GC. */
type Handle = object;

/** What gm_native.node exports (see the header comment of gm_native.c). */
interface Addon {
  readonly opensslVersion: string;
  newKey(d: Uint8Array | null, pub: Uint8Array): Handle;
  release(handle: Handle): void;
  sign(handle: Handle, e: Uint8Array): Uint8Array;
  verify(handle: Handle, e: Uint8Array, rs: Uint8Array): boolean;
  /** GM/T 0009 DER SM2Cipher. */
  encrypt(handle: Handle, message: Uint8Array): Uint8Array;
  /** From GM/T 0009 DER; null when C1 is off the curve, C3 does not match or the DER is bad. */
  decrypt(handle: Handle, der: Uint8Array): Uint8Array | null;
  publicKey(d: Uint8Array): Uint8Array;
  isValidPublicKey(pub: Uint8Array): boolean;
  randomPrivateKey(): Uint8Array;
}

const C1_LENGTH = 1 + 2 * SM2_SIZE;
const C3_LENGTH = 32;

/** C1‖C3‖C2 → the DER the addon decrypts; undefined when C1 cannot be a point. */
function rawToDer(ct: Uint8Array): Uint8Array | undefined {
  if (ct.length <= C1_LENGTH + C3_LENGTH || ct[0] !== 0x04) return undefined;
  // OpenSSL 3.0's SM2 decrypt reduces a coordinate ≥ p instead of rejecting it (checked), so refuse here.
  const x = bytesToBigInt(ct.subarray(1, 1 + SM2_SIZE));
  const y = bytesToBigInt(ct.subarray(1 + SM2_SIZE, C1_LENGTH));
  if (x >= SM2_CURVE.p || y >= SM2_CURVE.p) return undefined;
  return convertSm2Ciphertext(ct, 'c1c3c2', 'der');
}

function createBackend(addon: Addon): Sm2Backend {
  /** Every handle made here, and the subset that carries d. */
  const ours = new WeakSet<Handle>();
  const withPrivate = new WeakSet<Handle>();

  function make(d: Uint8Array | null, pub: Uint8Array): Handle {
    const h = addon.newKey(d, pub);
    ours.add(h);
    if (d) withPrivate.add(h);
    return h;
  }

  /** Stores a fresh handle in the key's slot, freeing the one it replaces. */
  function adopt(key: Sm2PublicMaterial, h: Handle): Handle {
    if (key.handle !== undefined && ours.has(key.handle as Handle)) addon.release(key.handle as Handle);
    key.handle = h;
    return h;
  }

  function privateHandle(key: Sm2PrivateMaterial): Handle {
    const h = key.handle;
    if (h !== undefined && withPrivate.has(h as Handle)) return h as Handle;
    return adopt(key, make(key.d, key.pub));
  }

  function publicHandle(key: Sm2PublicMaterial): Handle {
    const h = key.handle;
    if (h !== undefined && ours.has(h as Handle)) return h as Handle;
    // Private material gets a full handle at once, so a later sign/decrypt reuses it.
    const d = (key as Partial<Sm2PrivateMaterial>).d;
    return adopt(key, make(d instanceof Uint8Array ? d : null, key.pub));
  }

  return {
    name: 'native',

    randomPrivateKey: () => addon.randomPrivateKey(),

    publicKey: (d) => addon.publicKey(d),

    isValidPublicKey: (pub) => pub instanceof Uint8Array && addon.isValidPublicKey(pub),

    signDigest(key, e) {
      return addon.sign(privateHandle(key), e);
    },

    verifyDigest(key, e, rs) {
      try {
        return addon.verify(publicHandle(key), e, rs);
      } catch {
        return false;
      }
    },

    encrypt(key, message) {
      if (message.length === 0) throw new RangeError('SM2 cannot encrypt an empty message');
      const h = publicHandle(key);
      // GB/T 32918.4 A5: if t = KDF(x2‖y2) is all zero, pick another k. OpenSSL 3.0 does not check;
      // t = C2 ⊕ M, so an all-zero t shows as C2 = M (likely only for very short messages).
      for (let attempt = 0; attempt < 16; attempt++) {
        const raw = convertSm2Ciphertext(addon.encrypt(h, message), 'der', 'c1c3c2');
        if (!constantTimeEqual(raw.subarray(C1_LENGTH + C3_LENGTH), message)) return raw;
      }
      throw new Error('SM2 encryption failed');
    },

    decrypt(key, ciphertext) {
      try {
        const der = rawToDer(ciphertext);
        if (!der) return undefined;
        const m = addon.decrypt(privateHandle(key), der);
        if (!m) return undefined;
        // B4: reject an all-zero t (C2 = M), which OpenSSL 3.0 does not check.
        if (constantTimeEqual(m, ciphertext.subarray(C1_LENGTH + C3_LENGTH))) {
          wipe(m);
          return undefined;
        }
        return m;
      } catch {
        return undefined;
      }
    },

    release(key) {
      const h = key.handle;
      if (h !== undefined && ours.has(h as Handle)) {
        addon.release(h as Handle);
        key.handle = undefined;
      }
    },
  };
}

// GM/T 0003.5 example (gm-standards §2.8 V1), checked once at load so that a node whose OpenSSL
// lacks or mangles SM2 falls back to the portable path instead of producing wrong results.
const V1 = {
  d: '3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8',
  pub:
    '0409f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020' +
    'ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13',
  e: 'f0b43e94ba45accaace692ed534382eb17e6ab5a19ce7b31f4486fdfc0d28640',
  rs:
    'f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3' +
    'b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa',
};

function selfTest(backend: Sm2Backend): boolean {
  const d = hexToBytes(V1.d);
  const pub = hexToBytes(V1.pub);
  const e = hexToBytes(V1.e);
  const key: Sm2PrivateMaterial = { d, pub };
  try {
    const tampered = e.slice();
    tampered[0]! ^= 1;
    return (
      constantTimeEqual(backend.publicKey(d), pub) &&
      backend.verifyDigest(key, e, hexToBytes(V1.rs)) &&
      !backend.verifyDigest(key, tampered, hexToBytes(V1.rs)) &&
      backend.verifyDigest(key, e, backend.signDigest(key, e))
    );
  } catch {
    return false;
  } finally {
    backend.release(key);
  }
}

let loaded: Sm2Backend | undefined;

/**
 * The native backend, loading build/Release/gm_native.node on first call. Throws an Error with a
 * short reason when the addon is not built, does not load into this node, or fails its self-test.
 */
export function loadNativeBackend(): Sm2Backend {
  if (loaded) return loaded;
  let addon: Addon;
  try {
    // Same relative path from src/sm2/native.ts and dist/sm2/native.js.
    addon = createRequire(import.meta.url)('../../build/Release/gm_native.node') as Addon;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new Error(
      code === 'MODULE_NOT_FOUND'
        ? 'addon not built (npm run build:native -w @medsign/gm)'
        : `addon failed to load: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
      { cause: err },
    );
  }
  const backend = createBackend(addon);
  if (!selfTest(backend)) throw new Error(`addon self-test failed (${addon.opensslVersion})`);
  loaded = backend;
  return backend;
}
