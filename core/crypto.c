/*
** core/crypto.c: the one file that includes mbedTLS (see core/crypto.h for
** the contract of every function, docs/auth.md for how tokens use them).
**
** mbedTLS 2.28 is used through its 2.x API: mbedtls/config.h, the *_ret
** hash functions, mbedtls_pk_parse_key without an RNG argument.  Only
** libmbedcrypto is linked.
*/
#include "core/crypto.h"

#include <string.h>

#include <mbedtls/config.h>

#include <mbedtls/bignum.h>
#include <mbedtls/constant_time.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/gcm.h>
#include <mbedtls/md.h> /* MBEDTLS_MD_SHA256 for deterministic ECDSA */
#include <mbedtls/pk.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "platform/platform.h"

/* Room for a P-256 key as PEM: about 230 bytes private, 180 public. */
#define PEM_OUT_CAP 1024

struct cf__ec_key {
  mbedtls_pk_context pk; /* an MBEDTLS_PK_ECKEY context on secp256r1 */
  int has_private;       /* 1 if pk holds the private scalar d */
};

/* Maps an mbedTLS error to a CF_* code: allocation failures to CF_NOMEM. */
static int map_err(int mbed, int otherwise) {
  if (mbed == 0) return CF_OK;
  if (mbed == MBEDTLS_ERR_MPI_ALLOC_FAILED || mbed == MBEDTLS_ERR_ECP_ALLOC_FAILED ||
      mbed == MBEDTLS_ERR_PK_ALLOC_FAILED || mbed == MBEDTLS_ERR_MD_ALLOC_FAILED)
    return CF_NOMEM;
  return otherwise;
}

void cf__sha256_mbedtls(const void *data, size_t len, unsigned char out[CF_SHA256_LEN]) {
  /* Only fails on a bad argument (is224 = 0 is a good one). */
  (void)mbedtls_sha256_ret(data, len, out, 0);
}

void cf__sha256(const void *data, size_t len, unsigned char out[CF_SHA256_LEN]) {
  /* The same digest, several times faster where the CPU has the SHA
  ** extensions (core/sha256_x86.c). */
  if (!cf__sha256_x86(data, len, out)) cf__sha256_mbedtls(data, len, out);
}

int cf__hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void cf__hex(const unsigned char *bin, size_t len, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[bin[i] >> 4];
    out[2 * i + 1] = digits[bin[i] & 15];
  }
  out[2 * len] = '\0';
}

/* Each byte's value as a hex digit plus one, 0 for a byte that is not one:
** a table because the pull decodes 48 digits per cell of every row it sends
** (sync/master/pgtext.c), where the branches of cf__hex_digit showed. */
#define HEXV(c) ((unsigned char)((c) - '0' + 1))
static const unsigned char hex_value[256] = {
    ['0'] = HEXV('0'), ['1'] = HEXV('1'), ['2'] = HEXV('2'), ['3'] = HEXV('3'),
    ['4'] = HEXV('4'), ['5'] = HEXV('5'), ['6'] = HEXV('6'), ['7'] = HEXV('7'),
    ['8'] = HEXV('8'), ['9'] = HEXV('9'), ['a'] = 11,        ['b'] = 12,
    ['c'] = 13,        ['d'] = 14,        ['e'] = 15,        ['f'] = 16,
    ['A'] = 11,        ['B'] = 12,        ['C'] = 13,        ['D'] = 14,
    ['E'] = 15,        ['F'] = 16};
#undef HEXV

int cf__hex_decode(const char *hex, size_t n, unsigned char *out) {
  if (n % 2 != 0) return CF_CORRUPT;
  const unsigned char *h = (const unsigned char *)hex;
  unsigned bad = 0;
  for (size_t i = 0; i < n / 2; i++) {
    unsigned hi = hex_value[h[2 * i]], lo = hex_value[h[2 * i + 1]];
    bad |= (hi == 0) | (lo == 0);
    out[i] = (unsigned char)((hi - 1) << 4 | (lo - 1));
  }
  return bad ? CF_CORRUPT : CF_OK;
}

struct cf__hmac_key {
  mbedtls_sha256_context inner; /* SHA-256 state after (key ^ ipad) */
  mbedtls_sha256_context outer; /* SHA-256 state after (key ^ opad) */
};

