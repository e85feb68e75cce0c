/*
** examples/field-sales/main.c: the terminal app of a field sales rep, built
** on libclientflow's public header only.
**
** The rep lists and searches contacts, edits one, sees a colleague's edit
** appear by itself (a watched query), and sees and resolves a conflict.
** Two handles on one replica file: the UI's, used on this (main) thread,
** and the sync's, driven by the library's background sync thread.  The
** main loop waits on stdin and the clock, and calls cf_node_poll, which
** runs the watched query's and the conflict callback on this thread; sync
** status events arrive on the sync thread and are queued for this one.
**
**   field-sales --replica FILE --org ORG --user USER --server ws://HOST:PORT/sync
**               [--token TOKEN]      (or CLIENTFLOW_TOKEN in the environment)
**
** Commands, one a line (help lists them).  Every command's output ends with
** a line starting "ok" or "error"; lines starting "[" come by themselves
** (live changes, conflicts, sync status).  See README.md.
*/
#define _POSIX_C_SOURCE 200809L /* clock_gettime, poll, isatty with -std=c11 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clientflow.h"

#define MAX_CONTACTS 4096 /* the list kept for showing what changed */
#define LINE 512          /* one line of output or input */

/* --- sync status lines, queued by the sync thread --------------------------- */

static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER; /* guards the queue */
static char queue[64][LINE];                             /* lines not printed yet */
static int q_len;                                        /* lines in queue */
static int connected;                                    /* CONNECTED seen */

static void enqueue(const char *line) {
  pthread_mutex_lock(&q_mu);
  if (q_len < 64) snprintf(queue[q_len++], LINE, "%s", line);
  pthread_mutex_unlock(&q_mu);
}

static void flush_queue(void) {
  pthread_mutex_lock(&q_mu);
  for (int i = 0; i < q_len; i++)
    printf("%s\n", queue[i]);
  q_len = 0;
  pthread_mutex_unlock(&q_mu);
  fflush(stdout);
}

/* Runs on the sync thread: copy what is needed, print later. */
static void on_sync_event(void *ctx, const cf_sync_event *ev) {
  char line[LINE];
  switch (ev->kind) {
    case CF_SYNC_EVENT_CONNECTED:
      pthread_mutex_lock(&q_mu);
      connected = 1;
      pthread_mutex_unlock(&q_mu);
      snprintf(line, sizeof line, "[sync] connected (role %s)", ev->message);
      break;
    case CF_SYNC_EVENT_DISCONNECTED:
      if (ev->retry_in_ms >= 0)
        snprintf(line, sizeof line, "[sync] offline: %s; next try in %.1f s", ev->message,
                 (double)ev->retry_in_ms / 1000.0);
      else
        snprintf(line, sizeof line, "[sync] disconnected%s%s", ev->message[0] ? ": " : "",
                 ev->message);
      break;
    case CF_SYNC_EVENT_PUSH_FINISHED:
      snprintf(line, sizeof line,
               "[sync] sent %lld change(s): %lld applied, %lld superseded, %lld rejected",
               (long long)ev->count, (long long)ev->applied, (long long)ev->superseded,
               (long long)ev->rejected);
      break;
    case CF_SYNC_EVENT_PULL_PROGRESS:
      snprintf(line, sizeof line, "[sync] received %lld rows (%.0f %s)",
               (long long)ev->count, ev->rate, ev->unit);
      break;
    case CF_SYNC_EVENT_ACCESS_REVOKED:
      snprintf(line, sizeof line, "[sync] access revoked: %s", ev->message);
      break;
    case CF_SYNC_EVENT_TOKEN_EXPIRING:
      snprintf(line, sizeof line,
               "[sync] your sign-in expires at %lld: type `token NEW_TOKEN`",
               (long long)ev->expires_at);
      break;
    case CF_SYNC_EVENT_STOPPED:
      snprintf(line, sizeof line, "[sync] stopped: %s %s", cf_strerror(ev->code),
               ev->message);
      break;
    default:
      return; /* push started, conflicts: the UI reports conflicts itself */
  }
  enqueue(line);
}

/* --- the contact list, kept by a watched query ------------------------------- */

typedef struct contact {
  char id[40];     /* the contact's id */
  char line[LINE]; /* "name  email  phone  company" */
} contact;

static contact shown[MAX_CONTACTS]; /* the last result */
static int n_shown;                 /* contacts in it */
static int results;                 /* results received */

