/*
** cli/demo_sync.c: the sync part of `clientflow demo` (the main job).
**
** On the private, migrated and seeded PostgreSQL that cli/cmd_demo.c started:
** a sync server (in this process, on its own thread, logged in as a role that
** is neither superuser nor owner nor BYPASSRLS), three field-sales laptops
** (replica files: two reps of "ClientFlow Demo", one of "Northwind"), a
** bootstrap, concurrent offline edits, a reconnect, and a readable account of
** what merged and why, what was rejected and kept, and proof that one org's
** data never reached the other org's laptops.
*/
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clientflow.h"
#include "cli/cli.h"
#include "cli/demo.h"
#include "cli/master_cli.h"
#include "core/crypto.h"
#include "core/schema.h"
#include "platform/platform.h"
#include "platform/process.h"
#include "platform/thread.h"

/* Seeded rows (docs/seed.md). */
#define ORG_DEMO "01936b2a-0000-7000-8000-100000000001"
#define ORG_NORTH "01936b2a-0000-7000-8000-200000000001"
#define USER_OWNER "01936b2a-0001-7000-8000-000000000001"
#define USER_REP "01936b2a-0001-7000-8000-000000000002"
#define USER_NORTH_REP "01936b2a-0001-7000-8000-000000000004"
#define CONTACT_1 "01936b2a-0003-7000-8000-100000000001"
#define CONTACT_2 "01936b2a-0003-7000-8000-100000000002"
#define DEAL_2 "01936b2a-0004-7000-8000-100000000002"
#define SERVER_ROLE "clientflow_server"

/* One laptop: a replica file and its user's token. */
typedef struct laptop {
  const char *name; /* "laptop 1" */
  const char *who;  /* the user, for the story */
  const char *org;  /* the org it replicates */
  const char *user; /* the user id */
  char path[4096];  /* replica file */
  char *token;      /* access token (cf_token_free) */
  cf_node *node;    /* the open replica */
} laptop;

typedef struct demo {
  char url[128];      /* ws://127.0.0.1:PORT/sync */
  cf_server *srv;     /* the sync server */
  cf__thread *thread; /* runs it */
  int failed;         /* a step went wrong */
} demo;