/* RFC 2104 with SHA-256: B = 64-byte blocks, keys longer than B hashed first. */
static void hmac_key_init(struct cf__hmac_key *k, const void *key, size_t key_len) {
  unsigned char block[64], pad[64];
  memset(block, 0, sizeof block);
  if (key_len > sizeof block)
    cf__sha256(key, key_len, block);
  else if (key_len > 0)
    memcpy(block, key, key_len);
  mbedtls_sha256_init(&k->inner);
  mbedtls_sha256_init(&k->outer);
  /* In-memory SHA-256 cannot fail with 2.28: the results are ignored. */
  for (size_t i = 0; i < sizeof pad; i++)
    pad[i] = block[i] ^ 0x36;
  (void)mbedtls_sha256_starts_ret(&k->inner, 0);
  (void)mbedtls_sha256_update_ret(&k->inner, pad, sizeof pad);
  for (size_t i = 0; i < sizeof pad; i++)
    pad[i] = block[i] ^ 0x5c;
  (void)mbedtls_sha256_starts_ret(&k->outer, 0);
  (void)mbedtls_sha256_update_ret(&k->outer, pad, sizeof pad);
  mbedtls_platform_zeroize(block, sizeof block);
  mbedtls_platform_zeroize(pad, sizeof pad);
}

void cf__hmac_sha256_with(const cf__hmac_key *key, const void *data, size_t len,
                          unsigned char out[CF_HMAC_SHA256_LEN]) {
  mbedtls_sha256_context ctx;
  unsigned char inner[CF_SHA256_LEN];
  mbedtls_sha256_init(&ctx);
  mbedtls_sha256_clone(&ctx, &key->inner);
  (void)mbedtls_sha256_update_ret(&ctx, data, len);
  (void)mbedtls_sha256_finish_ret(&ctx, inner);
  mbedtls_sha256_clone(&ctx, &key->outer);
  (void)mbedtls_sha256_update_ret(&ctx, inner, sizeof inner);
  (void)mbedtls_sha256_finish_ret(&ctx, out);
  mbedtls_sha256_free(&ctx); /* wipes the state */
}

int cf__hmac_key_new(const void *key, size_t key_len, cf__hmac_key **out) {
  *out = cf__malloc(sizeof **out);
  if (*out == NULL) return CF_NOMEM;
  hmac_key_init(*out, key, key_len);
  return CF_OK;
}

void cf__hmac_key_free(cf__hmac_key *key) {
  if (key == NULL) return;
  mbedtls_sha256_free(&key->inner);
  mbedtls_sha256_free(&key->outer);
  cf__free(key);
}

int cf__hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                    unsigned char out[CF_HMAC_SHA256_LEN]) {
  struct cf__hmac_key k; /* on the stack: no allocation, so no failure */
  hmac_key_init(&k, key, key_len);
  cf__hmac_sha256_with(&k, data, len, out);
  mbedtls_sha256_free(&k.inner);
  mbedtls_sha256_free(&k.outer);
  return CF_OK;
}

int cf__ct_equal(const void *a, const void *b, size_t n) {
  return mbedtls_ct_memcmp(a, b, n) == 0;
}

/* ---- base64url ---------------------------------------------------------- */

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t cf__base64url_encoded_len(size_t n) {
  size_t rem = n % 3;
  return (n / 3) * 4 + (rem ? rem + 1 : 0);
}

void cf__base64url_encode(const void *in, size_t n, char *out) {
  const unsigned char *p = in;
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    out[o++] = b64url_alphabet[v >> 18];
    out[o++] = b64url_alphabet[(v >> 12) & 63];
    out[o++] = b64url_alphabet[(v >> 6) & 63];
    out[o++] = b64url_alphabet[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)p[i] << 16;
    out[o++] = b64url_alphabet[v >> 18];
    out[o++] = b64url_alphabet[(v >> 12) & 63];
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
    out[o++] = b64url_alphabet[v >> 18];
    out[o++] = b64url_alphabet[(v >> 12) & 63];
    out[o++] = b64url_alphabet[(v >> 6) & 63];
  }
  out[o] = '\0';
}

size_t cf__base64url_decoded_max(size_t n) { return n / 4 * 3 + 2; }

