/*
** cli/cmd_token.c: `clientflow token`, development tokens.
**
**   clientflow token --user UUID [--email E] [--role R] [--ttl SECONDS]
**                    [--aud A] [--es256-key PEM_FILE [--kid KID]]
**   clientflow token --verify TOKEN
**
** Mints a JWT for a user and prints it on stdout: HS256 with JWT_SECRET by
** default (the Supabase legacy scheme), or ES256 with a P-256 private key
** file.  --verify checks a token against the configured keys (JWT_SECRET,
** JWT_ES256_PUBLIC_KEY_FILE, JWT_JWKS_FILE, JWT_AUDIENCE, JWT_LEEWAY) and
** prints its claims.  docs/auth.md describes the formats and every check.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clientflow.h"
#include "cli/cli.h"

#define DEFAULT_TTL 3600
#define MAX_TTL 31536000
#define MAX_KEY_FILE (16 * 1024)

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: clientflow token --user UUID [--email E] [--role R] [--ttl SECONDS]\n"
      "                        [--aud A] [--es256-key PEM_FILE [--kid KID]]\n"
      "       clientflow token --verify TOKEN\n"
      "\n"
      "Mints a development JWT for a user and prints it (HS256 with JWT_SECRET,\n"
      "at least %d bytes; or ES256 with a P-256 private key file).\n"
      "\n"
      "  --user UUID        the user id (\"sub\"), a lowercase UUID (required)\n"
      "  --email E          the \"email\" claim\n"
      "  --role R           the \"role\" claim (default authenticated)\n"
      "  --ttl SECONDS      lifetime, 1..%d (default %d)\n"
      "  --aud A            the \"aud\" claim (default JWT_AUDIENCE, else "
      "authenticated)\n"
      "  --es256-key FILE   sign ES256 with this PEM private key instead of JWT_SECRET\n"
      "  --kid KID          key id to put in an ES256 token's header\n"
      "  --verify TOKEN     check TOKEN with the configured keys and print its claims\n"
      "\n"
      "Configuration (the environment, then ./.env; no flags): JWT_SECRET,\n"
      "JWT_ES256_PUBLIC_KEY_FILE, JWT_ES256_KID, JWT_JWKS_FILE, JWT_AUDIENCE, "
      "JWT_LEEWAY.\n"
      "JWT_SECRET must be the value `clientflow serve` uses, e.g.\n"
      "  export JWT_SECRET=$(head -c 32 /dev/urandom | base64)\n",
      CF_TOKEN_MIN_SECRET, MAX_TTL, DEFAULT_TTL);
}

/* Reads a small file into a malloc'd buffer; NULL on failure (errno set). */
static char *read_small_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  char *buf = malloc(MAX_KEY_FILE + 1);
  size_t n = buf ? fread(buf, 1, MAX_KEY_FILE + 1, f) : 0;
  int bad = buf == NULL || ferror(f) || n > MAX_KEY_FILE;
  fclose(f);
  if (bad) {
    free(buf);
    errno = EFBIG;
    return NULL;
  }
  *len = n;
  return buf;
}

/* Verifies token with the configured keys and prints its claims. */
static int verify(const char *token) {
  cf_auth *auth = NULL;
  cf_claims *claims = NULL;
  cf_token_error why = CF_TOKEN_OK;
  int rc = cf_auth_new(&auth);
  if (rc != CF_OK) return cf_cli_fail("token", "%s", cf_strerror(rc));
  rc = cf_auth_configure(auth, cf_cli_config);
  if (rc != CF_OK) {
    rc = cf_cli_fail("token", "%s", cf_auth_errmsg(auth));
    goto out;
  }
  rc = cf_auth_verify(auth, token, strlen(token), &claims, &why);
  if (rc == CF_AUTH) {
    rc = cf_cli_fail("token", "token refused: %s", cf_token_strerror(why));
    goto out;
  }
  if (rc != CF_OK) {
    rc = cf_cli_fail("token", "%s", cf_strerror(rc));
    goto out;
  }
  char when[32] = "?";
  time_t exp = (time_t)cf_claims_exp(claims);
  struct tm tm;
  if (gmtime_r(&exp, &tm) != NULL) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  printf("sub=%s\nrole=%s\nemail=%s\nexp=%lld (%s)\n", cf_claims_sub(claims),
         cf_claims_role(claims) ? cf_claims_role(claims) : "",
         cf_claims_email(claims) ? cf_claims_email(claims) : "",
         (long long)cf_claims_exp(claims), when);
  rc = 0;
out:
  cf_claims_free(claims);
  cf_auth_free(auth);
  return rc;
}

