/*
** clientflow.h: the one public header of libclientflow, the ClientFlow Sync
** offline-first sync node.
**
** OVERVIEW
**
** A device keeps a per-org SQLite replica of the CRM schema (ten tables, see
** docs/schema.md).  Apps read and write plain SQL against views that carry the
** CRM's table names; every write is logged in an outbox inside the same SQLite
** transaction and stays there until the PostgreSQL master has answered for it.
** A sync session reconciles the outbox with the master over a WebSocket
** channel (docs/protocol.md); the master's Row Level Security judges every
** pushed row.  Merges are last-writer-wins per column by hybrid logical clock
** (docs/sync.md).
**
** CONVENTIONS
**
**  - Every function that can fail returns an int result code: CF_OK (0) on
**    success, one of the CF_* codes below otherwise.  cf_strerror() names a
**    code; each handle type has its own cf_<handle>_errmsg() for the detail
**    of that handle's last failure: cf_master_errmsg, cf_auth_errmsg,
**    cf_node_errmsg (NULL: the last failed cf_node_open), cf_server_errmsg,
**    cf_sync_errmsg.  They are typed functions, not one generic cf_errmsg(),
**    so a wrong handle does not compile and C++ callers can use them too.
**  - CONSTRUCTOR functions write the new handle through an OUT: pointer and
**    write NULL there on failure.  DESTRUCTOR functions accept NULL.
**  - Every function says who owns what it returns and how long a returned
**    pointer stays valid.  Handles are opaque; nothing here is a struct that
**    callers fill in, except the hook tables, which are copied.
**  - A handle is used by one thread at a time (see THREADS).
**
** THREADS
**
**  - Every handle (cf_node, cf_stmt, cf_watch, cf_sync, cf_master, cf_server)
**    is used by one thread at a time; different handles may be used by
**    different threads at once.  The library takes no lock around a handle:
**    handing one from thread to thread needs the app's own synchronisation.
**  - Exceptions, safe from any thread: cf_sync_stop, cf_sync_set_token,
**    cf_server_stop, cf_node_wait; cf_auth_verify on a configured cf_auth;
**    cf_strerror, cf_version.
**  - Several handles on ONE replica file are how threads (and processes)
**    share it: open one cf_node per thread with the same path, org and user.
**    SQLite's WAL lets readers run beside the one writer; a writer waits up
**    to 5 s for another's transaction (then CF_BUSY).  The usual app: a UI
**    node on the UI thread, and a sync node driven by cf_sync_start on the
**    library's thread.  What the sync node commits reaches the UI node
**    through cf_node_poll (change events, watched queries, conflicts); a
**    commit wakes cf_node_wait in every thread of the process.
**  - Callbacks run on a known thread: cf_node_poll's (changes, conflicts,
**    watched queries) on the thread calling cf_node_poll; cf_sync's events
**    and progress on the thread running the sync; report callbacks on the
**    caller's thread.
**  - Process-wide: cf_set_clock_hook and cf_set_random_hook before any
**    thread starts; cf_node_errmsg(NULL) (the last failed open) is one
**    static buffer, meaningful only when one thread opens nodes.
**  - Checked by tests/unit/test_threads.c under ThreadSanitizer
**    (scripts/tsan.sh).
*/
#ifndef CLIENTFLOW_H
#define CLIENTFLOW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CF_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define CF_WARN_UNUSED
#endif

#define CF_VERSION_STRING "0.1.0"

/*
** Result codes, from one table: CF_RESULT_TABLE(X) expands X(name, value,
** message) once per code.  Codes are never added together.
*/
#define CF_RESULT_TABLE(X)                                                               \
  X(CF_OK, 0, "ok")                                                                      \
  X(CF_ERROR, 1, "error")                                                                \
  X(CF_NOMEM, 2, "out of memory")                                                        \
  X(CF_INVALID, 3, "invalid argument or value")                                          \
  X(CF_MISUSE, 4, "library used incorrectly")                                            \
  X(CF_IO, 5, "input/output error")                                                      \
  X(CF_STORE, 6, "local replica error")                                                  \
  X(CF_CORRUPT, 7, "data is corrupt")                                                    \
  X(CF_NOTFOUND, 8, "not found")                                                         \
  X(CF_TOOBIG, 9, "size limit exceeded")                                                 \
  X(CF_PROTOCOL, 10, "protocol error")                                                   \
  X(CF_AUTH, 11, "authentication failed")                                                \
  X(CF_PERMISSION, 12, "permission denied")                                              \
  X(CF_CONSTRAINT, 13, "constraint violated")                                            \
  X(CF_CLOCK_SKEW, 14, "remote clock too far ahead")                                     \
  X(CF_WRONG_ORG, 15, "row belongs to another organization")                             \
  X(CF_UNREACHABLE, 16, "server unreachable")                                            \
  X(CF_DATABASE, 17, "database error")                                                   \
  X(CF_CONFIG, 18, "configuration error")                                                \
  X(CF_BUSY, 19, "busy")                                                                 \
  X(CF_DONE, 20, "no more")

typedef enum cf_result {
#define CF_X_ENUM(name, value, msg) name = value,
  CF_RESULT_TABLE(CF_X_ENUM)
#undef CF_X_ENUM
} cf_result;

/*
** Returns a static English description of result code rc.  The string is
** owned by the library and valid for the life of the process.  Unknown codes
** give "unknown result code".
*/
const char *cf_strerror(int rc);

/* Returns CF_VERSION_STRING (static storage). */
const char *cf_version(void);

/*
** Platform hooks: a test or a simulation replaces the wall clock and the
** source of randomness for the whole process.  Passing NULL restores the
** default (clock_gettime(CLOCK_REALTIME) and getrandom(2)).  The hooks must
** be thread-safe if the library is used from several threads.
**
**  now_ms:  milliseconds since the Unix epoch.
**  random:  fill buf with len unpredictable bytes; return 0 on success.
*/
typedef int64_t (*cf_clock_fn)(void *ctx);
typedef int (*cf_random_fn)(void *ctx, unsigned char *buf, size_t len);
void cf_set_clock_hook(cf_clock_fn fn, void *ctx);
void cf_set_random_hook(cf_random_fn fn, void *ctx);

/* ==== Master administration (migrate, seed, doctor; private cluster) ====
**
** A cf_master is one connection to the PostgreSQL master used for
** administration: the `clientflow migrate|seed|doctor` commands are thin
** wrappers around these functions (docs/operations.md).  The library prints
** nothing itself: every line meant for a person goes to the report callback
** set with cf_master_set_report (none set: the lines are dropped).
**
** Migrations are the files sql/postgres/NNN_name.sql embedded in the
** library, applied in order, each in its own transaction, and recorded with
** the SHA-256 of their bytes in cf_meta.schema_migrations.
*/
typedef struct cf_master cf_master;

/* What a reported line is: plain information, a passed check, a warning
** that does not fail the command, or a failed check. */
typedef enum cf_report_kind {
  CF_REPORT_INFO = 0,
  CF_REPORT_OK = 1,
  CF_REPORT_WARN = 2,
  CF_REPORT_FAIL = 3
} cf_report_kind;

/* Receives one line (no trailing newline), valid only during the call. */
typedef void (*cf_report_fn)(void *ctx, cf_report_kind kind, const char *line);

/*
** CONSTRUCTOR.  Connects to url, a libpq connection URI
** (postgresql://user:password@host:port/db?sslmode=...) or key=value string.
** OUT: *out, the handle, or NULL on failure; then errbuf (if not NULL)
** receives a one-line reason (at most errbuf_len-1 bytes, never the
** password) and the result is CF_CONFIG (malformed URL), CF_AUTH (password
** rejected or missing), CF_NOTFOUND (no such database or role),
** CF_UNREACHABLE (no server answered) or CF_NOMEM.  Close with
** cf_master_close.
*/
int cf_master_open(const char *url, cf_master **out, char *errbuf,
                   size_t errbuf_len) CF_WARN_UNUSED;

