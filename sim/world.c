/*
** sim/world.c: one simulated run -- its database cloned from the template,
** its replicas, its clocks -- and the execution of steps (sim/world.h).
** Also the environment (cluster, template) and the run drivers of
** sim/sim.h.  Design: docs/sim.md.
*/
#include "sim/world.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "platform/platform.h"
#include "sim/dbpool.h"

/* Ids of the built-in users and orgs (docs/seed.md), and the harness's own
** additions to the template (an admin; the demo rep also a member of
** Northwind: one user in two orgs). */
#define DEMO_ORG "01936b2a-0000-7000-8000-100000000001"
#define NW_ORG "01936b2a-0000-7000-8000-200000000001"
static const struct builtin_user {
  const char *name, *id;
} builtin_users[] = {
    {"owner", "01936b2a-0001-7000-8000-000000000001"},
    {"rep", "01936b2a-0001-7000-8000-000000000002"},
    {"nw-owner", "01936b2a-0001-7000-8000-000000000003"},
    {"nw-rep", "01936b2a-0001-7000-8000-000000000004"},
    {"admin", "01936b2a-0001-7000-8000-0000000000a1"},
};
static const char template_extra_sql[] =
    "INSERT INTO users (id, email, full_name) VALUES "
    "('01936b2a-0001-7000-8000-0000000000a1', 'admin@clientflow.test', 'Demo Admin');"
    "INSERT INTO memberships (org_id, id, user_id, role) VALUES "
    "('" DEMO_ORG "', '01936b2a-0002-7000-8000-1000000000a1', "
    "'01936b2a-0001-7000-8000-0000000000a1', 'admin'),"
    "('" NW_ORG "', '01936b2a-0002-7000-8000-2000000000a2', "
    "'01936b2a-0001-7000-8000-000000000002', 'member');";
static const char server_role_sql[] =
    "DO $$ BEGIN "
    "  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cf_sim_server') THEN "
    "    BEGIN CREATE ROLE cf_sim_server LOGIN; "
    "    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END; "
    "  END IF; "
    "  BEGIN GRANT authenticator, cf_sync_server TO cf_sim_server; "
    "  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END; "
    "END $$";

/* --- violations ------------------------------------------------------------ */

static int vrecord(sim_world *w, int error, const char *fmt, va_list ap) {
  if (w->failed) return -1;
  w->failed = 1;
  w->error = error;
  int n = 0;
  if (w->in_quiet)
    n = snprintf(w->violation, w->violation_len, "quiet phase: ");
  else if (w->step >= 0)
    n = snprintf(w->violation, w->violation_len, "step %d: ", w->step + 1);
  if (n < 0 || (size_t)n >= w->violation_len) n = 0;
  vsnprintf(w->violation + n, w->violation_len - (size_t)n, fmt, ap);
  return -1;
}

int sim_violation(sim_world *w, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vrecord(w, 0, fmt, ap);
  va_end(ap);
  return -1;
}

int sim_error(sim_world *w, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vrecord(w, 1, fmt, ap);
  va_end(ap);
  return -1;
}

/* --- clock and randomness hooks ------------------------------------------- */

static int64_t world_clock(void *ctx) {
  sim_world *w = ctx;
  int64_t t = w->vnow_ms;
  if (w->actor >= 0 && w->actor < w->nnodes) t += w->nodes[w->actor].clock_offset_ms;
  return t;
}

static int world_random(void *ctx, unsigned char *buf, size_t len) {
  sim_prng_fill(&((sim_world *)ctx)->lib_rng, buf, len);
  return 0;
}

void sim_set_actor(sim_world *w, int i) { w->actor = i; }

/* --- names ------------------------------------------------------------------ */

int sim_node_index(const sim_world *w, const char *name) {
  for (int i = 0; i < w->nnodes; i++)
    if (strcmp(w->nodes[i].name, name) == 0) return i;
  return -1;
}
int sim_user_index(const sim_world *w, const char *name) {
  for (int i = 0; i < w->nusers; i++)
    if (strcmp(w->users[i].name, name) == 0) return i;
  return -1;
}
int sim_org_index(const sim_world *w, const char *name) {
  for (int i = 0; i < w->norgs; i++)
    if (strcmp(w->orgs[i].name, name) == 0) return i;
  return -1;
}

/* --- connection URLs -------------------------------------------------------- */

/* base with its database replaced by db (and user, if not NULL). */
static void url_with(const char *base, const char *db, const char *user, char *out,
                     size_t cap) {
  if (strncmp(base, "postgres://", 11) == 0 || strncmp(base, "postgresql://", 13) == 0) {
    const char *auth = strstr(base, "://") + 3;
    const char *slash = strchr(auth, '/');
    const char *q = strchr(auth, '?');
    size_t hostlen = slash ? (size_t)(slash - auth)
                     : q   ? (size_t)(q - auth)
                           : strlen(auth);
    const char *at = memchr(auth, '@', hostlen);
    const char *host = at ? at + 1 : auth;
    size_t hl = hostlen - (size_t)(host - auth);
    if (user)
      snprintf(out, cap, "postgresql://%s@%.*s/%s%s", user, (int)hl, host, db,
               q ? q : "");
    else
      snprintf(out, cap, "%.*s/%s%s", (int)(auth - base + hostlen), base, db, q ? q : "");
  } else {
    snprintf(out, cap, "%s dbname=%s%s%s", base, db, user ? " user=" : "",
             user ? user : "");
  }
}

