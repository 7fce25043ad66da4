/*
 * gm_native: the native SM2 backend of @medsign/gm (see src/sm2/native.ts for the JS side).
 *
 * It runs on the OpenSSL 3 that the node binary itself contains. Nothing is linked: every
 * OpenSSL symbol resolves against the host process (binding.gyp adds -z now so a node without
 * them fails at require() rather than later). Keys, the RNG and the SM2 provider are therefore
 * exactly the ones Node's own crypto uses.
 *
 * Division of labour: this file does the curve work and the signature r||s <-> DER conversion
 * (the hot path); native.ts converts ciphertexts between C1||C3||C2 and GM/T 0009 DER.
 *
 * Exported functions (all synchronous, all inputs Uint8Array):
 *   newKey(d | null, pub) -> handle     release(handle)
 *   sign(handle, e) -> r||s             verify(handle, e, r||s) -> boolean
 *   encrypt(handle, m) -> DER           decrypt(handle, DER) -> m | null
 *   publicKey(d) -> 04||X||Y            isValidPublicKey(pub) -> boolean
 *   randomPrivateKey() -> d
 */
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define SCALAR_BYTES 32
#define POINT_BYTES 65
#define DIGEST_BYTES 32
/* A DER SM2 signature is at most 30 46 (02 21 00 r) (02 21 00 s) = 72 bytes. */
#define SIG_DER_MAX 72
/* Rough native footprint of one key handle (EVP_PKEY, EC_KEY, up to four operation contexts),
 * reported to V8 so that unreleased handles create GC pressure. */
#define KEY_COST 8192