/* DESTRUCTOR.  Closes the connection and frees m; accepts NULL. */
void cf_master_close(cf_master *m);

/*
** METHOD.  The one-line detail of the last failure on m ("" if none).
** Owned by m, valid until the next call on m.
*/
const char *cf_master_errmsg(const cf_master *m);

/* METHOD.  Sets where report lines go (fn NULL: dropped).  ctx is passed
** through; the caller keeps it alive while m uses it. */
void cf_master_set_report(cf_master *m, cf_report_fn fn, void *ctx);

/*
** METHOD.  Applies every pending migration in order, each in its own
** transaction, under a transaction-level advisory lock (two concurrent runs
** apply each file once).  Refuses with CF_CORRUPT, changing nothing, when
** an applied file's checksum differs from the recorded one, or when the
** database records a migration this build does not know; the message names
** the file.  A failing migration is rolled back and its database error
** returned (CF_DATABASE, CF_PERMISSION, ...), the message naming the file
** and the line.  Nothing pending is a success.
*/
int cf_master_migrate_up(cf_master *m) CF_WARN_UNUSED;

/*
** METHOD.  Reports each migration as applied (with its time), pending,
** changed, or unknown to this build.  OUT: *pending (may be NULL), the
** number of pending files.  CF_CORRUPT when a file changed after it was
** applied or an unknown one is recorded; CF_OK otherwise.
*/
int cf_master_migrate_status(cf_master *m, int *pending) CF_WARN_UNUSED;

/*
** METHOD.  Drops everything the migrations made (the relations, routines
** and types in schema public that no extension owns, the schemas the
** migrations create except public and auth, the ledger) and applies all
** migrations again.  DATA IS LOST: confirm must be non-zero, else CF_MISUSE
** and nothing happens.  Cluster-global roles are kept.
*/
int cf_master_migrate_reset(cf_master *m, int confirm) CF_WARN_UNUSED;

/*
** METHOD.  Loads the demo data (the embedded seed/demo.sql) in one
** transaction and reports the row count of each table.  Idempotent: a
** second run leaves the same rows.  CF_MISUSE when migrations are pending,
** CF_CORRUPT when an applied one changed, CF_NOTFOUND when this build has no
** seed; a failing statement rolls the whole seed back.
*/
int cf_master_seed(cf_master *m) CF_WARN_UNUSED;

/*
** METHOD.  Checks the database: the raw query SELECT 1, the ten tables,
** RLS enabled and forced on each, migrations applied and pending, and the
** connected role (a WARN line when it is a superuser, owns the tables or
** has BYPASSRLS: the sync server must not run as such a role).  OUT:
** *failures (may be NULL), the number of failed checks.  CF_OK when every
** check passed, CF_ERROR when at least one failed, or the code of a query
** that could not run at all (e.g. CF_PERMISSION), with cf_master_errmsg.
*/
int cf_master_doctor(cf_master *m, int *failures) CF_WARN_UNUSED;

/*
** METHOD.  Makes name a login role the sync server may use: creates it if
** missing (LOGIN, NOSUPERUSER, NOBYPASSRLS), sets its password if password
** is not NULL, and grants it authenticator and cf_sync_server.  Idempotent.
** Needs a migrated database and a role that may create roles.  CF_OK,
** CF_INVALID (bad name), CF_PERMISSION, CF_DATABASE; cf_master_errmsg().
*/
int cf_master_ensure_server_role(cf_master *m, const char *name,
                                 const char *password) CF_WARN_UNUSED;

/*
** A private PostgreSQL 15 cluster for demos and examples: a new directory
** under parent_dir (NULL: $TMPDIR or /tmp) holding the data, the log and the
** Unix socket, a free loopback port, trust authentication, listening on
** 127.0.0.1 only, and an empty database named dbname.  As root the server
** runs as the `postgres` user (PostgreSQL refuses root), so parent_dir must
** be reachable by that user.
**
** CONSTRUCTOR.  OUT: *out, or NULL on failure; then errbuf (if not NULL)
** receives a one-line reason and nothing is left behind.  Stop with
** cf_pgcluster_stop, or leave running with cf_pgcluster_detach.
*/
typedef struct cf_pgcluster cf_pgcluster;
int cf_pgcluster_start(const char *parent_dir, const char *dbname, cf_pgcluster **out,
                       char *errbuf, size_t errbuf_len) CF_WARN_UNUSED;

/* METHOD.  postgresql://postgres@127.0.0.1:PORT/DBNAME; owned by c. */
const char *cf_pgcluster_url(const cf_pgcluster *c);
/* METHOD.  The cluster's directory (data/, log, sock/); owned by c. */
const char *cf_pgcluster_dir(const cf_pgcluster *c);
/* METHOD.  A shell command that stops the cluster and removes its
** directory, for a person to run after detaching; owned by c. */
const char *cf_pgcluster_stop_command(const cf_pgcluster *c);

/*
** DESTRUCTOR.  Stops the server (fast shutdown), removes the directory and
** frees c.  Accepts NULL.  CF_IO if the server did not stop or the
** directory could not be removed (c is freed anyway).
*/
int cf_pgcluster_stop(cf_pgcluster *c);

/* DESTRUCTOR.  Frees c and leaves the server running.  Accepts NULL. */
void cf_pgcluster_detach(cf_pgcluster *c);
/* ==== end of Master administration ==== */

/* ======================================================================== */
/* Tokens (sync/auth/; docs/auth.md)                                        */
/* ======================================================================== */
/*
** JSON Web Tokens for the sync server's hello frame and the REST API's
** Authorization header, and development tokens for `clientflow token`.
**
** Exactly two algorithms are accepted, each only with its own kind of key:
** HS256 with a shared secret (Supabase's legacy JWT secret) and ES256 with
** P-256 public keys (a PEM file, or a JWKS whose keys are chosen by "kid").
** "none" and every other algorithm are refused, an HS256 token is never
** checked against a public key, and signatures are compared in constant
** time.  "exp" is required; "nbf" and "aud" are checked; "sub" must be a
** canonical lowercase UUID.  Claims are read with the project's own bounded
** JSON reader (core/json.c) behind size, depth and key-length caps.
**
** Usage (a server):
**
**     cf_auth *auth;
**     rc = cf_auth_new(&auth);
**     rc = cf_auth_set_hs256_secret(auth, secret, strlen(secret));
**     ...
**     cf_claims *claims; cf_token_error why;
**     rc = cf_auth_verify(auth, token, strlen(token), &claims, &why);
**     if (rc == CF_AUTH) log("refused: %s", cf_token_strerror(why));
**     else if (rc == CF_OK) { user = cf_claims_sub(claims); ...
**                             cf_claims_free(claims); }
**
** A configured cf_auth is only read by cf_auth_verify, so after
** configuration one handle may be shared by several threads verifying at
** once; the configuration methods need exclusive use.
*/

/* Longest token text cf_auth_verify looks at, in bytes. */
#define CF_TOKEN_MAX_LEN 8192
/* Shortest HS256 shared secret accepted, in bytes (RFC 7518 section 3.2). */
#define CF_TOKEN_MIN_SECRET 32

