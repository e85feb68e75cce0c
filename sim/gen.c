/*
** sim/gen.c: random steps (docs/sim.md "Random runs").  A random run first
** declares its nodes from a fixed roster (users of every role, one user in
** two orgs, two devices of one user), then draws each step from the run's
** generator and the world as it is: local writes on every tenant table
** through the replica's views (inserts, updates of random column sets,
** deletes, edits of rows others deleted, unique clashes, references to rows
** being deleted, writes RLS refuses, writes into another org, oversized
** values), syncs with network faults, partitions, kills, clock jumps,
** revocations, direct SQL on the master (cascading deletes included).
** Each step is recorded concretely, so the recorded script replays the run.
*/
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/world.h"

/* The roster: node k is roster[k % n] (restricted to the run's orgs). */
static const struct roster {
  const char *user, *org;
} roster[] = {
    {"rep", "demo"},         {"owner", "demo"}, {"rep", "northwind"},
    {"rep", "demo"},         {"admin", "demo"}, {"nw-owner", "northwind"},
    {"nw-rep", "northwind"},
};

int sim_gen_declare(const sim_config *cfg, sim_script *out) {
  memset(out, 0, sizeof *out);
  sim_step st;
  memset(&st, 0, sizeof st);
  st.kind = SIM_S_SEED;
  st.num = (int64_t)cfg->seed;
  if (sim_script_add(out, &st) != 0) return -1;
  int k = 0;
  for (int i = 0; k < cfg->nodes && i < 1000; i++) {
    const struct roster *r = &roster[i % (int)(sizeof roster / sizeof roster[0])];
    if (cfg->orgs < 2 && strcmp(r->org, "demo") != 0) continue;
    memset(&st, 0, sizeof st);
    st.kind = SIM_S_NODE;
    snprintf(st.a, sizeof st.a, "laptop%d", k + 1);
    snprintf(st.b, sizeof st.b, "%s", r->user);
    snprintf(st.c, sizeof st.c, "%s", r->org);
    if (sim_script_add(out, &st) != 0) return -1;
    k++;
  }
  return 0;
}

/* --- helpers ------------------------------------------------------------------ */

static uint64_t pick(sim_world *w, uint64_t n) { return sim_prng_below(&w->rng, n); }
static int chance(sim_world *w, unsigned pm) { return sim_prng_chance(&w->rng, pm); }

/* A random existing row id of view t on node i (or on the master's org
** when i < 0), "" if none. */
static void some_id(sim_world *w, int i, int org, const char *t,
                    char out[CF_UUID_TEXT_LEN]) {
  char sql[512], n[32];
  out[0] = '\0';
  if (i >= 0) {
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\"", t);
    if (sim_node_text(w, i, sql, n, sizeof n) != 0) return;
    long c = strtol(n, NULL, 10);
    if (c <= 0) return;
    snprintf(sql, sizeof sql, "SELECT id FROM \"%s\" ORDER BY id LIMIT 1 OFFSET %ld", t,
             (long)pick(w, (uint64_t)c));
    char v[64];
    if (sim_node_text(w, i, sql, v, sizeof v) == 0)
      snprintf(out, CF_UUID_TEXT_LEN, "%.36s", v);
  } else {
    snprintf(
        sql, sizeof sql,
        "SELECT id FROM public.\"%s\" WHERE org_id = '%s' ORDER BY id LIMIT 1 OFFSET "
        "%d %% greatest((SELECT count(*) FROM public.\"%s\" "
        "WHERE org_id = '%s'), 1)",
        t, w->orgs[org].id, (int)pick(w, 1000), t, w->orgs[org].id);
    char v[64];
    if (sim_master_text(w, sql, v, sizeof v) == 0)
      snprintf(out, CF_UUID_TEXT_LEN, "%.36s", v);
  }
}