/* --- the environment -------------------------------------------------------- */

int sim_env_open(const char *url, const char *dir, sim_env **out, char *err,
                 size_t errlen) {
  *out = NULL;
  sim_env *e = calloc(1, sizeof *e);
  if (e == NULL) return snprintf(err, errlen, "out of memory"), -1;
  if (getenv("CF_LOG_LEVEL") == NULL) cf__log_set_level(CF_LOG_ERROR);
  if (url == NULL) {
    if (cf_pgcluster_start(NULL, "cf_sim", &e->cluster, err, errlen) != CF_OK) goto fail;
    url = cf_pgcluster_url(e->cluster);
  }
  snprintf(e->admin_url, sizeof e->admin_url, "%s", url);
  if (dir == NULL) {
    struct stat stt;
    const char *t = getenv("TMPDIR");
    dir = stat("/dev/shm", &stt) == 0 && S_ISDIR(stt.st_mode) &&
                  access("/dev/shm", W_OK) == 0
              ? "/dev/shm"
          : t ? t
              : "/tmp";
  }
  snprintf(e->dir, sizeof e->dir, "%s", dir);
  if (cf__pg_connect(e->admin_url, &e->admin, err, errlen) != CF_OK) goto fail;
  snprintf(e->tmpl, sizeof e->tmpl, "cf_sim_tpl_%ld", (long)getpid());
  char sql[512];
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", e->tmpl);
  if (cf__pg_exec(e->admin, sql) != CF_OK) goto pgfail;
  snprintf(sql, sizeof sql, "CREATE DATABASE %s", e->tmpl);
  if (cf__pg_exec(e->admin, sql) != CF_OK) goto pgfail;
  if (cf__pg_exec(e->admin, "SET client_min_messages = warning") != CF_OK) goto pgfail;
  char turl[1200];
  url_with(e->admin_url, e->tmpl, NULL, turl, sizeof turl);
  cf_master *m = NULL;
  if (cf_master_open(turl, &m, err, errlen) != CF_OK) goto fail;
  int rc = cf_master_migrate_up(m);
  if (rc == CF_OK) rc = cf_master_seed(m);
  if (rc != CF_OK) snprintf(err, errlen, "template: %s", cf_master_errmsg(m));
  cf_master_close(m);
  if (rc != CF_OK) goto fail;
  cf__pg *t = NULL;
  if (cf__pg_connect(turl, &t, err, errlen) != CF_OK) goto fail;
  rc = cf__pg_exec(t, template_extra_sql);
  if (rc == CF_OK) rc = cf__pg_exec(t, server_role_sql);
  if (rc != CF_OK) snprintf(err, errlen, "template: %s", cf__pg_errmsg(t));
  cf__pg_close(t);
  if (rc != CF_OK) goto fail;
  char prefix[64];
  snprintf(prefix, sizeof prefix, "cf_sim_%ld", (long)getpid());
  if (sim_dbpool_start(e->admin_url, e->tmpl, prefix, &e->pool, err, errlen) != 0)
    goto fail;
  *out = e;
  return 0;
pgfail:
  snprintf(err, errlen, "%s", cf__pg_errmsg(e->admin));
fail:
  sim_env_close(e);
  return -1;
}

void sim_env_close(sim_env *e) {
  if (e == NULL) return;
  sim_dbpool_stop(e->pool);
  if (e->admin && e->tmpl[0]) {
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", e->tmpl);
    if (cf__pg_exec(e->admin, sql) != CF_OK)
      fprintf(stderr, "clientflow sim: %s\n", cf__pg_errmsg(e->admin));
  }
  cf__pg_close(e->admin);
  if (e->cluster) (void)cf_pgcluster_stop(e->cluster);
  free(e);
}

/* --- the world ---------------------------------------------------------------- */

static void rm_tree(const char *dir) {
  char cmd[1400];
  /* Only directories this harness made (a fixed prefix). */
  if (strstr(dir, "/cf-sim-") == NULL) return;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "clientflow sim: cannot remove %s\n", dir);
}

