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
**    code; cf_errmsg() on a handle gives the detail of its last failure.
**  - CONSTRUCTOR functions write the new handle through an OUT: pointer and
**    write NULL there on failure.  DESTRUCTOR functions accept NULL.
**  - Every function says who owns what it returns and how long a returned
**    pointer stays valid.  Handles are opaque; nothing here is a struct that
**    callers fill in, except the hook tables, which are copied.
**  - A handle is used by one thread at a time.
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
#define CF_RESULT_TABLE(X)                                                     \
  X(CF_OK, 0, "ok")                                                            \
  X(CF_ERROR, 1, "error")                                                      \
  X(CF_NOMEM, 2, "out of memory")                                              \
  X(CF_INVALID, 3, "invalid argument or value")                                \
  X(CF_MISUSE, 4, "library used incorrectly")                                  \
  X(CF_IO, 5, "input/output error")                                            \
  X(CF_STORE, 6, "local replica error")                                        \
  X(CF_CORRUPT, 7, "data is corrupt")                                          \
  X(CF_NOTFOUND, 8, "not found")                                               \
  X(CF_TOOBIG, 9, "size limit exceeded")                                       \
  X(CF_PROTOCOL, 10, "protocol error")                                         \
  X(CF_AUTH, 11, "authentication failed")                                      \
  X(CF_PERMISSION, 12, "permission denied")                                    \
  X(CF_CONSTRAINT, 13, "constraint violated")                                  \
  X(CF_CLOCK_SKEW, 14, "remote clock too far ahead")                           \
  X(CF_WRONG_ORG, 15, "row belongs to another organization")                   \
  X(CF_UNREACHABLE, 16, "server unreachable")                                  \
  X(CF_DATABASE, 17, "database error")                                         \
  X(CF_CONFIG, 18, "configuration error")                                      \
  X(CF_BUSY, 19, "busy")                                                       \
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

#ifdef __cplusplus
}
#endif
#endif /* CLIENTFLOW_H */