static const char *const words[] = {"Ada", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal"};
static const char *word(sim_world *w) { return words[pick(w, 8)]; }

/* A reference: an id of t, or NULL, or (rarely) one that does not exist. */
static void ref(sim_world *w, int i, int org, const char *t, char *out, size_t cap) {
  char id[CF_UUID_TEXT_LEN];
  if (chance(w, 250)) {
    snprintf(out, cap, "NULL");
    return;
  }
  if (chance(w, 30))
    sim_new_id(w, id);
  else
    some_id(w, i, org, t, id);
  if (id[0])
    snprintf(out, cap, "'%s'", id);
  else
    snprintf(out, cap, "NULL");
}

static char *big_text(size_t n) {
  char *s = malloc(n + 1);
  if (s) {
    memset(s, 'x', n);
    s[n] = '\0';
  }
  return s;
}

/* --- local writes ------------------------------------------------------------- */

static const char *const tenant_tables[] = {
    "contacts",    "deals",         "activities",  "appointments", "messages",
    "automations", "daily_metrics", "memberships", "organizations"};
static const unsigned tenant_weights[] = {34, 20, 10, 10, 5, 8, 5, 4, 4};

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int n = vsnprintf(NULL, 0, f, ap);
  va_end(ap);
  char *s = malloc((size_t)n + 1);
  if (s == NULL) return NULL;
  va_start(ap, f);
  vsnprintf(s, (size_t)n + 1, f, ap);
  va_end(ap);
  return s;
}

static char *email(sim_world *w) {
  if (chance(w, 150)) return fmt("NULL");
  if (chance(w, 15)) { /* past the unique index's row size: the master refuses it */
    char *x = big_text(3000);
    char *e = x ? fmt("'%s@big.test'", x) : NULL;
    free(x);
    return e;
  }
  return fmt("'p%d@ex.test'", (int)pick(w, 10));
}

static char *insert_sql(sim_world *w, int i, int org, const char *t) {
  char id[CF_UUID_TEXT_LEN], r1[64], r2[64];
  sim_new_id(w, id);
  int day = (int)pick(w, 28) + 1;
  if (strcmp(t, "contacts") == 0) {
    char *e = email(w);
    char *s =
        e ? fmt("INSERT INTO contacts (id, first_name, last_name, email, phone, company, "
                "tags) VALUES ('%s', '%s', '%s', %s, '+1-555-%04d', '%s Inc', "
                "'[\"%s\"]')",
                id, word(w), word(w), e, (int)pick(w, 10000), word(w),
                chance(w, 500) ? "vip" : "lead")
          : NULL;
    free(e);
    return s;
  }
  if (strcmp(t, "deals") == 0) {
    ref(w, i, org, "contacts", r1, sizeof r1);
    static const char *st[] = {"lead", "qualified", "proposal", "won", "lost"};
    return fmt(
        "INSERT INTO deals (id, contact_id, title, stage, value, expected_close) VALUES "
        "('%s', %s, 'Deal %s', '%s', '%d.%02d', '2030-02-%02d')",
        id, r1, word(w), st[pick(w, 5)], (int)pick(w, 100000), (int)pick(w, 100), day);
  }
  if (strcmp(t, "activities") == 0) {
    ref(w, i, org, "contacts", r1, sizeof r1);
    ref(w, i, org, "deals", r2, sizeof r2);
    static const char *k[] = {"call", "email", "note", "task"};
    return fmt(
        "INSERT INTO activities (id, kind, subject, contact_id, deal_id, user_id) VALUES "
        "('%s', '%s', 'About %s', %s, %s, '%s')",
        id, k[pick(w, 4)], word(w), r1, r2, w->users[w->nodes[i].user].id);
  }
  if (strcmp(t, "appointments") == 0) {
    ref(w, i, org, "contacts", r1, sizeof r1);
    int h = (int)pick(w, 20);
    return fmt(
        "INSERT INTO appointments (id, contact_id, title, starts_at, ends_at) VALUES "
        "('%s', %s, 'Visit %s', '2030-03-%02dT%02d:00:00Z', '2030-03-%02dT%02d:30:00Z')",
        id, r1, word(w), day, h, day, chance(w, 50) ? h - 1 < 0 ? 0 : h - 1 : h);
  }
  if (strcmp(t, "messages") == 0) {
    ref(w, i, org, "contacts", r1, sizeof r1);
    return fmt("INSERT INTO messages (id, contact_id, channel, direction, body) VALUES "
               "('%s', %s, 'sms', 'outbound', 'Hi %s')",
               id, r1, word(w));
  }
  if (strcmp(t, "automations") == 0)
    return fmt("INSERT INTO automations (id, name, trigger, action) VALUES "
               "('%s', 'Auto %s', 'contact_created', 'send_email')",
               id, word(w));
  if (strcmp(t, "daily_metrics") == 0)
    return fmt("INSERT INTO daily_metrics (id, day, new_contacts) VALUES "
               "('%s', '2030-01-%02d', %d)",
               id, day, (int)pick(w, 50));
  if (strcmp(t, "memberships") == 0)
    return fmt(
        "INSERT INTO memberships (id, user_id, role) VALUES ('%s', '%s', 'member')", id,
        w->users[pick(w, (uint64_t)w->nusers)].id);
  return fmt("UPDATE organizations SET name = 'Org %s'", word(w));
}