static int world_open(sim_env *env, const sim_config *cfg, sim_world *w,
                      sim_result *res) {
  memset(w, 0, sizeof *w);
  w->env = env;
  w->cfg = cfg;
  w->count = res->count;
  w->violation = res->violation;
  w->violation_len = sizeof res->violation;
  w->actor = -1;
  w->step = -1;
  w->vnow_ms = SIM_EPOCH_MS;
  sim_prng_seed(&w->lib_rng, cfg->seed * 2 + 1);
  sim_prng_seed(&w->rng, cfg->seed);
  unsigned long n = ++env->runs;
  snprintf(w->run_dir, sizeof w->run_dir, "%s/cf-sim-%ld-%lu", env->dir, (long)getpid(),
           n);
  rm_tree(w->run_dir);
  if (mkdir(w->run_dir, 0700) != 0)
    return sim_error(w, "mkdir %s: %s", w->run_dir, strerror(errno));
  char url[1200], err[256];
  if (sim_dbpool_take(env->pool, w->dbname, sizeof w->dbname, err, sizeof err) != 0)
    return sim_error(w, "create database: %s", err);
  url_with(env->admin_url, w->dbname, NULL, url, sizeof url);
  if (cf__pg_connect(url, &w->admin, err, sizeof err) != CF_OK)
    return sim_error(w, "connect: %s", err);
  url_with(env->admin_url, w->dbname, "cf_sim_server", url, sizeof url);
  if (cf__pg_connect(url, &w->srv, err, sizeof err) != CF_OK)
    return sim_error(w, "connect as the server: %s", err);
  if (cf__pg_exec(w->admin, "SET TimeZone = 'UTC'; SET client_min_messages = warning") !=
      CF_OK)
    return sim_error(w, "set: %s", cf__pg_errmsg(w->admin));
  if (cf_auth_new(&w->auth) != CF_OK ||
      cf_auth_set_hs256_secret(w->auth, SIM_SECRET, strlen(SIM_SECRET)) != CF_OK)
    return sim_error(w, "auth");
  /* Built-in orgs and users. */
  snprintf(w->orgs[0].name, 48, "demo");
  snprintf(w->orgs[0].id, CF_UUID_TEXT_LEN, DEMO_ORG);
  snprintf(w->orgs[1].name, 48, "northwind");
  snprintf(w->orgs[1].id, CF_UUID_TEXT_LEN, NW_ORG);
  w->norgs = 2;
  for (size_t i = 0; i < sizeof builtin_users / sizeof builtin_users[0]; i++) {
    snprintf(w->users[i].name, 48, "%s", builtin_users[i].name);
    snprintf(w->users[i].id, CF_UUID_TEXT_LEN, "%s", builtin_users[i].id);
  }
  w->nusers = (int)(sizeof builtin_users / sizeof builtin_users[0]);
  w->transport = &sim_transport_memory;
  if (cfg->real) {
    /* Real processes share no simulated clock: the run uses the real one. */
    w->transport = &sim_transport_real;
    url_with(env->admin_url, w->dbname, "cf_sim_server", url, sizeof url);
    if (sim_real_start(w, url) != 0) return -1;
  } else {
    cf_set_clock_hook(world_clock, w);
  }
  cf_set_random_hook(world_random, w);
  return 0;
}

static void world_close(sim_world *w, int keep) {
  sim_real_stop(w);
  for (int i = 0; i < w->nnodes; i++) {
    sim_node *n = &w->nodes[i];
    cf__csess_free(n->cs);
    cf_node_close(n->node);
    free(n->last_push);
    free(n->prev_push);
    free(n->last_page);
  }
  for (int i = 0; i < w->nusers; i++)
    cf_token_free(w->users[i].token);
  for (size_t i = 0; i < w->nacks; i++)
    free(w->acks[i].val);
  free(w->acks);
  free(w->outcomes);
  cf_auth_free(w->auth);
  cf__pg_close(w->admin);
  cf__pg_close(w->srv);
  cf_set_clock_hook(NULL, NULL);
  cf_set_random_hook(NULL, NULL);
  if (!keep && w->dbname[0]) sim_dbpool_drop(w->env->pool, w->dbname);
  if (keep && w->dbname[0])
    fprintf(stderr, "clientflow sim: kept database %s and directory %s\n", w->dbname,
            w->run_dir);
  if (!keep && w->run_dir[0]) rm_tree(w->run_dir);
}

/* --- SQL helpers -------------------------------------------------------------- */

int sim_master_exec(sim_world *w, const char *sql, char *errbuf, size_t errlen) {
  sim_set_actor(w, -1);
  if (cf__pg_exec(w->admin, sql) == CF_OK) return 0;
  snprintf(errbuf, errlen, "%s", cf__pg_errmsg(w->admin));
  return -1;
}

int sim_master_text(sim_world *w, const char *sql, char *out, size_t cap) {
  char *v = NULL;
  int rc = cf__pg_query_text(w->admin, sql, 0, NULL, &v);
  if (rc != CF_OK && rc != CF_NOTFOUND) {
    snprintf(out, cap, "%s", cf__pg_errmsg(w->admin));
    return -1;
  }
  snprintf(out, cap, "%s", v ? v : "");
  cf__free(v);
  return 0;
}

int sim_node_text(sim_world *w, int i, const char *sql, char *out, size_t cap) {
  cf_stmt *st = NULL;
  sim_set_actor(w, i);
  out[0] = '\0';
  if (cf_node_prepare(w->nodes[i].node, sql, &st) != CF_OK) {
    snprintf(out, cap, "%s", cf_node_errmsg(w->nodes[i].node));
    return -1;
  }
  int rc = cf_stmt_step(st);
  if (rc == CF_OK) {
    const char *t = cf_stmt_column_text(st, 0);
    snprintf(out, cap, "%s", t ? t : "");
  } else if (rc != CF_DONE) {
    snprintf(out, cap, "%s", cf_node_errmsg(w->nodes[i].node));
    cf_stmt_finalize(st);
    return -1;
  }
  cf_stmt_finalize(st);
  return 0;
}