/*
** Why a token was refused: CF_TOKEN_ERROR_TABLE(X) expands X(name, value,
** message) once per reason.  cf_auth_verify returns CF_AUTH and writes one
** of these when it refuses a token.
*/
#define CF_TOKEN_ERROR_TABLE(X)                                                          \
  X(CF_TOKEN_OK, 0, "token accepted")                                                    \
  X(CF_TOKEN_MALFORMED, 1, "malformed token")                                            \
  X(CF_TOKEN_TOO_LARGE, 2, "token too large")                                            \
  X(CF_TOKEN_BAD_ALG, 3, "algorithm not allowed")                                        \
  X(CF_TOKEN_NO_KEY, 4, "no configured key matches the token's key id")                  \
  X(CF_TOKEN_BAD_SIGNATURE, 5, "bad signature")                                          \
  X(CF_TOKEN_EXPIRED, 6, "token expired")                                                \
  X(CF_TOKEN_NOT_YET_VALID, 7, "token not yet valid")                                    \
  X(CF_TOKEN_WRONG_AUDIENCE, 8, "wrong audience")                                        \
  X(CF_TOKEN_MISSING_CLAIM, 9, "required claim missing (sub or exp)")                    \
  X(CF_TOKEN_BAD_CLAIM, 10, "claim has a wrong type or an out-of-range value")           \
  X(CF_TOKEN_BAD_SUBJECT, 11, "subject is not a canonical UUID")

typedef enum cf_token_error {
#define CF_X_ENUM(name, value, msg) name = value,
  CF_TOKEN_ERROR_TABLE(CF_X_ENUM)
#undef CF_X_ENUM
} cf_token_error;

/*
** Returns a static English description of a cf_token_error (valid for the
** life of the process); "unknown token error" for other values.
*/
const char *cf_token_strerror(int reason);

/* Verification settings and keys (opaque). */
typedef struct cf_auth cf_auth;
/* The claims of one verified token (opaque, read with cf_claims_*). */
typedef struct cf_claims cf_claims;

/*
** CONSTRUCTOR.  A verifier with no keys, expected audience "authenticated"
** and a clock leeway of 30 seconds.  OUT: *out, freed with cf_auth_free;
** NULL on failure.  CF_OK, CF_MISUSE, CF_NOMEM.
*/
int cf_auth_new(cf_auth **out) CF_WARN_UNUSED;

/* DESTRUCTOR.  Frees auth, its keys and wipes its secret.  NULL is fine. */
void cf_auth_free(cf_auth *auth);

/*
** METHOD.  Enables HS256 with this shared secret (the raw bytes, as
** Supabase uses its JWT secret; not base64-decoded), replacing any earlier
** one.  Only hash states derived from the bytes are kept (the caller's
** buffer is not referenced afterwards).  CF_OK; CF_CONFIG if len is below
** CF_TOKEN_MIN_SECRET or above 4096; CF_NOMEM.
*/
int cf_auth_set_hs256_secret(cf_auth *auth, const void *secret,
                             size_t len) CF_WARN_UNUSED;

/*
** METHOD.  Enables ES256 with a P-256 public key given as PEM ("PUBLIC
** KEY"; a private key PEM also works, only its public half is used).  pem
** need not be NUL-terminated.  kid (copied; NULL for none) names the key
** for tokens that carry a "kid" header.  At most 32 keys in all.  CF_OK,
** CF_CONFIG (not a P-256 key, too many keys), CF_NOMEM; cf_auth_errmsg says
** why.
*/
int cf_auth_add_es256_pem(cf_auth *auth, const char *pem, size_t len,
                          const char *kid) CF_WARN_UNUSED;

/* METHOD.  cf_auth_add_es256_pem on the contents of a file (CF_IO if unreadable). */
int cf_auth_add_es256_pem_file(cf_auth *auth, const char *path,
                               const char *kid) CF_WARN_UNUSED;

/*
** METHOD.  Enables ES256 with every usable key of a JWK Set (RFC 7517):
** {"keys":[{"kty":"EC","crv":"P-256","x":..,"y":..,"kid":..}, ...]}.  Keys of
** other types or curves, or marked for another "alg" or "use", are
** skipped; an EC P-256 key with bad coordinates is an error.  json need not
** be NUL-terminated (at most 256 KiB).  CF_OK, CF_CONFIG (no usable key,
** malformed JSON), CF_NOMEM; cf_auth_errmsg says why.
*/
int cf_auth_add_jwks(cf_auth *auth, const char *json, size_t len) CF_WARN_UNUSED;

/* METHOD.  cf_auth_add_jwks on the contents of a file (CF_IO if unreadable). */
int cf_auth_add_jwks_file(cf_auth *auth, const char *path) CF_WARN_UNUSED;

/*
** METHOD.  The audience a token's "aud" must contain (copied).  NULL turns
** the audience check off.  CF_OK, CF_NOMEM.
*/
int cf_auth_set_audience(cf_auth *auth, const char *audience) CF_WARN_UNUSED;

/*
** METHOD.  Seconds of clock difference tolerated on "exp" and "nbf"
** (0..300).  CF_OK or CF_CONFIG.
*/
int cf_auth_set_leeway(cf_auth *auth, int seconds) CF_WARN_UNUSED;

/*
** METHOD.  Configures auth from named settings (docs/auth.md): lookup(name)
** returns the value or NULL.  Names: JWT_SECRET, JWT_ES256_PUBLIC_KEY_FILE
** (with optional JWT_ES256_KID), JWT_JWKS_FILE, JWT_AUDIENCE, JWT_LEEWAY.
** At least one of the first three must be set.  The `clientflow` program
** passes its flag > environment > .env lookup.  CF_OK, CF_CONFIG, CF_IO,
** CF_NOMEM; cf_auth_errmsg says which setting is wrong.
*/
int cf_auth_configure(cf_auth *auth,
                      const char *(*lookup)(const char *name)) CF_WARN_UNUSED;

/*
** The detail of the last failed configuration method on auth ("" if none).
** Owned by auth, valid until the next method call on it.
*/
const char *cf_auth_errmsg(const cf_auth *auth);

/*
** Verifies token[0..len) (the compact JWS form, without "Bearer ").  On
** success writes the claims to *out: OUT, freed with cf_claims_free,
** independent of auth and token.  On refusal returns CF_AUTH and writes the
** reason to *reason if reason is not NULL (CF_TOKEN_OK on success).  Time
** comes from the clock hook (cf_set_clock_hook).  auth is not modified.
** CF_OK, CF_AUTH, CF_NOMEM, CF_MISUSE (NULL arguments).
*/
int cf_auth_verify(const cf_auth *auth, const char *token, size_t len, cf_claims **out,
                   cf_token_error *reason) CF_WARN_UNUSED;

/*
** Accessors.  Strings are owned by claims and valid until cf_claims_free.
**  sub:   the user id, a canonical lowercase UUID (never NULL).
**  role:  the "role" claim (Supabase: "authenticated"), NULL if absent.
**         Informative only: the server always acts as "authenticated".
**  email: the "email" claim, NULL if absent.
**  exp:   expiry, seconds since the epoch.  A connection authenticated by
**         this token must be closed once the clock reaches it.
**  iat:   issue time in seconds since the epoch, 0 if absent.
**  json:  the verified payload as JSON text (NUL-terminated, its length in
**         *len if len is not NULL), e.g. for request.jwt.claims.
*/
const char *cf_claims_sub(const cf_claims *claims);
const char *cf_claims_role(const cf_claims *claims);
const char *cf_claims_email(const cf_claims *claims);
int64_t cf_claims_exp(const cf_claims *claims);
int64_t cf_claims_iat(const cf_claims *claims);
const char *cf_claims_json(const cf_claims *claims, size_t *len);

/* DESTRUCTOR.  NULL is fine. */
void cf_claims_free(cf_claims *claims);