/* SET clauses: a random non-empty subset of a table's editable columns. */
#define ADD(expr)                                                                        \
  do {                                                                                   \
    own[n] = (expr);                                                                     \
    c[n] = own[n];                                                                       \
    n++;                                                                                 \
  } while (0)

static char *update_sets(sim_world *w, int i, int org, const char *t) {
  char r1[64];
  const char *c[8];
  char *own[8] = {0};
  int n = 0;
  if (strcmp(t, "contacts") == 0 && chance(w, 2)) {
    /* Values that each fit, a row that fits no frame: kept as a conflict. */
    ADD(fmt("first_name = printf('%%.*c', %d, 'a')", 1000000));
    ADD(fmt("company = printf('%%.*c', %d, 'c')", 1000000));
    ADD(fmt("phone = printf('%%.*c', %d, 'd')", 1000000));
    ADD(fmt("metadata = json_object('k', printf('%%.*c', %d, 'e'))", 1000000));
    ADD(fmt("last_name = printf('%%.*c', %d, 'b')", 1000000));
  } else if (strcmp(t, "contacts") == 0) {
    if (chance(w, 500)) ADD(fmt("first_name = '%s'", word(w)));
    if (chance(w, 400)) ADD(fmt("phone = '+1-555-%04d'", (int)pick(w, 10000)));
    if (chance(w, 300)) ADD(fmt("company = '%s Ltd'", word(w)));
    if (chance(w, 250)) {
      char *e = email(w);
      ADD(e ? fmt("email = %s", e) : NULL);
      free(e);
    }
    if (chance(w, 150)) ADD(fmt("tags = '[\"%s\"]'", word(w)));
    if (chance(w, 10)) /* over the 1 MiB value bound: the replica refuses it */
      ADD(fmt("last_name = printf('%%.*c', %d, 'x')", (1 << 20) + 10));
    if (n == 0) ADD(fmt("last_name = '%s'", word(w)));
  } else if (strcmp(t, "deals") == 0) {
    static const char *st[] = {"lead", "qualified", "proposal", "won", "lost"};
    if (chance(w, 500)) ADD(fmt("stage = '%s'", st[pick(w, 5)]));
    if (chance(w, 400)) ADD(fmt("value = '%d.50'", (int)pick(w, 9000)));
    if (chance(w, 200)) {
      ref(w, i, org, "contacts", r1, sizeof r1);
      ADD(fmt("contact_id = %s", r1));
    }
    if (n == 0) ADD(fmt("title = 'Deal %s'", word(w)));
  } else if (strcmp(t, "activities") == 0) {
    ADD(fmt("body = 'note %d'", (int)pick(w, 1000)));
    if (chance(w, 300))
      ADD(fmt("completed_at = '2030-01-0%dT10:00:00Z'", 1 + (int)pick(w, 9)));
  } else if (strcmp(t, "appointments") == 0) {
    static const char *st[] = {"scheduled", "confirmed", "completed", "cancelled",
                               "no_show"};
    ADD(fmt("status = '%s'", st[pick(w, 5)]));
    if (chance(w, 300)) ADD(fmt("location = 'Room %d'", (int)pick(w, 9)));
  } else if (strcmp(t, "messages") == 0) {
    ADD(fmt("status = 'read'"));
  } else if (strcmp(t, "automations") == 0) {
    ADD(fmt("enabled = %d", (int)pick(w, 2)));
    if (chance(w, 300)) ADD(fmt("name = 'Auto %s'", word(w)));
  } else if (strcmp(t, "daily_metrics") == 0) {
    ADD(fmt("new_contacts = %d", (int)pick(w, 100)));
    if (chance(w, 200)) ADD(fmt("day = '2030-01-%02d'", 1 + (int)pick(w, 28)));
  } else if (strcmp(t, "memberships") == 0) {
    ADD(fmt("role = '%s'", chance(w, 500) ? "admin" : "member"));
  } else {
    ADD(fmt("name = 'Org %s'", word(w)));
  }
  size_t len = 1;
  for (int k = 0; k < n; k++)
    len += (c[k] ? strlen(c[k]) : 0) + 2;
  char *s = malloc(len);
  if (s) {
    s[0] = '\0';
    for (int k = 0; k < n; k++)
      if (c[k]) {
        if (s[0]) strcat(s, ", ");
        strcat(s, c[k]);
      }
  }
  for (int k = 0; k < n; k++)
    free(own[k]);
  if (s && s[0] == '\0') {
    free(s);
    s = NULL;
  }
  return s;
}