/* 1 + the 6-bit value of each base64url character; 0 for every other byte. */
static const unsigned char b64url_value_plus1[256] = {
    ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,
    ['H'] = 8,  ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14,
    ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21,
    ['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28,
    ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35,
    ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
    ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49,
    ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['-'] = 63,
    ['_'] = 64};

int cf__base64url_decode(const char *in, size_t n, unsigned char *out, size_t cap,
                         size_t *out_len) {
  *out_len = 0;
  if (n % 4 == 1) return CF_INVALID; /* 6 bits cannot make a byte */
  size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
  if (need > cap) return CF_TOOBIG;
  uint32_t acc = 0; /* bits not yet written, in the low `bits` bits */
  int bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned v = b64url_value_plus1[(unsigned char)in[i]];
    if (v == 0) return CF_INVALID;
    acc = (acc << 6 | (v - 1)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)(acc >> bits);
    }
  }
  /* Canonical form: the leftover 2 or 4 bits of the last character are 0. */
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return CF_INVALID;
  *out_len = o;
  return CF_OK;
}

/* ---- randomness --------------------------------------------------------- */

/* mbedTLS entropy callback: the process's random source. */
static int entropy_from_platform(void *ctx, unsigned char *buf, size_t len) {
  (void)ctx;
  return cf__random(buf, len) == CF_OK ? 0 : MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
}

/* Seeds a CTR-DRBG from cf__random.  CF_OK, CF_IO, CF_NOMEM. */
static int drbg_seed(mbedtls_ctr_drbg_context *drbg) {
  static const unsigned char personalization[] = "clientflow-crypto";
  mbedtls_ctr_drbg_init(drbg);
  int rc = mbedtls_ctr_drbg_seed(drbg, entropy_from_platform, NULL, personalization,
                                 sizeof personalization - 1);
  return rc == 0 ? CF_OK : map_err(rc, CF_IO);
}

int cf__csprng(unsigned char *buf, size_t len) {
  mbedtls_ctr_drbg_context drbg;
  int rc = drbg_seed(&drbg);
  /* One request is capped at MBEDTLS_CTR_DRBG_MAX_REQUEST bytes: loop. */
  for (size_t done = 0; rc == CF_OK && done < len;) {
    size_t n = len - done;
    if (n > MBEDTLS_CTR_DRBG_MAX_REQUEST) n = MBEDTLS_CTR_DRBG_MAX_REQUEST;
    if (mbedtls_ctr_drbg_random(&drbg, buf + done, n) != 0) rc = CF_IO;
    done += n;
  }
  mbedtls_ctr_drbg_free(&drbg);
  return rc;
}

/* ---- P-256 keys ----------------------------------------------------------- */

static cf__ec_key *key_alloc(void) {
  cf__ec_key *key = cf__malloc(sizeof *key);
  if (key == NULL) return NULL;
  mbedtls_pk_init(&key->pk);
  key->has_private = 0;
  return key;
}

void cf__ec_key_free(cf__ec_key *key) {
  if (key == NULL) return;
  mbedtls_pk_free(&key->pk); /* zeroizes the private scalar */
  cf__free(key);
}

/* 1 if pk is an EC key on P-256. */
static int key_precompute(cf__ec_key *key);

static int is_p256(mbedtls_pk_context *pk) {
  if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY) return 0;
  return mbedtls_pk_ec(*pk)->grp.id == MBEDTLS_ECP_DP_SECP256R1;
}

int cf__ec_key_from_pem(const char *pem, size_t len, cf__ec_key **out) {
  int rc = CF_INVALID;
  unsigned char *buf = NULL;
  cf__ec_key *key = NULL;
  *out = NULL;
  if (len > CF_PEM_MAX) return CF_TOOBIG;
  /* mbedTLS wants PEM NUL-terminated, with the NUL counted in the length. */
  buf = cf__malloc(len + 1);
  key = key_alloc();
  if (buf == NULL || key == NULL) {
    rc = CF_NOMEM;
    goto out;
  }
  memcpy(buf, pem, len);
  buf[len] = '\0';
  int mrc = mbedtls_pk_parse_public_key(&key->pk, buf, len + 1);
  if (mrc != 0) {
    if (map_err(mrc, CF_INVALID) == CF_NOMEM) {
      rc = CF_NOMEM;
      goto out;
    }
    mbedtls_pk_free(&key->pk);
    mbedtls_pk_init(&key->pk);
    mrc = mbedtls_pk_parse_key(&key->pk, buf, len + 1, NULL, 0);
    if (mrc != 0) {
      rc = map_err(mrc, CF_INVALID);
      goto out;
    }
    key->has_private = 1;
  }
  if (!is_p256(&key->pk)) {
    rc = CF_INVALID;
    goto out;
  }
  rc = key_precompute(key);
  if (rc != CF_OK) goto out;
  *out = key;
  key = NULL;
  rc = CF_OK;
out:
  if (buf != NULL) {
    mbedtls_platform_zeroize(buf, len + 1); /* may hold a private key */
    cf__free(buf);
  }
  cf__ec_key_free(key);
  return rc;
}