static void heading(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void heading(const char *fmt, ...) {
  va_list ap;
  printf("\n== ");
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
}

static void server_main(void *arg) {
  demo *d = arg;
  if (cf_server_run(d->srv) != CF_OK) d->failed = 1;
}

/* The first column of the first row of sql on node, as text, into out. */
static void query_text(cf_node *node, const char *sql, char *out, size_t cap) {
  cf_stmt *st = NULL;
  snprintf(out, cap, "?");
  if (cf_node_prepare(node, sql, &st) != CF_OK) return;
  int rc = cf_stmt_step(st);
  if (rc == CF_OK)
    snprintf(out, cap, "%s",
             cf_stmt_column_text(st, 0) ? cf_stmt_column_text(st, 0) : "NULL");
  else if (rc == CF_DONE)
    snprintf(out, cap, "(no row)");
  cf_stmt_finalize(st);
}

/* Runs a write on a laptop and says what happened. */
static int local_write(laptop *l, const char *story, const char *sql) {
  int rc = cf_node_exec(l->node, sql);
  if (rc == CF_OK)
    printf("  %-9s %s\n", l->name, story);
  else
    printf("  %-9s %s\n            refused by the replica itself: %s\n", l->name, story,
           cf_node_errmsg(l->node));
  return rc;
}

/* One full sync of a laptop; prints its counters. */
static int sync_laptop(demo *d, laptop *l, const char *token) {
  cf_sync *s = NULL;
  int rc = cf_sync_new(l->node, d->url, token, &s);
  if (rc != CF_OK) return rc;
  rc = cf_sync_run(s);
  if (rc == CF_OK) {
    printf("  %-9s pushed %" PRId64 " (applied %" PRId64 ", superseded %" PRId64
           ", rejected %" PRId64 "), pulled %" PRId64 " rows\n",
           l->name, cf_sync_count(s, CF_SYNC_PUSHED), cf_sync_count(s, CF_SYNC_APPLIED),
           cf_sync_count(s, CF_SYNC_SUPERSEDED), cf_sync_count(s, CF_SYNC_REJECTED),
           cf_sync_count(s, CF_SYNC_PULLED));
  } else {
    printf("  %-9s sync refused: %s\n", l->name, cf_sync_errmsg(s));
  }
  cf_sync_free(s);
  return rc;
}

static int64_t first_conflict; /* laptop 2's first conflict id, for the fix */

static int print_conflict(void *ctx, const cf_conflict_info *c) {
  const char *name = ctx;
  if (strcmp(name, "laptop 2") == 0 && first_conflict == 0) first_conflict = c->id;
  char what[512];
  printf("  %-9s conflict #%" PRId64 ": %s %s, %s\n            reason: %s\n", name, c->id,
         c->table, c->row_id, cf_cli_describe_change(c->columns, what, sizeof what),
         c->message ? c->message : cf_strerror(c->code));
  return 0;
}

static int print_outbox(void *ctx, const cf_change_info *c) {
  const char *name = ctx;
  char what[512];
  printf("  %-9s still in its outbox: %s %s, %s\n", name, c->table, c->row_id,
         cf_cli_describe_change(c->columns, what, sizeof what));
  return 0;
}

/* A digest of everything the app sees on a laptop (the view of every table
** of the registry, every row, in id order): equal digests mean identical
** data. */
static uint64_t view_digest(cf_node *node, int64_t *rows) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  *rows = 0;
  for (unsigned t = 0; t < CF_SCHEMA_NTABLES; t++) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY id", cf__schema_table(t)->name);
    cf_stmt *st = NULL;
    if (cf_node_prepare(node, sql, &st) != CF_OK) return 0;
    while (cf_stmt_step(st) == CF_OK) {
      (*rows)++;
      for (int c = 0; c < cf_stmt_column_count(st); c++) {
        const char *v = cf_stmt_column_text(st, c);
        for (const char *p = v ? v : "\x01NULL"; *p; p++)
          h = (h ^ (unsigned char)*p) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull;
      }
    }
    cf_stmt_finalize(st);
  }
  return h;
}

/* Counts occurrences of needle in the file at path (the raw replica bytes). */
static long count_in_file(const char *path, const char *needle, long *size) {
  FILE *f = fopen(path, "rb");
  *size = 0;
  if (f == NULL) return -1;
  size_t n = strlen(needle), cap = 1 << 20, len = 0;
  char *buf = malloc(cap);
  long hits = 0;
  if (buf == NULL) {
    fclose(f);
    return -1;
  }
  size_t got;
  /* Read in chunks, keeping n-1 bytes of overlap so no match is split. */
  while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
    *size += (long)got;
    len += got;
    for (size_t i = 0; i + n <= len; i++)
      if (memcmp(buf + i, needle, n) == 0) hits++;
    size_t keep = len < n ? len : n - 1;
    memmove(buf, buf + len - keep, keep);
    len = keep;
  }
  free(buf);
  fclose(f);
  return hits;
}

static int open_laptop(laptop *l, const char *dir, const char *file, const void *secret,
                       size_t secret_len) {
  snprintf(l->path, sizeof l->path, "%s/%s", dir, file);
  int rc = cf_node_open(l->path, l->org, l->user, &l->node);
  if (rc != CF_OK)
    return cf_cli_fail("demo", "cannot open %s: %s", l->path, cf_node_errmsg(NULL));
  rc = cf_token_mint_hs256(secret, secret_len, l->user, "authenticated", NULL,
                           "authenticated", 3600, &l->token);
  if (rc != CF_OK) return cf_cli_fail("demo", "cannot mint a token: %s", cf_strerror(rc));
  return 0;
}