static const uint8_t SM2_P[SCALAR_BYTES] = {
    0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* n - 2, the largest valid private key: (1 + d) must stay invertible mod n. */
static const uint8_t SM2_N_MINUS_2[SCALAR_BYTES] = {
    0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x72, 0x03, 0xdf, 0x6b, 0x21, 0xc6, 0x05, 0x2b, 0x53, 0xbb, 0xf4, 0x09, 0x39, 0xd5, 0x41, 0x21};

/* Distinguishes our externals from anyone else's before we dereference them. */
static const napi_type_tag KEY_TAG = {0x6d6564736967e2a0ULL, 0x534d326b65790001ULL};

/*
 * Per-environment state. Worker threads load the addon into their own napi_env, so nothing
 * mutable is shared between threads.
 */
typedef struct {
  EC_GROUP *group;         /* for publicKey / isValidPublicKey */
  EVP_PKEY_CTX *fromdata;  /* SM2 key import, fetched once rather than per key */
} gm_env;

/*
 * One key. Operation contexts are created on first use and kept: re-initialising an
 * EVP_PKEY_CTX costs a provider fetch per call. Safe because a handle belongs to one napi_env
 * and is only used synchronously from that env's JS thread.
 */
typedef struct {
  EVP_PKEY *pkey;
  EVP_PKEY_CTX *sign, *verify, *enc, *dec;
  bool has_private;
} gm_key;

enum op { OP_SIGN, OP_VERIFY, OP_ENCRYPT, OP_DECRYPT };

/* ---- errors -------------------------------------------------------------------------------- */

/* Throws an Error naming the operation and OpenSSL's reason; OpenSSL reasons never carry key
 * bytes. Always empties the thread's error queue so Node's own crypto does not see our errors. */
static napi_value fail(napi_env env, const char *what) {
  char msg[192];
  unsigned long code = ERR_peek_last_error();
  const char *why = code != 0 ? ERR_reason_error_string(code) : NULL;
  if (why != NULL)
    snprintf(msg, sizeof msg, "%s (%s)", what, why);
  else
    snprintf(msg, sizeof msg, "%s", what);
  ERR_clear_error();
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static napi_value type_error(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

/* ---- JS value helpers ---------------------------------------------------------------------- */

/* Borrows the bytes of a Uint8Array (Buffers included); the view is valid for this call only. */
static bool get_bytes(napi_env env, napi_value v, const uint8_t **data, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  void *p = NULL;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return false;
  if (napi_get_typedarray_info(env, v, &type, len, &p, NULL, NULL) != napi_ok) return false;
  if (type != napi_uint8_array) return false;
  *data = p;
  return true;
}

static bool get_fixed(napi_env env, napi_value v, size_t want, const uint8_t **data) {
  size_t len = 0;
  return get_bytes(env, v, data, &len) && len == want;
}

/* A fresh plain Uint8Array (not a Buffer) of `len` bytes; *data points at its storage. */
static napi_value new_bytes(napi_env env, size_t len, uint8_t **data) {
  napi_value ab, out;
  void *p = NULL;
  if (napi_create_arraybuffer(env, len, &p, &ab) != napi_ok) return NULL;
  if (napi_create_typedarray(env, napi_uint8_array, len, ab, 0, &out) != napi_ok) return NULL;
  *data = p;
  return out;
}

static napi_value make_bool(napi_env env, bool b) {
  napi_value v;
  napi_get_boolean(env, b, &v);
  return v;
}

static gm_env *env_state(napi_env env) {
  void *st = NULL;
  napi_get_instance_data(env, &st);
  return st;
}

#define GET_ARGS(n)                                                              \
  napi_value argv[n];                                                            \
  size_t argc = n;                                                               \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL

/* ---- scalars and signatures ---------------------------------------------------------------- */

/* 1 iff 1 <= d <= n-2, with no branch or early exit on the bytes of d. */
static int scalar_in_range(const uint8_t d[SCALAR_BYTES]) {
  unsigned borrow = 0, nonzero = 0;
  for (int i = SCALAR_BYTES - 1; i >= 0; i--) {
    unsigned diff = (unsigned)SM2_N_MINUS_2[i] - d[i] - borrow;
    borrow = (diff >> 8) & 1;
    nonzero |= d[i];
  }
  return (int)((borrow ^ 1) & ((nonzero | (0u - nonzero)) >> (sizeof(unsigned) * 8 - 1)));
}

/* Writes the minimal DER INTEGER of a 32-byte big-endian value; returns its length (<= 35). */
static size_t der_put_uint(uint8_t *out, const uint8_t v[SCALAR_BYTES]) {
  size_t i = 0;
  while (i < SCALAR_BYTES - 1 && v[i] == 0) i++;
  size_t len = SCALAR_BYTES - i, pad = v[i] >> 7;
  out[0] = 0x02;
  out[1] = (uint8_t)(len + pad);
  out[2] = 0;
  memcpy(out + 2 + pad, v + i, len);
  return 2 + pad + len;
}

/* r||s -> SEQUENCE { INTEGER r, INTEGER s }. */
static size_t rs_to_der(uint8_t out[SIG_DER_MAX], const uint8_t rs[2 * SCALAR_BYTES]) {
  size_t n = der_put_uint(out + 2, rs);
  n += der_put_uint(out + 2 + n, rs + SCALAR_BYTES);
  out[0] = 0x30;
  out[1] = (uint8_t)n;
  return n + 2;
}

/* Reads one non-negative INTEGER of at most 32 significant bytes, left-padding it into out. */
static bool der_get_uint(const uint8_t **pos, const uint8_t *end, uint8_t out[SCALAR_BYTES]) {
  const uint8_t *p = *pos;
  if (end - p < 2 || p[0] != 0x02) return false;
  size_t len = p[1];
  const uint8_t *v = p + 2;
  if (len == 0 || len > (size_t)(end - v) || (v[0] & 0x80)) return false;
  *pos = v + len;
  if (len > 1 && v[0] == 0) v++, len--;
  if (len > SCALAR_BYTES) return false;
  memset(out, 0, SCALAR_BYTES - len);
  memcpy(out + SCALAR_BYTES - len, v, len);
  return true;
}

/* The DER OpenSSL produced -> r||s. The signature always fits the short length form. */
static bool der_to_rs(uint8_t rs[2 * SCALAR_BYTES], const uint8_t *der, size_t n) {
  if (n < 2 || n > SIG_DER_MAX || der[0] != 0x30 || der[1] != n - 2) return false;
  const uint8_t *p = der + 2, *end = der + n;
  return der_get_uint(&p, end, rs) && der_get_uint(&p, end, rs + SCALAR_BYTES) && p == end;
}

/* ---- key handles --------------------------------------------------------------------------- */

static void key_clear(gm_key *k) {
  EVP_PKEY_CTX_free(k->sign);
  EVP_PKEY_CTX_free(k->verify);
  EVP_PKEY_CTX_free(k->enc);
  EVP_PKEY_CTX_free(k->dec);
  EVP_PKEY_free(k->pkey); /* the EC_KEY inside clears d when freed */
  k->sign = k->verify = k->enc = k->dec = NULL;
  k->pkey = NULL;
}

static void key_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  int64_t ignored;
  key_clear(data);
  free(data);
  napi_adjust_external_memory(env, -KEY_COST, &ignored);
}

/* Unwraps a handle made by newKey; throws (and returns NULL) for anything else. */
static gm_key *get_key(napi_env env, napi_value v, bool need_private) {
  bool ours = false;
  void *k = NULL;
  if (napi_check_object_type_tag(env, v, &KEY_TAG, &ours) != napi_ok || !ours ||
      napi_get_value_external(env, v, &k) != napi_ok) {
    type_error(env, "not an SM2 native key handle");
    return NULL;
  }
  if (((gm_key *)k)->pkey == NULL) {
    napi_throw_error(env, NULL, "SM2 native key handle was released");
    return NULL;
  }
  if (need_private && !((gm_key *)k)->has_private) {
    type_error(env, "SM2 native key handle has no private key");
    return NULL;
  }
  return k;
}

/* The key's cached context for `op`, initialised on first use. NULL on failure. */
static EVP_PKEY_CTX *op_ctx(gm_key *k, enum op op) {
  EVP_PKEY_CTX **slot = op == OP_SIGN ? &k->sign
                      : op == OP_VERIFY ? &k->verify
                      : op == OP_ENCRYPT ? &k->enc
                                         : &k->dec;
  if (*slot != NULL) return *slot;

  /* SM3 is the provider's default KDF/C3 digest already; naming it keeps that from being an
   * assumption about defaults. */
  OSSL_PARAM md[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_DIGEST, (char *)"SM3", 0),
      OSSL_PARAM_construct_end()};
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
  int ok = c != NULL && (op == OP_SIGN      ? EVP_PKEY_sign_init(c)
                         : op == OP_VERIFY  ? EVP_PKEY_verify_init(c)
                         : op == OP_ENCRYPT ? EVP_PKEY_encrypt_init_ex(c, md)
                                            : EVP_PKEY_decrypt_init_ex(c, md)) == 1;
  if (!ok) {
    EVP_PKEY_CTX_free(c);
    return NULL;
  }
  return *slot = c;
}

/* Stores d in the host's byte order, which is what OSSL_PARAM_construct_BN expects. */
static void to_native_order(uint8_t out[SCALAR_BYTES], const uint8_t be[SCALAR_BYTES]) {
  const uint16_t one = 1;
  if (*(const uint8_t *)&one == 1) {
    for (int i = 0; i < SCALAR_BYTES; i++) out[i] = be[SCALAR_BYTES - 1 - i];
  } else {
    memcpy(out, be, SCALAR_BYTES);
  }
}

/* newKey(d: Uint8Array(32) | null, pub: Uint8Array(65)): builds the EVP_PKEY once. pub is
 * taken as given (the caller validated it and derived it from d) to avoid a scalar multiply. */
static napi_value js_new_key(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  gm_env *st = env_state(env);
  const uint8_t *d = NULL, *pub = NULL;
  napi_valuetype t = napi_undefined;
  if (argc < 2) return type_error(env, "newKey(d, pub) needs two arguments");
  napi_typeof(env, argv[0], &t);
  if (t != napi_null && t != napi_undefined &&
      (!get_fixed(env, argv[0], SCALAR_BYTES, &d) || !scalar_in_range(d)))
    return type_error(env, "d must be a 32-byte Uint8Array in [1, n-2] or null");
  if (!get_fixed(env, argv[1], POINT_BYTES, &pub) || pub[0] != 0x04)
    return type_error(env, "pub must be a 65-byte uncompressed point");

  uint8_t d_native[SCALAR_BYTES];
  OSSL_PARAM params[4], *p = params;
  *p++ = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)SN_sm2, 0);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, POINT_BYTES);
  if (d != NULL) {
    to_native_order(d_native, d);
    *p++ = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, d_native, SCALAR_BYTES);
  }
  *p = OSSL_PARAM_construct_end();

  EVP_PKEY *pkey = NULL;
  int ok = EVP_PKEY_fromdata(st->fromdata, &pkey, d != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                             params) == 1;
  OPENSSL_cleanse(d_native, sizeof d_native);
  if (!ok) return fail(env, "SM2 key import failed");

  gm_key *k = calloc(1, sizeof *k);
  napi_value out;
  if (k == NULL) {
    EVP_PKEY_free(pkey);
    return fail(env, "out of memory");
  }
  k->pkey = pkey;
  k->has_private = d != NULL;
  if (napi_create_external(env, k, key_finalize, NULL, &out) != napi_ok) {
    key_clear(k);
    free(k);
    return NULL;
  }
  int64_t ignored;
  napi_adjust_external_memory(env, KEY_COST, &ignored);
  napi_type_tag_object(env, out, &KEY_TAG);
  return out;
}

