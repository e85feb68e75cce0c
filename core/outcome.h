/*
** core/outcome.h: what became of a pushed change, and why a change was
** rejected -- ONE table for every spelling (internal).  The wire codes of
** PUSH_RESULT (docs/protocol.md), the master's answers
** (sync/master/master_sync.h), the replica's record of results (store/store.h)
** and the cf_result code a conflict carries all come from the two X-macro
** tables below; nothing else spells them.
**
** CF_PUSH_STATUS_TABLE(X) expands X(NAME, wire value, name, meaning);
** CF_REJECT_REASON_TABLE(X) expands X(NAME, wire value, cf_result code of
** the conflict, name, meaning).  Wire values are stable forever; a
** receiver accepts reason codes it does not know (1..255) as "rejected,
** other" (cf__reject_reason_name says "unknown"), so servers may add
** reasons without a new protocol version.
*/
#ifndef CF_CORE_OUTCOME_H
#define CF_CORE_OUTCOME_H

#include "clientflow.h"

#define CF_PUSH_STATUS_TABLE(X)                                                          \
  X(APPLIED, 0, "applied", "merged into the master (some or all cells won)")             \
  X(SUPERSEDED, 1, "superseded", "every cell lost to a newer version already there")     \
  X(REJECTED, 2, "rejected", "refused; see the reason; nothing was written")

#define CF_REJECT_REASON_TABLE(X)                                                        \
  X(NONE, 0, CF_OK, "none", "not rejected")                                              \
  X(PERMISSION, 1, CF_PERMISSION, "permission",                                          \
    "row-level security or privileges refused the write")                                \
  X(CONSTRAINT, 2, CF_CONSTRAINT, "constraint",                                          \
    "a unique, check or not-null constraint refused the row")                            \
  X(INVALID, 3, CF_INVALID, "invalid",                                                   \
    "a value or the change itself is not valid (type, form, size, a new row "            \
    "without every column)")                                                             \
  X(WRONG_ORG, 4, CF_WRONG_ORG, "wrong_org", "the row belongs to another organization")  \
  X(REVOKED, 5, CF_PERMISSION, "revoked", "the user is no longer a member of the org")   \
  X(CLOCK_SKEW, 6, CF_CLOCK_SKEW, "clock_skew",                                          \
    "a version is too far ahead of the server's clock")                                  \
  X(TOO_BIG, 7, CF_TOOBIG, "too_big", "the change exceeds a size limit")                 \
  X(INTERNAL, 8, CF_ERROR, "internal", "the server failed; retrying may succeed")        \
  X(FOREIGN_KEY, 9, CF_CONSTRAINT, "foreign_key",                                        \
    "a row it references does not exist (yet) in the organization")

/* What became of one pushed change (PUSH_RESULT status). */
typedef enum cf_push_status {
#define CF_X_(name, value, text, meaning) CF_PUSH_##name = value,
  CF_PUSH_STATUS_TABLE(CF_X_)
#undef CF_X_
} cf_push_status;

/* Why a change was rejected (PUSH_RESULT reason). */
typedef enum cf_reject_reason {
#define CF_X_(name, value, rc, text, meaning) CF_REASON_##name = value,
  CF_REJECT_REASON_TABLE(CF_X_)
#undef CF_X_
} cf_reject_reason;
#define CF_REASON_MAX 255

/* The name of a status or reason ("unknown" for other values), for logs,
** messages and the results the master records.  Static strings. */
const char *cf__push_status_name(unsigned status);
const char *cf__reject_reason_name(unsigned reason);

/* The sentence explaining a reason ("" for unknown values).  Static. */
const char *cf__reject_reason_meaning(unsigned reason);

/* The cf_result code a conflict of this reason carries in the replica
** (CF_ERROR for unknown reasons). */
int cf__reject_reason_result(unsigned reason);

#endif