static const contact *find_shown(const char *id) {
  for (int i = 0; i < n_shown; i++)
    if (strcmp(shown[i].id, id) == 0) return &shown[i];
  return NULL;
}

/* A new result of the watched list: print what changed (not the first). */
static void on_contacts(void *ctx, const cf_rows *rows) {
  static contact next[MAX_CONTACTS];
  int n = 0;
  for (int64_t r = 0; r < cf_rows_count(rows) && n < MAX_CONTACTS; r++, n++) {
    const char *c[6];
    for (int i = 0; i < 6; i++) {
      c[i] = cf_rows_text(rows, r, i);
      if (c[i] == NULL) c[i] = "";
    }
    snprintf(next[n].id, sizeof next[n].id, "%s", c[0]);
    snprintf(next[n].line, sizeof next[n].line, "%s %s  <%s>  %s  %s", c[1], c[2], c[3],
             c[4], c[5]);
  }
  if (results++ > 0) {
    for (int i = 0; i < n; i++) {
      const contact *old = find_shown(next[i].id);
      if (old == NULL)
        printf("[live] new: %s\n", next[i].line);
      else if (strcmp(old->line, next[i].line) != 0)
        printf("[live] changed: %s (was %s)\n", next[i].line, old->line);
    }
  }
  memcpy(shown, next, (size_t)n * sizeof *next);
  n_shown = n;
  fflush(stdout);
}

static int conflicts_seen; /* conflicts reported by the callback */

static int on_conflict(void *ctx, const cf_conflict_info *c) {
  conflicts_seen++;
  printf("[conflict] #%lld %s %s: %s (fix it, then `resolve %lld retry`, or `resolve "
         "%lld discard`)\n",
         (long long)c->id, c->table, c->row_id, c->message, (long long)c->id,
         (long long)c->id);
  fflush(stdout);
  return 0;
}

/* --- commands ----------------------------------------------------------------- */

typedef struct app {
  cf_node *ui; /* the UI's handle (this thread) */
  cf_sync *bg; /* the background sync (its own thread and handle) */
} app;

static int say_error(app *a, int rc) {
  printf("error %s: %s\n", cf_strerror(rc), cf_node_errmsg(a->ui));
  return rc;
}

/* Prints the rows of a contact query with one text parameter (may be NULL). */
static int print_contacts(app *a, const char *sql, const char *param) {
  cf_stmt *st = NULL;
  int rc = cf_node_prepare(a->ui, sql, &st);
  if (rc == CF_OK && param != NULL) rc = cf_stmt_bind_text(st, 1, param);
  int n = 0;
  while (rc == CF_OK && (rc = cf_stmt_step(st)) == CF_OK) {
    const char *c[6];
    for (int i = 0; i < 6; i++) {
      c[i] = cf_stmt_column_text(st, i);
      if (c[i] == NULL) c[i] = "";
    }
    printf("  %.8s  %s %s  <%s>  %s  %s\n", c[0], c[1], c[2], c[3], c[4], c[5]);
    n++;
  }
  cf_stmt_finalize(st);
  if (rc != CF_DONE) return say_error(a, rc);
  printf("ok %d contact(s)\n", n);
  return CF_OK;
}

#define CONTACT_COLS "id, first_name, last_name, email, phone, company"

static int cmd_edit(app *a, char *args) {
  char *id = strtok(args, " "), *col = strtok(NULL, " "), *val = strtok(NULL, "");
  static const char *const editable[] = {"first_name", "last_name", "email", "phone",
                                         "company"};
  int ok = 0;
  for (size_t i = 0; col != NULL && i < sizeof editable / sizeof *editable; i++)
    ok |= strcmp(col, editable[i]) == 0;
  if (id == NULL || val == NULL || !ok) {
    printf(
        "error usage: edit ID-PREFIX first_name|last_name|email|phone|company VALUE\n");
    return CF_INVALID;
  }
  char sql[160], prefix[48];
  snprintf(sql, sizeof sql, "UPDATE contacts SET %s = ?1 WHERE id LIKE ?2", col);
  snprintf(prefix, sizeof prefix, "%.36s%%", id);
  cf_stmt *st = NULL;
  int rc = cf_node_prepare(a->ui, sql, &st);
  if (rc == CF_OK) rc = cf_stmt_bind_text(st, 1, val);
  if (rc == CF_OK) rc = cf_stmt_bind_text(st, 2, prefix);
  if (rc == CF_OK) rc = cf_stmt_step(st);
  cf_stmt_finalize(st);
  if (rc != CF_DONE) return say_error(a, rc);
  int64_t n = cf_node_changes(a->ui);
  if (n != 1) {
    printf("error %lld contacts match '%s': give more of the id\n", (long long)n, id);
    return CF_INVALID;
  }
  printf("ok saved (sent when online)\n");
  return CF_OK;
}

