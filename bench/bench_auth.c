/*
** bench/bench_auth.c: token verification and minting rates (docs/auth.md).
**
** Prints one table: HS256 verify, ES256 verify, HS256 mint, ES256 mint and
** the cost of a refused token (bad signature, malformed), per second on one
** thread.  Built by the build, never run by ctest: run it from a Release
** build, `./bench_auth [seconds-per-row]`.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clientflow.h"
#include "core/crypto.h"
#include "platform/platform.h"
#include "sync/auth/auth.h"

#define SECRET "super-secret-jwt-token-with-at-least-32-characters-long"
#define USER "3f1c2a9e-5b7d-4e8f-9a01-23456789abcd"

/* Runs verify on tok for about `seconds`; returns operations per second. */
static double rate_verify(const cf_auth *auth, const char *tok, double seconds,
                          int want_ok) {
  int64_t start = cf__monotonic_ns(), end = start + (int64_t)(seconds * 1e9), now = start;
  long n = 0;
  size_t len = strlen(tok);
  while (now < end) {
    for (int i = 0; i < 64; i++) {
      cf_claims *claims = NULL;
      int rc = cf_auth_verify(auth, tok, len, &claims, NULL);
      if ((rc == CF_OK) != want_ok) {
        fprintf(stderr, "bench_auth: unexpected result %s\n", cf_strerror(rc));
        exit(1);
      }
      cf_claims_free(claims);
    }
    n += 64;
    now = cf__monotonic_ns();
  }
  return (double)n * 1e9 / (double)(now - start);
}

/* Mints HS256 (pem == NULL) or ES256 tokens for about `seconds`. */
static double rate_mint(const char *pem, double seconds) {
  int64_t start = cf__monotonic_ns(), end = start + (int64_t)(seconds * 1e9), now = start;
  long n = 0;
  while (now < end) {
    for (int i = 0; i < 16; i++) {
      char *tok = NULL;
      int rc = pem ? cf_token_mint_es256(pem, strlen(pem), "k1", USER, "authenticated",
                                         NULL, "authenticated", 3600, &tok)
                   : cf_token_mint_hs256(SECRET, strlen(SECRET), USER, "authenticated",
                                         NULL, "authenticated", 3600, &tok);
      if (rc != CF_OK) {
        fprintf(stderr, "bench_auth: mint failed: %s\n", cf_strerror(rc));
        exit(1);
      }
      cf_token_free(tok);
    }
    n += 16;
    now = cf__monotonic_ns();
  }
  return (double)n * 1e9 / (double)(now - start);
}

int main(int argc, char **argv) {
  double secs = argc > 1 ? atof(argv[1]) : 1.0;
  if (secs <= 0) secs = 1.0;
  cf__ec_key *key = NULL;
  char *pub = NULL, *priv = NULL, *hs = NULL, *es = NULL;
  cf_auth *auth = NULL;
  if (cf__ec_key_generate(&key) != CF_OK || cf__ec_key_public_pem(key, &pub) != CF_OK ||
      cf__ec_key_private_pem(key, &priv) != CF_OK || cf_auth_new(&auth) != CF_OK ||
      cf_auth_set_hs256_secret(auth, SECRET, strlen(SECRET)) != CF_OK ||
      cf_auth_add_es256_pem(auth, pub, strlen(pub), "k1") != CF_OK ||
      cf_token_mint_hs256(SECRET, strlen(SECRET), USER, "authenticated",
                          "rep@example.com", "authenticated", 3600, &hs) != CF_OK ||
      cf_token_mint_es256(priv, strlen(priv), "k1", USER, "authenticated",
                          "rep@example.com", "authenticated", 3600, &es) != CF_OK) {
    fprintf(stderr, "bench_auth: setup failed\n");
    return 1;
  }
  char *forged = cf__strdup(hs);
  if (forged == NULL) return 1;
  char *sig = strrchr(forged, '.') + 1;
  sig[0] = sig[0] == 'A' ? 'B' : 'A';

  printf("| operation (one thread) | per second |\n|---|---:|\n");
  printf("| HS256 verify, %zu-byte token | %.0f |\n", strlen(hs),
         rate_verify(auth, hs, secs, 1));
  printf("| ES256 verify, %zu-byte token | %.0f |\n", strlen(es),
         rate_verify(auth, es, secs, 1));
  printf("| HS256 refuse (bad signature) | %.0f |\n", rate_verify(auth, forged, secs, 0));
  printf("| refuse malformed (\"a.b.c\") | %.0f |\n",
         rate_verify(auth, "a.b.c", secs, 0));
  printf("| HS256 mint | %.0f |\n", rate_mint(NULL, secs));
  printf("| ES256 mint | %.0f |\n", rate_mint(priv, secs));

  cf__free(forged);
  cf_token_free(hs);
  cf_token_free(es);
  cf__free(pub);
  cf__free(priv);
  cf__ec_key_free(key);
  cf_auth_free(auth);
  return 0;
}
