/*
** cli/cmd_node.c: `clientflow node`, a device's replica.
**
**   clientflow node init --org UUID --user UUID --server URL --token T [--home DIR]
**   clientflow node sync [--token T] [--home DIR]
**   clientflow node sql "SQL" [--home DIR]
**   clientflow node status [--home DIR]
**   clientflow node conflicts [--retry ID | --discard ID] [--home DIR]
**
** A node's home (--home, else CLIENTFLOW_HOME, else ./.clientflow) holds
** replica.db (the SQLite replica, with the server URL and token among its
** settings) and node.conf (the org and user the replica was made for).
*/
#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clientflow.h"
#include "cli/cli.h"

#define MAX_TOKEN 16384

typedef struct node_args {
  const char *home;   /* the node's directory */
  const char *org;    /* init: org id */
  const char *user;   /* init: user id */
  const char *server; /* init: ws:// URL */
  const char *token;  /* init/sync: access token */
  const char *sql;    /* sql: the statement */
  int64_t retry;      /* conflicts: id to retry, or 0 */
  int64_t discard;    /* conflicts: id to discard, or 0 */
  int watch;          /* sync: stay connected (--watch) */
} node_args;

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: clientflow node init --org UUID --user UUID --server URL --token T [--home "
      "DIR]\n"
      "       clientflow node sync [--watch] [--token T] [--home DIR]\n"
      "       clientflow node sql \"SQL\" [--home DIR]\n"
      "       clientflow node status [--home DIR]\n"
      "       clientflow node conflicts [--retry ID | --discard ID] [--home DIR]\n"
      "\n"
      "A device's replica of one organization.  init creates it and bootstraps it\n"
      "from the server (ws://host:port/sync); sync pushes local writes and pulls\n"
      "the master's (--watch: stays connected, applies changes as the master\n"
      "commits them, pushes local writes as they are made, reconnects with backoff\n"
      "after failures; Ctrl-C stops it); sql runs one statement on the replica's views "
      "(contacts,\n"
      "deals, ...) and works offline; status shows cursor, outbox and conflicts;\n"
      "conflicts lists the changes the master rejected, and retries or discards one.\n"
      "\n"
      "The home directory is --home, else CLIENTFLOW_HOME, else ./.clientflow.\n"
      "The token may also come from CLIENTFLOW_TOKEN.\n");
}

static int parse_id(const char *s, int64_t *out) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v <= 0) return 0;
  *out = v;
  return 1;
}

static int parse_args(const char *sub, int argc, char **argv, node_args *a) {
  memset(a, 0, sizeof *a);
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(arg, "--home") == 0 && next)
      a->home = argv[++i];
    else if (strcmp(arg, "--org") == 0 && next)
      a->org = argv[++i];
    else if (strcmp(arg, "--user") == 0 && next)
      a->user = argv[++i];
    else if (strcmp(arg, "--server") == 0 && next)
      a->server = argv[++i];
    else if (strcmp(arg, "--token") == 0 && next)
      a->token = argv[++i];
    else if (strcmp(arg, "--watch") == 0)
      a->watch = 1;
    else if (strcmp(arg, "--retry") == 0 && next) {
      if (!parse_id(argv[++i], &a->retry))
        return cf_cli_fail("node", "--retry takes a conflict id");
    } else if (strcmp(arg, "--discard") == 0 && next) {
      if (!parse_id(argv[++i], &a->discard))
        return cf_cli_fail("node", "--discard takes a conflict id");
    } else if (strcmp(sub, "sql") == 0 && a->sql == NULL && arg[0] != '-') {
      a->sql = arg;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (a->home == NULL) a->home = cf_cli_config("CLIENTFLOW_HOME");
  if (a->home == NULL) a->home = ".clientflow";
  if (a->token == NULL) a->token = cf_cli_config("CLIENTFLOW_TOKEN");
  return 0;
}

static void home_path(const node_args *a, const char *file, char *out, size_t cap) {
  snprintf(out, cap, "%s/%s", a->home, file);
}