/* release(handle): frees the OpenSSL objects now; the finalizer frees the (empty) shell later. */
static napi_value js_release(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  bool ours = false;
  void *k = NULL;
  if (argc >= 1 && napi_check_object_type_tag(env, argv[0], &KEY_TAG, &ours) == napi_ok && ours &&
      napi_get_value_external(env, argv[0], &k) == napi_ok)
    key_clear(k);
  return NULL;
}

/* ---- signatures ---------------------------------------------------------------------------- */

/* sign(handle, e): GB/T 32918.2 A3-A7 over the 32-byte e. OpenSSL's SM2 signature provider
 * treats EVP_PKEY_sign input as e itself (Z and the hash are the caller's business); k comes
 * from OpenSSL's private DRBG. */
static napi_value js_sign(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  const uint8_t *e;
  gm_key *k = argc >= 2 ? get_key(env, argv[0], true) : NULL;
  if (k == NULL) return argc >= 2 ? NULL : type_error(env, "sign(handle, e)");
  if (!get_fixed(env, argv[1], DIGEST_BYTES, &e)) return type_error(env, "e must be 32 bytes");

  EVP_PKEY_CTX *c = op_ctx(k, OP_SIGN);
  uint8_t der[SIG_DER_MAX + 8], *rs;
  size_t der_len = sizeof der;
  if (c == NULL || EVP_PKEY_sign(c, der, &der_len, e, DIGEST_BYTES) != 1)
    return fail(env, "SM2 signing failed");
  napi_value out = new_bytes(env, 2 * SCALAR_BYTES, &rs);
  if (out == NULL) return NULL;
  if (!der_to_rs(rs, der, der_len)) return fail(env, "SM2 signing produced an unexpected encoding");
  return out;
}

