/*
** core/crypto.h: hashing, MACs, signatures, encodings and randomness
** (internal).
**
** core/crypto.c is the only file of the project that includes mbedTLS (2.28,
** the 2.x API), so a reader knows where that dependency can bite.
** Everything here is pure computation over caller buffers, no I/O.  The JWT
** layer built on it is sync/auth/; docs/auth.md describes the token formats.
**
** Memory: the small wrappers allocated here (cf__ec_key, returned PEM strings)
** go through cf__malloc.  mbedTLS's own bignum and key storage uses the C
** library's calloc, which Debian's build of mbedTLS does not let us replace;
** an mbedTLS allocation failure is reported as CF_NOMEM all the same.
**
** Results are CF_* codes from include/clientflow.h.
*/
#ifndef CF_CRYPTO_H
#define CF_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "clientflow.h"

#define CF_SHA256_LEN 32       /* bytes of a SHA-256 digest */
#define CF_HMAC_SHA256_LEN 32  /* bytes of an HMAC-SHA256 tag */
#define CF_ES256_SIG_LEN 64    /* bytes of a JWS ES256 signature: r || s */
#define CF_P256_COORD_LEN 32   /* bytes of one P-256 coordinate (x or y) */
#define CF_PEM_MAX (16 * 1024) /* largest PEM key text accepted */

/* SHA-256 of data[0..len) into out[32]: with the CPU's SHA extensions when
** it has them (cf__sha256_x86), else with mbedTLS. */
void cf__sha256(const void *data, size_t len, unsigned char out[CF_SHA256_LEN]);

/* SHA-256 with mbedTLS alone (the reference the tests compare with). */
void cf__sha256_mbedtls(const void *data, size_t len, unsigned char out[CF_SHA256_LEN]);

/* SHA-256 with the x86 SHA extensions (core/sha256_x86.c): returns 1 with
** out set when this CPU has them, 0 (out untouched) when it has not or the
** build is for another architecture. */
int cf__sha256_x86(const void *data, size_t len, unsigned char out[CF_SHA256_LEN]);

/* The value 0..15 of hex digit c (either case), or -1 if c is not one. */
int cf__hex_digit(char c);

/* Lowercase hex of bin[0..len) into out, which must hold 2*len+1 bytes. */
void cf__hex(const unsigned char *bin, size_t len, char *out);

/* Decodes hex[0..n) (n even, digits in either case) into out[0..n/2).
** CF_OK, or CF_CORRUPT for an odd n or a non-hex digit (out is then
** partly written). */
int cf__hex_decode(const char *hex, size_t n, unsigned char *out) CF_WARN_UNUSED;

/*
** HMAC-SHA256 (RFC 2104) of data[0..len) under key[0..key_len) into
** out[32].  Allocates nothing; always CF_OK (an int so that a future
** implementation may fail).
*/
int cf__hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                    unsigned char out[CF_HMAC_SHA256_LEN]) CF_WARN_UNUSED;

/*
** An HMAC-SHA256 key with its padded inner and outer hash states computed
** once, for a verifier that checks many messages under one secret (two of
** the eight or so SHA-256 blocks of a JWT's MAC).  Immutable once created:
** usable from several threads at once.  cf__hmac_key_new copies what it
** needs of key; OUT: *out, freed (and wiped) with cf__hmac_key_free, NULL on
** failure; CF_OK or CF_NOMEM.  cf__hmac_sha256_with computes the same tag as
** cf__hmac_sha256 and cannot fail.
*/
typedef struct cf__hmac_key cf__hmac_key;
int cf__hmac_key_new(const void *key, size_t key_len, cf__hmac_key **out) CF_WARN_UNUSED;
void cf__hmac_sha256_with(const cf__hmac_key *key, const void *data, size_t len,
                          unsigned char out[CF_HMAC_SHA256_LEN]);
void cf__hmac_key_free(cf__hmac_key *key);

/*
** 1 if a[0..n) equals b[0..n), else 0, in time that depends on n only, never
** on where the buffers differ.  Use it for every MAC or signature compare.
*/
int cf__ct_equal(const void *a, const void *b, size_t n);