/*
** Mints a token for user sub (a canonical UUID) valid for ttl_seconds
** (1..31536000) from now (the clock hook), with the payload
** {"aud":aud,"exp":..,"iat":..,"sub":sub,"email":email,"role":role}; aud,
** email and role are left out when NULL.  cf_token_mint_hs256 signs with
** a shared secret (at least CF_TOKEN_MIN_SECRET bytes);
** cf_token_mint_es256 with a P-256 private key in PEM (pem need not be
** NUL-terminated) and puts kid (if not NULL) in the header: for tests and
** development.  OUT: *out, a NUL-terminated token freed with
** cf_token_free; NULL on failure.  CF_OK, CF_INVALID (bad sub, ttl, key,
** or a string that is not UTF-8), CF_CONFIG (secret too short), CF_NOMEM.
*/
int cf_token_mint_hs256(const void *secret, size_t secret_len, const char *sub,
                        const char *role, const char *email, const char *aud,
                        int64_t ttl_seconds, char **out) CF_WARN_UNUSED;
int cf_token_mint_es256(const char *private_pem, size_t pem_len, const char *kid,
                        const char *sub, const char *role, const char *email,
                        const char *aud, int64_t ttl_seconds, char **out) CF_WARN_UNUSED;

/* DESTRUCTOR.  Frees a token from cf_token_mint_*; NULL is fine. */
void cf_token_free(char *token);

/* ======================================================================== */
/* End of Tokens                                                            */
/* ======================================================================== */

/* ======================================================================== */
/* Replica (node)                                 owner: store/, docs/replica.md */
/* ======================================================================== */
/*
** A cf_node is one open replica: a SQLite file holding one organization's
** rows.  Apps read and write the views named like the CRM's tables
** (contacts, deals, ...) with plain SQL through cf_node_exec() or the
** statement API below; triggers behind the views fill ids, org_id,
** timestamps and column versions and log every change in the outbox in the
** same transaction.  The outbox empties as the master answers (the sync
** session, cf_sync below); changes the master rejects move to the conflicts list until
** the app retries or discards them.
*/
typedef struct cf_node cf_node;
typedef struct cf_stmt cf_stmt;

/*
** CONSTRUCTOR.  Opens the replica file at path, creating it (and installing
** its schema) if it does not exist, or upgrading its schema if it is older.
** org_id and user_id are UUID texts: the organization the file replicates
** and the user it acts for.  An existing file must have been created for the
** same org (CF_WRONG_ORG) and user (CF_PERMISSION).  OUT: *out, NULL on
** failure.  Result: CF_OK, CF_INVALID (bad ids), CF_IO, CF_CORRUPT,
** CF_STORE, CF_NOMEM, CF_BUSY.  The node is closed with cf_node_close().
*/
int cf_node_open(const char *path, const char *org_id, const char *user_id,
                 cf_node **out) CF_WARN_UNUSED;

/*
** DESTRUCTOR.  Closes node (NULL is fine).  Statements from cf_node_prepare()
** should be finalized first; any left over are finalized with it (their
** cf_stmt handles must not be used afterwards but must still be passed to
** cf_stmt_finalize to free them).
*/
void cf_node_close(cf_node *node);

/*
** The detail of node's last failure, in English ("" if none).  Owned by
** node; valid until the next call on node.  cf_node_errmsg(NULL) gives the
** detail of the last failed cf_node_open() (static storage, one per process).
*/
const char *cf_node_errmsg(const cf_node *node);

/*
** Identity of the replica: its node id, org id and user id as canonical
** UUID text.  Owned by node, valid until cf_node_close().
*/
const char *cf_node_id(const cf_node *node);
const char *cf_node_org_id(const cf_node *node);
const char *cf_node_user_id(const cf_node *node);

/* Layout version of the replica schema this library writes. */
int cf_node_schema_version(void);

/*
** ENCRYPTION AT REST AND REVOCATION (docs/encryption.md)
**
** A replica may be encrypted page by page (AES-256-GCM through an SQLite
** VFS of the library's own): the database file, its WAL and journal hold no
** plain row, token or setting.  The key is 32 bytes the app keeps (say in
** the OS keychain), or a passphrase stretched with PBKDF2-HMAC-SHA256
** (600,000 rounds, a random salt per file).  Open options also choose what
** happens when the master revokes the user's access.
**
**     cf_node_options *o = NULL;
**     rc = cf_node_options_new(&o);
**     rc = cf_node_options_set_key(o, key32);            // or _set_passphrase
**     rc = cf_node_options_set_revoke(o, CF_REVOKE_WIPE, NULL);
**     rc = cf_node_open_with(path, org, user, o, &node);
**     cf_node_options_free(o);                           // wipes the key copy
*/
typedef struct cf_node_options cf_node_options;

/* What a replica does when the master says access is revoked. */
typedef enum cf_revoke_policy {
  CF_REVOKE_KEEP = 0, /* keep every row; changes wait in the conflicts (default) */
  CF_REVOKE_WIPE = 1  /* export the unpushed changes, then wipe every org row
                         and the token (cf_node_wipe) */
} cf_revoke_policy;

#define CF_NODE_KEY_LEN 32 /* bytes of a replica key */

/* CONSTRUCTOR.  Empty options: plain file, CF_REVOKE_KEEP.  OUT: *out, NULL
** on failure.  CF_OK, CF_NOMEM. */
int cf_node_options_new(cf_node_options **out) CF_WARN_UNUSED;
/* DESTRUCTOR.  Wipes the key or passphrase held.  NULL is fine. */
void cf_node_options_free(cf_node_options *opts);
/* METHOD.  Encrypt with key[0..32) (copied).  CF_OK, CF_INVALID (NULL). */
int cf_node_options_set_key(cf_node_options *opts,
                            const unsigned char key[CF_NODE_KEY_LEN]) CF_WARN_UNUSED;
/* METHOD.  Encrypt with a key derived from pass[0..len) (copied; 1..4096
** bytes).  CF_OK, CF_INVALID, CF_NOMEM. */
int cf_node_options_set_passphrase(cf_node_options *opts, const char *pass,
                                   size_t len) CF_WARN_UNUSED;
/* METHOD.  Plain file again (the default).  CF_OK. */
int cf_node_options_set_plain(cf_node_options *opts) CF_WARN_UNUSED;
/* METHOD.  The revocation policy; export_path (copied) is where
** CF_REVOKE_WIPE writes the unpushed changes, NULL for "<replica>.export".
** CF_OK, CF_INVALID, CF_NOMEM. */
int cf_node_options_set_revoke(cf_node_options *opts, cf_revoke_policy policy,
                               const char *export_path) CF_WARN_UNUSED;

/*
** CONSTRUCTOR.  cf_node_open with options (NULL: as cf_node_open).  A new
** file is created encrypted when opts hold a key; an existing one must be
** opened with the key it was written with.  Besides cf_node_open's results:
** CF_AUTH (wrong key; a plain file opened with a key; an encrypted one
** without), CF_CORRUPT (a page fails authentication under the right key).
** A refused open changes nothing in the files.
*/
int cf_node_open_with(const char *path, const char *org_id, const char *user_id,
                      const cf_node_options *opts, cf_node **out) CF_WARN_UNUSED;

/* 1 if node's file is encrypted, else 0. */
int cf_node_encrypted(const cf_node *node);

/*
** METHOD.  Rewrites the replica under the key of to (to with no key, or
** NULL: a plain file), whatever it had before: rekeys an encrypted replica,
** encrypts a plain one, decrypts an encrypted one.  The copy is written
** next to the file and renamed over it, so a crash leaves the old file or
** the new one, whole.  No statement of node's may be open, no other
** connection may have the file open, and no sync may run on node.  The
** revocation policy of to is ignored.  CF_OK; CF_MISUSE (statements open,
** a transaction open); CF_BUSY; CF_IO; CF_NOMEM.  On failure the replica
** keeps its old key; if it could not be reopened, node is unusable
** (CF_IO from every call) and must be closed.
*/
int cf_node_rekey(cf_node *node, const cf_node_options *to) CF_WARN_UNUSED;