/* mbedTLS RNG callback over a seeded CTR-DRBG. */
static int drbg_random(void *ctx, unsigned char *buf, size_t len) {
  return mbedtls_ctr_drbg_random(ctx, buf, len);
}

/*
** mbedTLS computes the curve's fixed-base table on the first multiplication
** by the generator and stores it in the key's group (grp->T), a write hidden
** inside verification.  Doing one such multiplication here, before the key
** is shared, makes every later use read-only, so one key can verify on
** several threads at once.  CF_OK, CF_IO, CF_NOMEM, CF_ERROR.
*/
static int key_precompute(cf__ec_key *key) {
  mbedtls_ecp_keypair *ec = mbedtls_pk_ec(key->pk);
  mbedtls_ctr_drbg_context drbg;
  mbedtls_ecp_point r;
  mbedtls_mpi one;
  mbedtls_ecp_point_init(&r);
  mbedtls_mpi_init(&one);
  int rc = drbg_seed(&drbg);
  if (rc == CF_OK) {
    int mrc = mbedtls_mpi_lset(&one, 1);
    if (mrc == 0)
      mrc = mbedtls_ecp_mul(&ec->grp, &r, &one, &ec->grp.G, drbg_random, &drbg);
    rc = map_err(mrc, CF_ERROR);
  }
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_ecp_point_free(&r);
  mbedtls_mpi_free(&one);
  return rc;
}

/* Sets up key->pk as an empty EC key on P-256.  CF_OK, CF_NOMEM, CF_ERROR. */
static int key_setup_p256(cf__ec_key *key) {
  int mrc = mbedtls_pk_setup(&key->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (mrc != 0) return map_err(mrc, CF_ERROR);
  mrc = mbedtls_ecp_group_load(&mbedtls_pk_ec(key->pk)->grp, MBEDTLS_ECP_DP_SECP256R1);
  return map_err(mrc, CF_ERROR);
}

int cf__ec_key_from_xy(const unsigned char x[CF_P256_COORD_LEN],
                       const unsigned char y[CF_P256_COORD_LEN], cf__ec_key **out) {
  int rc;
  *out = NULL;
  cf__ec_key *key = key_alloc();
  if (key == NULL) return CF_NOMEM;
  rc = key_setup_p256(key);
  if (rc != CF_OK) goto out;
  mbedtls_ecp_keypair *ec = mbedtls_pk_ec(key->pk);
  int mrc = mbedtls_mpi_read_binary(&ec->Q.X, x, CF_P256_COORD_LEN);
  if (mrc == 0) mrc = mbedtls_mpi_read_binary(&ec->Q.Y, y, CF_P256_COORD_LEN);
  if (mrc == 0) mrc = mbedtls_mpi_lset(&ec->Q.Z, 1);
  if (mrc != 0) {
    rc = map_err(mrc, CF_ERROR);
    goto out;
  }
  /* Refuses coordinates >= p and points off the curve (invalid-curve attacks). */
  mrc = mbedtls_ecp_check_pubkey(&ec->grp, &ec->Q);
  if (mrc != 0) {
    rc = map_err(mrc, CF_INVALID);
    goto out;
  }
  rc = key_precompute(key);
  if (rc != CF_OK) goto out;
  *out = key;
  key = NULL;
  rc = CF_OK;
out:
  cf__ec_key_free(key);
  return rc;
}

int cf__ec_key_generate(cf__ec_key **out) {
  int rc;
  mbedtls_ctr_drbg_context drbg;
  *out = NULL;
  cf__ec_key *key = key_alloc();
  rc = drbg_seed(&drbg);
  if (key == NULL) rc = CF_NOMEM;
  if (rc != CF_OK) goto out;
  int mrc = mbedtls_pk_setup(&key->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (mrc == 0)
    mrc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key->pk),
                              drbg_random, &drbg);
  if (mrc != 0) {
    rc = map_err(mrc, CF_ERROR);
    goto out;
  }
  key->has_private = 1; /* Q = d*G above already built the table (key_precompute) */
  *out = key;
  key = NULL;
  rc = CF_OK;
out:
  mbedtls_ctr_drbg_free(&drbg);
  cf__ec_key_free(key);
  return rc;
}

