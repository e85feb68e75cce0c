/*
** tests/unit/test_store_crash.c: crash safety of the replica.
**
** A child process writes (a contact and a deal per transaction, plus
** updates) and applies remote rows with a cursor in a loop, reporting each
** committed transaction over a pipe.  The parent kills it with SIGKILL after
** a random number of reports plus a random number of microseconds (seeded),
** many times over the same file, and after each kill reopens the replica
** and checks: PRAGMA integrity_check is ok; every reported write is there;
** every local row has its outbox entry and the outbox nothing else; no
** transaction is half there (contacts and deals come in pairs); remote rows
** are not in the outbox; the cursor matches the remote rows applied.
*/
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform/platform.h"
#include "store_helpers.h"

#define ROUNDS 40
#define MAX_REPORTS 25

/* The child: writes and applies until killed.  Never returns. */
static void child_loop(const char *path, int fd, int64_t base) {
  cf_node *node = NULL;
  if (test_node_open(path, ORG_A, USER_A, &node) != CF_OK) _exit(3);
  char sql[1024], line[64], id[64];
  for (int64_t i = base;; i++) {
    snprintf(sql, sizeof sql,
             "BEGIN;"
             "INSERT INTO contacts (first_name) VALUES ('local-%lld');"
             "INSERT INTO deals (title, contact_id) SELECT 'local-%lld', id FROM contacts"
             " WHERE first_name = 'local-%lld';"
             "UPDATE contacts SET phone = '%lld' WHERE first_name = 'local-%lld';"
             "COMMIT;",
             (long long)i, (long long)i, (long long)i, (long long)i, (long long)(i - 1));
    if (cf_node_exec(node, sql) != CF_OK) _exit(4);
    int n = snprintf(line, sizeof line, "w %lld\n", (long long)i);
    if (write(fd, line, (size_t)n) != n) _exit(5);
    if (i % 3 == 0) {
      cf_row ch;
      snprintf(id, sizeof id, "0190f1a2-0000-7000-8000-%012llx", (unsigned long long)i);
      remote_contact(&ch, ORG_A, id);
      char name[32];
      snprintf(name, sizeof name, "remote-%lld", (long long)i);
      cf_ver v = make_ver(cf__now_ms(), 0, 0x77);
      set_text(&ch, "first_name", name, &v);
      if (cf__store_apply(node, &ch, 1, i) != CF_OK) _exit(6);
      n = snprintf(line, sizeof line, "a %lld\n", (long long)i);
      if (write(fd, line, (size_t)n) != n) _exit(5);
    }
  }
}

/* Busy-waits us microseconds (a random kill point, not a synchronisation). */
static void spin_us(int64_t us) {
  int64_t end = cf__monotonic_ns() + us * 1000;
  while (cf__monotonic_ns() < end) {
  }
}

static void check_replica(const char *path, int64_t last_write, int64_t last_apply) {
  cf_node *node = NULL;
  CHECK_OK(test_node_open(path, ORG_A, USER_A, &node));
  char buf[256], sql[512];
  CHECK_STR(query_text(node, "PRAGMA integrity_check", buf, sizeof buf), "ok");
  if (last_write >= 0) {
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM contacts c JOIN deals d ON d.contact_id = c.id"
             " AND d.title = c.first_name WHERE c.first_name = 'local-%lld'",
             (long long)last_write);
    CHECK_MSG(query_int(node, sql) == 1, "committed write %lld is missing",
              (long long)last_write);
  }
  /* No half transaction: contacts and deals come in pairs. */
  CHECK_EQ(
      query_int(node, "SELECT count(*) FROM contacts WHERE first_name LIKE 'local-%'"),
      query_int(node, "SELECT count(*) FROM deals WHERE title LIKE 'local-%'"));
  /* Every local row carries its pending outbox entry, remote rows none, and
  ** the outbox lists exactly those. */
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_contacts"
                           " WHERE first_name LIKE 'local-%' AND _seq IS NULL"),
           0);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_deals WHERE _seq IS NULL"), 0);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_contacts"
                           " WHERE first_name LIKE 'remote-%' AND _seq IS NOT NULL"),
           0);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox"),
           query_int(node,
                     "SELECT count(*) FROM cf_contacts WHERE first_name LIKE 'local-%'") +
               query_int(node, "SELECT count(*) FROM cf_deals"));
  /* The cursor and the remote rows were committed together. */
  int64_t cursor = 0;
  CHECK_OK(cf__store_cursor(node, &cursor));
  CHECK(cursor >= last_apply);
  if (cursor > 0) {
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM contacts WHERE first_name = 'remote-%lld'",
             (long long)cursor);
    CHECK_EQ(query_int(node, sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM contacts WHERE first_name LIKE 'remote-%%'"
             " AND CAST(substr(first_name, 8) AS INTEGER) > %lld",
             (long long)cursor);
    CHECK_EQ(query_int(node, sql), 0);
  }
  cf_node_close(node);
}

CF_TEST(test_sigkill_while_writing_and_applying_loses_no_commit_and_leaves_no_half) {
  uint64_t rng = cf_test_seed();
  char path[8192];
  snprintf(path, sizeof path, "%s/crash.db", cf_test_tmpdir());
  cf_node *node = NULL;
  CHECK_OK(test_node_open(path, ORG_A, USER_A, &node));
  cf_node_close(node);
  int64_t last_apply = 0;
  for (int round = 0; round < ROUNDS; round++) {
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      child_loop(path, fds[1], (int64_t)(round + 1) * 1000000);
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    CHECK(in != NULL);
    int want = 1 + (int)(cf_test_rand(&rng) % MAX_REPORTS), got = 0;
    int64_t last_write = -1;
    char line[64];
    while (got < want && fgets(line, sizeof line, in) != NULL) {
      long long v = atoll(line + 2);
      if (line[0] == 'w') last_write = v;
      if (line[0] == 'a') last_apply = v;
      got++;
    }
    spin_us((int64_t)(cf_test_rand(&rng) % 4000));
    kill(pid, SIGKILL);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    fclose(in);
    CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "child ended on its own (status %d) after %d reports", status, got);
    CHECK_MSG(got == want, "child stopped reporting after %d of %d", got, want);
    check_replica(path, last_write, last_apply);
  }
}
