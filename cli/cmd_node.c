/*
** cli/cmd_node.c: `clientflow node`, a device's replica.
**
**   clientflow node init --org UUID --user UUID --server URL --token T [--home DIR]
**   clientflow node sync [--token T] [--home DIR]
**   clientflow node sql "SQL" [--home DIR]
**   clientflow node status [--home DIR]
**   clientflow node conflicts [--retry ID | --discard ID] [--home DIR]
**   clientflow node rekey [--new-key-file F | --ask-new-key | --plain] [--home DIR]
**   every subcommand: [--key-file F | --ask-key] [--wipe-on-revoke [--export F]]
**
** A node's home (--home, else CLIENTFLOW_HOME, else ./.clientflow) holds
** replica.db (the SQLite replica, with the server URL among its settings,
** and the token when the replica is encrypted) and node.conf (the org and
** user the replica was made for).  The key: cli/node_key.c.
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
#include "cli/sqltext.h"
#include "cli/node_key.h"

#define MAX_TOKEN 16384

typedef struct node_args {
  const char *home;         /* the node's directory */
  const char *org;          /* init: org id */
  const char *user;         /* init: user id */
  const char *server;       /* init: ws:// URL */
  const char *token;        /* init/sync: access token */
  const char *sql;          /* sql: the statement */
  int64_t retry;            /* conflicts: id to retry, or 0 */
  int64_t discard;          /* conflicts: id to discard, or 0 */
  int watch;                /* sync: stay connected (--watch) */
  const char *key_file;     /* --key-file: the replica's key */
  int ask_key;              /* --ask-key: prompt for the passphrase */
  const char *new_key_file; /* rekey: --new-key-file */
  int ask_new_key;          /* rekey: --ask-new-key */
  int plain;                /* rekey: --plain (decrypt) */
  int wipe;                 /* --wipe-on-revoke */
  const char *export_file;  /* --export: where a wipe writes unpushed changes */
} node_args;

/* The subcommands: synopsis, what it does, its options (`node <sub> --help`). */
typedef struct node_help {
  const char *name;     /* subcommand */
  const char *synopsis; /* its arguments */
  const char *summary;  /* one line, for `node --help` */
  const char *text;     /* what it does and its options */
} node_help;

#define HOME_OPT                                                                         \
  "  --home DIR       the node's directory (default: CLIENTFLOW_HOME, else "             \
  "./.clientflow)\n"                                                                     \
  "  --key-file F     the replica's key (64 hex digits) or passphrase, in a file\n"      \
  "                   only its owner may read; else CLIENTFLOW_REPLICA_KEY\n"            \
  "  --ask-key        type the passphrase (not echoed) instead\n"                        \
  "  --wipe-on-revoke when the server revokes access, write the unpushed changes\n"      \
  "                   to --export F (default <home>/replica.db.export, encrypted\n"      \
  "                   like the replica), then wipe every row and the token\n"            \
  "  -h, --help       this text\n"