/* Reads node.conf's org_id and user_id. */
static int read_conf(const node_args *a, char org[64], char user[64]) {
  char path[4096];
  home_path(a, "node.conf", path, sizeof path);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return cf_cli_fail("node", "no replica in %s (run `clientflow node init` first)",
                       a->home);
  char line[256];
  org[0] = user[0] = '\0';
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (strncmp(line, "org_id=", 7) == 0) snprintf(org, 64, "%.63s", line + 7);
    if (strncmp(line, "user_id=", 8) == 0) snprintf(user, 64, "%.63s", line + 8);
  }
  fclose(f);
  if (!org[0] || !user[0]) return cf_cli_fail("node", "%s is incomplete", path);
  return 0;
}

static int open_node(const node_args *a, cf_node **node) {
  char org[64], user[64], path[4096];
  int code = read_conf(a, org, user);
  if (code) return code;
  home_path(a, "replica.db", path, sizeof path);
  int rc = cf_node_open(path, org, user, node);
  if (rc != CF_OK)
    return cf_cli_fail("node", "cannot open %s: %s", path, cf_node_errmsg(NULL));
  return 0;
}

/* --- progress ---------------------------------------------------------- */

typedef struct progress {
  int tty;          /* stdout is a terminal: draw a bar */
  int64_t start_ns; /* when the pull started */
  int drawn;        /* a bar line is on screen */
} progress;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_progress(void *ctx, int phase, int64_t done, int64_t total) {
  progress *p = ctx;
  if (phase == CF_SYNC_PHASE_PUSH) {
    if (!p->tty) printf("pushed %" PRId64 " changes\n", done);
    return;
  }
  if (p->start_ns == 0) p->start_ns = now_ns();
  double secs = (double)(now_ns() - p->start_ns) / 1e9;
  double rate = secs > 0 ? (double)done / secs : 0;
  int pct = total > 0 ? (int)(100.0 * (double)done / (double)total) : 100;
  if (pct > 100) pct = 100;
  double eta = rate > 0 && total > done ? (double)(total - done) / rate : 0;
  if (p->tty) {
    char bar[31];
    int fill = pct * 30 / 100;
    for (int i = 0; i < 30; i++)
      bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    printf("\rpull [%s] %3d%%  %" PRId64 "/%" PRId64 "  %.0f/s  eta %.0fs ", bar, pct,
           done, total, rate, eta);
    p->drawn = 1;
  } else {
    printf("pulled to %" PRId64 " of %" PRId64 " (%d%%, %.0f/s)\n", done, total, pct,
           rate);
  }
  fflush(stdout);
}

static cf_sync *watching; /* the session a signal stops */

static void on_signal(int sig) {
  (void)sig;
  if (watching) cf_sync_stop(watching);
}

/* Runs one sync (or a live one) and prints what happened.  Returns the exit
** code. */
static int run_sync(cf_node *node, const char *url, const char *token, int watch) {
  cf_sync *s = NULL;
  int rc = cf_sync_new(node, url, token, &s);
  if (rc != CF_OK) return cf_cli_fail("node", "%s", cf_strerror(rc));
  progress p = {isatty(STDOUT_FILENO) && !watch, 0, 0};
  cf_sync_set_progress(s, on_progress, &p);
  if (watch) {
    watching = s;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    printf("watching %s (Ctrl-C to stop)\n", url);
    fflush(stdout);
    rc = cf_sync_watch(s);
    watching = NULL;
  } else {
    rc = cf_sync_run(s);
  }
  if (p.drawn) printf("\n");
  int code = 0;
  if (rc == CF_OK) {
    printf("synced with %s: pushed %" PRId64 " (applied %" PRId64 ", superseded %" PRId64
           ", rejected %" PRId64 "), pulled %" PRId64 " rows, cursor %" PRId64 "\n",
           url, cf_sync_count(s, CF_SYNC_PUSHED), cf_sync_count(s, CF_SYNC_APPLIED),
           cf_sync_count(s, CF_SYNC_SUPERSEDED), cf_sync_count(s, CF_SYNC_REJECTED),
           cf_sync_count(s, CF_SYNC_PULLED), cf_sync_count(s, CF_SYNC_CURSOR));
    if (cf_sync_count(s, CF_SYNC_REJECTED) > 0)
      printf("%" PRId64 " change(s) rejected: see `clientflow node conflicts`\n",
             cf_sync_count(s, CF_SYNC_REJECTED));
  } else if (rc == CF_UNREACHABLE) {
    code = cf_cli_fail("node",
                       "server unreachable (%s); local writes are kept and will be "
                       "pushed at the next sync",
                       cf_sync_errmsg(s));
  } else {
    code = cf_cli_fail("node", "sync failed: %s", cf_sync_errmsg(s));
  }
  cf_sync_free(s);
  return code;
}