/* --- nodes ---------------------------------------------------------------------- */

int sim_node_open(sim_world *w, int i) {
  sim_node *n = &w->nodes[i];
  sim_set_actor(w, i);
  if (cf_node_open(n->path, w->orgs[n->org].id, w->users[n->user].id, &n->node) != CF_OK)
    return sim_error(w, "cf_node_open %s: %s", n->path, cf_node_errmsg(NULL));
  if (cf__csess_new(n->node, "sim://memory", &n->cs) != CF_OK)
    return sim_error(w, "csess");
  cf__csess_set_observer(n->cs, sim_on_result, n);
  return 0;
}

void sim_node_kill(sim_world *w, int i) {
  sim_node *n = &w->nodes[i];
  cf__csess_free(n->cs);
  n->cs = NULL;
  cf_node_close(n->node);
  n->node = NULL;
  w->count[SIM_FAULT_KILL]++;
}

static int declare_node(sim_world *w, const sim_step *st) {
  if (w->nnodes == SIM_MAX_NODES) return sim_violation(w, "too many nodes");
  if (sim_node_index(w, st->a) >= 0)
    return sim_violation(w, "node %s declared twice", st->a);
  int u = sim_user_index(w, st->b), o = sim_org_index(w, st->c);
  if (u < 0 || o < 0) return sim_violation(w, "node %s: unknown user or org", st->a);
  sim_node *n = &w->nodes[w->nnodes];
  memset(n, 0, sizeof *n);
  snprintf(n->name, sizeof n->name, "%s", st->a);
  n->user = u;
  n->org = o;
  n->world = w;
  n->index = w->nnodes;
  snprintf(n->path, sizeof n->path, "%s/%s.db", w->run_dir, st->a);
  if (w->cfg->real && sim_real_node_home(w, n) != 0) return -1;
  w->nnodes++;
  return sim_node_open(w, n->index);
}

void sim_new_id(sim_world *w, char out[CF_UUID_TEXT_LEN]) {
  cf_uuid u;
  sim_prng_fill(&w->rng, u.b, sizeof u.b);
  uint64_t ms = (uint64_t)w->vnow_ms;
  for (int i = 0; i < 6; i++)
    u.b[i] = (unsigned char)(ms >> (40 - 8 * i));
  u.b[6] = (unsigned char)(0x70 | (u.b[6] & 0x0f));
  u.b[8] = (unsigned char)(0x80 | (u.b[8] & 0x3f));
  cf__uuid_format(&u, out);
}

/* user NAME ROLE ORG: a new user with a membership, or a membership more. */
static int declare_user(sim_world *w, const sim_step *st) {
  int o = sim_org_index(w, st->c);
  if (o < 0) return sim_violation(w, "user %s: unknown org %s", st->a, st->c);
  int u = sim_user_index(w, st->a);
  char sql[1024], err[512], mid[CF_UUID_TEXT_LEN];
  if (u < 0) {
    if (w->nusers == SIM_MAX_USERS) return sim_violation(w, "too many users");
    u = w->nusers++;
    snprintf(w->users[u].name, 48, "%s", st->a);
    sim_new_id(w, w->users[u].id);
    snprintf(
        sql, sizeof sql,
        "INSERT INTO users (id, email, full_name) VALUES ('%s', '%s@sim.test', '%s')",
        w->users[u].id, st->a, st->a);
    if (sim_master_exec(w, sql, err, sizeof err))
      return sim_violation(w, "user: %s", err);
  }
  sim_new_id(w, mid);
  snprintf(sql, sizeof sql,
           "INSERT INTO memberships (org_id, id, user_id, role) VALUES ('%s', '%s', "
           "'%s', '%s') "
           "ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role",
           w->orgs[o].id, mid, w->users[u].id, st->b);
  if (sim_master_exec(w, sql, err, sizeof err)) return sim_violation(w, "user: %s", err);
  return 0;
}

const char *sim_user_token(sim_world *w, int u);
const char *sim_user_token(sim_world *w, int u) {
  if (w->users[u].token == NULL)
    if (cf_token_mint_hs256(SIM_SECRET, strlen(SIM_SECRET), w->users[u].id,
                            "authenticated", NULL, "authenticated", 30 * 86400,
                            &w->users[u].token) != CF_OK)
      w->users[u].token = NULL;
  return w->users[u].token ? w->users[u].token : "";
}

/* --- revocation ---------------------------------------------------------------- */