/* verify(handle, e, rs) -> boolean. Bad lengths or a rejected signature give false; only a
 * handle that is not ours throws. */
static napi_value js_verify(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  const uint8_t *e, *rs;
  gm_key *k = argc >= 3 ? get_key(env, argv[0], false) : NULL;
  if (k == NULL) return argc >= 3 ? NULL : type_error(env, "verify(handle, e, rs)");
  if (!get_fixed(env, argv[1], DIGEST_BYTES, &e) || !get_fixed(env, argv[2], 2 * SCALAR_BYTES, &rs))
    return make_bool(env, false);

  uint8_t der[SIG_DER_MAX];
  size_t der_len = rs_to_der(der, rs);
  EVP_PKEY_CTX *c = op_ctx(k, OP_VERIFY);
  bool ok = c != NULL && EVP_PKEY_verify(c, der, der_len, e, DIGEST_BYTES) == 1;
  if (!ok) ERR_clear_error();
  return make_bool(env, ok);
}

/* ---- encryption ---------------------------------------------------------------------------- */

/* encrypt(handle, m) -> GM/T 0009 DER SM2Cipher (GB/T 32918.4 with SM3). */
static napi_value js_encrypt(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  const uint8_t *m;
  size_t m_len = 0;
  gm_key *k = argc >= 2 ? get_key(env, argv[0], false) : NULL;
  if (k == NULL) return argc >= 2 ? NULL : type_error(env, "encrypt(handle, m)");
  if (!get_bytes(env, argv[1], &m, &m_len) || m_len == 0)
    return type_error(env, "message must be a non-empty Uint8Array");

  EVP_PKEY_CTX *c = op_ctx(k, OP_ENCRYPT);
  size_t cap = 0, len;
  if (c == NULL || EVP_PKEY_encrypt(c, NULL, &cap, m, m_len) != 1)
    return fail(env, "SM2 encryption failed");

  /* Encrypt straight into the ArrayBuffer and hand back a view of the bytes written. */
  napi_value ab, out;
  void *buf = NULL;
  if (napi_create_arraybuffer(env, cap, &buf, &ab) != napi_ok) return NULL;
  len = cap;
  if (EVP_PKEY_encrypt(c, buf, &len, m, m_len) != 1) return fail(env, "SM2 encryption failed");
  if (napi_create_typedarray(env, napi_uint8_array, len, ab, 0, &out) != napi_ok) return NULL;
  return out;
}

