/*
** core/crypto.c: the one file that includes mbedTLS (see core/crypto.h).
*/
#include "core/crypto.h"

#include <mbedtls/sha256.h>

void cf__sha256(const void *data, size_t len, unsigned char out[CF_SHA256_LEN]) {
  /* is224 = 0: SHA-256.  Cannot fail for in-memory input with 2.28. */
  (void)mbedtls_sha256_ret(data, len, out, 0);
}

void cf__hex(const unsigned char *bin, size_t len, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[bin[i] >> 4];
    out[2 * i + 1] = digits[bin[i] & 15];
  }
  out[2 * len] = '\0';
}