/*
** METHOD.  Wipe after revocation (what CF_REVOKE_WIPE runs when the master
** revokes access; apps may call it too): writes every change the master has
** not taken (outbox and conflicts, whole rows as JSON) to a new SQLite file
** at export_path (NULL: the policy's path), encrypted with the replica's key
** when the replica is encrypted, then deletes every row of the org, the
** conflicts, the pull cursor and the token with secure_delete on, vacuums
** and truncates the WAL, so no wiped value survives in the files.  The
** replica keeps its identity and can bootstrap again.  An export file that
** already exists is refused (CF_INVALID), nothing is wiped then.  CF_OK,
** CF_MISUSE (a transaction open), CF_IO, store errors.
*/
int cf_node_wipe(cf_node *node, const char *export_path) CF_WARN_UNUSED;

/*
** Runs the SQL text sql (one or more statements separated by ';') on the
** replica and discards any rows.  Writes go through the views' triggers.
** BEGIN/COMMIT are allowed; the app must not leave a transaction open when it
** calls the sync functions.  Result: CF_OK, or CF_WRONG_ORG (a row names
** another org), CF_CONSTRAINT, CF_INVALID (a value its column cannot hold),
** CF_STORE (SQL error), CF_BUSY, CF_NOMEM, ... with cf_node_errmsg().
*/
int cf_node_exec(cf_node *node, const char *sql) CF_WARN_UNUSED;

/*
** CONSTRUCTOR.  Compiles the first statement of sql.  OUT: *out, NULL on
** failure.  The statement belongs to node and must be finalized with
** cf_stmt_finalize() before (or after) cf_node_close().
*/
int cf_node_prepare(cf_node *node, const char *sql, cf_stmt **out) CF_WARN_UNUSED;

/*
** Binding, 1-based parameter index as in SQLite ("?1", ":name" counted in
** order).  Text and blobs are copied.  CF_OK, CF_INVALID (bad index),
** CF_NOMEM, CF_MISUSE (statement running: reset it first).
*/
int cf_stmt_bind_null(cf_stmt *stmt, int idx) CF_WARN_UNUSED;
int cf_stmt_bind_int64(cf_stmt *stmt, int idx, int64_t v) CF_WARN_UNUSED;
int cf_stmt_bind_double(cf_stmt *stmt, int idx, double v) CF_WARN_UNUSED;
int cf_stmt_bind_text(cf_stmt *stmt, int idx, const char *text) CF_WARN_UNUSED;
int cf_stmt_bind_blob(cf_stmt *stmt, int idx, const void *p, size_t n) CF_WARN_UNUSED;

/*
** Steps the statement: CF_OK when a row is available (read it with the
** column accessors), CF_DONE when it has finished, another code on failure
** (then cf_node_errmsg of its node tells why).
*/
int cf_stmt_step(cf_stmt *stmt) CF_WARN_UNUSED;

/* Rewinds stmt so it can run again; bindings are kept.  CF_OK. */
int cf_stmt_reset(cf_stmt *stmt);

/* DESTRUCTOR.  Frees stmt (NULL is fine). */
void cf_stmt_finalize(cf_stmt *stmt);

/* Column types of a result row. */
typedef enum cf_sqltype {
  CF_COL_NULL = 0,
  CF_COL_INTEGER = 1,
  CF_COL_REAL = 2,
  CF_COL_TEXT = 3,
  CF_COL_BLOB = 4
} cf_sqltype;

/*
** Column accessors for the current row (0-based column index).  Text and
** blob pointers are owned by the statement and valid until the next step,
** reset or finalize; text is NUL-terminated UTF-8 and NULL for SQL NULL.
*/
int cf_stmt_column_count(cf_stmt *stmt);
const char *cf_stmt_column_name(cf_stmt *stmt, int col);
int cf_stmt_column_type(cf_stmt *stmt, int col);
int64_t cf_stmt_column_int64(cf_stmt *stmt, int col);
double cf_stmt_column_double(cf_stmt *stmt, int col);
const char *cf_stmt_column_text(cf_stmt *stmt, int col);
const void *cf_stmt_column_blob(cf_stmt *stmt, int col, size_t *len);

/* Number of changes waiting in the outbox (sent or not) and of conflicts.
** OUT: *count.  CF_OK or a store error. */
int cf_node_outbox_count(cf_node *node, int64_t *count) CF_WARN_UNUSED;
int cf_node_conflict_count(cf_node *node, int64_t *count) CF_WARN_UNUSED;

/*
** One outbox entry, as a listing shows it.  Filled by the library; the
** strings are valid only during the callback.
*/
typedef struct cf_change_info {
  int64_t seq;         /* position in the outbox (local order) */
  int64_t tx;          /* local transaction (HLC of its first write) */
  const char *table;   /* table (view) name, e.g. "contacts" */
  const char *row_id;  /* the row's id (UUID text) */
  const char *columns; /* changed columns, comma-separated ("deleted" too) */
  int in_flight;       /* 1 if sent and waiting for the master's answer */
} cf_change_info;

/*
** One conflict: a change the master rejected.  Filled by the library; the
** strings are valid only during the callback.
*/
typedef struct cf_conflict_info {
  int64_t id;          /* conflict id, for retry/discard */
  int64_t seq;         /* the outbox position it had */
  const char *table;   /* table name */
  const char *row_id;  /* the row's id */
  const char *columns; /* the rejected change's columns, comma-separated */
  int code;            /* CF_* code of the reason (CF_PERMISSION, ...) */
  const char *message; /* the master's reason */
  int64_t at_ms;       /* when it was recorded (ms since the epoch) */
} cf_conflict_info;

/* Listing callbacks: return 0 to continue, non-zero to stop (the listing
** then returns CF_OK). */
typedef int (*cf_change_fn)(void *ctx, const cf_change_info *change);
typedef int (*cf_conflict_fn)(void *ctx, const cf_conflict_info *conflict);

/* Calls fn for up to limit outbox entries, oldest first.  CF_OK or an error. */
int cf_node_outbox_list(cf_node *node, int64_t limit, cf_change_fn fn,
                        void *ctx) CF_WARN_UNUSED;
/* Calls fn for up to limit conflicts, oldest first.  CF_OK or an error. */
int cf_node_conflicts_list(cf_node *node, int64_t limit, cf_conflict_fn fn,
                           void *ctx) CF_WARN_UNUSED;

/*
** Retries conflict id: its columns get a fresh version (so they win again
** over what the master holds) and the change goes back to the end of the
** outbox; the conflict is removed.  Fix the row through the views first if
** the reason asks for it.  CF_OK, CF_NOTFOUND, or a store error.
*/
int cf_node_conflict_retry(cf_node *node, int64_t id) CF_WARN_UNUSED;

/*
** Discards conflict id explicitly: the rejected columns keep their local
** values but lose their version (the zero version), so the master's value
** replaces them at the next pull that carries the row; the conflict is
** removed and nothing is sent.  A row every cell of which came from the
** rejected change (a rejected insert: the master never had it) is removed
** from the replica instead.  CF_OK, CF_NOTFOUND, or a store error.
*/
int cf_node_conflict_discard(cf_node *node, int64_t id) CF_WARN_UNUSED;