static int start_server(demo *d, const char *server_url, const void *secret, size_t len) {
  cf_auth *auth = NULL;
  int rc = cf_auth_new(&auth);
  if (rc == CF_OK) rc = cf_auth_set_hs256_secret(auth, secret, len);
  if (rc == CF_OK) rc = cf_server_new(&d->srv);
  if (rc != CF_OK) {
    cf_auth_free(auth);
    return cf_cli_fail("demo", "cannot create the server: %s", cf_strerror(rc));
  }
  cf_server_set_auth(d->srv, auth);
  rc = cf_server_set_database(d->srv, server_url);
  if (rc == CF_OK) rc = cf_server_set_listen(d->srv, "127.0.0.1", 0);
  if (rc == CF_OK) rc = cf_server_set_workers(d->srv, 2);
  if (rc == CF_OK) rc = cf_server_start(d->srv);
  if (rc != CF_OK)
    return cf_cli_fail("demo", "sync server: %s", cf_server_errmsg(d->srv));
  snprintf(d->url, sizeof d->url, "ws://127.0.0.1:%d/sync", cf_server_port(d->srv));
  rc = cf__thread_start(server_main, d, &d->thread);
  if (rc != CF_OK) return cf_cli_fail("demo", "cannot start the server thread");
  return 0;
}

static void show_contact(laptop *ls, size_t n, const char *id) {
  char sql[256], phone[128], email[128];
  for (size_t i = 0; i < n; i++) {
    snprintf(sql, sizeof sql, "SELECT phone FROM contacts WHERE id = '%s'", id);
    query_text(ls[i].node, sql, phone, sizeof phone);
    snprintf(sql, sizeof sql, "SELECT email FROM contacts WHERE id = '%s'", id);
    query_text(ls[i].node, sql, email, sizeof email);
    printf("  %-9s phone %-14s email %s\n", ls[i].name, phone, email);
  }
}

static void show_value(laptop *ls, size_t n, const char *what, const char *sql) {
  char v[256];
  for (size_t i = 0; i < n; i++) {
    query_text(ls[i].node, sql, v, sizeof v);
    printf("  %-9s %s: %s\n", ls[i].name, what, v);
  }
}

/* --keep: starts `clientflow serve` in the background on a free port and
** prints how to use it.  OUT: *pid.  Returns the exit code. */
static int spawn_kept_server(const char *dir, const char *server_url,
                             const char *secret_hex, int *pid) {
  const char *self = cf__self_exe();
  int port = 0;
  if (self == NULL || cf__port_free_loopback(&port) != CF_OK)
    return cf_cli_fail("demo", "cannot start the kept sync server");
  char port_text[16], log_path[4200], env_secret[128];
  snprintf(port_text, sizeof port_text, "%d", port);
  snprintf(log_path, sizeof log_path, "%s/serve.log", dir);
  snprintf(env_secret, sizeof env_secret, "JWT_SECRET=%s", secret_hex);
  const char *argv[] = {self,      "serve", "--database-url", server_url, "--port",
                        port_text, NULL};
  const char *env[] = {env_secret, NULL};
  if (cf__proc_spawn_detached(argv, env, log_path, pid) != CF_OK)
    return cf_cli_fail("demo", "cannot start the kept sync server");
  heading("kept running (--keep)");
  printf(
      "  sync server: ws://127.0.0.1:%d/sync and http://127.0.0.1:%d/health (pid %d,\n"
      "  log %s)\n"
      "  connect a laptop of your own:\n"
      "    export JWT_SECRET=%s\n"
      "    clientflow node init --home %s/my-laptop --org %s --user %s \\\n"
      "      --server ws://127.0.0.1:%d/sync --token \"$(clientflow token --user %s)\"\n"
      "    clientflow node sql --home %s/my-laptop \"SELECT first_name, email FROM "
      "contacts\"\n"
      "  the demo laptops' replicas are in %s (removed with it by the stop command)\n",
      port, port, *pid, log_path, secret_hex, dir, ORG_DEMO, USER_REP, port, USER_REP,
      dir, dir);
  return 0;
}

