/*
** tests/unit/test_crypto.c: core/crypto.c against published vectors (FIPS
** 180-2 SHA-256, RFC 4231 HMAC-SHA256, RFC 4648 base64url, RFC 7515 A.3
** ES256) and its own edge cases: strict base64url, P-256 key handling,
** ES256 signatures.
*/
#include "cf_test.h"

#include <stdlib.h>

#include "clientflow.h"
#include "core/crypto.h"
#include "platform/platform.h"

/* Hex of bin[0..n) into a static buffer (one call per expression). */
static const char *hex(const unsigned char *bin, size_t n) {
  static char out[2 * 256 + 1];
  cf__hex(bin, n, out);
  return out;
}

/* Decodes canonical base64url text that the test knows is valid. */
static size_t b64d(const char *text, unsigned char *out, size_t cap) {
  size_t n = 0;
  CHECK_OK(cf__base64url_decode(text, strlen(text), out, cap, &n));
  return n;
}

CF_TEST(test_sha256_matches_fips_vectors) {
  unsigned char d[CF_SHA256_LEN];
  cf__sha256("", 0, d);
  CHECK_STR(hex(d, sizeof d),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  cf__sha256("abc", 3, d);
  CHECK_STR(hex(d, sizeof d),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  cf__sha256(two_blocks, strlen(two_blocks), d);
  CHECK_STR(hex(d, sizeof d),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

CF_TEST(test_sha256_with_cpu_extensions_matches_mbedtls_at_every_length) {
  /* cf__sha256 uses the CPU's SHA extensions where it has them
  ** (core/sha256_x86.c): the same digest as mbedTLS's for every length
  ** across the one- and two-block tails and several full blocks, and for a
  ** long input; the FIPS vectors above go through cf__sha256 too.  Where
  ** the CPU has no SHA extensions both sides are mbedTLS. */
  static unsigned char data[70000];
  unsigned char a[CF_SHA256_LEN], b[CF_SHA256_LEN];
  uint32_t x = 0x12345678u; /* fixed bytes: a failure is reproducible */
  for (size_t i = 0; i < sizeof data; i++) {
    x = x * 1103515245u + 12345u;
    data[i] = (unsigned char)(x >> 16);
  }
  int fast = cf__sha256_x86("", 0, a);
  printf("# SHA extensions %s on this CPU\n", fast ? "used" : "not available");
  for (size_t len = 0; len <= 300; len++) {
    cf__sha256(data, len, a);
    cf__sha256_mbedtls(data, len, b);
    CHECK(memcmp(a, b, sizeof a) == 0);
  }
  for (size_t off = 0; off < 4; off++) { /* unaligned starts, a long input */
    cf__sha256(data + off, sizeof data - off, a);
    cf__sha256_mbedtls(data + off, sizeof data - off, b);
    CHECK(memcmp(a, b, sizeof a) == 0);
  }
}

CF_TEST(test_hmac_sha256_matches_rfc4231_vectors) {
  unsigned char mac[CF_HMAC_SHA256_LEN], key[131], data[152];
  /* Case 1 */
  memset(key, 0x0b, 20);
  CHECK_OK(cf__hmac_sha256(key, 20, "Hi There", 8, mac));
  CHECK_STR(hex(mac, 32),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  /* Case 2: a key shorter than the output */
  CHECK_OK(cf__hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac));
  CHECK_STR(hex(mac, 32),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  /* Case 3 */
  memset(key, 0xaa, 20);
  memset(data, 0xdd, 50);
  CHECK_OK(cf__hmac_sha256(key, 20, data, 50, mac));
  CHECK_STR(hex(mac, 32),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  /* Case 4 */
  for (int i = 0; i < 25; i++)
    key[i] = (unsigned char)(i + 1);
  memset(data, 0xcd, 50);
  CHECK_OK(cf__hmac_sha256(key, 25, data, 50, mac));
  CHECK_STR(hex(mac, 32),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  /* Case 6: a key longer than the block is hashed first */
  memset(key, 0xaa, 131);
  const char *c6 = "Test Using Larger Than Block-Size Key - Hash Key First";
  CHECK_OK(cf__hmac_sha256(key, 131, c6, strlen(c6), mac));
  CHECK_STR(hex(mac, 32),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  /* Case 7 */
  const char *c7 = "This is a test using a larger than block-size key and a larger than "
                   "block-size data. The key needs to be hashed before being used by the "
                   "HMAC algorithm.";
  CHECK_OK(cf__hmac_sha256(key, 131, c7, strlen(c7), mac));
  CHECK_STR(hex(mac, 32),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

CF_TEST(test_ct_equal_compares_whole_buffers) {
  unsigned char a[64], b[64];
  memset(a, 7, sizeof a);
  memset(b, 7, sizeof b);
  CHECK(cf__ct_equal(a, b, sizeof a));
  CHECK(cf__ct_equal(a, b, 0));
  b[63] ^= 1;
  CHECK(!cf__ct_equal(a, b, sizeof a));
  b[63] ^= 1;
  b[0] ^= 0x80;
  CHECK(!cf__ct_equal(a, b, sizeof a));
}

CF_TEST(test_base64url_encodes_rfc4648_vectors) {
  static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  static const char *coded[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
  char out[16];
  unsigned char back[16];
  for (int i = 0; i < 7; i++) {
    size_t n = strlen(plain[i]);
    CHECK_EQ(cf__base64url_encoded_len(n), strlen(coded[i]));
    cf__base64url_encode(plain[i], n, out);
    CHECK_STR(out, coded[i]);
    size_t m = b64d(coded[i], back, sizeof back);
    CHECK_EQ(m, n);
    CHECK(memcmp(back, plain[i], n) == 0);
  }
  /* The URL-safe alphabet: 0xfb 0xff is "+/8=" in standard base64. */
  const unsigned char url[] = {0xfb, 0xff};
  cf__base64url_encode(url, 2, out);
  CHECK_STR(out, "-_8");
}

CF_TEST(test_base64url_decode_refuses_noncanonical_text) {
  unsigned char out[16];
  size_t n = 99;
  static const char *bad[] = {
      "Zg==",   /* padding */
      "Zm9v=",  /* padding after a full quantum */
      "Z",      /* 4k+1 characters cannot encode bytes */
      "Zm9vY",  /* the same at a longer length */
      "Zh",     /* non-zero unused bits: "Zg" is the only text for "f" */
      "Zm9",    /* non-zero unused bits in a 2-byte tail */
      "Zm+v",   /* standard alphabet '+' */
      "Zm/v",   /* standard alphabet '/' */
      "Zm 9v",  /* whitespace */
      "Zm9v\n", /* trailing newline */
      "Zm.v",   /* a JWS separator */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK_MSG(cf__base64url_decode(bad[i], strlen(bad[i]), out, sizeof out, &n) ==
                  CF_INVALID,
              "accepted \"%s\"", bad[i]);
    CHECK_EQ(n, 0);
  }
  /* A NUL and a non-ASCII byte inside the text. */
  CHECK(cf__base64url_decode("Zm\0v", 4, out, sizeof out, &n) == CF_INVALID);
  CHECK(cf__base64url_decode("Zm\xc3v", 4, out, sizeof out, &n) == CF_INVALID);
  /* The cap is honoured before anything is written. */
  CHECK(cf__base64url_decode("Zm9vYmFy", 8, out, 5, &n) == CF_TOOBIG);
  CHECK_OK(cf__base64url_decode("Zm9vYmFy", 8, out, 6, &n));
  CHECK_EQ(n, 6);
  CHECK_OK(cf__base64url_decode("", 0, out, 0, &n));
  CHECK_EQ(n, 0);
}

CF_TEST(test_base64url_round_trips_random_bytes) {
  uint64_t state = cf_test_seed();
  unsigned char in[200], back[200];
  char text[300];
  for (int iter = 0; iter < 2000; iter++) {
    size_t n = (size_t)(cf_test_rand(&state) % sizeof in);
    for (size_t i = 0; i < n; i++)
      in[i] = (unsigned char)cf_test_rand(&state);
    cf__base64url_encode(in, n, text);
    CHECK_EQ(strlen(text), cf__base64url_encoded_len(n));
    CHECK(cf__base64url_decoded_max(strlen(text)) >= n);
    size_t m = 0;
    CHECK_OK(cf__base64url_decode(text, strlen(text), back, sizeof back, &m));
    CHECK_EQ(m, n);
    CHECK(memcmp(in, back, n) == 0);
  }
}

CF_TEST(test_csprng_fills_buffers_of_any_size) {
  unsigned char a[2000], b[2000];
  memset(a, 0, sizeof a);
  memset(b, 0, sizeof b);
  CHECK_OK(cf__csprng(a, sizeof a));
  CHECK_OK(cf__csprng(b, sizeof b));
  CHECK(memcmp(a, b, sizeof a) != 0);
  CHECK_OK(cf__csprng(a, 0));
}

CF_TEST(test_es256_signature_verifies_and_rejects_changes) {
  cf__ec_key *key = NULL;
  CHECK_OK(cf__ec_key_generate(&key));
  CHECK(cf__ec_key_has_private(key));
  const char *msg = "header.payload";
  unsigned char sig[CF_ES256_SIG_LEN];
  CHECK_OK(cf__es256_sign(key, msg, strlen(msg), sig));
  CHECK_OK(cf__es256_verify(key, msg, strlen(msg), sig));
  /* Another message, a flipped bit in r or in s. */
  CHECK_EQ(cf__es256_verify(key, "header.payloaD", 14, sig), CF_AUTH);
  sig[5] ^= 1;
  CHECK_EQ(cf__es256_verify(key, msg, strlen(msg), sig), CF_AUTH);
  sig[5] ^= 1;
  sig[40] ^= 0x10;
  CHECK_EQ(cf__es256_verify(key, msg, strlen(msg), sig), CF_AUTH);
  /* r = 0, s = 0, and s = all ones (above the group order) are refused. */
  unsigned char zero[CF_ES256_SIG_LEN];
  memset(zero, 0, sizeof zero);
  CHECK_EQ(cf__es256_verify(key, msg, strlen(msg), zero), CF_AUTH);
  unsigned char big[CF_ES256_SIG_LEN];
  memset(big, 0xff, sizeof big);
  CHECK_EQ(cf__es256_verify(key, msg, strlen(msg), big), CF_AUTH);
  /* Deterministic signing: the same message gives the same signature. */
  unsigned char sig2[CF_ES256_SIG_LEN];
  sig[40] ^= 0x10;
  CHECK_OK(cf__es256_sign(key, msg, strlen(msg), sig2));
  CHECK(memcmp(sig, sig2, sizeof sig) == 0);
  cf__ec_key_free(key);
}

CF_TEST(test_ec_key_pem_and_coordinates_round_trip) {
  cf__ec_key *key = NULL, *pub = NULL, *priv = NULL, *xy = NULL;
  char *pub_pem = NULL, *priv_pem = NULL;
  unsigned char x[32], y[32], sig[64];
  CHECK_OK(cf__ec_key_generate(&key));
  CHECK_OK(cf__ec_key_public_pem(key, &pub_pem));
  CHECK_OK(cf__ec_key_private_pem(key, &priv_pem));
  CHECK(strstr(pub_pem, "-----BEGIN PUBLIC KEY-----") == pub_pem);
  CHECK(strstr(priv_pem, "PRIVATE KEY-----") != NULL);
  CHECK_OK(cf__ec_key_from_pem(pub_pem, strlen(pub_pem), &pub));
  CHECK(!cf__ec_key_has_private(pub));
  CHECK_OK(cf__ec_key_from_pem(priv_pem, strlen(priv_pem), &priv));
  CHECK(cf__ec_key_has_private(priv));
  CHECK_OK(cf__ec_key_public_xy(key, x, y));
  CHECK_OK(cf__ec_key_from_xy(x, y, &xy));
  /* Signed by the re-parsed private key, verified by the other two forms. */
  CHECK_OK(cf__es256_sign(priv, "m", 1, sig));
  CHECK_OK(cf__es256_verify(pub, "m", 1, sig));
  CHECK_OK(cf__es256_verify(xy, "m", 1, sig));
  /* A public-only key cannot sign or export a private PEM. */
  char *none = NULL;
  CHECK_EQ(cf__es256_sign(pub, "m", 1, sig), CF_MISUSE);
  CHECK_EQ(cf__ec_key_private_pem(pub, &none), CF_MISUSE);
  CHECK(none == NULL);
  cf__free(pub_pem);
  cf__free(priv_pem);
  cf__ec_key_free(key);
  cf__ec_key_free(pub);
  cf__ec_key_free(priv);
  cf__ec_key_free(xy);
}

CF_TEST(test_ec_key_refuses_bad_points_and_other_curves) {
  cf__ec_key *key = NULL, *bad = NULL;
  unsigned char x[32], y[32];
  CHECK_OK(cf__ec_key_generate(&key));
  CHECK_OK(cf__ec_key_public_xy(key, x, y));
  y[31] ^= 1; /* off the curve */
  CHECK_EQ(cf__ec_key_from_xy(x, y, &bad), CF_INVALID);
  CHECK(bad == NULL);
  memset(x, 0xff, sizeof x); /* coordinate above the field prime */
  CHECK_EQ(cf__ec_key_from_xy(x, y, &bad), CF_INVALID);
  const char *garbage =
      "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n";
  CHECK_EQ(cf__ec_key_from_pem(garbage, strlen(garbage), &bad), CF_INVALID);
  CHECK_EQ(cf__ec_key_from_pem("", 0, &bad), CF_INVALID);
  const char *p384 = "-----BEGIN PUBLIC KEY-----\n"
                     "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEl6iAYYOfrO6e/a4HWRVTIS1+ZvrHn6+i\n"
                     "1mn5geRQItKBflRSxFwvh0bf0HJJvd0Y7uyPwTACPT7YRnxHCvdQrLEf74fy4wRl\n"
                     "JZ5AqnmgQGbR0PeMvWeSpB9n6768fnZi\n"
                     "-----END PUBLIC KEY-----\n";
  CHECK_EQ(cf__ec_key_from_pem(p384, strlen(p384), &bad), CF_INVALID);
  CHECK(bad == NULL);
  char *huge = calloc(1, CF_PEM_MAX + 2);
  CHECK(huge != NULL);
  memset(huge, 'A', CF_PEM_MAX + 1);
  CHECK_EQ(cf__ec_key_from_pem(huge, CF_PEM_MAX + 1, &bad), CF_TOOBIG);
  free(huge);
  cf__ec_key_free(key);
}

CF_TEST(test_es256_verifies_rfc7515_example) {
  /* RFC 7515 appendix A.3: the JWK's x and y, the signing input, r || s. */
  unsigned char x[32], y[32], sig[64];
  CHECK_EQ(b64d("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", x, sizeof x), 32);
  CHECK_EQ(b64d("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", y, sizeof y), 32);
  CHECK_EQ(b64d("DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-"
                "F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-"
                "Kg6NU1Q",
                sig, sizeof sig),
           64);
  const char *input =
      "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogI"
      "mh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
  cf__ec_key *key = NULL;
  CHECK_OK(cf__ec_key_from_xy(x, y, &key));
  CHECK_OK(cf__es256_verify(key, input, strlen(input), sig));
  CHECK_EQ(cf__es256_verify(key, input, strlen(input) - 1, sig), CF_AUTH);
  cf__ec_key_free(key);
}

CF_TEST(test_hmac_key_reused_matches_one_shot_mac) {
  uint64_t state = cf_test_seed();
  unsigned char key[200], data[300], a[32], b[32];
  for (int iter = 0; iter < 200; iter++) {
    size_t kl = (size_t)(cf_test_rand(&state) % sizeof key); /* below, at, above 64 */
    size_t dl = (size_t)(cf_test_rand(&state) % sizeof data);
    for (size_t i = 0; i < kl; i++)
      key[i] = (unsigned char)cf_test_rand(&state);
    for (size_t i = 0; i < dl; i++)
      data[i] = (unsigned char)cf_test_rand(&state);
    cf__hmac_key *k = NULL;
    CHECK_OK(cf__hmac_key_new(key, kl, &k));
    CHECK_OK(cf__hmac_sha256(key, kl, data, dl, a));
    cf__hmac_sha256_with(k, data, dl, b);
    CHECK(memcmp(a, b, 32) == 0);
    cf__hmac_sha256_with(k, data, dl, b); /* the key is not consumed */
    CHECK(memcmp(a, b, 32) == 0);
    cf__hmac_key_free(k);
  }
  /* RFC 4231 case 2 through a reusable key. */
  cf__hmac_key *k = NULL;
  CHECK_OK(cf__hmac_key_new("Jefe", 4, &k));
  cf__hmac_sha256_with(k, "what do ya want for nothing?", 28, a);
  CHECK_STR(hex(a, 32),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  cf__hmac_key_free(k);
}

CF_TEST(test_aes256_gcm_matches_the_nist_vector_and_refuses_altered_bytes) {
  /* GCM spec test case 14: AES-256, zero key, zero 96-bit IV, 16 zero bytes. */
  unsigned char key[32] = {0}, nonce[12] = {0}, in[16] = {0}, out[16], tag[16];
  cf__aead *a = NULL;
  CHECK_OK(cf__aead_new(key, &a));
  CHECK_OK(cf__aead_seal(a, nonce, NULL, 0, in, out, sizeof in, tag));
  CHECK_STR(hex(out, 16), "cea7403d4d606b6e074ec5d3baf39d18");
  CHECK_STR(hex(tag, 16), "d0d1c8a799996bf0265b98b5d48ab919");
  unsigned char back[16];
  CHECK_OK(cf__aead_open(a, nonce, NULL, 0, out, back, sizeof out, tag));
  CHECK(memcmp(back, in, 16) == 0);
  /* Associated data, ciphertext, tag: any altered bit is refused. */
  unsigned char msg[100], ct[100], back2[100], ad[24] = "page 7 of this very file";
  for (size_t i = 0; i < sizeof msg; i++)
    msg[i] = (unsigned char)i;
  CHECK_OK(cf__aead_nonce(a, nonce));
  CHECK_OK(cf__aead_seal(a, nonce, ad, sizeof ad, msg, ct, sizeof msg, tag));
  ct[50] ^= 4;
  CHECK_EQ(cf__aead_open(a, nonce, ad, sizeof ad, ct, back2, sizeof ct, tag), CF_AUTH);
  ct[50] ^= 4;
  ad[5] ^= 1;
  CHECK_EQ(cf__aead_open(a, nonce, ad, sizeof ad, ct, back2, sizeof ct, tag), CF_AUTH);
  ad[5] ^= 1;
  tag[0] ^= 0x80;
  CHECK_EQ(cf__aead_open(a, nonce, ad, sizeof ad, ct, back2, sizeof ct, tag), CF_AUTH);
  tag[0] ^= 0x80;
  unsigned char plain[100];
  CHECK_OK(cf__aead_open(a, nonce, ad, sizeof ad, ct, plain, sizeof ct, tag));
  CHECK(memcmp(plain, msg, sizeof msg) == 0);
  /* Fresh nonces differ. */
  unsigned char n2[12];
  CHECK_OK(cf__aead_nonce(a, n2));
  CHECK(memcmp(nonce, n2, 12) != 0);
  cf__aead_free(a);
}

CF_TEST(test_pbkdf2_sha256_matches_the_published_vectors) {
  unsigned char out[32];
  CHECK_OK(
      cf__pbkdf2_sha256("password", 8, (const unsigned char *)"salt", 4, 1, out, 32));
  CHECK_STR(hex(out, 32),
            "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
  CHECK_OK(
      cf__pbkdf2_sha256("password", 8, (const unsigned char *)"salt", 4, 2, out, 32));
  CHECK_STR(hex(out, 32),
            "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43");
  CHECK_EQ(cf__pbkdf2_sha256("p", 1, (const unsigned char *)"s", 1, 0, out, 32),
           CF_INVALID);
}