static const node_help helps[] = {
    {"init", "--org UUID --user UUID --server URL --token T [--home DIR]",
     "create the replica of one org and bootstrap it from the server",
     "Creates the replica of one organization in the home directory (replica.db,\n"
     "node.conf) and bootstraps it from the sync server.  The server URL is saved\n"
     "in the replica for later syncs, and the token too when the replica is\n"
     "encrypted (a key given): a plain replica keeps no token, which every sync\n"
     "must then be given.  If the server cannot be reached, the replica is created\n"
     "empty and `clientflow node sync` fills it.\n"
     "\n"
     "options:\n"
     "  --org UUID       the organization to replicate (required)\n"
     "  --user UUID      the user the replica is for: the token's subject (required)\n"
     "  --server URL     the sync endpoint, ws://host:port/sync or wss://... (required)\n"
     "  --token T        the user's access token (required, else CLIENTFLOW_TOKEN),\n"
     "                   e.g. \"$(clientflow token --user UUID)\"\n" HOME_OPT},
    {"sync", "[--watch] [--token T] [--home DIR]",
     "push local writes, pull the master's changes (--watch: stay live)",
     "Pushes the replica's local writes (the outbox) and pulls the master's\n"
     "changes up to the head, then prints what was pushed, applied, superseded,\n"
     "rejected and pulled.  Offline it says so and keeps every local write for the\n"
     "next sync.\n"
     "\n"
     "options:\n"
     "  --watch          stay connected: apply the master's changes as they commit,\n"
     "                   push local writes as they are made, reconnect with backoff\n"
     "                   after failures; Ctrl-C stops it\n"
     "  --token T        the access token (a new one when the saved one expired),\n"
     "                   saved for later syncs in an encrypted replica; else\n"
     "                   CLIENTFLOW_TOKEN, else the token an encrypted replica "
     "keeps\n" HOME_OPT},
    {"sql", "\"SQL\" [--home DIR]", "run SQL on the replica's views, offline too",
     "Runs SQL on the replica's views (contacts, deals, activities, appointments,\n"
     "messages, automations, daily_metrics, organizations, users, memberships),\n"
     "offline too.  Several statements separated by ';' all run, in order, in one\n"
     "transaction (all or nothing) unless the text has its own BEGIN/COMMIT.  A\n"
     "query prints its rows and \"(N rows)\"; INSERT, UPDATE and DELETE print how\n"
     "many rows they changed.  Writes wait in the outbox for `clientflow node sync`.\n"
     "\n"
     "options:\n" HOME_OPT},
    {"status", "[--home DIR]", "org, user, server, outbox, conflicts, last sync",
     "Shows the replica's org, user and node ids, its server, how many local\n"
     "changes wait in the outbox, how many conflicts wait for a decision, whether\n"
     "access was revoked, and when it last synced.\n"
     "\n"
     "options:\n" HOME_OPT},
    {"conflicts", "[--retry ID | --discard ID] [--home DIR]",
     "list the changes the master rejected; retry or discard one",
     "Lists the changes the master rejected, with its reason: an insert, a delete,\n"
     "or an update with the columns it changed.  Fix the row with `node sql` if the\n"
     "reason asks for it, then retry the change, or discard it.\n"
     "\n"
     "options:\n"
     "  --retry ID       send conflict ID again at the next sync (with fresh versions)\n"
     "  --discard ID     drop conflict ID: the master's values come back at the next\n"
     "                   pull (a rejected insert is removed from the "
     "replica)\n" HOME_OPT},
    {"rekey", "[--new-key-file F | --ask-new-key | --plain] [--home DIR]",
     "encrypt the replica, change its key, or decrypt it",
     "Rewrites the replica under a new key: encrypts a plain replica, changes the\n"
     "key of an encrypted one (give the current key as usual), or with --plain\n"
     "decrypts it (the token it kept is dropped).  The copy is written next to\n"
     "the replica and renamed over it: a crash leaves the old or the new one.\n"
     "No other process may use the replica meanwhile.  docs/encryption.md.\n"
     "\n"
     "options:\n"
     "  --new-key-file F the new key or passphrase (mode 600); else\n"
     "                   CLIENTFLOW_REPLICA_NEW_KEY\n"
     "  --ask-new-key    type the new passphrase (not echoed)\n"
     "  --plain          decrypt: a plain replica\n" HOME_OPT},
};
#define N_HELPS (sizeof helps / sizeof helps[0])

static const node_help *find_help(const char *sub) {
  for (size_t i = 0; i < N_HELPS; i++)
    if (strcmp(helps[i].name, sub) == 0) return &helps[i];
  return NULL;
}