/* ---- Change notifications and watched queries (store/notify.c, store/watch.c)
**
** A UI refreshes when data changes, locally or from a pull.  Two ways to
** learn it, both delivered by cf_node_poll() ON THE THREAD THAT CALLS IT
** (the app's own loop; never on a library thread, never inside a
** transaction):
**
**  - a change callback (cf_node_on_changes): once per committed
**    transaction, which tables and which row ids it changed and whether the
**    change was local (an app write, on any handle) or remote (pulled);
**  - watched queries (cf_node_watch): a SELECT on the views whose new result
**    arrives whenever a committed transaction touched a table it reads;
**    several transactions between two polls give one result, and a result
**    equal to the last one delivered is not delivered again.
**
** Changes made through ANOTHER handle on the same replica file (a sync
** handle on another thread, the `clientflow` program, another process)
** reach this handle too: every transaction that changes data adds one row
** to a change journal in the replica (one small insert per transaction,
** nothing per row), which cf_node_poll reads when SQLite's data_version
** says someone else committed.  A commit on another thread of the same
** process wakes cf_node_wait(); one in another process is seen at the next
** poll, so a loop polls at least every few hundred milliseconds:
**
**     cf_node_on_changes(ui, on_changes, app);
**     cf_watch *w;
**     rc = cf_node_watch(ui, "SELECT id, name FROM contacts ORDER BY name",
**                        on_contacts, app, &w);
**     while (running) {
**       cf_node_wait(ui, 250);        // a commit in this process, or 250 ms
**       rc = cf_node_poll(ui);        // callbacks run here, on this thread
**     }
**     cf_watch_free(w);
**
** Writes made to the file with other tools (the sqlite3 shell) are not
** journaled and not reported.
*/

/* Where a committed transaction's changes came from. */
#define CF_CHANGE_LOCAL 1  /* an app's write through the views (any handle) */
#define CF_CHANGE_REMOTE 2 /* rows pulled from the master (a sync) */
#define CF_CHANGE_RESYNC                                                                 \
  3 /* changes were missed (the journal was pruned                                       \
       before this handle looked): assume every row                                      \
       of every table may have changed */

/* The rows of one table a transaction changed. */
typedef struct cf_change_table {
  const char *table;          /* table (view) name, e.g. "contacts" */
  int all_rows;               /* 1: too many rows to list (or RESYNC): any row
                                 of the table may have changed */
  size_t nrows;               /* number of ids in row_ids (0 when all_rows) */
  const char *const *row_ids; /* the rows' ids (UUID text), deleted rows too
                                 (a delete is an update of a hidden column) */
} cf_change_table;

/* One committed transaction's changes.  Everything is valid only during the
** callback. */
typedef struct cf_change_event {
  int64_t seq;                   /* its place in the replica's commit order */
  int origin;                    /* CF_CHANGE_LOCAL, _REMOTE or _RESYNC */
  size_t ntables;                /* number of entries in tables */
  const cf_change_table *tables; /* the tables it changed */
} cf_change_event;

typedef void (*cf_changes_fn)(void *ctx, const cf_change_event *ev);

/*
** METHOD.  Sets the change callback (NULL: none).  It is called from
** cf_node_poll, on the polling thread, once per transaction committed since
** the previous poll (on any handle of the file), in commit order.  ctx is
** passed through.  Only transactions committed after the node was opened
** are reported.
*/
void cf_node_on_changes(cf_node *node, cf_changes_fn fn, void *ctx);

/*
** METHOD.  Sets the conflict callback (NULL: none): called from
** cf_node_poll for every conflict added since the previous poll (the
** master rejected a pushed change, on whichever handle ran the sync);
** its return value is ignored.  Conflicts present before are not reported
** (list them with cf_node_conflicts_list).
*/
void cf_node_on_conflict(cf_node *node, cf_conflict_fn fn, void *ctx);

/*
** METHOD.  Delivers what happened since the previous call: the change
** callback, the conflict callback, then the watched queries whose tables
** changed (and any watch not delivered yet).  Cheap when nothing changed
** (one PRAGMA).  Callbacks may read and write the node; they must not call
** cf_node_poll, cf_watch_free or cf_node_close.  CF_OK; CF_BUSY when a
** transaction is open on node (nothing is delivered mid-transaction: poll
** after COMMIT); CF_MISUSE from inside a callback; a store error, or the
** error of a watched query, with cf_node_errmsg.
*/
int cf_node_poll(cf_node *node) CF_WARN_UNUSED;

/*
** Waits until a transaction commits on any replica handle of this process
** (this node's own included) since the last cf_node_poll on node, or
** timeout_ms passes (negative: no limit; 0: just checks).  Returns 1 when
** something committed, 0 on timeout.  A commit by another process does not
** wake it: keep the timeout short (e.g. 250 ms) and poll anyway.  The only
** node function besides cf_node_poll's callbacks that is meant to block the
** UI thread; thread-safe.
*/
int cf_node_wait(cf_node *node, int timeout_ms);

/*
** Rows written by the last statement run through cf_node_exec (its last
** statement) or cf_stmt_step on node: rows inserted, updated or deleted
** through the views (sqlite3_changes counts none of them: the views' INSTEAD
** OF triggers do the writing).  0 before any statement.
*/
int64_t cf_node_changes(const cf_node *node);

/* A watched query and one result of it (opaque). */
typedef struct cf_watch cf_watch;
typedef struct cf_rows cf_rows;

/* Receives a watched query's new result; rows is valid only during the
** call. */
typedef void (*cf_watch_fn)(void *ctx, const cf_rows *rows);

/*
** CONSTRUCTOR.  Watches sql, one SELECT on the replica (usually on the
** views).  The first result is delivered by the next cf_node_poll; later
** ones after a committed transaction touched a table the query reads
** (found when it compiles) and changed its result.  OUT: *out, freed with
** cf_watch_free (or by cf_node_close: then the handle must not be used).
** CF_OK; CF_INVALID (not a single SELECT), CF_STORE (SQL error), CF_NOMEM;
** cf_node_errmsg.  A result over 64 MiB fails the poll with CF_TOOBIG.
*/
int cf_node_watch(cf_node *node, const char *sql, cf_watch_fn fn, void *ctx,
                  cf_watch **out) CF_WARN_UNUSED;

/* DESTRUCTOR.  Stops watching and frees w.  NULL is fine.  Not from a
** callback. */
void cf_watch_free(cf_watch *w);

/* Accessors of a result: the row count, the column count and names, and a
** cell as text (NULL for SQL NULL or out of range), row and col from 0.
** Pointers are valid during the callback only. */
int64_t cf_rows_count(const cf_rows *rows);
int cf_rows_column_count(const cf_rows *rows);
const char *cf_rows_column_name(const cf_rows *rows, int col);
const char *cf_rows_text(const cf_rows *rows, int64_t row, int col);

/* ===================================================== end Replica (node) */

/* ======================================================================== */
/* Sync server (sync/server/server.c; docs/protocol.md, docs/server.md)            */
/* ======================================================================== */
/*
** The server side of the sync channel: a WebSocket endpoint (path /sync)
** and an HTTP endpoint (/health, the REST API) on one port, backed by the
** PostgreSQL master.  Pushes and pulls run as the token's user, so the
** master's RLS judges every row.  The database login must not be a
** superuser, own the tables or have BYPASSRLS: cf_server_start() checks and
** refuses otherwise.
**
**     cf_server *srv;
**     rc = cf_server_new(&srv);
**     rc = cf_server_set_database(srv, url);
**     rc = cf_server_set_listen(srv, "127.0.0.1", 4000);
**     cf_server_set_auth(srv, auth);        // takes ownership
**     rc = cf_server_start(srv);            // connects, checks, listens
**     rc = cf_server_run(srv);              // until cf_server_stop()
**     cf_server_free(srv);
*/
typedef struct cf_server cf_server;