int cf_cmd_token(int argc, char **argv) {
  const char *user = NULL, *email = NULL, *role = "authenticated", *aud = NULL;
  const char *key_file = NULL, *kid = NULL, *to_verify = NULL;
  long long ttl = DEFAULT_TTL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (cf_cli_is_help(a)) {
      usage(stdout);
      return 0;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "clientflow token: unknown option or missing value: %s\n", a);
      usage(stderr);
      return 2;
    }
    const char *v = argv[++i];
    if (strcmp(a, "--user") == 0) {
      user = v;
    } else if (strcmp(a, "--email") == 0) {
      email = v;
    } else if (strcmp(a, "--role") == 0) {
      role = v;
    } else if (strcmp(a, "--aud") == 0) {
      aud = v;
    } else if (strcmp(a, "--es256-key") == 0) {
      key_file = v;
    } else if (strcmp(a, "--kid") == 0) {
      kid = v;
    } else if (strcmp(a, "--verify") == 0) {
      to_verify = v;
    } else if (strcmp(a, "--ttl") == 0) {
      char *end = NULL;
      errno = 0;
      ttl = strtoll(v, &end, 10);
      if (errno || end == v || *end || ttl < 1 || ttl > MAX_TTL) {
        fprintf(stderr, "clientflow token: --ttl must be 1..%d seconds, not '%s'\n",
                MAX_TTL, v);
        return 2;
      }
    } else {
      fprintf(stderr, "clientflow token: unknown option %s\n", a);
      usage(stderr);
      return 2;
    }
  }
  if (to_verify != NULL) return verify(to_verify);
  if (user == NULL) {
    fprintf(stderr, "clientflow token: --user UUID is required\n");
    usage(stderr);
    return 2;
  }
  if (aud == NULL) aud = cf_cli_config("JWT_AUDIENCE");
  if (aud == NULL) aud = "authenticated";

  char *token = NULL;
  int rc;
  if (key_file != NULL) {
    size_t len = 0;
    char *pem = read_small_file(key_file, &len);
    if (pem == NULL)
      return cf_cli_fail("token", "cannot read %s: %s", key_file, strerror(errno));
    rc = cf_token_mint_es256(pem, len, kid, user, role, email, aud, ttl, &token);
    memset(pem, 0, len);
    free(pem);
    if (rc == CF_INVALID)
      return cf_cli_fail("token",
                         "cannot mint: --user must be a lowercase UUID and %s a "
                         "P-256 private key in PEM",
                         key_file);
  } else {
    const char *secret = cf_cli_config("JWT_SECRET");
    if (secret == NULL)
      return cf_cli_fail(
          "token",
          "JWT_SECRET is not set: export it (the secret `clientflow serve` "
          "uses, at least %d bytes, e.g. JWT_SECRET=$(head -c 32 /dev/urandom "
          "| base64)) or put JWT_SECRET=... in ./.env; or sign ES256 with "
          "--es256-key FILE",
          CF_TOKEN_MIN_SECRET);
    if (strlen(secret) < CF_TOKEN_MIN_SECRET)
      return cf_cli_fail("token", "JWT_SECRET is %zu bytes; at least %d are required",
                         strlen(secret), CF_TOKEN_MIN_SECRET);
    rc = cf_token_mint_hs256(secret, strlen(secret), user, role, email, aud, ttl, &token);
    if (rc == CF_INVALID)
      return cf_cli_fail("token", "--user must be a canonical lowercase UUID, not '%s'",
                         user);
  }
  if (rc != CF_OK) return cf_cli_fail("token", "cannot mint: %s", cf_strerror(rc));
  printf("%s\n", token);
  cf_token_free(token);
  return 0;
}
