/*
** tests/unit/test_store_oom.c: out-of-memory on the replica's paths.
**
** cf__alloc_fail_at(N) makes the N-th allocation from now and every later
** one fail; SQLite's own allocations go through the same wrapper
** (store/sqlmem.c).  For N = 1, 2, ... until an operation runs without
** reaching N, each run of the write path (SQL through the views and their
** triggers) and of the apply path must end with a clean error code and
** leave the replica as before (no row without its outbox entry, no cursor
** without its rows, no open transaction, integrity ok).  AddressSanitizer's
** leak checker runs at exit.
*/
#include <unistd.h>

#include "platform/platform.h"
#include "store_helpers.h"

#define MAX_N 200000

/* Deletes the replica file and its WAL companions. */
static void remove_replica(const char *path) {
  char file[8300];
  const char *suffix[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    snprintf(file, sizeof file, "%s%s", path, suffix[i]);
    unlink(file);
  }
}

static void check_clean(cf_node *node) {
  char buf[64];
  CHECK_STR(query_text(node, "PRAGMA integrity_check", buf, sizeof buf), "ok");
  /* No transaction was left open. */
  EXEC_OK(node, "BEGIN; COMMIT;");
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_contacts"),
           query_int(node, "SELECT count(*) FROM cf_outbox WHERE tbl = 3"));
}

static int clean_code(int rc) { return rc == CF_NOMEM || rc == CF_IO || rc == CF_STORE; }

CF_TEST(test_out_of_memory_on_the_write_path_ends_cleanly) {
  cf_node *node = open_replica("r.db", ORG_A);
  int failures = 0;
  for (uint64_t n = 1; n < MAX_N; n++) {
    int64_t before = query_int(node, "SELECT count(*) FROM cf_contacts");
    cf__alloc_fail_at(n);
    int rc = cf_node_exec(node, "INSERT INTO contacts (first_name, tags, metadata) VALUES"
                                " ('x', '{a,b}', '{\"k\": [1, 2.50]}')");
    uint64_t used = cf__alloc_count();
    cf__alloc_fail_at(0);
    if (rc == CF_OK) {
      CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_contacts"), before + 1);
    } else {
      CHECK_MSG(clean_code(rc), "N=%llu: %s (%s)", (unsigned long long)n, cf_strerror(rc),
                cf_node_errmsg(node));
      CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_contacts"), before);
      failures++;
    }
    check_clean(node);
    if (used < n) break; /* the write ran without reaching the failure */
  }
  CHECK(failures > 0);
  cf_node_close(node);
}

CF_TEST(test_out_of_memory_on_the_update_path_ends_cleanly) {
  cf_node *node = open_replica("r.db", ORG_A);
  EXEC_OK(node, "INSERT INTO contacts (first_name) VALUES ('x')");
  int failures = 0;
  for (uint64_t n = 1; n < MAX_N; n++) {
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE contacts SET phone = '%llu', tags = '[\"t\"]'",
             (unsigned long long)n);
    cf__alloc_fail_at(n);
    int rc = cf_node_exec(node, sql);
    uint64_t used = cf__alloc_count();
    cf__alloc_fail_at(0);
    if (rc != CF_OK) {
      CHECK_MSG(clean_code(rc), "N=%llu: %s", (unsigned long long)n, cf_strerror(rc));
      failures++;
    }
    check_clean(node);
    if (used < n) break;
  }
  CHECK(failures > 0);
  cf_node_close(node);
}

CF_TEST(test_out_of_memory_on_the_apply_path_ends_cleanly) {
  cf_node *node = open_replica("r.db", ORG_A);
  EXEC_OK(node, "INSERT INTO contacts (first_name) VALUES ('local')");
  int failures = 0;
  int64_t cursor = 0;
  for (uint64_t n = 1; n < MAX_N; n++) {
    char id[64], name[32];
    snprintf(id, sizeof id, "0190f1a2-0000-7000-8000-%012llx", (unsigned long long)n);
    snprintf(name, sizeof name, "remote-%llu", (unsigned long long)n);
    cf_row ch[2];
    cf_ver v = make_ver(cf__now_ms(), 0, 0x66);
    remote_contact(&ch[0], ORG_A, id);
    set_text(&ch[0], "first_name", name, &v);
    set_text(&ch[0], "tags", "[\"r\"]", &v);
    remote_contact(&ch[1], ORG_A, "0190f1a2-0000-7000-8000-000000000001");
    set_text(&ch[1], "first_name", name, &v);
    int64_t before = query_int(node, "SELECT count(*) FROM cf_contacts");
    cf__alloc_fail_at(n);
    int rc = cf__store_apply(node, ch, 2, (int64_t)n);
    uint64_t used = cf__alloc_count();
    cf__alloc_fail_at(0);
    int64_t now_cursor = -1;
    CHECK_OK(cf__store_cursor(node, &now_cursor));
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM contacts WHERE id = '%s'", id);
    if (rc == CF_OK) {
      CHECK_EQ(now_cursor, (int64_t)n);
      CHECK_EQ(query_int(node, sql), 1);
      cursor = now_cursor;
    } else {
      CHECK_MSG(clean_code(rc), "N=%llu: %s (%s)", (unsigned long long)n, cf_strerror(rc),
                cf_node_errmsg(node));
      CHECK_EQ(now_cursor, cursor);
      CHECK_EQ(query_int(node, sql), 0);
      CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_contacts"), before);
      failures++;
    }
    char buf[64];
    CHECK_STR(query_text(node, "PRAGMA integrity_check", buf, sizeof buf), "ok");
    CHECK_MSG(cf_node_exec(node, "BEGIN; COMMIT;") == CF_OK,
              "N=%llu rc=%d: transaction left open", (unsigned long long)n, rc);
    CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox"), 1);
    if (used < n) break;
  }
  CHECK(failures > 0);
  cf_node_close(node);
}