static char *local_write(sim_world *w, int i) {
  int org = w->nodes[i].org;
  if (chance(w, 25)) { /* a row naming another org: refused by the replica */
    char id[CF_UUID_TEXT_LEN];
    sim_new_id(w, id);
    return fmt(
        "INSERT INTO contacts (org_id, id, first_name) VALUES ('%s', '%s', 'Mallory')",
        w->orgs[1 - (org & 1)].id, id);
  }
  unsigned total = 0, x;
  for (size_t k = 0; k < sizeof tenant_weights / sizeof tenant_weights[0]; k++)
    total += tenant_weights[k];
  x = (unsigned)pick(w, total);
  size_t k = 0;
  while (x >= tenant_weights[k])
    x -= tenant_weights[k++];
  const char *t = tenant_tables[k];
  uint64_t op = pick(w, 100);
  if (op < 35 || strcmp(t, "organizations") == 0) return insert_sql(w, i, org, t);
  char id[CF_UUID_TEXT_LEN];
  some_id(w, i, org, t, id);
  if (id[0] == '\0') return insert_sql(w, i, org, t);
  if (op < 80) {
    char *sets = update_sets(w, i, org, t);
    char *s = sets ? fmt("UPDATE \"%s\" SET %s WHERE id = '%s'", t, sets, id) : NULL;
    free(sets);
    return s;
  }
  return fmt("DELETE FROM \"%s\" WHERE id = '%s'", t, id);
}

