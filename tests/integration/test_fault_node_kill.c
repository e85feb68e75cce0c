/*
** tests/integration/test_fault_node_kill.c: a node killed with SIGKILL at
** random points between its local commit and the master's acknowledgement
** loses no acknowledged write and applies none twice (issue 5, faults;
** docs/faults.md "node killed").
**
** The node is the real `clientflow node` program in its own processes, on
** one replica file: `node sync --watch` keeps pushing the outbox as writes
** are made, and each write is a separate `node sql` process.  From the
** test's seed, every round picks a write (a new contact, or a new phone
** number for an earlier one), and whether and when (a random delay) to
** SIGKILL the write process, the watcher, or an extra one-shot `node sync`.
** A write whose process exited 0 is committed locally; one whose process
** was killed may or may not be.  At the end a last `node sync` must succeed,
** and then:
**
**   - the replica's outbox is empty and it holds no conflict;
**   - every committed write is on the master (nothing lost);
**   - the master and the replica hold exactly the same test rows with the
**     same values (no extra row, no stale value);
**   - each row's phone is the value of its last write that committed: a
**     write applied twice -- an old batch replayed after a newer one --
**     would bring back an older value here;
**   - the master's version of that column names this node as its writer
**     (it was merged, not re-stamped as a new master write).
*/
#include "core/schema.h"
#include "fault_fixture.h"

#define MAX_ROUNDS 400
#define MAX_ROWS MAX_ROUNDS

/* One write of the test, in the order they were made. */
typedef struct write_rec {
  int row;       /* index of the contact it writes */
  int insert;    /* 1: created the row, 0: set its phone */
  int committed; /* 1: its process exited 0; 0: killed or failed (unknown) */
} write_rec;

static char homedir[4200];
static char logpath[4300];

static int run_node(char *const args[], fx_proc *p) {
  char *argv[16];
  int n = 0;
  argv[n++] = (char *)fx_clientflow();
  argv[n++] = "node";
  for (int i = 0; args[i] && n < 13; i++)
    argv[n++] = args[i];
  argv[n++] = "--home";
  argv[n++] = homedir;
  argv[n] = NULL;
  fx_spawn(p, argv, NULL, 0, logpath);
  return 0;
}

static void start_watcher(fx_proc *w) {
  char *args[] = {"sync", "--watch", NULL};
  run_node(args, w);
}

/* The expected phone of row r after writes 0..upto: "p<i>" of its last
** write, "" if it was only created. */
static void phone_text(int i, int insert, char *out, size_t cap) {
  if (insert)
    snprintf(out, cap, "%s", "");
  else
    snprintf(out, cap, "p%d", i);
}