/* CONSTRUCTOR.  A server with defaults (port 4000, 4 workers).  OUT: *out,
** freed with cf_server_free; NULL on failure.  CF_OK, CF_NOMEM. */
int cf_server_new(cf_server **out) CF_WARN_UNUSED;
/* METHOD.  The master's DATABASE_URL (copied). */
int cf_server_set_database(cf_server *srv, const char *url) CF_WARN_UNUSED;
/*
** METHOD.  A separate URL (copied) for the one connection that LISTENs for
** changes.  Behind PgBouncer in transaction mode, workers use the pooled
** DATABASE_URL but LISTEN needs a session: give a direct URL (or a
** session-mode pool) here.  NULL: the DATABASE_URL.
*/
int cf_server_set_listen_database(cf_server *srv, const char *url) CF_WARN_UNUSED;
/* METHOD.  Address (copied; NULL = 127.0.0.1) and port (0 = ephemeral). */
int cf_server_set_listen(cf_server *srv, const char *host, int port) CF_WARN_UNUSED;
/* METHOD.  How many workers of the server's one pool may run sync jobs at
** once (1..32, default 4); each worker has one database connection.  The
** pool has these plus the REST API's (cf_server_enable_rest). */
int cf_server_set_workers(cf_server *srv, int n) CF_WARN_UNUSED;
/* METHOD.  The token verifier; the server takes ownership of auth. */
void cf_server_set_auth(cf_server *srv, cf_auth *auth);
/*
** METHOD.  Connects to the database, checks the login role, starts the
** workers and listens.  CF_OK; CF_CONFIG, CF_UNREACHABLE, CF_AUTH,
** CF_PERMISSION (role not allowed), CF_IO (cannot listen), CF_NOMEM; the
** detail in cf_server_errmsg().
*/
int cf_server_start(cf_server *srv) CF_WARN_UNUSED;
/* The port listened on (after cf_server_start), or -1. */
int cf_server_port(const cf_server *srv);
/* METHOD.  Runs the event loop until cf_server_stop() and a graceful
** shutdown.  CF_OK or CF_IO. */
int cf_server_run(cf_server *srv) CF_WARN_UNUSED;
/* METHOD.  Runs the event loop once, waiting at most timeout_ms. */
int cf_server_run_once(cf_server *srv, int timeout_ms) CF_WARN_UNUSED;
/* Asks the server to stop: sessions are closed cleanly, transactions in
** flight finish.  Safe from another thread and from a signal handler. */
void cf_server_stop(cf_server *srv);
/* The detail of the last failure ("" if none); owned by srv. */
const char *cf_server_errmsg(const cf_server *srv);
/* DESTRUCTOR.  Waits for the workers, closes everything.  NULL is fine. */
void cf_server_free(cf_server *srv);

/* ======================================================================== */
/* Sync client (sync/client/client.c; docs/protocol.md)                            */
/* ======================================================================== */
/*
** Reconciles one replica with the master through a sync server: pushes the
** outbox in batches (each change answered applied, superseded or rejected;
** rejected ones move to the conflicts table), then pulls pages until the
** replica has caught up.  Nothing leaves the outbox without an answer from
** the master, so any failure can simply be retried.
**
**     cf_sync *s;
**     rc = cf_sync_new(node, "ws://127.0.0.1:4000/sync", token, &s);
**     rc = cf_sync_run(s);      // CF_UNREACHABLE when offline
**     cf_sync_free(s);
*/
typedef struct cf_sync cf_sync;

/* Phases reported to the progress callback. */
#define CF_SYNC_PHASE_PUSH 1
#define CF_SYNC_PHASE_PULL 2
/* Progress: done of total units in a phase (total -1 when unknown). */
typedef void (*cf_sync_progress_fn)(void *ctx, int phase, int64_t done, int64_t total);

/* Counters of the last cf_sync_run. */
typedef enum cf_sync_counter {
  CF_SYNC_PUSHED = 0,     /* changes answered by the master */
  CF_SYNC_APPLIED = 1,    /* of which applied */
  CF_SYNC_SUPERSEDED = 2, /* of which superseded by newer versions */
  CF_SYNC_REJECTED = 3,   /* of which rejected (now in the conflicts table) */
  CF_SYNC_PULLED = 4,     /* rows pulled and merged */
  CF_SYNC_CURSOR = 5,     /* the replica's cursor afterwards */
  CF_SYNC_REVOKED = 6,    /* 1 if the server said access was revoked */
  CF_SYNC_FED = 7,        /* pages the server sent unasked, shared by the
                             org's sessions (protocol 2 FEED), and applied */
  CF_SYNC_COUNTER_MAX = 8
} cf_sync_counter;

/* CONSTRUCTOR.  A sync session for node (borrowed: it must outlive the
** session) with the server at url (ws:// or wss://, copied) and an access
** token (copied).  OUT: *out, freed with cf_sync_free.  CF_OK, CF_MISUSE,
** CF_NOMEM. */
int cf_sync_new(cf_node *node, const char *url, const char *token,
                cf_sync **out) CF_WARN_UNUSED;
/* METHOD.  Sets the progress callback (NULL: none). */
void cf_sync_set_progress(cf_sync *s, cf_sync_progress_fn fn, void *ctx);
/*
** METHOD.  One full sync: connect, push everything, pull to the head,
** close.  CF_OK; CF_UNREACHABLE (no server, or the connection dropped:
** retry later, nothing is lost), CF_AUTH (token refused), CF_PERMISSION
** (not a member, or access revoked), CF_NOTFOUND (the replica must
** bootstrap again), CF_PROTOCOL, store errors; cf_sync_errmsg() says why.
*/
int cf_sync_run(cf_sync *s) CF_WARN_UNUSED;
/*
** METHOD.  Live sync: like cf_sync_run, then keeps the socket open, pulls
** as soon as the server announces changes (LISTEN/NOTIFY on the master, no
** polling) and pushes local writes as they are made.  After any failure it
** reconnects with exponential backoff and jitter.  Returns CF_OK after
** cf_sync_stop(), or a failure that retrying cannot fix (CF_AUTH,
** CF_PERMISSION, CF_NOTFOUND, store errors).
*/
int cf_sync_watch(cf_sync *s) CF_WARN_UNUSED;
/*
** METHOD.  Replaces the access token (copied), e.g. before the old one
** expires: an open session presents it at once (AUTH; the server then keeps
** the socket open past the old token's expiry), later connections use it
** for HELLO.  Safe from another thread.  CF_OK, CF_INVALID (too long),
** CF_NOMEM.
*/
int cf_sync_set_token(cf_sync *s, const char *token) CF_WARN_UNUSED;
/* Stops cf_sync_watch (or cf_sync_run) soon.  Safe from a signal handler
** and from another thread. */
void cf_sync_stop(cf_sync *s);
/* A counter of the last run. */
int64_t cf_sync_count(const cf_sync *s, cf_sync_counter which);
/* The user's role in the org as the server reported it ("" before). */
const char *cf_sync_role(const cf_sync *s);
/* The detail of the last failure; owned by s. */
const char *cf_sync_errmsg(const cf_sync *s);
/* DESTRUCTOR.  NULL is fine. */
void cf_sync_free(cf_sync *s);