/* A direct write on the master: edits, inserts, deletes that cascade. */
static char *master_write(sim_world *w) {
  int org = (int)pick(w, 2);
  char id[CF_UUID_TEXT_LEN];
  uint64_t op = pick(w, 100);
  const char *oid = w->orgs[org].id;
  if (op < 30) {
    some_id(w, -1, org, "contacts", id);
    if (!id[0]) return NULL;
    return fmt("DELETE FROM contacts WHERE org_id = '%s' AND id = '%s'", oid, id);
  }
  if (op < 40) {
    some_id(w, -1, org, "deals", id);
    if (!id[0]) return NULL;
    return fmt("DELETE FROM deals WHERE org_id = '%s' AND id = '%s'", oid, id);
  }
  if (op < 75) {
    some_id(w, -1, org, "contacts", id);
    if (!id[0]) return NULL;
    return fmt(
        "UPDATE contacts SET company = 'Master %s', phone = NULL WHERE org_id = '%s' AND "
        "id = '%s'",
        word(w), oid, id);
  }
  if (op < 90) {
    some_id(w, -1, org, "deals", id);
    if (!id[0]) return NULL;
    return fmt(
        "UPDATE deals SET stage = 'won', value = value + 1 WHERE org_id = '%s' AND id = "
        "'%s'",
        oid, id);
  }
  sim_new_id(w, id);
  return fmt("INSERT INTO contacts (org_id, id, first_name, email) VALUES ('%s', '%s', "
             "'Direct', 'p%d@ex.test')",
             oid, id, (int)pick(w, 10));
}

int sim_gen_step(sim_world *w, sim_step *st) {
  memset(st, 0, sizeof *st);
  int i = (int)pick(w, (uint64_t)w->nnodes);
  snprintf(st->a, sizeof st->a, "%s", w->nodes[i].name);
  uint64_t x = pick(w, 1000);
  if (x < 480) {
    st->kind = SIM_S_SQL;
    st->text = local_write(w, i);
    if (st->text == NULL) return -1;
    return 0;
  }
  if (x < 620) {
    st->kind = SIM_S_SYNC;
    st->faults = chance(w, 700) ? sim_prng_fork(&w->rng) | 1 : 0;
    return 0;
  }
  if (x < 680) {
    st->kind = SIM_S_SYNC;
    st->a[0] = '\0';
    st->faults = sim_prng_fork(&w->rng) | 1;
    return 0;
  }
  if (x < 750) {
    st->kind = SIM_S_MASTER_SQL;
    st->text = master_write(w);
    if (st->text == NULL) {
      st->kind = SIM_S_TICK;
      st->num = 10;
    }
    return 0;
  }
  if (x < 800) {
    st->kind = w->nodes[i].offline ? SIM_S_ONLINE : SIM_S_OFFLINE;
    return 0;
  }
  if (x < 830) {
    st->kind = SIM_S_KILL;
    return 0;
  }
  if (x < 870) {
    st->kind = SIM_S_CLOCK;
    int64_t off = w->nodes[i].clock_offset_ms;
    /* Jumps either way, each clock kept within +-4 minutes of true time
    ** (the server refuses a node more than 5 minutes ahead at HELLO); two
    ** clocks may be 8 minutes apart: a replica bounds pulled versions by
    ** the server's clock (examples/scenarios/skewed_clocks_still_sync.scn). */
    int64_t target = sim_prng_range(&w->rng, -240000, 240000);
    /* Often the slowest clock allowed: clocks behind the others issue
    ** HLCs from what they received (last + 1), so two of them writing the
    ** same cell after the same pull tie on the HLC and only the node id
    ** breaks the tie. */
    if (chance(w, 400)) target = -240000;
    st->num = target - off;
    return 0;
  }
  if (x < 900) {
    st->kind = SIM_S_TICK;
    st->num = sim_prng_range(&w->rng, 1, 5000);
    return 0;
  }
  if (x < 940) {
    /* Revoke a non-owner membership, or restore one. */
    int u = w->nodes[i].user, o = w->nodes[i].org;
    if (strcmp(w->users[u].name, "owner") == 0 ||
        strcmp(w->users[u].name, "nw-owner") == 0) {
      st->kind = SIM_S_TICK;
      st->num = 1;
      return 0;
    }
    st->kind = w->revoked[u][o] ? SIM_S_RESTORE : SIM_S_REVOKE;
    snprintf(st->a, sizeof st->a, "%s", w->users[u].name);
    snprintf(st->b, sizeof st->b, "%s", w->orgs[o].name);
    return 0;
  }
  if (x < 970) {
    st->kind = SIM_S_REPLAY;
    return 0;
  }
  st->kind = SIM_S_SYNC;
  st->faults = 0;
  return 0;
}