/* `node --help` (sub NULL) or `node <sub> --help`. */
static void usage(FILE *out, const char *sub) {
  const node_help *h = sub ? find_help(sub) : NULL;
  if (h != NULL) {
    fprintf(out, "usage: clientflow node %s %s\n\n%s", h->name, h->synopsis, h->text);
    return;
  }
  fprintf(out, "usage: clientflow node <subcommand> [options]\n\n"
               "A device's replica of one organization, kept in a home directory.\n\n"
               "subcommands:\n");
  for (size_t i = 0; i < N_HELPS; i++)
    fprintf(out, "  %-10s %s\n", helps[i].name, helps[i].summary);
  fprintf(out,
          "\nRun `clientflow node <subcommand> --help` for its options.  The home\n"
          "directory is --home, else CLIENTFLOW_HOME, else ./.clientflow; the token\n"
          "may come from CLIENTFLOW_TOKEN.  With a key (--key-file, --ask-key,\n"
          "CLIENTFLOW_REPLICA_KEY) the replica is encrypted and keeps the token.\n");
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
    else if (strcmp(arg, "--key-file") == 0 && next)
      a->key_file = argv[++i];
    else if (strcmp(arg, "--ask-key") == 0)
      a->ask_key = 1;
    else if (strcmp(sub, "rekey") == 0 && strcmp(arg, "--new-key-file") == 0 && next)
      a->new_key_file = argv[++i];
    else if (strcmp(sub, "rekey") == 0 && strcmp(arg, "--ask-new-key") == 0)
      a->ask_new_key = 1;
    else if (strcmp(sub, "rekey") == 0 && strcmp(arg, "--plain") == 0)
      a->plain = 1;
    else if (strcmp(arg, "--wipe-on-revoke") == 0)
      a->wipe = 1;
    else if (strcmp(arg, "--export") == 0 && next)
      a->export_file = argv[++i];
    else if (strcmp(arg, "--retry") == 0 && next) {
      if (!parse_id(argv[++i], &a->retry))
        return cf_cli_fail("node", "--retry takes a conflict id");
    } else if (strcmp(arg, "--discard") == 0 && next) {
      if (!parse_id(argv[++i], &a->discard))
        return cf_cli_fail("node", "--discard takes a conflict id");
    } else if (strcmp(sub, "sql") == 0 && a->sql == NULL && arg[0] != '-') {
      a->sql = arg;
    } else {
      fprintf(stderr, "clientflow node %s: unknown option or missing value: %s\n", sub,
              arg);
      usage(stderr, sub);
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

/* The open options: the key and the revocation policy.  OUT: *out. */
static int node_options(const node_args *a, cf_node_options **out) {
  *out = NULL;
  if (cf_node_options_new(out) != CF_OK) return cf_cli_fail("node", "out of memory");
  int keyed = 0;
  int code =
      cf_cli_node_key(*out, a->key_file, a->ask_key, "CLIENTFLOW_REPLICA_KEY", &keyed);
  if (code == 0 && a->wipe &&
      cf_node_options_set_revoke(*out, CF_REVOKE_WIPE, a->export_file) != CF_OK)
    code = cf_cli_fail("node", "out of memory");
  if (code != 0) {
    cf_node_options_free(*out);
    *out = NULL;
  }
  return code;
}

static int open_path(const node_args *a, const char *path, const char *org,
                     const char *user, cf_node **node) {
  cf_node_options *opts = NULL;
  int code = node_options(a, &opts);
  if (code) return code;
  int rc = cf_node_open_with(path, org, user, opts, node);
  cf_node_options_free(opts);
  if (rc != CF_OK)
    return cf_cli_fail("node", "cannot open %s: %s", path, cf_node_errmsg(NULL));
  return 0;
}

static int open_node(const node_args *a, cf_node **node) {
  char org[64], user[64], path[4096];
  int code = read_conf(a, org, user);
  if (code) return code;
  home_path(a, "replica.db", path, sizeof path);
  return open_path(a, path, org, user, node);
}

/* --- progress ---------------------------------------------------------- */

typedef struct progress {
  int tty;          /* stdout is a terminal: draw a bar */
  int64_t start_ns; /* when the sync started (connect, push, pull) */
  int drawn;        /* a bar line is on screen */
  cf_sync *sync;    /* the session, for its row counter */
} progress;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The pull reports positions in the org's change cursor (done of total since
** the pull began), which are not rows: the share done comes from them, the
** rate from the rows actually pulled (CF_SYNC_PULLED) since the sync began,
** in rows/s. */
static void on_progress(void *ctx, int phase, int64_t done, int64_t total) {
  progress *p = ctx;
  if (phase == CF_SYNC_PHASE_PUSH) {
    if (!p->tty) printf("pushed %" PRId64 " changes\n", done);
    return;
  }
  double secs = (double)(now_ns() - p->start_ns) / 1e9;
  int64_t rows = cf_sync_count(p->sync, CF_SYNC_PULLED);
  double rate = secs > 0.001 ? (double)rows / secs : 0;
  double share = total > 0 ? (double)done / (double)total : 1.0;
  if (share > 1.0) share = 1.0;
  int pct = (int)(100.0 * share);
  double eta = share > 0 && share < 1.0 ? secs * (1.0 - share) / share : 0;
  if (p->tty) {
    char bar[31];
    int fill = pct * 30 / 100;
    for (int i = 0; i < 30; i++)
      bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    printf("\rpull [%s] %3d%%  %" PRId64 " rows  %.0f rows/s  eta %.0f s ", bar, pct,
           rows, rate, eta);
    p->drawn = 1;
  } else {
    printf("pulled %" PRId64 " row%s (%d%%, %.0f rows/s)\n", rows, rows == 1 ? "" : "s",
           pct, rate);
  }
  fflush(stdout);
}

/* What a failed sync means for the app, and what to do; returns the exit code.
** fresh: the replica was just created by `node init` (it has nothing of its
** own to keep). */
static int sync_failed(cf_node *node, cf_sync *s, int rc, int fresh, const char *home) {
  const char *why = cf_sync_errmsg(s);
  if (rc == CF_UNREACHABLE) {
    int64_t waiting = 0;
    if (fresh)
      return cf_cli_fail("node",
                         "%s: the replica was created empty; run `clientflow node sync "
                         "--home %s` once the server is reachable",
                         why, home);
    if (cf_node_outbox_count(node, &waiting) == CF_OK && waiting > 0)
      return cf_cli_fail("node",
                         "%s; the %" PRId64 " local change(s) in the outbox are kept and "
                         "will be pushed at the next sync",
                         why, waiting);
    return cf_cli_fail("node", "%s; nothing to push, sync again when it is reachable",
                       why);
  }
  if (rc == CF_AUTH)
    return cf_cli_fail(
        "node",
        "%s; pass a new token with `clientflow node sync --home %s --token "
        "NEW_TOKEN` (an encrypted replica saves it for later syncs) or set "
        "CLIENTFLOW_TOKEN",
        why, home);
  return cf_cli_fail("node", "sync failed: %s", why);
}

static cf_sync *watching; /* the session a signal stops */

static void on_signal(int sig) {
  (void)sig;
  if (watching) cf_sync_stop(watching);
}

/* Runs one sync (or a live one) and prints what happened.  Returns the exit
** code. */
static int run_sync(cf_node *node, const char *url, const char *token, int watch,
                    int fresh, const char *home) {
  cf_sync *s = NULL;
  int rc = cf_sync_new(node, url, token, &s);
  if (rc != CF_OK) return cf_cli_fail("node", "%s", cf_strerror(rc));
  progress p = {isatty(STDOUT_FILENO) && !watch, now_ns(), 0, s};
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
  } else {
    code = sync_failed(node, s, rc, fresh, home);
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
  int code = open_path(a, path, a->org, a->user, &node);
  if (code) return code;
  FILE *f = fopen(conf, "w");
  if (f == NULL ||
      fprintf(f, "org_id=%s\nuser_id=%s\n", cf_node_org_id(node), cf_node_user_id(node)) <
          0 ||
      fclose(f) != 0) {
    cf_node_close(node);
    return cf_cli_fail("node", "cannot write %s", conf);
  }
  /* The token is kept only inside an encrypted replica (docs/encryption.md). */
  int rc = cf_node_setting_set(node, "server_url", a->server);
  if (rc == CF_OK && cf_node_encrypted(node))
    rc = cf_node_setting_set(node, "token", a->token);
  if (rc != CF_OK) {
    cf_node_close(node);
    return cf_cli_fail("node", "cannot save settings: %s", cf_strerror(rc));
  }
  printf("replica %s for org %s, user %s, node %s (%s)\n", path, cf_node_org_id(node),
         cf_node_user_id(node), cf_node_id(node),
         cf_node_encrypted(node) ? "encrypted; the token is kept in it"
                                 : "not encrypted; the token is not kept: give it at "
                                   "every sync");
  code = run_sync(node, a->server, a->token, 0, 1, a->home);
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
    if (cf_node_encrypted(node) &&
        cf_node_setting_set(node, "token", a->token) != CF_OK) {
      cf_node_close(node);
      return cf_cli_fail("node", "cannot save the token");
    }
    snprintf(token, sizeof token, "%s", a->token);
  } else if (!cf_node_encrypted(node) ||
             cf_node_setting_get(node, "token", token, sizeof token) != CF_OK) {
    int enc = cf_node_encrypted(node);
    cf_node_close(node);
    return cf_cli_fail("node", "%s (pass --token or set CLIENTFLOW_TOKEN)",
                       enc ? "no token saved" : "a plain replica keeps no token");
  }
  code = run_sync(node, url, token, a->watch, 0, a->home);
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

static int word_in(const char *w, const char *const *list) {
  for (; *list; list++)
    if (strcmp(w, *list) == 0) return 1;
  return 0;
}

static const char *const write_words[] = {"INSERT", "UPDATE", "DELETE", "REPLACE", NULL};
static const char *const txn_words[] = {"BEGIN",     "COMMIT",  "END", "ROLLBACK",
                                        "SAVEPOINT", "RELEASE", NULL};

/* Compiles st; a write without RETURNING gets "RETURNING 1" so its rows can
** be counted (the views' INSTEAD OF triggers leave SQLite's changes() at 0).
** OUT: *out, *counting (1: step silently and count). */
static int prepare_one(cf_node *node, cf_cli_sql_span st, const char *first,
                       cf_stmt **out, int *counting) {
  size_t cap = st.len + 32;
  char *text = malloc(cap);
  if (text == NULL) return CF_NOMEM;
  *counting = 0;
  int rc = CF_MISUSE;
  if (word_in(first, write_words) && !cf_cli_sql_has_word(st, "RETURNING")) {
    snprintf(text, cap, "%.*s\nRETURNING 1", (int)st.len, st.text);
    rc = cf_node_prepare(node, text, out);
    *counting = rc == CF_OK;
  }
  if (rc != CF_OK) {
    snprintf(text, cap, "%.*s", (int)st.len, st.text);
    rc = cf_node_prepare(node, text, out);
  }
  free(text);
  return rc;
}

/* Runs one statement and prints its rows, or how many rows it changed. */
static int run_one(cf_node *node, cf_cli_sql_span st) {
  char first[16];
  cf_cli_sql_first_word(st, first, sizeof first);
  cf_stmt *stmt = NULL;
  int counting = 0;
  int rc = prepare_one(node, st, first, &stmt, &counting);
  if (rc != CF_OK) return rc;
  int ncols = counting ? 0 : cf_stmt_column_count(stmt);
  int64_t rows = 0;
  for (int c = 0; c < ncols; c++)
    printf("%s%s", c ? " | " : "", cf_stmt_column_name(stmt, c));
  if (ncols) printf("\n");
  while ((rc = cf_stmt_step(stmt)) == CF_OK) {
    for (int c = 0; c < ncols; c++) {
      if (c) printf(" | ");
      print_value(stmt, c);
    }
    if (ncols) printf("\n");
    rows++;
  }
  if (rc == CF_DONE) {
    rc = CF_OK;
    if (counting)
      printf("%s %" PRId64 " row%s\n",
             strcmp(first, "INSERT") == 0   ? "inserted"
             : strcmp(first, "UPDATE") == 0 ? "updated"
             : strcmp(first, "DELETE") == 0 ? "deleted"
                                            : "replaced",
             rows, rows == 1 ? "" : "s");
    else if (ncols)
      printf("(%" PRId64 " row%s)\n", rows, rows == 1 ? "" : "s");
    else
      printf("ok\n");
  }
  cf_stmt_finalize(stmt);
  return rc;
}

#define MAX_STATEMENTS 10000

/* `node sql`: every statement of the text, in order; several run in one
** transaction unless the text manages its own. */
static int node_sql(node_args *a) {
  if (a->sql == NULL) return cf_cli_fail("node", "sql needs a statement");
  cf_cli_sql_span *spans = calloc(MAX_STATEMENTS, sizeof *spans);
  if (spans == NULL) return cf_cli_fail("node", "out of memory");
  int n = cf_cli_sql_split(a->sql, spans, MAX_STATEMENTS);
  if (n <= 0) {
    free(spans);
    return cf_cli_fail("node",
                       n == 0 ? "sql needs a statement (the text has none)"
                              : "more than %d statements",
                       MAX_STATEMENTS);
  }
  int own_txn = 0;
  for (int i = 0; i < n; i++) {
    char first[16];
    cf_cli_sql_first_word(spans[i], first, sizeof first);
    if (word_in(first, txn_words)) own_txn = 1;
  }
  cf_node *node = NULL;
  int code = open_node(a, &node);
  if (code) {
    free(spans);
    return code;
  }
  int wrap = n > 1 && !own_txn, rc = CF_OK, i = 0;
  if (wrap) rc = cf_node_exec(node, "BEGIN");
  for (; rc == CF_OK && i < n; i++) {
    if (n > 1) printf("-- statement %d of %d\n", i + 1, n);
    rc = run_one(node, spans[i]);
  }
  if (rc == CF_OK && wrap) rc = cf_node_exec(node, "COMMIT");
  if (rc != CF_OK) {
    char why[1024];
    snprintf(why, sizeof why, "%s", cf_node_errmsg(node));
    if (wrap) (void)!cf_node_exec(node, "ROLLBACK");
    if (n == 1)
      code = cf_cli_fail("node", "%s", why);
    else
      code = cf_cli_fail("node", "statement %d of %d failed: %s; %s", i, n, why,
                         wrap ? "nothing was changed (they run in one transaction)"
                              : "the statements before it ran");
  }
  cf_node_close(node);
  free(spans);
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

/* True when the comma-separated list has the column. */
static int has_column(const char *columns, const char *name) {
  size_t n = strlen(name);
  for (const char *p = columns; *p;) {
    size_t len = strcspn(p, ",");
    if (len == n && strncmp(p, name, n) == 0) return 1;
    p += len + (p[len] == ',');
  }
  return 0;
}

/* A change's columns as a person reads them: a new row (its columns include
** the key "id", which an update never changes), a delete (it sets
** "deleted"), or an update with its columns, updated_at left out when
** others changed (the triggers move it with every update). */
const char *cf_cli_describe_change(const char *columns, char *buf, size_t cap) {
  if (columns == NULL) columns = "";
  if (has_column(columns, "id")) return "insert (a new row)";
  if (has_column(columns, "deleted")) return "delete";
  int only_updated_at = strcmp(columns, "updated_at") == 0;
  size_t n = (size_t)snprintf(buf, cap, "update of ");
  size_t first = n;
  for (const char *p = columns; *p && n < cap;) {
    size_t len = strcspn(p, ",");
    if (only_updated_at || len != 10 || strncmp(p, "updated_at", 10) != 0)
      n += (size_t)snprintf(buf + n, cap - n, "%s%.*s", n > first ? ", " : "", (int)len,
                            p);
    p += len + (p[len] == ',');
  }
  return buf;
}

static int print_conflict(void *ctx, const cf_conflict_info *c) {
  int *n = ctx;
  char what[512];
  (*n)++;
  printf("#%" PRId64 "  %s %s  %s\n      rejected: %s (%s)\n", c->id, c->table, c->row_id,
         cf_cli_describe_change(c->columns, what, sizeof what),
         c->message ? c->message : "", cf_strerror(c->code));
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

/* `node rekey`: the replica under a new key, encrypted from plain, or plain. */
static int node_rekey(node_args *a) {
  cf_node *node = NULL;
  int code = open_node(a, &node);
  if (code) return code;
  cf_node_options *to = NULL;
  if (cf_node_options_new(&to) != CF_OK) {
    cf_node_close(node);
    return cf_cli_fail("node", "out of memory");
  }
  int keyed = 0;
  if (!a->plain)
    code = cf_cli_node_key(to, a->new_key_file, a->ask_new_key,
                           "CLIENTFLOW_REPLICA_NEW_KEY", &keyed);
  if (code == 0 && !a->plain && !keyed)
    code = cf_cli_fail("node", "rekey needs a new key (--new-key-file, --ask-new-key, "
                               "CLIENTFLOW_REPLICA_NEW_KEY) or --plain");
  if (code == 0) {
    int rc = cf_node_rekey(node, to);
    if (rc != CF_OK)
      code = cf_cli_fail("node", "rekey failed: %s", cf_node_errmsg(node));
    else
      printf("the replica is now %s\n", keyed ? "encrypted under the new key" : "plain");
  }
  cf_node_options_free(to);
  cf_node_close(node);
  return code;
}

int cf_cmd_node(int argc, char **argv) {
  if (argc < 2 || cf_cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
    const char *sub = argc > 2 && strcmp(argv[1], "help") == 0 ? argv[2] : NULL;
    usage(argc < 2 ? stderr : stdout, sub);
    return argc < 2 ? 2 : 0;
  }
  const char *sub = argv[1];
  if (find_help(sub) == NULL) {
    fprintf(stderr, "clientflow node: unknown subcommand '%s'\n\n", sub);
    usage(stderr, NULL);
    return 2;
  }
  for (int i = 2; i < argc; i++)
    if (cf_cli_is_help(argv[i])) {
      usage(stdout, sub);
      return 0;
    }
  node_args a;
  int code = parse_args(sub, argc - 2, argv + 2, &a);
  if (code) return code;
  if (strcmp(sub, "init") == 0) return node_init(&a);
  if (strcmp(sub, "sync") == 0) return node_sync(&a);
  if (strcmp(sub, "sql") == 0) return node_sql(&a);
  if (strcmp(sub, "status") == 0) return node_status(&a);
  if (strcmp(sub, "rekey") == 0) return node_rekey(&a);
  return node_conflicts(&a);
}