CF_TEST(test_out_of_memory_while_opening_ends_cleanly) {
  char path[8192];
  snprintf(path, sizeof path, "%s/open.db", cf_test_tmpdir());
  /* Creating a replica makes tens of thousands of allocations: step through
  ** them with a growing stride (every one of the first 300, then every ~5%). */
  int failures = 0;
  for (uint64_t n = 1; n < MAX_N; n += n < 300 ? 1 : n / 20) {
    cf_node *node = NULL;
    cf__alloc_fail_at(n);
    int rc = test_node_open(path, ORG_A, USER_A, &node);
    uint64_t used = cf__alloc_count();
    cf__alloc_fail_at(0);
    if (rc != CF_OK) {
      CHECK(node == NULL);
      CHECK_MSG(clean_code(rc), "N=%llu: %s (%s)", (unsigned long long)n, cf_strerror(rc),
                cf_node_errmsg(NULL));
      failures++;
    }
    cf_node_close(node);
    /* Whatever the failed open left, a normal open works and is sound. */
    CHECK_OK(test_node_open(path, ORG_A, USER_A, &node));
    char buf[64];
    CHECK_STR(query_text(node, "PRAGMA integrity_check", buf, sizeof buf), "ok");
    CHECK_EQ(query_int(node, "SELECT count(*) FROM contacts"), 0);
    cf_node_close(node);
    remove_replica(path);
    if (used < n) break;
  }
  CHECK(failures > 0);
}

CF_TEST(test_out_of_memory_on_push_and_results_ends_cleanly) {
  cf_node *node = open_replica("r.db", ORG_A);
  EXEC_OK(node, "INSERT INTO contacts (first_name, tags) VALUES ('a', '[\"x\"]');"
                "INSERT INTO deals (title, value) VALUES ('d', 5);"
                "INSERT INTO contacts (first_name) VALUES ('b')");
  int failures = 0;
  /* Reading a batch. */
  for (uint64_t n = 1; n < MAX_N; n++) {
    cf__push_batch *b = NULL;
    cf__alloc_fail_at(n);
    int rc = cf__store_push_next(node, 10, &b);
    uint64_t used = cf__alloc_count();
    cf__alloc_fail_at(0);
    if (rc == CF_OK) {
      CHECK_EQ(b->n, 3);
      cf__store_push_free(b);
      CHECK_OK(cf__store_push_requeue(node));
    } else {
      CHECK(b == NULL);
      CHECK_MSG(clean_code(rc), "N=%llu: %s", (unsigned long long)n, cf_strerror(rc));
      failures++;
    }
    CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox WHERE batch <> 0"), 0);
    CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox"), 3);
    EXEC_OK(node, "BEGIN; COMMIT;");
    if (used < n) break;
  }
  CHECK(failures > 0);
  /* Recording the answers: all of them or none. */
  failures = 0;
  for (uint64_t n = 1; n < MAX_N; n++) {
    cf__push_batch *b = NULL;
    CHECK_OK(cf__store_push_next(node, 10, &b));
    CHECK_EQ(b->n, 3);
    cf__store_push_result res[3];
    for (size_t i = 0; i < 3; i++) {
      res[i].seq = b->items[i].seq;
      res[i].outcome = i == 1 ? CF_PUSH_REJECTED : CF_PUSH_APPLIED;
      res[i].code = CF_PERMISSION;
      res[i].message = "no";
    }
    cf__alloc_fail_at(n);
    int rc = cf__store_push_results(node, res, 3);
    cf__alloc_fail_at(0);
    cf__store_push_free(b);
    int64_t out = 0, conflicts = 0;
    CHECK_OK(cf_node_outbox_count(node, &out));
    CHECK_OK(cf_node_conflict_count(node, &conflicts));
    if (rc == CF_OK) {
      CHECK_EQ(out, 0);
      CHECK_EQ(conflicts, 1);
      break;
    }
    CHECK_MSG(clean_code(rc), "N=%llu: %s", (unsigned long long)n, cf_strerror(rc));
    CHECK_EQ(out, 3);
    CHECK_EQ(conflicts, 0);
    CHECK_OK(cf__store_push_requeue(node));
    failures++;
  }
  CHECK(failures > 0);
  char buf[16];
  CHECK_STR(query_text(node, "PRAGMA integrity_check", buf, sizeof buf), "ok");
  cf_node_close(node);
}