/* --- subcommands ---------------------------------------------------------- */

static int node_init(node_args *a) {
  if (!a->org || !a->user || !a->server || !a->token)
    return cf_cli_fail("node", "init needs --org, --user, --server and --token");
  if (strlen(a->token) > MAX_TOKEN) return cf_cli_fail("node", "token too long");
  if (mkdir(a->home, 0700) != 0 && errno != EEXIST)
    return cf_cli_fail("node", "cannot create %s: %s", a->home, strerror(errno));
  char path[4096], conf[4096];
  home_path(a, "replica.db", path, sizeof path);
  home_path(a, "node.conf", conf, sizeof conf);
  cf_node *node = NULL;
  int rc = cf_node_open(path, a->org, a->user, &node);
  if (rc != CF_OK)
    return cf_cli_fail("node", "cannot create the replica: %s", cf_node_errmsg(NULL));
  FILE *f = fopen(conf, "w");
  if (f == NULL ||
      fprintf(f, "org_id=%s\nuser_id=%s\n", cf_node_org_id(node), cf_node_user_id(node)) <
          0 ||
      fclose(f) != 0) {
    cf_node_close(node);
    return cf_cli_fail("node", "cannot write %s", conf);
  }
  rc = cf_node_setting_set(node, "server_url", a->server);
  if (rc == CF_OK) rc = cf_node_setting_set(node, "token", a->token);
  if (rc != CF_OK) {
    cf_node_close(node);
    return cf_cli_fail("node", "cannot save settings: %s", cf_strerror(rc));
  }
  printf("replica %s for org %s, user %s, node %s\n", path, cf_node_org_id(node),
         cf_node_user_id(node), cf_node_id(node));
  int code = run_sync(node, a->server, a->token, 0);
  cf_node_close(node);
  return code;
}

static int node_sync(node_args *a) {
  cf_node *node = NULL;
  int code = open_node(a, &node);
  if (code) return code;
  char url[2048], token[MAX_TOKEN + 1];
  if (cf_node_setting_get(node, "server_url", url, sizeof url) != CF_OK) {
    cf_node_close(node);
    return cf_cli_fail("node", "no server URL saved (run `clientflow node init`)");
  }
  if (a->token) {
    if (cf_node_setting_set(node, "token", a->token) != CF_OK) {
      cf_node_close(node);
      return cf_cli_fail("node", "cannot save the token");
    }
    snprintf(token, sizeof token, "%s", a->token);
  } else if (cf_node_setting_get(node, "token", token, sizeof token) != CF_OK) {
    cf_node_close(node);
    return cf_cli_fail("node", "no token saved (pass --token)");
  }
  code = run_sync(node, url, token, a->watch);
  cf_node_close(node);
  return code;
}

static void print_value(cf_stmt *st, int c) {
  switch (cf_stmt_column_type(st, c)) {
    case CF_COL_NULL:
      printf("NULL");
      break;
    case CF_COL_INTEGER:
      printf("%" PRId64, cf_stmt_column_int64(st, c));
      break;
    case CF_COL_REAL:
      printf("%.17g", cf_stmt_column_double(st, c));
      break;
    case CF_COL_BLOB: {
      size_t n = 0;
      (void)cf_stmt_column_blob(st, c, &n);
      printf("<%zu bytes>", n);
      break;
    }
    default:
      printf("%s", cf_stmt_column_text(st, c));
      break;
  }
}

static int node_sql(node_args *a) {
  if (a->sql == NULL) return cf_cli_fail("node", "sql needs a statement");
  cf_node *node = NULL;
  int code = open_node(a, &node);
  if (code) return code;
  cf_stmt *st = NULL;
  int rc = cf_node_prepare(node, a->sql, &st);
  if (rc != CF_OK) {
    code = cf_cli_fail("node", "%s", cf_node_errmsg(node));
    cf_node_close(node);
    return code;
  }
  int ncols = cf_stmt_column_count(st), rows = 0;
  for (int c = 0; c < ncols; c++)
    printf("%s%s", c ? " | " : "", cf_stmt_column_name(st, c));
  if (ncols) printf("\n");
  while ((rc = cf_stmt_step(st)) == CF_OK) {
    for (int c = 0; c < ncols; c++) {
      if (c) printf(" | ");
      print_value(st, c);
    }
    printf("\n");
    rows++;
  }
  if (rc != CF_DONE) {
    code = cf_cli_fail("node", "%s", cf_node_errmsg(node));
  } else if (ncols) {
    printf("(%d row%s)\n", rows, rows == 1 ? "" : "s");
  } else {
    printf("ok\n");
  }
  cf_stmt_finalize(st);
  cf_node_close(node);
  return code;
}