static int do_revoke(sim_world *w, const sim_step *st) {
  int u = sim_user_index(w, st->a), o = sim_org_index(w, st->b);
  if (u < 0 || o < 0) return sim_violation(w, "revoke: unknown user or org");
  char sql[1024], err[512];
  /* Kept aside so `restore` brings back the same membership row. */
  snprintf(
      sql, sizeof sql,
      "CREATE TABLE IF NOT EXISTS sim_revoked AS SELECT * FROM memberships WITH NO DATA;"
      "INSERT INTO sim_revoked SELECT * FROM memberships WHERE org_id = '%s' AND user_id "
      "= "
      "'%s';"
      "DELETE FROM memberships WHERE org_id = '%s' AND user_id = '%s'",
      w->orgs[o].id, w->users[u].id, w->orgs[o].id, w->users[u].id);
  if (sim_master_exec(w, sql, err, sizeof err)) return sim_error(w, "revoke: %s", err);
  w->count[SIM_FAULT_REVOKE]++;
  w->revoked[u][o] = 1;
  return 0;
}

static int restore_one(sim_world *w, const char *org_id, const char *user_id) {
  char sql[1400], err[512];
  snprintf(
      sql, sizeof sql,
      "CREATE TABLE IF NOT EXISTS sim_revoked AS SELECT * FROM memberships WITH NO DATA;"
      "INSERT INTO memberships (org_id, id, user_id, role) "
      "SELECT DISTINCT ON (org_id, user_id) org_id, id, user_id, role FROM sim_revoked r "
      "WHERE org_id::text LIKE '%s' AND user_id::text LIKE '%s' "
      "ON CONFLICT DO NOTHING;"
      "DELETE FROM sim_revoked WHERE org_id::text LIKE '%s' AND user_id::text LIKE '%s'",
      org_id, user_id, org_id, user_id);
  if (sim_master_exec(w, sql, err, sizeof err)) return sim_error(w, "restore: %s", err);
  return 0;
}

static int restore(sim_world *w, const sim_step *st) {
  int u = sim_user_index(w, st->a), o = sim_org_index(w, st->b);
  if (u < 0 || o < 0) return sim_violation(w, "restore: unknown user or org");
  w->revoked[u][o] = 0;
  return restore_one(w, w->orgs[o].id, w->users[u].id);
}

/* --- the observer: what each node was told ------------------------------------ */

static int add_outcome(sim_world *w, const sim_outcome *o) {
  for (size_t i = 0; i < w->noutcomes; i++) {
    const sim_outcome *p = &w->outcomes[i];
    if (p->node == o->node && p->seq == o->seq && p->status != o->status &&
        (p->status == CF_PUSH_REJECTED || o->status == CF_PUSH_REJECTED))
      return sim_violation(w, "%s: change %" PRId64 " (%s %s) was both %s and %s",
                           w->nodes[o->node].name, o->seq,
                           cf__schema_table(o->table)->name, o->id,
                           p->status == CF_PUSH_REJECTED ? "rejected" : "applied",
                           o->status == CF_PUSH_REJECTED ? "rejected" : "applied");
  }
  if (w->noutcomes == w->cap_outcomes) {
    size_t cap = w->cap_outcomes ? w->cap_outcomes * 2 : 256;
    sim_outcome *v = realloc(w->outcomes, cap * sizeof *v);
    if (v == NULL) return sim_error(w, "out of memory");
    w->outcomes = v;
    w->cap_outcomes = cap;
  }
  w->outcomes[w->noutcomes++] = *o;
  return 0;
}

static int add_ack(sim_world *w, int node, const cf_change *c, const char *id,
                   unsigned col) {
  if (w->nacks == w->cap_acks) {
    size_t cap = w->cap_acks ? w->cap_acks * 2 : 1024;
    sim_ack *v = realloc(w->acks, cap * sizeof *v);
    if (v == NULL) return sim_error(w, "out of memory");
    w->acks = v;
    w->cap_acks = cap;
  }
  sim_ack *a = &w->acks[w->nacks];
  memset(a, 0, sizeof *a);
  a->node = node;
  a->table = c->table->number;
  snprintf(a->id, sizeof a->id, "%s", id);
  a->col = col;
  a->ver = c->cells[col].ver;
  cf_buf b;
  cf__buf_init(&b, CF_VALUE_MAX_BYTES + 64);
  if (cf__value_encode(&c->cells[col].value, &b) != CF_OK) {
    cf__buf_free(&b);
    return sim_error(w, "value encode");
  }
  a->val = malloc(b.len ? b.len : 1);
  if (a->val == NULL) {
    cf__buf_free(&b);
    return sim_error(w, "out of memory");
  }
  memcpy(a->val, b.p, b.len);
  a->val_len = b.len;
  cf__buf_free(&b);
  w->nacks++;
  return 0;
}

static int has_text(const cf_slice *s, const char *needle) {
  size_t n = strlen(needle);
  for (size_t i = 0; i + n <= s->n; i++)
    if (memcmp(s->p + i, needle, n) == 0) return 1;
  return 0;
}