CF_TEST(node_killed_between_commit_and_ack_loses_nothing_applies_nothing_twice) {
  uint64_t seed = cf_test_seed();
  uint64_t rs = seed;
  int rounds = 60;
  const char *env_rounds = getenv("CF_FAULT_ROUNDS");
  if (env_rounds && atoi(env_rounds) > 0 && atoi(env_rounds) <= MAX_ROUNDS)
    rounds = atoi(env_rounds);
  printf("rounds: %d\n", rounds);

  sync_fx f;
  sfx_open(&f, 1);
  snprintf(homedir, sizeof homedir, "%s/node", cf_test_tmpdir());
  snprintf(logpath, sizeof logpath, "%s/node.log", cf_test_tmpdir());
  char *token = sfx_token(DEMO_REP, 3600);
  /* A plain replica keeps no token (docs/encryption.md): every `node`
  ** process below gets it from the environment, as an app would hand it in. */
  CHECK_EQ(setenv("CLIENTFLOW_TOKEN", token, 1), 0);
  {
    char *argv[] = {(char *)fx_clientflow(),
                    "node",
                    "init",
                    "--org",
                    DEMO_ORG,
                    "--user",
                    DEMO_REP,
                    "--server",
                    f.ws_url,
                    "--token",
                    token,
                    "--home",
                    homedir,
                    NULL};
    CHECK_EQ(fx_run(argv, NULL, logpath, 60000), 0);
  }

  static write_rec writes[MAX_ROUNDS];
  int nwrites = 0, nrows = 0, kills = 0;
  fx_proc watcher;
  start_watcher(&watcher);
  for (int i = 0; i < rounds; i++) {
    /* A new contact (always the first time, then one round in three), or a
    ** new phone for a random earlier one. */
    int insert = nrows == 0 || cf_test_rand(&rs) % 3 == 0;
    int row = insert ? nrows++ : (int)(cf_test_rand(&rs) % (uint64_t)nrows);
    char id[CF_UUID_TEXT_LEN], sql[512];
    fx_uuid(id, 0xfa17, (unsigned long long)row + 1);
    if (insert)
      snprintf(sql, sizeof sql,
               "INSERT INTO contacts (id, first_name, last_name, email) VALUES "
               "('%s', 'fault', 'row%d', 'fault-%d@kill.test')",
               id, row, row);
    else
      snprintf(sql, sizeof sql, "UPDATE contacts SET phone = 'p%d' WHERE id = '%s'", i,
               id);
    char *args[] = {"sql", sql, NULL};
    fx_proc w;
    run_node(args, &w);
    uint64_t r = cf_test_rand(&rs);
    if (r % 6 == 0) {
      /* Kill the writer itself at a random moment: the write may or may
      ** not have committed. */
      cf__sleep_ms((int)(r / 6 % 120));
      fx_kill(&w);
      kills++;
    }
    int code = fx_reap(&w, 30000);
    writes[nwrites].row = row;
    writes[nwrites].insert = insert;
    writes[nwrites].committed = code == 0;
    nwrites++;

    r = cf_test_rand(&rs);
    if (r % 2 == 0) {
      /* Kill the watcher at a random moment after the commit: before it saw
      ** the write, while the batch is on the wire, in the master's
      ** transaction, or after the master answered but before the replica
      ** recorded the answer. */
      cf__sleep_ms((int)(r / 2 % 300));
      fx_kill(&watcher);
      kills++;
      start_watcher(&watcher);
    }
    r = cf_test_rand(&rs);
    if (r % 5 == 0) {
      /* A one-shot sync next to the watcher, killed at a random moment. */
      char *sargs[] = {"sync", NULL};
      fx_proc s;
      run_node(sargs, &s);
      cf__sleep_ms((int)(r / 5 % 200));
      fx_kill(&s);
      kills++;
    }
  }
  fx_kill(&watcher);
  printf("writes: %d on %d rows, SIGKILLs: %d\n", nwrites, nrows, kills);

  /* The final sync must succeed. */
  {
    char *argv[] = {(char *)fx_clientflow(), "node", "sync", "--home", homedir, NULL};
    CHECK_EQ(fx_run(argv, NULL, logpath, 120000), 0);
  }

  char path[4300];
  snprintf(path, sizeof path, "%s/replica.db", homedir);
  cf_node *node = NULL;
  CHECK_OK(cf_node_open(path, DEMO_ORG, DEMO_REP, &node));
  CHECK_EQ(sfx_outbox(node), 0);
  CHECK_EQ(sfx_node_conflicts(node).n, 0);

  /* Same rows on both sides. */
  CHECK_EQ(sfx_node_num(node, "SELECT count(*) FROM contacts WHERE first_name = 'fault'"),
           sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE first_name = 'fault'"));
  for (int row = 0; row < nrows; row++) {
    char id[CF_UUID_TEXT_LEN], q[512], local[256], master[256];
    fx_uuid(id, 0xfa17, (unsigned long long)row + 1);
    snprintf(q, sizeof q,
             "SELECT coalesce(count(*) || '|' || max(last_name) || '|' || "
             "max(coalesce(phone, '')), '') FROM contacts WHERE id = '%s'",
             id);
    sfx_node_text(node, q, local, sizeof local);
    sfx_sql_text(&f, q, master, sizeof master);
    CHECK_MSG(strcmp(local, master) == 0, "row %d: replica \"%s\", master \"%s\"", row,
              local, master);

    /* The last committed write of the row, and what later unknown ones
    ** could have set. */
    int last_committed = -1, exists_committed = 0;
    for (int i = 0; i < nwrites; i++)
      if (writes[i].row == row && writes[i].committed) {
        /* An UPDATE of a row whose INSERT did not commit changes nothing
        ** and still exits 0: only a committed INSERT proves the row. */
        last_committed = i;
        if (writes[i].insert) exists_committed = 1;
      }
    int rows_here = atoi(master);
    if (exists_committed)
      CHECK_MSG(rows_here == 1, "row %d: committed but %d rows on the master", row,
                rows_here);
    if (rows_here == 0) continue;
    const char *phone = strrchr(master, '|') + 1;
    int ok = 0;
    char want[32];
    if (last_committed >= 0) {
      phone_text(last_committed, writes[last_committed].insert, want, sizeof want);
      ok = strcmp(phone, want) == 0;
    }
    for (int i = last_committed + 1; i < nwrites && !ok; i++) {
      if (writes[i].row != row || writes[i].committed) continue;
      phone_text(i, writes[i].insert, want, sizeof want);
      ok = strcmp(phone, want) == 0;
    }
    if (last_committed < 0 && !ok) ok = phone[0] == '\0';
    CHECK_MSG(ok, "row %d: phone \"%s\" is not its last committed write (%d)", row, phone,
              last_committed);

    /* The phone's version on the master was written by this node (the
    ** version blob: 24 bytes per column in schema order; bytes 8..23 are
    ** the writer's node id). */
    if (phone[0]) {
      char node_hex[40];
      const char *nid = cf_node_id(node);
      size_t k = 0;
      for (const char *c = nid; *c && k + 1 < sizeof node_hex; c++)
        if (*c != '-') node_hex[k++] = *c;
      node_hex[k] = '\0';
      const cf_table *t = cf__schema_table_by_name("contacts");
      CHECK(t != NULL);
      int col = cf__schema_column_index(t, "phone");
      CHECK(col >= 0);
      snprintf(q, sizeof q,
               "SELECT encode(substr(cf_versions, %d, 16), 'hex') FROM contacts WHERE id "
               "= '%s'",
               24 * col + 9, id);
      sfx_sql_text(&f, q, master, sizeof master);
      CHECK_MSG(
          strcmp(master, node_hex) == 0,
          "row %d: the master's phone version was written by %s, not this node (%s)", row,
          master, node_hex);
    }
  }
  cf_node_close(node);
  cf_token_free(token);
  sfx_close(&f);
}