int cf_cli_demo_sync(const char *dir, const char *admin_url, int keep, int *server_pid) {
  demo d;
  memset(&d, 0, sizeof d);
  laptop ls[4] = {
      {"laptop 1", "demo@clientflow.test, owner of ClientFlow Demo", ORG_DEMO, USER_OWNER,
       "", NULL, NULL},
      {"laptop 2", "rep@clientflow.test, member of ClientFlow Demo", ORG_DEMO, USER_REP,
       "", NULL, NULL},
      {"laptop 3", "rep@northwind.test, member of Northwind Field Sales", ORG_NORTH,
       USER_NORTH_REP, "", NULL, NULL},
      {"laptop 2'", "rep@clientflow.test, with a replica of Northwind it has no right to",
       ORG_NORTH, USER_REP, "", NULL, NULL},
  };
  int code = 0;
  unsigned char secret[32];
  char secret_hex[65];
  if (cf__random(secret, sizeof secret) != CF_OK)
    return cf_cli_fail("demo", "no randomness");
  cf__hex(secret, sizeof secret, secret_hex);

  /* The story is the output; the server's own log lines only at warn. */
  if (getenv("CF_LOG_LEVEL") == NULL) cf__log_set_level(CF_LOG_WARN);

  /* --- the server ---------------------------------------------------------- */
  heading("the sync server");
  char err[512];
  cf_master *m = NULL;
  int rc = cf_master_open(admin_url, &m, err, sizeof err);
  if (rc != CF_OK) return cf_cli_fail("demo", "%s", err);
  cf_master_set_report(m, cf_cli_print_report, NULL);
  rc = cf_master_ensure_server_role(m, SERVER_ROLE, NULL);
  if (rc != CF_OK) code = cf_cli_fail("demo", "%s", cf_master_errmsg(m));
  cf_master_close(m);
  if (code) return code;
  char server_url[256];
  const char *at = strchr(admin_url, '@');
  snprintf(server_url, sizeof server_url, "postgresql://" SERVER_ROLE "%s", at ? at : "");
  if ((code = start_server(&d, server_url, secret_hex, 64)) != 0) goto out;
  printf("  listening on %s as database role %s\n"
         "  (checked at start: not a superuser, owns no table, no BYPASSRLS; every\n"
         "  push and pull runs as the token's user, so the master's RLS judges it)\n",
         d.url, SERVER_ROLE);

  /* --- laptops --------------------------------------------------------------- */
  heading("three field-sales laptops bootstrap their replicas");
  for (size_t i = 0; i < 3; i++) {
    char file[32];
    snprintf(file, sizeof file, "laptop%zu.db", i + 1);
    if ((code = open_laptop(&ls[i], dir, file, secret_hex, 64)) != 0) goto out;
    printf("  %-9s %s\n", ls[i].name, ls[i].who);
    if (sync_laptop(&d, &ls[i], ls[i].token) != CF_OK) {
      code = cf_cli_fail("demo", "bootstrap of %s failed", ls[i].name);
      goto out;
    }
  }
  heading("before: what the laptops hold");
  show_contact(ls, 2, CONTACT_1);
  show_value(ls, 2, "deal",
             "SELECT title || ', stage ' || stage FROM deals WHERE id = '" DEAL_2 "'");
  show_value(ls, 3, "contacts visible", "SELECT count(*) FROM contacts");

  /* --- offline --------------------------------------------------------------- */
  heading("offline: the reps work without a network");
  local_write(&ls[0], "sets contact 1's phone to +1-555-0199",
              "UPDATE contacts SET phone = '+1-555-0199' WHERE id = '" CONTACT_1 "'");
  local_write(
      &ls[1], "sets contact 1's email to ava@martinez-dental.example",
      "UPDATE contacts SET email = 'ava@martinez-dental.example' WHERE id = '" CONTACT_1
      "'");
  local_write(&ls[0], "moves the deal to stage 'proposal'",
              "UPDATE deals SET stage = 'proposal' WHERE id = '" DEAL_2 "'");
  cf__sleep_ms(2); /* "a moment later": a later millisecond, a later version */
  local_write(&ls[1], "moves the same deal to stage 'won' (a moment later)",
              "UPDATE deals SET stage = 'won' WHERE id = '" DEAL_2 "'");
  local_write(&ls[0], "deletes contact 2",
              "DELETE FROM contacts WHERE id = '" CONTACT_2 "'");
  cf__sleep_ms(2);
  local_write(
      &ls[1], "edits contact 2's company (a moment later)",
      "UPDATE contacts SET company = 'Okafor Fitness Group' WHERE id = '" CONTACT_2 "'");
  local_write(&ls[0], "creates contact Jordan Lee <jordan.lee@newclient.example>",
              "INSERT INTO contacts (first_name, last_name, email) "
              "VALUES ('Jordan', 'Lee', 'jordan.lee@newclient.example')");
  local_write(&ls[1], "creates contact Jordan Lee with the same email",
              "INSERT INTO contacts (first_name, last_name, email) "
              "VALUES ('Jordan', 'Lee', 'jordan.lee@newclient.example')");
  local_write(&ls[1], "tries to write a contact into Northwind's org",
              "INSERT INTO contacts (org_id, first_name) VALUES ('" ORG_NORTH
              "', 'Intruder')");
  local_write(&ls[2], "creates a Northwind contact <pat@northwind-lead.example>",
              "INSERT INTO contacts (first_name, email) VALUES ('Pat', "
              "'pat@northwind-lead.example')");
  /* The second route into another org: a replica opened for an org the user
  ** does not belong to.  The replica accepts the write (it is offline and
  ** cannot know); the master refuses it. */
  if ((code = open_laptop(&ls[3], dir, "laptop2-northwind.db", secret_hex, 64)) != 0)
    goto out;
  local_write(&ls[3], "opens a Northwind replica and writes a contact into it",
              "INSERT INTO contacts (first_name) VALUES ('Sneaky')");

  /* --- online again ---------------------------------------------------------- */
  heading("back online: each laptop syncs");
  sync_laptop(&d, &ls[0], ls[0].token);
  sync_laptop(&d, &ls[1], ls[1].token);
  sync_laptop(&d, &ls[0], ls[0].token); /* picks up laptop 2's changes */
  sync_laptop(&d, &ls[2], ls[2].token);
  sync_laptop(&d, &ls[3], ls[3].token);

  heading("after: what merged, and why");
  show_contact(ls, 2, CONTACT_1);
  printf("  -> both edits kept: the merge is last-writer-wins per COLUMN, and the\n"
         "     two laptops changed different columns of the contact.\n");
  show_value(ls, 2, "deal stage", "SELECT stage FROM deals WHERE id = '" DEAL_2 "'");
  printf("  -> same column on both: the newer version (hybrid logical clock, then\n"
         "     node id) wins everywhere: laptop 2's later 'won'.\n");
  show_value(ls, 2, "contact 2",
             "SELECT coalesce(max(first_name), '(deleted)') FROM contacts "
             "WHERE id = '" CONTACT_2 "'");
  printf("  -> delete against edit: deletion is a column of its own; the later edit\n"
         "     changed another column, so it is merged into the hidden row and the\n"
         "     contact stays deleted on every replica and on the master.\n");
  show_value(
      ls, 2, "contacts named Jordan Lee",
      "SELECT count(*) FROM contacts WHERE email = 'jordan.lee@newclient.example'");

  heading("rejected changes are kept, with their reasons");
  int64_t n = 0;
  for (size_t i = 0; i < 4; i++) {
    if (cf_node_conflict_count(ls[i].node, &n) == CF_OK && n > 0 &&
        cf_node_conflicts_list(ls[i].node, 100, print_conflict, (void *)ls[i].name) !=
            CF_OK)
      printf("  %-9s cannot list conflicts: %s\n", ls[i].name,
             cf_node_errmsg(ls[i].node));
  }
  if (cf_node_outbox_list(ls[3].node, 100, print_outbox, (void *)ls[3].name) != CF_OK)
    printf("  %-9s cannot list the outbox: %s\n", ls[3].name, cf_node_errmsg(ls[3].node));
  printf("  -> laptop 2's second Jordan Lee broke the per-org unique email on the\n"
         "     master: rejected by the constraint, kept in its conflicts table to fix\n"
         "     and retry (`clientflow node conflicts --retry ID`) or discard.  Laptop\n"
         "     2' is not a member of Northwind: the master refused it at the door; its\n"
         "     change never reached the master and waits in its conflicts table.\n");

  heading("laptop 2 resolves its conflict");
  if (first_conflict != 0 &&
      cf_node_conflict_discard(ls[1].node, first_conflict) == CF_OK)
    printf("  laptop 2  the two Jordan Lees are the same person: it discards its copy\n"
           "            (`clientflow node conflicts --discard %" PRId64 "`)\n",
           first_conflict);
  else
    printf("  laptop 2  cannot discard its conflict: %s\n", cf_node_errmsg(ls[1].node));
  sync_laptop(&d, &ls[1], ls[1].token);
  show_value(
      ls, 2, "contacts named Jordan Lee",
      "SELECT count(*) FROM contacts WHERE email = 'jordan.lee@newclient.example'");

  heading("proof of isolation");
  static const char *const northwind_marks[] = {ORG_NORTH, "pat@northwind-lead.example",
                                                "Northwind"};
  for (size_t i = 0; i < 2; i++) {
    long size = 0, hits = 0;
    char wal[4200];
    snprintf(wal, sizeof wal, "%s-wal", ls[i].path);
    long wal_size = 0;
    for (size_t k = 0; k < sizeof northwind_marks / sizeof northwind_marks[0]; k++) {
      long h = count_in_file(ls[i].path, northwind_marks[k], &size);
      long w = count_in_file(wal, northwind_marks[k], &wal_size);
      hits += (h < 0 ? 0 : h) + (w < 0 ? 0 : w);
    }
    size += wal_size;
    printf("  %-9s replica file and its WAL, %ld bytes: %ld occurrence(s) of\n"
           "            Northwind's org id, name or data\n",
           ls[i].name, size, hits);
    if (hits != 0) code = cf_cli_fail("demo", "isolation broken on %s", ls[i].name);
  }
  show_value(ls + 2, 1, "contacts of ClientFlow Demo seen",
             "SELECT count(*) FROM contacts WHERE org_id = '" ORG_DEMO "'");

  heading("convergence");
  int64_t rows1 = 0, rows2 = 0;
  uint64_t h1 = view_digest(ls[0].node, &rows1), h2 = view_digest(ls[1].node, &rows2);
  printf("  laptop 1: %" PRId64 " rows, digest %016" PRIx64 "\n"
         "  laptop 2: %" PRId64 " rows, digest %016" PRIx64 "\n  -> %s\n",
         rows1, h1, rows2, h2,
         h1 == h2 ? "identical: both replicas saw the same changes and hold the same rows"
                  : "DIFFERENT");
  if (h1 != h2) code = cf_cli_fail("demo", "the two laptops did not converge");

  if (keep && code == 0) {
    /* Hand over to a sync server of its own that outlives the demo. */
    cf_server_stop(d.srv);
    cf__thread_join(d.thread);
    d.thread = NULL;
    cf_server_free(d.srv);
    d.srv = NULL;
    code = spawn_kept_server(dir, server_url, secret_hex, server_pid);
  }
out:
  if (d.srv) cf_server_stop(d.srv);
  cf__thread_join(d.thread);
  cf_server_free(d.srv);
  for (size_t i = 0; i < 4; i++) {
    cf_node_close(ls[i].node);
    cf_token_free(ls[i].token);
  }
  if (d.failed && code == 0) code = cf_cli_fail("demo", "the sync server failed");
  return code;
}