void sim_on_result(void *ctx, const struct cf__push_item *item,
                   const struct cf_push_result *r) {
  sim_node *n = ctx;
  sim_world *w = n->world;
  const cf_change *c = &item->change;
  const cf_table *t = c->table;
  char id[CF_UUID_TEXT_LEN] = "";
  const cf_value *idv = &c->cells[t->id_col].value;
  if (idv->kind == CF_VALUE_TEXT) snprintf(id, sizeof id, "%.*s", (int)idv->n, idv->p);
  sim_outcome o = {n->index, item->seq, (int)r->status, 0, t->number, ""};
  snprintf(o.id, sizeof o.id, "%s", id);
  w->count[SIM_PUSHED]++;
  if (r->status == CF_PUSH_APPLIED) {
    w->count[SIM_APPLIED]++;
    for (unsigned col = 0; col <= t->ncols; col++)
      if ((c->present & ((uint64_t)1 << col)) && !(t->key_mask & ((uint64_t)1 << col)))
        if (add_ack(w, n->index, c, id, col) != 0) return;
  } else if (r->status == CF_PUSH_SUPERSEDED) {
    w->count[SIM_SUPERSEDED]++;
    w->count[has_text(&r->message, "deleted") ? SIM_CONFLICT_DELETED
                                              : SIM_CONFLICT_SAME_ROW]++;
  } else {
    w->count[SIM_REJECTED]++;
    sim_counter k = r->reason == CF_REASON_PERMISSION    ? SIM_REJ_PERMISSION
                    : r->reason == CF_REASON_CONSTRAINT  ? SIM_REJ_CONSTRAINT
                    : r->reason == CF_REASON_INVALID     ? SIM_REJ_INVALID
                    : r->reason == CF_REASON_WRONG_ORG   ? SIM_REJ_WRONG_ORG
                    : r->reason == CF_REASON_REVOKED     ? SIM_REJ_REVOKED
                    : r->reason == CF_REASON_FOREIGN_KEY ? SIM_REJ_FOREIGN_KEY
                                                         : SIM_REJ_OTHER;
    w->count[k]++;
    if (r->reason == CF_REASON_FOREIGN_KEY) { /* the session may send it again */
      w->count[SIM_CONFLICT_FK]++;
      o.fk = 1;
    } else if (r->reason == CF_REASON_CONSTRAINT && has_text(&r->message, "_key")) {
      w->count[SIM_CONFLICT_UNIQUE]++;
    }
    if (r->reason == CF_REASON_INTERNAL)
      sim_violation(w, "%s: the master failed on a change (%s %s): %.*s", n->name,
                    t->name, id, (int)r->message.n, r->message.p);
  }
  (void)add_outcome(w, &o);
}

/* --- steps ------------------------------------------------------------------------- */

static int need_node(sim_world *w, const sim_step *st) {
  int i = sim_node_index(w, st->a);
  if (i < 0) return sim_violation(w, "unknown node %s", st->a), -1;
  return i;
}

static int quiet(sim_world *w);

int sim_exec_step(sim_world *w, const sim_step *st) {
  char err[1024];
  int i = -1;
  w->count[SIM_STEPS]++;
  /* Local writes take no time: writes on nodes with the same clock between
  ** two syncs land in the same millisecond, as concurrent edits do, and
  ** their HLCs tie -- only the node id orders them. */
  if (st->kind != SIM_S_SQL) w->vnow_ms += 7;
  switch (st->kind) {
    case SIM_S_SEED:
      sim_prng_seed(&w->lib_rng, (uint64_t)st->num * 2 + 1);
      sim_prng_seed(&w->rng, (uint64_t)st->num);
      return 0;
    case SIM_S_USER:
      return declare_user(w, st);
    case SIM_S_NODE:
      return declare_node(w, st);
    case SIM_S_SQL: {
      if ((i = need_node(w, st)) < 0) return -1;
      if (w->nodes[i].node == NULL && sim_node_open(w, i) != 0) return -1;
      sim_set_actor(w, i);
      w->count[SIM_OPS]++;
      int rc = cf_node_exec(w->nodes[i].node, st->text);
      if (rc != CF_OK) {
        w->count[SIM_OPS_REFUSED]++;
        if (st->must)
          return sim_violation(w, "%s sql failed: %s: %s", st->a, cf_strerror(rc),
                               cf_node_errmsg(w->nodes[i].node));
      }
      return 0;
    }
    case SIM_S_MASTER_SQL:
      w->count[SIM_MASTER_SQL]++;
      if (sim_master_exec(w, st->text, err, sizeof err) != 0 && st->must)
        return sim_violation(w, "master sql failed: %s", err);
      return 0;
    case SIM_S_SYNC: {
      int ids[SIM_MAX_NODES], n = 0;
      if (st->a[0]) {
        if ((ids[0] = need_node(w, st)) < 0) return -1;
        n = 1;
      } else {
        for (int k = 0; k < w->nnodes; k++)
          ids[n++] = k;
      }
      return w->transport->sync(w, ids, n, st->faults);
    }
    case SIM_S_OFFLINE:
      if ((i = need_node(w, st)) < 0) return -1;
      if (!w->nodes[i].offline) w->count[SIM_FAULT_OFFLINE]++;
      w->nodes[i].offline = 1;
      return 0;
    case SIM_S_ONLINE:
      if ((i = need_node(w, st)) < 0) return -1;
      w->nodes[i].offline = 0;
      return 0;
    case SIM_S_HEAL:
      for (int k = 0; k < w->nnodes; k++)
        w->nodes[k].offline = 0;
      return 0;
    case SIM_S_KILL:
      if ((i = need_node(w, st)) < 0) return -1;
      sim_node_kill(w, i);
      return sim_node_open(w, i);
    case SIM_S_CLOCK:
      if ((i = need_node(w, st)) < 0) return -1;
      w->nodes[i].clock_offset_ms += st->num;
      w->count[SIM_FAULT_CLOCK]++;
      return 0;
    case SIM_S_TICK:
      w->vnow_ms += st->num;
      return 0;
    case SIM_S_REVOKE:
      return do_revoke(w, st);
    case SIM_S_RESTORE:
      return restore(w, st);
    case SIM_S_REPLAY:
      if ((i = need_node(w, st)) < 0) return -1;
      return w->transport->replay(w, i);
    case SIM_S_EXPECT: {
      char got[4096];
      int rc;
      if (strcmp(st->a, "master") == 0) {
        rc = sim_master_text(w, st->text, got, sizeof got);
      } else {
        if ((i = need_node(w, st)) < 0) return -1;
        rc = sim_node_text(w, i, st->text, got, sizeof got);
      }
      if (rc != 0) return sim_violation(w, "expect %s: %s", st->a, got);
      if (strcmp(got, st->value) != 0)
        return sim_violation(w, "expect %s \"%s\": got \"%s\", expected \"%s\"", st->a,
                             st->text, got, st->value);
      return 0;
    }
    case SIM_S_EXPECT_CONFLICTS: {
      if ((i = need_node(w, st)) < 0) return -1;
      int64_t n = -1;
      if (cf_node_conflict_count(w->nodes[i].node, &n) != CF_OK)
        return sim_error(w, "conflicts");
      if (n != st->num)
        return sim_violation(w, "expect %s conflicts: got %" PRId64 ", expected %" PRId64,
                             st->a, n, st->num);
      return 0;
    }
    case SIM_S_CHECK:
      return sim_check_isolation(w);
    case SIM_S_QUIET:
      return quiet(w);
  }
  return sim_error(w, "unknown step kind %d", (int)st->kind);
}