/* ---- Sync status events and the background sync (sync/client/events.c) ----
**
** What a status line or a "syncing..." spinner needs, as events: connected,
** disconnected (why, and when the next attempt is), push batches started
** and finished with their counts, pull progress with a rate in rows per
** second, each conflict as the master's answer creates it, access revoked,
** and the token about to expire (so the app fetches a new one and calls
** cf_sync_set_token before the server closes the socket).
**
** THREADS: events are called on the thread that runs the sync (the one in
** cf_sync_run / cf_sync_watch, or the library's thread after
** cf_sync_start), never concurrently with each other.  A callback must be
** quick and must not call cf_sync_run, cf_sync_watch, cf_sync_join or
** cf_sync_free, nor use the sync's node; it may call cf_sync_set_token and
** cf_sync_stop.  To touch the UI, hand the event to the UI thread (copy
** what you need: the strings live only during the call).
**
** The background sync: open a SECOND node on the replica file for the sync
** (a node is used by one thread at a time), start it, and keep using the
** UI's node on the UI thread; the UI node's cf_node_poll reports what the
** sync pulled (change events, watched queries, conflicts):
**
**     cf_node *ui, *bg;                     // the same path, org and user
**     rc = cf_node_open(path, org, user, &ui);
**     rc = cf_node_open(path, org, user, &bg);
**     rc = cf_sync_new(bg, url, token, &s);
**     cf_sync_set_events(s, on_sync_event, app);
**     rc = cf_sync_start(s);                // cf_sync_watch on its own thread
**     ... the UI loop: cf_node_wait(ui, 250); cf_node_poll(ui); ...
**     rc = cf_sync_join(s);                 // stops, waits, the watch's result
**     cf_sync_free(s); cf_node_close(bg); cf_node_close(ui);
*/
typedef enum cf_sync_event_kind {
  CF_SYNC_EVENT_CONNECTED = 1,      /* the server welcomed the session; message:
                                       the user's role in the org */
  CF_SYNC_EVENT_DISCONNECTED = 2,   /* the connection ended: code (CF_OK for a
                                       finished cf_sync_run or a stop), message,
                                       retry_in_ms (-1: no further attempt) */
  CF_SYNC_EVENT_PUSH_STARTED = 3,   /* a batch of count changes was sent */
  CF_SYNC_EVENT_PUSH_FINISHED = 4,  /* the master answered the batch: count,
                                       applied, superseded, rejected */
  CF_SYNC_EVENT_PULL_PROGRESS = 5,  /* a pulled page was applied: count rows so
                                       far in this connection, rate in unit
                                       ("rows/s"), percent of the way to the
                                       head (-1 unknown) */
  CF_SYNC_EVENT_CONFLICT = 6,       /* a change was rejected and kept in the
                                       conflicts: table, row_id, code, message */
  CF_SYNC_EVENT_ACCESS_REVOKED = 7, /* the user lost access to the org: message */
  CF_SYNC_EVENT_TOKEN_EXPIRING = 8, /* the token expires at expires_at (seconds
                                       since the epoch), within the warning
                                       time: call cf_sync_set_token */
  CF_SYNC_EVENT_STOPPED = 9         /* the background sync ended: code (CF_OK
                                       after cf_sync_join/cf_sync_stop, else the
                                       failure retrying cannot fix), message */
} cf_sync_event_kind;

/* One event.  Fields not listed for its kind are 0 / NULL; strings are
** valid only during the callback. */
typedef struct cf_sync_event {
  int kind;            /* cf_sync_event_kind */
  int code;            /* a CF_* result code (DISCONNECTED, CONFLICT, STOPPED) */
  const char *message; /* detail, or "" */
  int64_t retry_in_ms; /* DISCONNECTED: milliseconds to the next attempt, -1 none */
  int64_t count;       /* PUSH_*: changes in the batch; PULL_PROGRESS: rows */
  int64_t applied;     /* PUSH_FINISHED: of count, applied */
  int64_t superseded;  /* PUSH_FINISHED: of count, superseded by newer versions */
  int64_t rejected;    /* PUSH_FINISHED: of count, rejected (now conflicts) */
  double rate;         /* PULL_PROGRESS: rows per second in this connection */
  const char *unit;    /* PULL_PROGRESS: "rows/s" */
  int percent;         /* PULL_PROGRESS: 0..100 of the way to the head, -1 */
  const char *table;   /* CONFLICT: table name */
  const char *row_id;  /* CONFLICT: the row's id */
  int64_t expires_at;  /* TOKEN_EXPIRING: the token's exp */
} cf_sync_event;

typedef void (*cf_sync_event_fn)(void *ctx, const cf_sync_event *ev);

/* METHOD.  Sets the event callback (NULL: none); before a run. */
void cf_sync_set_events(cf_sync *s, cf_sync_event_fn fn, void *ctx);

/* METHOD.  How many seconds before the token's exp TOKEN_EXPIRING is
** sent (once per token; default 60, 0 turns it off).  Before a run. */
void cf_sync_set_token_warning(cf_sync *s, int seconds);

/*
** METHOD.  Runs cf_sync_watch(s) on a new thread owned by the library and
** returns at once.  From then on s and its node belong to that thread
** until cf_sync_join: other threads may only call cf_sync_set_token and
** cf_sync_stop.  CF_OK; CF_MISUSE (already started); CF_NOMEM, CF_IO.
*/
int cf_sync_start(cf_sync *s) CF_WARN_UNUSED;

/*
** METHOD.  Stops the background sync and waits for its thread; returns
** what cf_sync_watch returned (CF_OK after a stop, or the failure that
** ended it earlier: CF_AUTH, CF_PERMISSION, ...; a STOPPED event said so
** when it happened).  CF_MISUSE if not started.  cf_sync_free joins too.
*/
int cf_sync_join(cf_sync *s) CF_WARN_UNUSED;

/*
** METHOD.  Named settings kept in the replica file (e.g. the server URL a
** node syncs with).  Names are 1..64 bytes; values at most 64 KiB (copied).
** cf_node_setting_get copies the value into buf[cap] (NUL-terminated);
** CF_NOTFOUND if unset.
*/
int cf_node_setting_set(cf_node *node, const char *name,
                        const char *value) CF_WARN_UNUSED;
int cf_node_setting_get(cf_node *node, const char *name, char *buf,
                        size_t cap) CF_WARN_UNUSED;

/* ======================================================================== */
/* REST API (sync/server/rest.c; docs/rest-api.md)                                 */
/* ======================================================================== */
/*
** The seed's read API under /api/crm/ (organizations, contacts, deals,
** appointments, metrics) on the sync server's port.  Every request is
** authenticated with "Authorization: Bearer <JWT>" (the same verifier as the
** sync channel) and runs as that user in its own read-only transaction, so
** Row Level Security decides what it sees.  Queries run on the server's
** worker pool, whose threads each have their own connection; the event loop
** never waits for them.
**
**     rc = cf_server_enable_rest(srv, 4, 0);   // before cf_server_start
*/

/* Flag: honour the seed's "x-user-id" header as the caller's identity when
** a request has no Authorization header.  DEVELOPMENT ONLY: anyone who can
** reach the port can then act as any user.  A warning is logged. */
#define CF_REST_DEV_USER_HEADER 0x1u

/*
** METHOD.  Serves the REST API on srv: the server's worker pool grows by
** workers (1..32) threads, and at most that many REST requests run at once
** (so they never take the sync jobs' workers, nor these the REST API's),
** each on a worker's connection made on first use with the DATABASE_URL.
** Call once, before cf_server_start(); the server owns the API from then on
** and cf_server_free() stops it.  flags: 0 or CF_REST_DEV_USER_HEADER.
** CF_OK; CF_CONFIG (workers or flags out of range); CF_MISUSE (already
** enabled, or the server is started); CF_NOMEM; CF_NOTFOUND (embedded SQL
** missing: a broken build).
*/
int cf_server_enable_rest(cf_server *srv, int workers, unsigned flags) CF_WARN_UNUSED;

/* ======================================================================== */
/* End of REST API                                                          */
/* ======================================================================== */

#ifdef __cplusplus
}
#endif
#endif /* CLIENTFLOW_H */