/*
** base64url (RFC 4648 section 5) without padding, as JWS uses it.
**
** cf__base64url_encoded_len(n) is the number of characters n bytes encode
** to (no terminator).  cf__base64url_encode writes them and a NUL into out,
** which must hold cf__base64url_encoded_len(n) + 1 bytes.
**
** cf__base64url_decode is strict: it accepts only the 64 URL-safe
** characters, no '=' padding, no whitespace, no length of the form 4k+1,
** and only the canonical encoding (the unused low bits of the last character
** must be zero), so that every byte string has exactly one accepted text.
** It writes at most cap bytes to out and the decoded length to *out_len.
** CF_OK; CF_INVALID for text that is not canonical base64url; CF_TOOBIG
** when the result would exceed cap.  cf__base64url_decoded_max(n) is a cap
** that always suffices for n characters.
*/
size_t cf__base64url_encoded_len(size_t n);
void cf__base64url_encode(const void *in, size_t n, char *out);
size_t cf__base64url_decoded_max(size_t n);
int cf__base64url_decode(const char *in, size_t n, unsigned char *out, size_t cap,
                         size_t *out_len) CF_WARN_UNUSED;

/*
** Cryptographic random bytes: an mbedTLS CTR-DRBG (AES-256) seeded from
** cf__random (the process's random hook, getrandom(2) by default), so a
** simulation that hooks randomness gets reproducible output.  CF_OK, CF_IO
** when the seed cannot be read, CF_NOMEM.
*/
int cf__csprng(unsigned char *buf, size_t len) CF_WARN_UNUSED;

/*
** An elliptic-curve key on NIST P-256 (secp256r1), public only or with its
** private half.  Created by one of the constructors below, freed with
** cf__ec_key_free (NULL is fine).  Immutable once created: one key can be
** used from several threads at once.
*/
typedef struct cf__ec_key cf__ec_key;

/*
** CONSTRUCTOR.  Parses a PEM key: "PUBLIC KEY" (SubjectPublicKeyInfo), or
** "EC PRIVATE KEY" / "PRIVATE KEY" (SEC1 / PKCS#8, unencrypted).  pem need
** not be NUL-terminated; len is at most CF_PEM_MAX.  Only P-256 EC keys are
** accepted.  OUT: *out, NULL on failure.  CF_OK, CF_INVALID (not a PEM key,
** not EC, or another curve), CF_TOOBIG, CF_NOMEM.
*/
int cf__ec_key_from_pem(const char *pem, size_t len, cf__ec_key **out) CF_WARN_UNUSED;

/*
** CONSTRUCTOR.  A public key from its affine coordinates (as a JWK's "x" and
** "y" carry them, big-endian, 32 bytes each).  The point is checked to be
** on the curve.  OUT: *out, NULL on failure.  CF_OK, CF_INVALID, CF_NOMEM.
*/
int cf__ec_key_from_xy(const unsigned char x[CF_P256_COORD_LEN],
                       const unsigned char y[CF_P256_COORD_LEN],
                       cf__ec_key **out) CF_WARN_UNUSED;

/*
** CONSTRUCTOR.  A fresh key pair from cf__csprng (for tests and development
** tokens).  OUT: *out, NULL on failure.  CF_OK, CF_IO, CF_NOMEM.
*/
int cf__ec_key_generate(cf__ec_key **out) CF_WARN_UNUSED;

/* DESTRUCTOR.  Frees key and wipes its private half.  NULL is fine. */
void cf__ec_key_free(cf__ec_key *key);

/* 1 if key holds a private half (can sign), else 0. */
int cf__ec_key_has_private(const cf__ec_key *key);

/* The public point's coordinates into x[32] and y[32].  CF_OK or CF_ERROR. */
int cf__ec_key_public_xy(const cf__ec_key *key, unsigned char x[CF_P256_COORD_LEN],
                         unsigned char y[CF_P256_COORD_LEN]) CF_WARN_UNUSED;

/*
** The key as PEM text: the public half ("PUBLIC KEY"), or the private key
** ("EC PRIVATE KEY", CF_MISUSE for a public-only key).  OUT: *out, a
** NUL-terminated cf__malloc'd string the caller frees with cf__free; NULL on
** failure.  CF_OK, CF_MISUSE, CF_NOMEM, CF_ERROR.
*/
int cf__ec_key_public_pem(const cf__ec_key *key, char **out) CF_WARN_UNUSED;
int cf__ec_key_private_pem(const cf__ec_key *key, char **out) CF_WARN_UNUSED;