/* decrypt(handle, der) -> plaintext, or null when C1 is not on the curve, C3 does not match or
 * the DER is malformed. */
static napi_value js_decrypt(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  const uint8_t *ct;
  size_t ct_len = 0;
  napi_value result;
  gm_key *k = argc >= 2 ? get_key(env, argv[0], true) : NULL;
  if (k == NULL) return argc >= 2 ? NULL : type_error(env, "decrypt(handle, der)");
  napi_get_null(env, &result);
  if (!get_bytes(env, argv[1], &ct, &ct_len) || ct_len == 0) return result;

  /* The plaintext is never longer than the DER holding it. Scratch space because the
   * length is only known afterwards; wiped because it holds plaintext. */
  EVP_PKEY_CTX *c = op_ctx(k, OP_DECRYPT);
  uint8_t *tmp = OPENSSL_malloc(ct_len), *pt;
  size_t len = ct_len;
  if (c == NULL || tmp == NULL || EVP_PKEY_decrypt(c, tmp, &len, ct, ct_len) != 1) {
    ERR_clear_error();
  } else {
    napi_value out = new_bytes(env, len, &pt);
    if (out != NULL) {
      if (len != 0) memcpy(pt, tmp, len);
      result = out;
    }
  }
  OPENSSL_clear_free(tmp, ct_len);
  return result;
}

/* ---- keys without a handle ----------------------------------------------------------------- */

/* publicKey(d) -> d*G uncompressed. EC_POINT_mul with only a generator scalar takes OpenSSL's
 * constant-time ladder. */
static napi_value js_public_key(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  const uint8_t *d;
  if (argc < 1 || !get_fixed(env, argv[0], SCALAR_BYTES, &d))
    return type_error(env, "d must be a 32-byte Uint8Array");
  gm_env *st = env_state(env);

  BN_CTX *bctx = BN_CTX_secure_new();
  BIGNUM *scalar = BN_secure_new();
  EC_POINT *pt = EC_POINT_new(st->group);
  uint8_t pub[POINT_BYTES];
  bool ok = bctx != NULL && scalar != NULL && pt != NULL && BN_bin2bn(d, SCALAR_BYTES, scalar);
  if (ok) {
    BN_set_flags(scalar, BN_FLG_CONSTTIME);
    ok = EC_POINT_mul(st->group, pt, scalar, NULL, NULL, bctx) == 1 &&
         EC_POINT_point2oct(st->group, pt, POINT_CONVERSION_UNCOMPRESSED, pub, POINT_BYTES, bctx) ==
             POINT_BYTES;
  }
  BN_clear_free(scalar);
  EC_POINT_free(pt);
  BN_CTX_free(bctx);
  if (!ok) return fail(env, "SM2 public key derivation failed");

  uint8_t *data;
  napi_value out = new_bytes(env, POINT_BYTES, &data);
  if (out != NULL) memcpy(data, pub, POINT_BYTES);
  return out;
}

/* isValidPublicKey(pub): 04 prefix, both coordinates < p, on the curve (h = 1, so no subgroup
 * check). OpenSSL 3.0's oct2point rejects coordinates >= p itself, but its BIGNUM setter (used by
 * SM2 decryption) reduces them mod p instead, so the range check is done here, not assumed. */