/*
** The quiet phase: every partition healed, every revoked membership
** restored, then rounds of `sync all` without faults until a round neither
** pushes nor pulls anything; then every invariant.
*/
static int quiet(sim_world *w) {
  int was = w->in_quiet;
  w->in_quiet = 1;
  for (int k = 0; k < w->nnodes; k++)
    w->nodes[k].offline = 0;
  if (restore_one(w, "%", "%") != 0) return -1;
  memset(w->revoked, 0, sizeof w->revoked);
  int ids[SIM_MAX_NODES];
  for (int k = 0; k < w->nnodes; k++)
    ids[k] = k;
  int settled = 0;
  for (int round = 0; round < 8 && !settled; round++) {
    int64_t before = w->count[SIM_PUSHED] + w->count[SIM_PULLED];
    w->count[SIM_QUIET_ROUNDS]++;
    if (w->transport->sync(w, ids, w->nnodes, 0) != 0) return -1;
    settled = w->count[SIM_PUSHED] + w->count[SIM_PULLED] == before;
  }
  if (!settled) return sim_violation(w, "still moving after 8 rounds of sync");
  int rc = sim_check_quiet(w);
  w->in_quiet = was;
  return rc;
}

/* --- runs ----------------------------------------------------------------------- */

static double mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void sim_config_default(sim_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->seed = 1;
  cfg->nodes = 4;
  cfg->orgs = 2;
  cfg->steps = 40;
}

void sim_result_free(sim_result *r) { sim_script_free(&r->script); }

int sim_plant_activate(int plant);

static void result_init(sim_result *res) {
  memset(res, 0, sizeof *res);
  res->failed_step = -1;
}

static int run_steps(sim_world *w, const sim_step *st, sim_result *res, int verbose) {
  if (sim_script_add(&res->script, st) != 0) return sim_error(w, "out of memory");
  if (verbose) {
    fprintf(stderr, "  %4zu  ", res->script.n);
    sim_step_print(stderr, st);
    fputc('\n', stderr);
  }
  w->step = (int)res->script.n - 1;
  int rc = sim_exec_step(w, st);
  if (rc == 0 && !w->failed && st->kind != SIM_S_QUIET && st->kind != SIM_S_SEED)
    rc = sim_check_isolation(w);
  if (w->failed) res->failed_step = w->in_quiet ? -1 : w->step;
  return w->failed ? -1 : rc;
}