static int print_conflict(void *ctx, const cf_conflict_info *c) {
  printf("  #%lld  %s %s  columns %s: %s\n", (long long)c->id, c->table, c->row_id,
         c->columns, c->message);
  (*(int *)ctx)++;
  return 0;
}

static int cmd_resolve(app *a, char *args) {
  char *id = strtok(args, " "), *how = strtok(NULL, " ");
  if (id == NULL || how == NULL || (strcmp(how, "retry") && strcmp(how, "discard"))) {
    printf("error usage: resolve CONFLICT-ID retry|discard\n");
    return CF_INVALID;
  }
  int64_t cid = strtoll(id, NULL, 10);
  int rc = strcmp(how, "retry") == 0 ? cf_node_conflict_retry(a->ui, cid)
                                     : cf_node_conflict_discard(a->ui, cid);
  if (rc != CF_OK) return say_error(a, rc);
  printf("ok conflict %lld %s\n", (long long)cid,
         strcmp(how, "retry") == 0 ? "sent again" : "discarded: the server's value wins");
  return CF_OK;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Delivers what happened: queued sync lines, then cf_node_poll's callbacks. */
static int pump(app *a) {
  flush_queue();
  int rc = cf_node_poll(a->ui);
  if (rc != CF_OK && rc != CF_BUSY) {
    printf("[error] %s: %s\n", cf_strerror(rc), cf_node_errmsg(a->ui));
    fflush(stdout);
  }
  return rc;
}

/* wait live TEXT | wait conflict | wait synced [-- up to 30 s] */
static int cmd_wait(app *a, char *args) {
  char *what = strtok(args, " "), *text = strtok(NULL, "");
  int64_t deadline = now_ms() + 30000;
  int conflicts0 = conflicts_seen;
  for (;;) {
    int done = 0;
    if (what != NULL && strcmp(what, "live") == 0 && text != NULL) {
      for (int i = 0; i < n_shown && !done; i++)
        done = strstr(shown[i].line, text) != NULL;
    } else if (what != NULL && strcmp(what, "conflict") == 0) {
      done = conflicts_seen > conflicts0;
    } else if (what != NULL && strcmp(what, "synced") == 0) {
      pthread_mutex_lock(&q_mu);
      done = connected && n_shown > 0;
      pthread_mutex_unlock(&q_mu);
    } else {
      printf("error usage: wait live TEXT | wait conflict | wait synced\n");
      return CF_INVALID;
    }
    if (done) break;
    if (now_ms() > deadline) {
      printf("error timed out waiting for %s\n", what);
      return CF_BUSY;
    }
    (void)cf_node_wait(a->ui, 200);
    pump(a);
  }
  printf("ok\n");
  return CF_OK;
}

static void help(void) {
  printf("  list                      every contact\n"
         "  search TEXT               contacts whose name, email or company has TEXT\n"
         "  edit ID COLUMN VALUE      change first_name, last_name, email, phone or "
         "company\n"
         "  sql STATEMENT             any SQL on the replica's views\n"
         "  conflicts                 changes the server refused, with the reason\n"
         "  resolve ID retry|discard  send a fixed change again, or take the server's\n"
         "  wait live TEXT|conflict|synced   wait (30 s) until it shows up\n"
         "  token NEW_TOKEN           sign in again (when told the token expires)\n"
         "  quit\n"
         "ok\n");
}

static int run_command(app *a, char *line) {
  line[strcspn(line, "\r\n")] = '\0';
  char *cmd = strtok(line, " ");
  char *args = strtok(NULL, "");
  if (args == NULL) args = (char *)"";
  if (cmd == NULL) return CF_OK;
  if (strcmp(cmd, "list") == 0)
    return print_contacts(a,
                          "SELECT " CONTACT_COLS " FROM contacts ORDER BY last_name, "
                          "first_name",
                          NULL);
  if (strcmp(cmd, "search") == 0)
    return print_contacts(a,
                          "SELECT " CONTACT_COLS " FROM contacts WHERE "
                          "first_name || ' ' || coalesce(last_name, '') || ' ' || "
                          "coalesce(email, '') || ' ' || coalesce(company, '') "
                          "LIKE '%' || ?1 || '%' ORDER BY last_name, first_name",
                          args);
  if (strcmp(cmd, "edit") == 0) return cmd_edit(a, args);
  if (strcmp(cmd, "sql") == 0) {
    int rc = cf_node_exec(a->ui, args);
    if (rc != CF_OK) return say_error(a, rc);
    printf("ok %lld row(s)\n", (long long)cf_node_changes(a->ui));
    return CF_OK;
  }
  if (strcmp(cmd, "conflicts") == 0) {
    int n = 0;
    int rc = cf_node_conflicts_list(a->ui, 100, print_conflict, &n);
    if (rc != CF_OK) return say_error(a, rc);
    printf("ok %d conflict(s)\n", n);
    return CF_OK;
  }
  if (strcmp(cmd, "resolve") == 0) return cmd_resolve(a, args);
  if (strcmp(cmd, "wait") == 0) return cmd_wait(a, args);
  if (strcmp(cmd, "token") == 0) {
    int rc = cf_sync_set_token(a->bg, args);
    printf(rc == CF_OK ? "ok\n" : "error %s\n", cf_strerror(rc));
    return rc;
  }
  if (strcmp(cmd, "help") == 0) {
    help();
    return CF_OK;
  }
  printf("error unknown command %s (try help)\n", cmd);
  return CF_INVALID;
}

/* --- main ----------------------------------------------------------------------- */

static const char *arg(int argc, char **argv, const char *name) {
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return NULL;
}

int main(int argc, char **argv) {
  const char *path = arg(argc, argv, "--replica"), *org = arg(argc, argv, "--org"),
             *user = arg(argc, argv, "--user"), *url = arg(argc, argv, "--server"),
             *token = arg(argc, argv, "--token");
  if (token == NULL) token = getenv("CLIENTFLOW_TOKEN");
  if (path == NULL || org == NULL || user == NULL || url == NULL || token == NULL) {
    fprintf(stderr, "usage: field-sales --replica FILE --org ORG --user USER --server "
                    "ws://HOST:PORT/sync [--token TOKEN | CLIENTFLOW_TOKEN=...]\n");
    return 2;
  }
  app a = {NULL, NULL};
  cf_node *sync_node = NULL;
  cf_watch *w = NULL;
  int rc, status = 1;
  /* Two handles on one file: one per thread. */
  if ((rc = cf_node_open(path, org, user, &a.ui)) != CF_OK ||
      (rc = cf_node_open(path, org, user, &sync_node)) != CF_OK) {
    fprintf(stderr, "field-sales: cannot open %s: %s\n", path, cf_node_errmsg(NULL));
    goto out;
  }
  cf_node_on_conflict(a.ui, on_conflict, &a);
  rc = cf_node_watch(
      a.ui, "SELECT " CONTACT_COLS " FROM contacts ORDER BY last_name, first_name",
      on_contacts, &a, &w);
  if (rc == CF_OK) rc = cf_sync_new(sync_node, url, token, &a.bg);
  if (rc != CF_OK) {
    fprintf(stderr, "field-sales: %s: %s\n", cf_strerror(rc), cf_node_errmsg(a.ui));
    goto out;
  }
  cf_sync_set_events(a.bg, on_sync_event, NULL);
  if ((rc = cf_sync_start(a.bg)) != CF_OK) {
    fprintf(stderr, "field-sales: cannot start the sync: %s\n", cf_strerror(rc));
    goto out;
  }
  printf("field-sales: replica %s, syncing with %s in the background (help: commands)\n",
         path, url);
  fflush(stdout);
  int interactive = isatty(0);
  char line[LINE];
  for (;;) {
    if (interactive) {
      printf("> ");
      fflush(stdout);
    }
    /* Wait for a command, delivering changes every 250 ms meanwhile. */
    struct pollfd in = {0, POLLIN, 0};
    int ready = 0;
    while (!ready) {
      pump(&a);
      int n = poll(&in, 1, 250);
      if (n < 0 && errno != EINTR) break;
      ready = n > 0;
    }
    if (!ready || fgets(line, sizeof line, stdin) == NULL) break;
    if (strncmp(line, "quit", 4) == 0) break;
    (void)run_command(&a, line);
    pump(&a);
  }
  status = 0;
  printf("ok bye\n");
out:
  if (a.bg != NULL) {
    rc = cf_sync_join(a.bg);
    flush_queue();
    if (rc != CF_OK && rc != CF_MISUSE) status = 1;
  }
  cf_sync_free(a.bg);
  cf_watch_free(w);
  cf_node_close(sync_node);
  cf_node_close(a.ui);
  return status;
}