static napi_value js_is_valid_public_key(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  const uint8_t *pub;
  if (argc < 1 || !get_fixed(env, argv[0], POINT_BYTES, &pub) || pub[0] != 0x04 ||
      memcmp(pub + 1, SM2_P, SCALAR_BYTES) >= 0 ||
      memcmp(pub + 1 + SCALAR_BYTES, SM2_P, SCALAR_BYTES) >= 0)
    return make_bool(env, false);

  gm_env *st = env_state(env);
  EC_POINT *pt = EC_POINT_new(st->group);
  bool ok = pt != NULL && EC_POINT_oct2point(st->group, pt, pub, POINT_BYTES, NULL) == 1 &&
            EC_POINT_is_on_curve(st->group, pt, NULL) == 1 &&
            EC_POINT_is_at_infinity(st->group, pt) == 0;
  EC_POINT_free(pt);
  ERR_clear_error();
  return make_bool(env, ok);
}

/* randomPrivateKey() -> uniform d in [1, n-2] by rejection sampling over 32 random bytes.
 * n is within 2^-32 of 2^256, so a retry is practically never needed. */
static napi_value js_random_private_key(napi_env env, napi_callback_info info) {
  (void)info;
  uint8_t d[SCALAR_BYTES], *data;
  for (int tries = 0; tries < 16; tries++) {
    if (RAND_priv_bytes(d, SCALAR_BYTES) != 1) break;
    if (scalar_in_range(d)) {
      napi_value out = new_bytes(env, SCALAR_BYTES, &data);
      if (out != NULL) memcpy(data, d, SCALAR_BYTES);
      OPENSSL_cleanse(d, sizeof d);
      return out;
    }
  }
  OPENSSL_cleanse(d, sizeof d);
  return fail(env, "random private key generation failed");
}

/* ---- module -------------------------------------------------------------------------------- */

static void env_free(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  gm_env *st = data;
  EC_GROUP_free(st->group);
  EVP_PKEY_CTX_free(st->fromdata);
  free(st);
}

NAPI_MODULE_INIT() {
  if (OpenSSL_version_num() < 0x30000000UL) {
    napi_throw_error(env, NULL, "the host OpenSSL is older than 3.0");
    return NULL;
  }
  gm_env *st = calloc(1, sizeof *st);
  if (st == NULL) return fail(env, "out of memory");
  st->group = EC_GROUP_new_by_curve_name(NID_sm2);
  st->fromdata = EVP_PKEY_CTX_new_from_name(NULL, SN_sm2, NULL);
  if (st->group == NULL || st->fromdata == NULL || EVP_PKEY_fromdata_init(st->fromdata) != 1) {
    env_free(env, st, NULL);
    return fail(env, "the host OpenSSL has no SM2 (FIPS mode?)");
  }
  if (napi_set_instance_data(env, st, env_free, NULL) != napi_ok) {
    env_free(env, st, NULL);
    return NULL;
  }

  napi_value version;
  napi_create_string_utf8(env, OpenSSL_version(OPENSSL_VERSION), NAPI_AUTO_LENGTH, &version);
  napi_property_descriptor props[] = {
      {"newKey", NULL, js_new_key, NULL, NULL, NULL, napi_enumerable, NULL},
      {"release", NULL, js_release, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sign", NULL, js_sign, NULL, NULL, NULL, napi_enumerable, NULL},
      {"verify", NULL, js_verify, NULL, NULL, NULL, napi_enumerable, NULL},
      {"encrypt", NULL, js_encrypt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"decrypt", NULL, js_decrypt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"publicKey", NULL, js_public_key, NULL, NULL, NULL, napi_enumerable, NULL},
      {"isValidPublicKey", NULL, js_is_valid_public_key, NULL, NULL, NULL, napi_enumerable, NULL},
      {"randomPrivateKey", NULL, js_random_private_key, NULL, NULL, NULL, napi_enumerable, NULL},
      {"opensslVersion", NULL, NULL, NULL, NULL, version, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok)
    return NULL;
  return exports;
}
