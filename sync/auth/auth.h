/*
** sync/auth/auth.h: JWT verification and minting (internal side; the code is in
** sync/auth/, one concept a file, see sync/auth/auth_int.h).
**
** The public API (cf_auth, cf_claims, cf_token_*) is in include/clientflow.h,
** section "Tokens"; docs/auth.md describes the token formats, the
** configuration names and every check.  This header adds what tests and
** other library modules need beyond the public API: raw signing of arbitrary
** header and payload texts (to craft hostile tokens) and adding an
** already-parsed key.
*/
#ifndef CF_SYNC_AUTH_H
#define CF_SYNC_AUTH_H

#include <stddef.h>

#include "clientflow.h"
#include "core/crypto.h"

/*
** Builds base64url(header_json) "." base64url(payload_json) "." base64url(sig)
** from the given texts, without checking them: the signature is HMAC-SHA256
** under secret (cf__jwt_sign_hs256), ES256 under key (cf__jwt_sign_es256),
** or the given bytes (cf__jwt_assemble, sig may be NULL when sig_len is 0).
** OUT: *out, a NUL-terminated cf__malloc'd string freed with cf__free (or
** cf_token_free); NULL on failure.  CF_OK, CF_NOMEM, CF_TOOBIG (over 64 KiB),
** or the signer's error.
*/
int cf__jwt_sign_hs256(const void *secret, size_t secret_len, const char *header_json,
                       const char *payload_json, char **out) CF_WARN_UNUSED;
int cf__jwt_sign_es256(const cf__ec_key *key, const char *header_json,
                       const char *payload_json, char **out) CF_WARN_UNUSED;
int cf__jwt_assemble(const char *header_json, const char *payload_json,
                     const unsigned char *sig, size_t sig_len, char **out) CF_WARN_UNUSED;

/*
** METHOD.  Adds an ES256 verification key that the caller already parsed.
** Takes ownership of key in every case (it is freed on failure).  kid may
** be NULL (the key then matches tokens with any or no kid).  CF_OK,
** CF_TOOBIG (too many keys or kid too long), CF_NOMEM.
*/
int cf__auth_add_es256_key(cf_auth *auth, cf__ec_key *key,
                           const char *kid) CF_WARN_UNUSED;

#endif