static int node_status(node_args *a) {
  cf_node *node = NULL;
  int code = open_node(a, &node);
  if (code) return code;
  int64_t outbox = 0, conflicts = 0;
  char url[2048] = "-", last[32] = "";
  int rc = cf_node_outbox_count(node, &outbox);
  if (rc == CF_OK) rc = cf_node_conflict_count(node, &conflicts);
  if (rc != CF_OK) {
    code = cf_cli_fail("node", "%s", cf_node_errmsg(node));
    cf_node_close(node);
    return code;
  }
  if (cf_node_setting_get(node, "server_url", url, sizeof url) != CF_OK)
    snprintf(url, sizeof url, "-");
  printf("org:        %s\n", cf_node_org_id(node));
  printf("user:       %s\n", cf_node_user_id(node));
  printf("node:       %s\n", cf_node_id(node));
  printf("server:     %s\n", url);
  printf("outbox:     %" PRId64 " change(s) waiting\n", outbox);
  printf("conflicts:  %" PRId64 "\n", conflicts);
  char revoked[512];
  if (cf_node_setting_get(node, "access_revoked", revoked, sizeof revoked) == CF_OK &&
      revoked[0])
    printf(
        "access:     REVOKED by the server: %s\n"
        "            (pending changes are kept in conflicts; sync again once restored)\n",
        revoked);
  if (cf_node_setting_get(node, "last_sync_ms", last, sizeof last) == CF_OK) {
    time_t t = (time_t)(strtoll(last, NULL, 10) / 1000);
    struct tm tm;
    char when[64];
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("last sync:  %s\n", when);
  } else {
    printf("last sync:  never\n");
  }
  cf_node_close(node);
  return 0;
}

static int print_conflict(void *ctx, const cf_conflict_info *c) {
  int *n = ctx;
  (*n)++;
  printf("#%" PRId64 "  %s %s  columns: %s\n      rejected: %s (%s)\n", c->id, c->table,
         c->row_id, c->columns, c->message ? c->message : "", cf_strerror(c->code));
  return 0;
}

static int node_conflicts(node_args *a) {
  cf_node *node = NULL;
  int code = open_node(a, &node);
  if (code) return code;
  int rc;
  if (a->retry) {
    rc = cf_node_conflict_retry(node, a->retry);
    if (rc == CF_OK)
      printf("conflict %" PRId64 " re-queued; run `clientflow node sync`\n", a->retry);
  } else if (a->discard) {
    rc = cf_node_conflict_discard(node, a->discard);
    if (rc == CF_OK) printf("conflict %" PRId64 " discarded\n", a->discard);
  } else {
    int n = 0;
    rc = cf_node_conflicts_list(node, 1000, print_conflict, &n);
    if (rc == CF_OK && n == 0) printf("no conflicts\n");
  }
  if (rc != CF_OK)
    code = cf_cli_fail("node", "%s",
                       rc == CF_NOTFOUND ? "no such conflict" : cf_node_errmsg(node));
  cf_node_close(node);
  return code;
}

int cf_cmd_node(int argc, char **argv) {
  if (argc < 2 || cf_cli_is_help(argv[1])) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *sub = argv[1];
  for (int i = 2; i < argc; i++)
    if (cf_cli_is_help(argv[i])) {
      usage(stdout);
      return 0;
    }
  node_args a;
  int code = parse_args(sub, argc - 2, argv + 2, &a);
  if (code) return code;
  if (strcmp(sub, "init") == 0) return node_init(&a);
  if (strcmp(sub, "sync") == 0) return node_sync(&a);
  if (strcmp(sub, "sql") == 0) return node_sql(&a);
  if (strcmp(sub, "status") == 0) return node_status(&a);
  if (strcmp(sub, "conflicts") == 0) return node_conflicts(&a);
  usage(stderr);
  return 2;
}
