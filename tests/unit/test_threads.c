/*
** tests/unit/test_threads.c: the threading model of include/clientflow.h
** ("THREADS"): two threads, each with its own handle on ONE replica file, a
** writer committing transactions while the UI thread writes too and waits
** (cf_node_wait) and polls (cf_node_poll) for them; the UI's watched query
** and change events must see every commit of both.  Run under
** ThreadSanitizer by scripts/tsan.sh (build/tsan, -DCF_TSAN=ON), and under
** ASan with the rest of the suite.
*/
#include <pthread.h>

#include "store_helpers.h"

#define WRITES 40    /* transactions of the writer thread */
#define UI_WRITES 10 /* transactions of the UI thread */

typedef struct shared {
  char path[4096]; /* the replica file */
  int writer_rc;   /* the writer's first failure, CF_OK */
} shared;

static void *writer(void *arg) {
  shared *sh = arg;
  cf_node *node = NULL;
  int rc = cf_node_open(sh->path, ORG_A, USER_A, &node);
  for (int i = 0; rc == CF_OK && i < WRITES; i++) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "BEGIN; INSERT INTO contacts (first_name) VALUES ('w%d');"
             "UPDATE contacts SET phone = '%d' WHERE first_name = 'w%d'; COMMIT",
             i, i, i);
    rc = cf_node_exec(node, sql);
  }
  sh->writer_rc = rc;
  cf_node_close(node);
  return NULL;
}

typedef struct ui_state {
  int64_t count; /* the watched count */
  int events;    /* change events */
} ui_state;

static void on_count(void *ctx, const cf_rows *rows) {
  const char *c = cf_rows_text(rows, 0, 0);
  ((ui_state *)ctx)->count = c ? strtoll(c, NULL, 10) : -1;
}

static void on_changes(void *ctx, const cf_change_event *ev) {
  ((ui_state *)ctx)->events++;
}

CF_TEST(test_two_threads_two_handles_one_file_ui_sees_every_commit) {
  shared sh;
  memset(&sh, 0, sizeof sh);
  snprintf(sh.path, sizeof sh.path, "%s/shared.db", cf_test_tmpdir());
  cf_node *ui = NULL;
  CHECK_OK(cf_node_open(sh.path, ORG_A, USER_A, &ui));
  ui_state st = {0, 0};
  cf_watch *w = NULL;
  CHECK_OK(cf_node_watch(ui, "SELECT count(*) FROM contacts", on_count, &st, &w));
  cf_node_on_changes(ui, on_changes, &st);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, writer, &sh) == 0);
  int64_t deadline = cf__monotonic_ns() / 1000000 + 60000;
  int mine = 0;
  while (st.count < WRITES + UI_WRITES && cf__monotonic_ns() / 1000000 < deadline) {
    if (mine < UI_WRITES) {
      char sql[128];
      snprintf(sql, sizeof sql, "INSERT INTO contacts (first_name) VALUES ('ui%d')",
               mine++);
      EXEC_OK(ui, sql);
    }
    (void)cf_node_wait(ui, 250);
    CHECK_OK(cf_node_poll(ui));
  }
  pthread_join(t, NULL);
  CHECK_OK(sh.writer_rc);
  CHECK_OK(cf_node_poll(ui));
  CHECK_EQ(st.count, WRITES + UI_WRITES);
  CHECK_EQ(st.events, WRITES + UI_WRITES); /* one per committed transaction */
  cf_watch_free(w);
  cf_node_close(ui);
}