/*
** ES256 (RFC 7518 section 3.4): ECDSA P-256 with SHA-256 over msg[0..len),
** the signature as JWS carries it, r || s, 32 bytes each, big-endian (not
** DER).  cf__es256_verify: CF_OK for a valid signature, CF_AUTH for any
** invalid one (including r or s out of range), CF_NOMEM.  cf__es256_sign
** uses deterministic ECDSA (RFC 6979), so a hooked, replayed random source
** can never repeat a nonce across messages; CF_OK, CF_MISUSE (no private
** half), CF_NOMEM, CF_IO, CF_ERROR.
*/
int cf__es256_verify(const cf__ec_key *key, const void *msg, size_t len,
                     const unsigned char sig[CF_ES256_SIG_LEN]) CF_WARN_UNUSED;
int cf__es256_sign(const cf__ec_key *key, const void *msg, size_t len,
                   unsigned char sig[CF_ES256_SIG_LEN]) CF_WARN_UNUSED;

/* ---- authenticated encryption and key derivation (encryption at rest) ----
**
** AES-256-GCM with 96-bit nonces and 128-bit tags, and PBKDF2-HMAC-SHA256.
** store/vfs_crypt.c builds the replica's page encryption on these
** (docs/encryption.md gives the format).
*/
#define CF_AEAD_KEY_LEN 32   /* bytes of an AES-256-GCM key */
#define CF_AEAD_NONCE_LEN 12 /* bytes of a GCM nonce (IV) */
#define CF_AEAD_TAG_LEN 16   /* bytes of a GCM tag */

/*
** An AES-256-GCM key schedule and a CTR-DRBG for fresh nonces.  Used by one
** thread at a time (the GCM and DRBG states change on every call).
** CONSTRUCTOR cf__aead_new copies key; OUT: *out, freed (and wiped) with
** cf__aead_free (NULL is fine), NULL on failure; CF_OK, CF_NOMEM, CF_IO (no
** seed for the DRBG).
*/
typedef struct cf__aead cf__aead;
int cf__aead_new(const unsigned char key[CF_AEAD_KEY_LEN], cf__aead **out) CF_WARN_UNUSED;
void cf__aead_free(cf__aead *a);

/* A fresh random nonce from a's DRBG.  CF_OK or CF_IO. */
int cf__aead_nonce(cf__aead *a, unsigned char nonce[CF_AEAD_NONCE_LEN]) CF_WARN_UNUSED;

/*
** METHOD.  Encrypts in[0..len) into out (may be in; same length) under
** nonce, authenticating ad[0..ad_len) too, and writes the tag.  CF_OK or
** CF_ERROR.
*/
int cf__aead_seal(cf__aead *a, const unsigned char nonce[CF_AEAD_NONCE_LEN],
                  const void *ad, size_t ad_len, const unsigned char *in,
                  unsigned char *out, size_t len,
                  unsigned char tag[CF_AEAD_TAG_LEN]) CF_WARN_UNUSED;

/*
** METHOD.  Checks tag over ad and in[0..len) and decrypts into out (may be
** in).  CF_OK; CF_AUTH when the tag does not match (wrong key or altered
** bytes): out is then zeroed, never partly decrypted.
*/
int cf__aead_open(cf__aead *a, const unsigned char nonce[CF_AEAD_NONCE_LEN],
                  const void *ad, size_t ad_len, const unsigned char *in,
                  unsigned char *out, size_t len,
                  const unsigned char tag[CF_AEAD_TAG_LEN]) CF_WARN_UNUSED;

/*
** PBKDF2-HMAC-SHA256 (RFC 8018) of pass[0..pass_len) with salt[0..salt_len)
** and iterations rounds into out[0..out_len).  CF_OK, CF_INVALID (0
** iterations), CF_NOMEM, CF_ERROR.
*/
int cf__pbkdf2_sha256(const void *pass, size_t pass_len, const unsigned char *salt,
                      size_t salt_len, unsigned iterations, unsigned char *out,
                      size_t out_len) CF_WARN_UNUSED;

/* Overwrites p[0..n) with zeros in a way the compiler keeps. */
void cf__wipe(void *p, size_t n);

#endif