static int finish_run(sim_world *w, sim_result *res, double t0, int keep_failed) {
  if (!w->failed) {
    double q0 = mono_ms();
    sim_step q = {.kind = SIM_S_QUIET};
    if (res->script.n == 0 || res->script.v[res->script.n - 1].kind != SIM_S_QUIET)
      (void)run_steps(w, &q, res, w->cfg->verbose);
    res->quiet_ms = mono_ms() - q0;
  }
  res->ok = !w->failed;
  res->error = w->error;
  double c0 = mono_ms();
  world_close(w, w->failed && keep_failed);
  res->close_ms = mono_ms() - c0;
  sim_plant_activate(0);
  res->count[SIM_SEEDS] = 1;
  res->total_ms = mono_ms() - t0;
  return res->ok;
}

static int keep_failed_runs = 1;

void sim_set_keep_failed(int keep) { keep_failed_runs = keep; }

int sim_run_random(sim_env *env, const sim_config *cfg, sim_result *res) {
  result_init(res);
  double t0 = mono_ms();
  sim_world w;
  sim_plant_activate(cfg->plant);
  int opened = world_open(env, cfg, &w, res);
  res->open_ms = mono_ms() - t0;
  if (opened == 0) {
    sim_script decl = {0};
    if (sim_gen_declare(cfg, &decl) != 0) sim_error(&w, "out of memory");
    for (size_t i = 0; i < decl.n && !w.failed; i++)
      (void)run_steps(&w, &decl.v[i], res, cfg->verbose);
    sim_script_free(&decl);
    for (int i = 0; i < cfg->steps && !w.failed; i++) {
      sim_step st;
      if (sim_gen_step(&w, &st) != 0) break;
      (void)run_steps(&w, &st, res, cfg->verbose);
      free(st.text);
      free(st.value);
    }
  }
  return finish_run(&w, res, t0, keep_failed_runs);
}

int sim_run_script(sim_env *env, const sim_config *cfg, const sim_script *script,
                   sim_result *res) {
  result_init(res);
  double t0 = mono_ms();
  sim_world w;
  sim_plant_activate(cfg->plant);
  if (world_open(env, cfg, &w, res) == 0)
    for (size_t i = 0; i < script->n && !w.failed; i++)
      (void)run_steps(&w, &script->v[i], res, cfg->verbose);
  return finish_run(&w, res, t0, keep_failed_runs);
}

/* --- shrinking ------------------------------------------------------------------- */

static int still_fails(sim_env *env, const sim_config *cfg, const sim_script *s,
                       char *violation, size_t vlen) {
  sim_result r;
  int saved = keep_failed_runs;
  keep_failed_runs = 0;
  sim_config c = *cfg;
  c.verbose = 0;
  int ok = sim_run_script(env, &c, s, &r);
  keep_failed_runs = saved;
  int fails = !ok && !r.error;
  if (fails && violation) snprintf(violation, vlen, "%s", r.violation);
  sim_result_free(&r);
  return fails;
}

/* s without steps [from, from+len). */
static int without(const sim_script *s, size_t from, size_t len, sim_script *out) {
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < s->n; i++)
    if ((i < from || i >= from + len) && sim_script_add(out, &s->v[i]) != 0) return -1;
  return 0;
}

/* s without node name: its declaration and every step naming it. */
static int without_node(const sim_script *s, const char *name, sim_script *out) {
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < s->n; i++) {
    const sim_step *st = &s->v[i];
    int names = st->kind != SIM_S_USER && st->kind != SIM_S_REVOKE &&
                st->kind != SIM_S_RESTORE && st->kind != SIM_S_SEED &&
                strcmp(st->a, name) == 0;
    if (!names && sim_script_add(out, st) != 0) return -1;
  }
  return 0;
}

void sim_shrink(sim_env *env, const sim_config *cfg, const sim_script *script, int budget,
                sim_script *out, char *violation, size_t vlen) {
  sim_script cur;
  if (sim_script_copy(&cur, script) != 0) {
    memset(out, 0, sizeof *out);
    return;
  }
  /* Drop the final quiet: it is implicit. */
  int runs = 0;
  /* Nodes first: each whole node that can go. */
  for (size_t i = 0; i < cur.n && runs < budget; i++) {
    if (cur.v[i].kind != SIM_S_NODE) continue;
    sim_script t;
    char name[48];
    snprintf(name, sizeof name, "%s", cur.v[i].a);
    if (without_node(&cur, name, &t) != 0) break;
    runs++;
    if (still_fails(env, cfg, &t, violation, vlen)) {
      sim_script_free(&cur);
      cur = t;
      i = (size_t)-1;
    } else {
      sim_script_free(&t);
    }
  }
  /* Then steps, in chunks halving down to one (ddmin-like). */
  for (size_t chunk = cur.n / 2; chunk >= 1 && runs < budget; chunk /= 2) {
    for (size_t from = 0; from < cur.n && runs < budget;) {
      if (cur.v[from].kind == SIM_S_NODE || cur.v[from].kind == SIM_S_SEED) {
        from++;
        continue;
      }
      sim_script t;
      if (without(&cur, from, chunk, &t) != 0) break;
      runs++;
      if (still_fails(env, cfg, &t, violation, vlen)) {
        sim_script_free(&cur);
        cur = t;
      } else {
        sim_script_free(&t);
        from += chunk;
      }
    }
    if (chunk == 1) break;
  }
  *out = cur;
}