int cf__ec_key_has_private(const cf__ec_key *key) { return key->has_private; }

int cf__ec_key_public_xy(const cf__ec_key *key, unsigned char x[CF_P256_COORD_LEN],
                         unsigned char y[CF_P256_COORD_LEN]) {
  const mbedtls_ecp_keypair *ec = mbedtls_pk_ec(key->pk);
  if (mbedtls_mpi_write_binary(&ec->Q.X, x, CF_P256_COORD_LEN) != 0 ||
      mbedtls_mpi_write_binary(&ec->Q.Y, y, CF_P256_COORD_LEN) != 0)
    return CF_ERROR;
  return CF_OK;
}

/* Writes key as PEM (private or public) into a new cf__malloc'd string. */
static int key_pem(const cf__ec_key *key, int private_half, char **out) {
  int rc;
  unsigned char *buf = NULL;
  *out = NULL;
  if (private_half && !key->has_private) return CF_MISUSE;
  buf = cf__malloc(PEM_OUT_CAP);
  if (buf == NULL) return CF_NOMEM;
  /* The write functions take a non-const context but do not modify it. */
  mbedtls_pk_context *pk = (mbedtls_pk_context *)&key->pk;
  int mrc = private_half ? mbedtls_pk_write_key_pem(pk, buf, PEM_OUT_CAP)
                         : mbedtls_pk_write_pubkey_pem(pk, buf, PEM_OUT_CAP);
  if (mrc != 0) {
    rc = map_err(mrc, CF_ERROR);
    goto out;
  }
  *out = (char *)buf; /* NUL-terminated by mbedTLS */
  buf = NULL;
  rc = CF_OK;
out:
  if (buf != NULL) {
    mbedtls_platform_zeroize(buf, PEM_OUT_CAP);
    cf__free(buf);
  }
  return rc;
}

int cf__ec_key_public_pem(const cf__ec_key *key, char **out) {
  return key_pem(key, 0, out);
}

int cf__ec_key_private_pem(const cf__ec_key *key, char **out) {
  return key_pem(key, 1, out);
}

/* ---- ES256 ---------------------------------------------------------------- */

int cf__es256_verify(const cf__ec_key *key, const void *msg, size_t len,
                     const unsigned char sig[CF_ES256_SIG_LEN]) {
  int rc;
  unsigned char hash[CF_SHA256_LEN];
  mbedtls_mpi r, s;
  mbedtls_mpi_init(&r);
  mbedtls_mpi_init(&s);
  cf__sha256(msg, len, hash);
  int mrc = mbedtls_mpi_read_binary(&r, sig, CF_P256_COORD_LEN);
  if (mrc == 0)
    mrc = mbedtls_mpi_read_binary(&s, sig + CF_P256_COORD_LEN, CF_P256_COORD_LEN);
  if (mrc != 0) {
    rc = map_err(mrc, CF_AUTH);
    goto out;
  }
  /* The group is not modified by verification; mbedTLS lacks the const. */
  mbedtls_ecp_keypair *ec = mbedtls_pk_ec(key->pk);
  /* Checks 1 <= r, s < n itself; any failure means "not a valid signature". */
  mrc = mbedtls_ecdsa_verify(&ec->grp, hash, sizeof hash, &ec->Q, &r, &s);
  rc = map_err(mrc, CF_AUTH);
out:
  mbedtls_mpi_free(&r);
  mbedtls_mpi_free(&s);
  return rc;
}

int cf__es256_sign(const cf__ec_key *key, const void *msg, size_t len,
                   unsigned char sig[CF_ES256_SIG_LEN]) {
  int rc;
  unsigned char hash[CF_SHA256_LEN];
  mbedtls_mpi r, s;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_mpi_init(&r);
  mbedtls_mpi_init(&s);
  if (!key->has_private) {
    mbedtls_ctr_drbg_init(&drbg);
    rc = CF_MISUSE;
    goto out;
  }
  rc = drbg_seed(&drbg); /* only blinds the computation; k comes from RFC 6979 */
  if (rc != CF_OK) goto out;
  cf__sha256(msg, len, hash);
  mbedtls_ecp_keypair *ec = mbedtls_pk_ec(key->pk);
  int mrc = mbedtls_ecdsa_sign_det_ext(&ec->grp, &r, &s, &ec->d, hash, sizeof hash,
                                       MBEDTLS_MD_SHA256, drbg_random, &drbg);
  if (mrc == 0) mrc = mbedtls_mpi_write_binary(&r, sig, CF_P256_COORD_LEN);
  if (mrc == 0)
    mrc = mbedtls_mpi_write_binary(&s, sig + CF_P256_COORD_LEN, CF_P256_COORD_LEN);
  rc = map_err(mrc, CF_ERROR);
out:
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_mpi_free(&r);
  mbedtls_mpi_free(&s);
  return rc;
}

