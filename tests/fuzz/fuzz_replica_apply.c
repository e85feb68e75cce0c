/*
** tests/fuzz/fuzz_replica_apply.c: libFuzzer target for applying pulled
** rows to a replica (store/apply.c, cf__store_apply) exactly as the sync
** client does with a CHANGES frame (sync/client/client.c, apply_page).  Design:
** docs/replica.md, "Applying remote rows"; fuzzing in docs/testing.md,
** "Fuzzing".
**
** Input: the bytes of a frame, decoded with the client's limits (NULL: the
** codec's caps).  Anything but an accepted CHANGES frame is skipped (the
** decoder has its own target, fuzz_frame_decode).  The rows are applied
** with the frame's last_seq as the cursor to a replica of FUZZ_ORG, opened
** once per process in a temporary directory (removed at exit) and emptied
** before every run, so each input starts from an empty replica.  The clock
** hook is fixed at FUZZ_NOW_MS, so clock-skew refusals are deterministic.
** Proves, for every input:
**
**  - no crash, overread, leak or undefined behaviour in the store, the
**    merge, the value checks or SQLite's use of them;
**  - cf__store_apply succeeds or answers an error a peer can cause
**    (CF_INVALID, CF_WRONG_ORG, CF_CLOCK_SKEW, CF_TOOBIG, CF_NOMEM) and
**    never a store failure (CF_STORE, CF_CORRUPT, CF_MISUSE, ...);
**  - after it, PRAGMA integrity_check answers "ok";
**  - a successful apply stored the cursor (when last_seq fits int64), and
**    applying the same page again succeeds too (the merge is idempotent).
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clientflow.h"
#include "core/codec.h"
#include "core/schema.h"
#include "fuzz_inputs.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cf_node *node;
static char dir[4096];
static char path[4200];
static char empty_sql[1024]; /* DELETE FROM every data table */

static void fail(const char *what, int rc) {
  fprintf(stderr, "fuzz_replica_apply: %s: %s: %s\n", what, cf_strerror(rc),
          node != NULL ? cf_node_errmsg(node) : "");
  abort();
}

static int64_t fixed_clock(void *ctx) {
  (void)ctx;
  return FUZZ_NOW_MS;
}

/* Closes the replica and removes its directory (atexit). */
static void teardown(void) {
  static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
  char p[4300];
  cf_node_close(node);
  node = NULL;
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
    (void)unlink(p);
  }
  (void)rmdir(dir);
}

/* Opens the process's replica once. */
static void setup(void) {
  if (node != NULL) return;
  cf_set_clock_hook(fixed_clock, NULL);
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/cf-fuzz-replica-XXXXXX",
           tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) fail("mkdtemp", CF_IO);
  snprintf(path, sizeof path, "%s/replica.db", dir);
  int rc = cf_node_open(path, FUZZ_ORG, FUZZ_USER, &node);
  if (rc != CF_OK) fail("cf_node_open", rc);
  atexit(teardown);
  size_t len = 0;
  for (unsigned t = 0; t < CF_SCHEMA_NTABLES; t++)
    len += (size_t)snprintf(empty_sql + len, sizeof empty_sql - len, "DELETE FROM cf_%s;",
                            cf__schema_table(t)->name);
  if (len >= sizeof empty_sql) fail("empty_sql too small", CF_TOOBIG);
}

/* Requires PRAGMA integrity_check to answer exactly "ok". */
static void check_integrity(void) {
  cf_stmt *st = NULL;
  int rc = cf_node_prepare(node, "PRAGMA integrity_check", &st);
  if (rc != CF_OK) fail("prepare integrity_check", rc);
  rc = cf_stmt_step(st);
  const char *answer = rc == CF_OK ? cf_stmt_column_text(st, 0) : NULL;
  if (answer == NULL || strcmp(answer, "ok") != 0) {
    fprintf(stderr, "fuzz_replica_apply: integrity_check: %s\n",
            answer != NULL ? answer : "(no answer)");
    abort();
  }
  cf_stmt_finalize(st);
}

/* Results a peer may cause with a bad page. */
static int peer_error(int rc) {
  return rc == CF_INVALID || rc == CF_WRONG_ORG || rc == CF_CLOCK_SKEW ||
         rc == CF_TOOBIG || rc == CF_NOMEM;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup();
  cf_frame f;
  if (cf__frame_decode(data, size, NULL, &f, NULL, 0) != CF_OK) return 0;
  if (f.type != CF_FRAME_CHANGES) {
    cf__frame_free(&f);
    return 0;
  }
  const cf_changes *c = &f.u.changes;
  int rc = cf_node_exec(node, empty_sql);
  if (rc != CF_OK) fail("emptying the replica", rc);
  int64_t cursor = (int64_t)c->last_seq; /* as the client passes it */
  rc = cf__store_apply(node, c->rows, c->nrows, cursor);
  if (rc != CF_OK && !peer_error(rc)) fail("cf__store_apply", rc);
  if (rc == CF_OK) {
    int64_t stored = 0;
    if ((rc = cf__store_cursor(node, &stored)) != CF_OK) fail("cf__store_cursor", rc);
    if (cursor >= 0 && stored != cursor) fail("the cursor was not stored", CF_OK);
    rc = cf__store_apply(node, c->rows, c->nrows, cursor);
    if (rc != CF_OK) fail("applying the same page again", rc);
  }
  check_integrity();
  cf__frame_free(&f);
  return 0;
}