/* ---- AES-256-GCM and PBKDF2 (encryption at rest) ------------------------ */

struct cf__aead {
  mbedtls_gcm_context gcm;       /* AES-256 key schedule in GCM mode */
  mbedtls_ctr_drbg_context drbg; /* source of nonces, seeded once */
};

int cf__aead_new(const unsigned char key[CF_AEAD_KEY_LEN], cf__aead **out) {
  *out = NULL;
  cf__aead *a = cf__malloc(sizeof *a);
  if (a == NULL) return CF_NOMEM;
  mbedtls_gcm_init(&a->gcm);
  int rc = drbg_seed(&a->drbg);
  if (rc == CF_OK &&
      mbedtls_gcm_setkey(&a->gcm, MBEDTLS_CIPHER_ID_AES, key, CF_AEAD_KEY_LEN * 8) != 0)
    rc = CF_ERROR;
  if (rc != CF_OK) {
    cf__aead_free(a);
    return rc;
  }
  *out = a;
  return CF_OK;
}

void cf__aead_free(cf__aead *a) {
  if (a == NULL) return;
  mbedtls_gcm_free(&a->gcm); /* zeroizes the key schedule */
  mbedtls_ctr_drbg_free(&a->drbg);
  cf__free(a);
}

int cf__aead_nonce(cf__aead *a, unsigned char nonce[CF_AEAD_NONCE_LEN]) {
  return mbedtls_ctr_drbg_random(&a->drbg, nonce, CF_AEAD_NONCE_LEN) == 0 ? CF_OK : CF_IO;
}

int cf__aead_seal(cf__aead *a, const unsigned char nonce[CF_AEAD_NONCE_LEN],
                  const void *ad, size_t ad_len, const unsigned char *in,
                  unsigned char *out, size_t len, unsigned char tag[CF_AEAD_TAG_LEN]) {
  int mrc = mbedtls_gcm_crypt_and_tag(&a->gcm, MBEDTLS_GCM_ENCRYPT, len, nonce,
                                      CF_AEAD_NONCE_LEN, ad, ad_len, in, out,
                                      CF_AEAD_TAG_LEN, tag);
  return mrc == 0 ? CF_OK : CF_ERROR;
}

int cf__aead_open(cf__aead *a, const unsigned char nonce[CF_AEAD_NONCE_LEN],
                  const void *ad, size_t ad_len, const unsigned char *in,
                  unsigned char *out, size_t len,
                  const unsigned char tag[CF_AEAD_TAG_LEN]) {
  /* mbedtls_gcm_auth_decrypt zeroes out itself when the tag differs. */
  int mrc = mbedtls_gcm_auth_decrypt(&a->gcm, len, nonce, CF_AEAD_NONCE_LEN, ad, ad_len,
                                     tag, CF_AEAD_TAG_LEN, in, out);
  if (mrc == 0) return CF_OK;
  if (mrc == MBEDTLS_ERR_GCM_AUTH_FAILED) return CF_AUTH;
  return CF_ERROR;
}

int cf__pbkdf2_sha256(const void *pass, size_t pass_len, const unsigned char *salt,
                      size_t salt_len, unsigned iterations, unsigned char *out,
                      size_t out_len) {
  if (iterations == 0) return CF_INVALID;
  mbedtls_md_context_t md;
  mbedtls_md_init(&md);
  int mrc = mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1);
  if (mrc == 0)
    mrc = mbedtls_pkcs5_pbkdf2_hmac(&md, pass, pass_len, salt, salt_len, iterations,
                                    (uint32_t)out_len, out);
  mbedtls_md_free(&md);
  return map_err(mrc, CF_ERROR);
}

void cf__wipe(void *p, size_t n) { mbedtls_platform_zeroize(p, n); }
