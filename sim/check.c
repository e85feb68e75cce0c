/*
** sim/check.c: the invariants (docs/sim.md "Invariants").
**
**   at every step   isolation: no replica file holds a row of an org it
**                   does not replicate
**   once quiet      1. every replica holds exactly what the master shows
**                      its user through RLS (compared row by row in
**                      canonical form, each table ordered by key), so all
**                      replicas of an org agree -- rows the node keeps in
**                      its conflicts table are the app's to resolve and
**                      are left out
**                   2. no acknowledged write lost: each cell the master
**                      answered "applied" is there with its version, or a
**                      strictly newer one, or the row is deleted
**                   3. outboxes empty; every rejected change in its
**                      node's conflicts with a reason (and none both
**                      applied and rejected: checked as results arrive)
**                   4. every cursor at its org's head
**                   5. replaying each node's last batch changes nothing
**                      on the master; re-applying its last page changes
**                      nothing in the replica
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "sim/world.h"

/* The tables compared: everything but users (a replica holds its members'
** profiles, which RLS shows a user only for themself). */
static int compared(unsigned t) { return t != 1; }

/* --- isolation -------------------------------------------------------------- */

int sim_check_isolation(sim_world *w) {
  char sql[4096];
  for (int i = 0; i < w->nnodes; i++) {
    sim_node *n = &w->nodes[i];
    if (n->node == NULL) continue;
    const char *org = w->orgs[n->org].id;
    for (unsigned t = 0; t < CF_SCHEMA_NTABLES; t++) {
      const cf_table *tb = cf__schema_table(t);
      if (t == 1) continue;
      snprintf(sql, sizeof sql, "SELECT %s FROM \"cf_%s\" WHERE %s IS NOT '%s' LIMIT 1",
               t == 0 ? "id" : "org_id || ' ' || id", tb->name, t == 0 ? "id" : "org_id",
               org);
      char got[256];
      if (sim_node_text(w, i, sql, got, sizeof got) != 0)
        return sim_error(w, "isolation check on %s: %s", n->name, got);
      if (got[0])
        return sim_violation(
            w, "isolation: replica %s of org %s holds %s row %s of another org", n->name,
            w->orgs[n->org].name, tb->name, got);
    }
  }
  return 0;
}

/* --- rows in canonical form ------------------------------------------------------ */

typedef struct row_list {
  char (*ids)[CF_UUID_TEXT_LEN];
  uint8_t **enc; /* encoded cells, each column: cf__value_encode */
  size_t *len;
  char **text; /* readable form, for reports */
  size_t n, cap;
} row_list;

static void rows_free(row_list *r) {
  for (size_t i = 0; i < r->n; i++) {
    free(r->enc[i]);
    free(r->text[i]);
  }
  free(r->ids);
  free(r->enc);
  free(r->len);
  free(r->text);
  memset(r, 0, sizeof *r);
}

/* Adds one row: values[col] as text (NULL = SQL NULL) or ints. */
static int rows_add(row_list *r, const cf_table *t, const cf_value *vals) {
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 64;
    void *a = realloc(r->ids, cap * sizeof *r->ids), *b = NULL, *c = NULL, *d = NULL;
    if (a) r->ids = a;
    if (a) b = realloc(r->enc, cap * sizeof *r->enc);
    if (b) r->enc = b;
    if (b) c = realloc(r->len, cap * sizeof *r->len);
    if (c) r->len = c;
    if (c) d = realloc(r->text, cap * sizeof *r->text);
    if (d) r->text = d;
    if (!d) return -1;
    r->cap = cap;
  }
  cf_buf enc, txt, canon;
  cf__buf_init(&enc, (size_t)64 << 20);
  cf__buf_init(&txt, (size_t)64 << 20);
  cf__buf_init(&canon, (size_t)8 << 20);
  int rc = CF_OK;
  r->ids[r->n][0] = '\0';
  for (unsigned c = 0; rc == CF_OK && c < t->ncols; c++) {
    cf_value v;
    if (cf__value_canon(&t->cols[c], &vals[c], &canon, &v) != CF_OK) v = vals[c];
    rc = cf__value_encode(&v, &enc);
    char head[64];
    snprintf(head, sizeof head, "%s%s=", c ? ", " : "", t->cols[c].name);
    if (rc == CF_OK) rc = cf__buf_append(&txt, head, strlen(head));
    if (rc == CF_OK) {
      if (v.kind == CF_VALUE_NULL)
        rc = cf__buf_append(&txt, "NULL", 4);
      else if (v.kind == CF_VALUE_INT) {
        snprintf(head, sizeof head, "%" PRId64, v.i);
        rc = cf__buf_append(&txt, head, strlen(head));
      } else {
        size_t k = v.n > 80 ? 80 : v.n;
        rc = cf__buf_putc(&txt, '\'');
        if (rc == CF_OK) rc = cf__buf_append(&txt, v.p, k);
        if (rc == CF_OK && k < v.n) rc = cf__buf_append(&txt, "...", 3);
        if (rc == CF_OK) rc = cf__buf_putc(&txt, '\'');
      }
    }
    if ((int)c == t->id_col && v.kind == CF_VALUE_TEXT)
      snprintf(r->ids[r->n], CF_UUID_TEXT_LEN, "%.*s", (int)v.n, v.p);
  }
  if (rc == CF_OK) rc = cf__buf_putc(&txt, '\0');
  if (rc == CF_OK) {
    r->enc[r->n] = malloc(enc.len ? enc.len : 1);
    r->text[r->n] = malloc(txt.len);
    if (r->enc[r->n] && r->text[r->n]) {
      memcpy(r->enc[r->n], enc.p, enc.len);
      memcpy(r->text[r->n], txt.p, txt.len);
      r->len[r->n] = enc.len;
      r->n++;
    } else {
      free(r->enc[r->n]);
      free(r->text[r->n]);
      rc = CF_NOMEM;
    }
  }
  cf__buf_free(&enc);
  cf__buf_free(&txt);
  cf__buf_free(&canon);
  return rc == CF_OK ? 0 : -1;
}

static int col_list(const cf_table *t, int pg, char *out, size_t cap) {
  size_t o = 0;
  for (unsigned c = 0; c < t->ncols; c++) {
    int k = snprintf(out + o, cap - o, "%s\"%s\"%s", c ? ", " : "", t->cols[c].name,
                     pg ? "::text" : "");
    if (k < 0 || (size_t)k >= cap - o) return -1;
    o += (size_t)k;
  }
  return 0;
}

/* The master's rows of table t in org as user sees them through RLS. */
static int master_rows(sim_world *w, const cf_table *t, const char *org, const char *user,
                       row_list *out) {
  char cols[2048], sql[4096];
  if (col_list(t, 1, cols, sizeof cols) != 0) return sim_error(w, "columns");
  snprintf(sql, sizeof sql, "SELECT %s FROM public.\"%s\" WHERE %s = '%s' ORDER BY id",
           cols, t->name, t->number == 0 ? "id" : "org_id", org);
  char claims[256], setup[512];
  snprintf(claims, sizeof claims, "{\"sub\":\"%s\",\"role\":\"authenticated\"}", user);
  snprintf(setup, sizeof setup,
           "SELECT set_config('role', 'authenticated', true), "
           "set_config('request.jwt.claims', '%s', true), set_config('TimeZone', 'UTC', "
           "true), "
           "set_config('DateStyle', 'ISO, YMD', true)",
           claims);
  cf__pg_res *res = NULL;
  int rc = cf__pg_begin(w->admin);
  if (rc == CF_OK) rc = cf__pg_query(w->admin, setup, 0, NULL, NULL);
  if (rc == CF_OK) rc = cf__pg_query(w->admin, sql, 0, NULL, &res);
  if (rc != CF_OK) {
    char e[512];
    snprintf(e, sizeof e, "%s", cf__pg_errmsg(w->admin));
    cf__pg_rollback(w->admin);
    return sim_error(w, "master rows of %s: %s", t->name, e);
  }
  cf__pg_rollback(w->admin);
  cf_value vals[CF_SCHEMA_MAX_COLS + 1];
  int ok = 0;
  for (int r = 0; r < cf__pg_nrows(res) && ok == 0; r++) {
    for (unsigned c = 0; c < t->ncols; c++) {
      const char *v = cf__pg_value(res, r, (int)c);
      vals[c] = v ? cf__value_text(v, strlen(v)) : cf__value_null();
    }
    ok = rows_add(out, t, vals);
  }
  cf__pg_res_free(res);
  return ok ? sim_error(w, "out of memory") : 0;
}

/* The replica's rows of t through its view. */
static int replica_rows(sim_world *w, int i, const cf_table *t, row_list *out) {
  char cols[2048], sql[4096];
  if (col_list(t, 0, cols, sizeof cols) != 0) return sim_error(w, "columns");
  snprintf(sql, sizeof sql, "SELECT %s FROM \"%s\" ORDER BY id", cols, t->name);
  cf_stmt *st = NULL;
  sim_set_actor(w, i);
  if (cf_node_prepare(w->nodes[i].node, sql, &st) != CF_OK)
    return sim_error(w, "%s: %s", sql, cf_node_errmsg(w->nodes[i].node));
  int rc;
  cf_value vals[CF_SCHEMA_MAX_COLS + 1];
  while ((rc = cf_stmt_step(st)) == CF_OK) {
    for (unsigned c = 0; c < t->ncols; c++) {
      switch (cf_stmt_column_type(st, (int)c)) {
        case CF_COL_NULL:
          vals[c] = cf__value_null();
          break;
        case CF_COL_INTEGER:
          vals[c] = cf__value_int(cf_stmt_column_int64(st, (int)c));
          break;
        default: {
          const char *s = cf_stmt_column_text(st, (int)c);
          vals[c] = cf__value_text(s ? s : "", s ? strlen(s) : 0);
        }
      }
    }
    if (rows_add(out, t, vals) != 0) {
      cf_stmt_finalize(st);
      return sim_error(w, "out of memory");
    }
  }
  cf_stmt_finalize(st);
  if (rc != CF_DONE) return sim_error(w, "%s: %s", sql, cf_node_errmsg(w->nodes[i].node));
  return 0;
}

/* Rows a node keeps in its conflicts table: "table/id". */
typedef struct conflict_rows {
  char (*keys)[96];
  size_t n, cap;
  int64_t *seqs;
  int *has_msg;
} conflict_rows;

static int conflict_cb(void *ctx, const cf_conflict_info *c) {
  conflict_rows *r = ctx;
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 32;
    void *a = realloc(r->keys, cap * sizeof *r->keys), *b = NULL, *d = NULL;
    if (a) r->keys = a;
    if (a) b = realloc(r->seqs, cap * sizeof *r->seqs);
    if (b) r->seqs = b;
    if (b) d = realloc(r->has_msg, cap * sizeof *r->has_msg);
    if (d) r->has_msg = d;
    if (!d) return 1;
    r->cap = cap;
  }
  snprintf(r->keys[r->n], sizeof r->keys[0], "%s/%s", c->table, c->row_id);
  r->seqs[r->n] = c->seq;
  r->has_msg[r->n] = c->message && c->message[0];
  r->n++;
  return 0;
}

static int in_conflicts(const conflict_rows *r, const char *table, const char *id) {
  char key[96];
  snprintf(key, sizeof key, "%s/%s", table, id);
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->keys[i], key) == 0) return 1;
  return 0;
}

/* Invariant 1 for node i. */
static int check_node_equals_master(sim_world *w, int i, const conflict_rows *cr) {
  sim_node *n = &w->nodes[i];
  for (unsigned tn = 0; tn < CF_SCHEMA_NTABLES; tn++) {
    if (!compared(tn)) continue;
    const cf_table *t = cf__schema_table(tn);
    row_list m = {0}, r = {0};
    int rc = master_rows(w, t, w->orgs[n->org].id, w->users[n->user].id, &m);
    if (rc == 0) rc = replica_rows(w, i, t, &r);
    size_t a = 0, b = 0;
    while (rc == 0 && (a < m.n || b < r.n)) {
      int cmp = a >= m.n ? 1 : b >= r.n ? -1 : strcmp(m.ids[a], r.ids[b]);
      const char *id = cmp <= 0 ? m.ids[a] : r.ids[b];
      int skip = in_conflicts(cr, t->name, id);
      if (cmp < 0) {
        if (!skip)
          rc = sim_violation(w, "%s (%s of %s) lacks %s row %s the master has: %s",
                             n->name, w->users[n->user].name, w->orgs[n->org].name,
                             t->name, id, m.text[a]);
        a++;
      } else if (cmp > 0) {
        if (!skip)
          rc = sim_violation(
              w, "%s (%s of %s) has %s row %s the master does not show: %s", n->name,
              w->users[n->user].name, w->orgs[n->org].name, t->name, id, r.text[b]);
        b++;
      } else {
        if (!skip && (m.len[a] != r.len[b] || memcmp(m.enc[a], r.enc[b], m.len[a]) != 0))
          rc = sim_violation(w,
                             "%s (%s of %s) and the master differ on %s row %s:\n"
                             "    replica: %s\n    master:  %s",
                             n->name, w->users[n->user].name, w->orgs[n->org].name,
                             t->name, id, r.text[b], m.text[a]);
        a++;
        b++;
      }
    }
    rows_free(&m);
    rows_free(&r);
    if (rc != 0) return -1;
  }
  return 0;
}

/* --- acknowledged writes --------------------------------------------------------- */

/* Was row a->id acknowledged with deleted = 1 by the same node? */
static int born_deleted(const sim_world *w, const sim_ack *a) {
  const cf_table *t = cf__schema_table(a->table);
  for (size_t k = 0; k < w->nacks; k++) {
    const sim_ack *b = &w->acks[k];
    if (b->table == a->table && b->col == t->ncols && strcmp(b->id, a->id) == 0 &&
        b->val_len == 9 && b->val[0] == 1 && b->val[8] == 1)
      return 1;
  }
  return 0;
}

static int check_acks(sim_world *w) {
  char sql[1024];
  for (size_t k = 0; k < w->nacks; k++) {
    const sim_ack *a = &w->acks[k];
    const cf_table *t = cf__schema_table(a->table);
    const sim_node *n = &w->nodes[a->node];
    const char *org = w->orgs[n->org].id;
    int is_del = a->col == t->ncols;
    snprintf(
        sql, sizeof sql,
        "SELECT encode(cf_versions, 'hex'), %s%s%s FROM public.\"%s\" WHERE id = '%s'",
        is_del ? "" : "\"", is_del ? "0" : t->cols[a->col].name, is_del ? "" : "\"::text",
        t->name, a->id);
    cf__pg_res *res = NULL;
    if (cf__pg_query(w->admin, sql, 0, NULL, &res) != CF_OK)
      return sim_error(w, "ack check: %s", cf__pg_errmsg(w->admin));
    char vtext[CF_VER_TEXT_LEN];
    cf__ver_format(&a->ver, vtext);
    if (cf__pg_nrows(res) == 0) {
      cf__pg_res_free(res);
      snprintf(sql, sizeof sql,
               "SELECT encode(deleted_version, 'hex') FROM cf_sync.tombstones "
               "WHERE org_id = '%s' AND table_no = %u AND id = '%s'",
               org, a->table, a->id);
      char *v = NULL;
      int rc = cf__pg_query_text(w->admin, sql, 0, NULL, &v);
      cf__free(v);
      /* A row created and deleted before it was ever pushed arrives as one
      ** change with deleted = 1: the master answers applied and keeps
      ** nothing (nobody else ever saw it), so no tombstone either. */
      if (rc == CF_NOTFOUND && born_deleted(w, a)) continue;
      if (rc == CF_NOTFOUND)
        return sim_violation(w,
                             "acknowledged write lost: %s's %s row %s (cell %s @ %s) is "
                             "neither on the master nor deleted there",
                             n->name, t->name, a->id,
                             is_del ? "deleted" : t->cols[a->col].name, vtext);
      if (rc != CF_OK) return sim_error(w, "ack check: %s", cf__pg_errmsg(w->admin));
      continue;
    }
    const char *hex = cf__pg_value(res, 0, 0);
    const char *val = cf__pg_value(res, 0, 1);
    cf_ver mv;
    memset(&mv, 0, sizeof mv);
    if (hex && strlen(hex) >= (size_t)(a->col + 1) * CF_VER_LEN * 2)
      if (cf__hex_decode(hex + (size_t)a->col * CF_VER_LEN * 2, CF_VER_LEN * 2, mv.b) !=
          CF_OK)
        memset(&mv, 0, sizeof mv);
    int cmp = cf__ver_cmp(&mv, &a->ver);
    int bad = 0;
    if (cmp < 0) {
      bad = 1;
    } else if (cmp == 0) {
      cf_value in = is_del ? cf__value_int(0)
                    : val  ? cf__value_text(val, strlen(val))
                           : cf__value_null(),
               v;
      cf_buf canon, enc;
      cf__buf_init(&canon, (size_t)8 << 20);
      cf__buf_init(&enc, (size_t)8 << 20);
      if (!is_del && cf__value_canon(&t->cols[a->col], &in, &canon, &v) == CF_OK) in = v;
      if (cf__value_encode(&in, &enc) == CF_OK)
        bad = enc.len != a->val_len || memcmp(enc.p, a->val, enc.len) != 0;
      cf__buf_free(&canon);
      cf__buf_free(&enc);
    }
    if (bad) {
      char mtext[CF_VER_TEXT_LEN];
      cf__ver_format(&mv, mtext);
      char msg[600];
      snprintf(msg, sizeof msg, "%s", val ? val : "NULL");
      cf__pg_res_free(res);
      return sim_violation(w,
                           "acknowledged write lost: %s's %s row %s cell %s @ %s; the "
                           "master holds %s @ %s",
                           n->name, t->name, a->id,
                           is_del ? "deleted" : t->cols[a->col].name, vtext, msg, mtext);
    }
    cf__pg_res_free(res);
  }
  return 0;
}

/* --- digests -------------------------------------------------------------------- */

int sim_node_digest(sim_world *w, int i, uint8_t out[32]) {
  cf_buf b;
  cf__buf_init(&b, (size_t)512 << 20);
  int res = 0;
  for (unsigned tn = 0; tn < CF_SCHEMA_NTABLES && res == 0; tn++) {
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT * FROM \"cf_%s\" ORDER BY id",
             cf__schema_table(tn)->name);
    cf_stmt *st = NULL;
    sim_set_actor(w, i);
    if (cf_node_prepare(w->nodes[i].node, sql, &st) != CF_OK) {
      res = sim_error(w, "digest: %s", cf_node_errmsg(w->nodes[i].node));
      break;
    }
    while (res == 0 && cf_stmt_step(st) == CF_OK) {
      for (int c = 0; c < cf_stmt_column_count(st); c++) {
        const char *name = cf_stmt_column_name(st, c);
        if (strcmp(name, "rid") == 0 || (name[0] == '_' && strcmp(name, "_v") != 0))
          continue;
        size_t len = 0;
        const void *p = cf_stmt_column_blob(st, c, &len);
        int type = cf_stmt_column_type(st, c);
        if (cf__buf_putc(&b, (char)type) != CF_OK ||
            (len && cf__buf_append(&b, p, len) != CF_OK) || cf__buf_putc(&b, 0) != CF_OK)
          res = sim_error(w, "digest: too big");
      }
    }
    cf_stmt_finalize(st);
  }
  if (res == 0) cf__sha256(b.p, b.len, out);
  cf__buf_free(&b);
  return res;
}

int sim_master_digest(sim_world *w, int org, uint8_t out[32]) {
  char sql[4096];
  size_t o = 0;
  o += (size_t)snprintf(
      sql + o, sizeof sql - o,
      "SELECT md5((SELECT head_seq::text FROM cf_sync.org_clock WHERE org_id = "
      "'%s')",
      w->orgs[org].id);
  for (unsigned tn = 0; tn < CF_SCHEMA_NTABLES; tn++) {
    if (tn == 1) continue;
    const char *name = cf__schema_table(tn)->name;
    o += (size_t)snprintf(
        sql + o, sizeof sql - o,
        " || coalesce((SELECT string_agg(x::text, '|' ORDER BY x.id) FROM "
        "public.\"%s\" x WHERE %s = '%s'), '')",
        name, tn == 0 ? "id" : "org_id", w->orgs[org].id);
  }
  snprintf(sql + o, sizeof sql - o,
           " || coalesce((SELECT string_agg(t::text, '|' ORDER BY t.table_no, t.id) FROM "
           "cf_sync.tombstones t WHERE org_id = '%s'), ''))",
           w->orgs[org].id);
  char *v = NULL;
  sim_set_actor(w, -1);
  if (cf__pg_query_text(w->admin, sql, 0, NULL, &v) != CF_OK)
    return sim_error(w, "master digest: %s", cf__pg_errmsg(w->admin));
  memset(out, 0, 32);
  if (v) memcpy(out, v, strlen(v) < 32 ? strlen(v) : 32);
  cf__free(v);
  return 0;
}

/* --- the quiet checks ------------------------------------------------------------- */

/* Is node i's user a member of its org on the master now?  1, 0, -1. */
static int is_member(sim_world *w, int i) {
  char sql[512], v[16];
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM memberships WHERE org_id = '%s' AND user_id = '%s'",
           w->orgs[w->nodes[i].org].id, w->users[w->nodes[i].user].id);
  if (sim_master_text(w, sql, v, sizeof v) != 0) return sim_error(w, "membership: %s", v);
  return strcmp(v, "0") != 0;
}

int sim_check_quiet(sim_world *w) {
  if (sim_check_isolation(w) != 0) return -1;
  for (int i = 0; i < w->nnodes; i++) {
    sim_node *n = &w->nodes[i];
    /* A user whose membership was deleted through sync (an owner or admin
    ** removing one) is not a member any more: the replica keeps its data
    ** and must know it lost access (DESIGN 9); nothing else applies. */
    int member = is_member(w, i);
    if (member < 0) return -1;
    if (!member) {
      char why[512] = "";
      if (cf_node_setting_get(n->node, "access_revoked", why, sizeof why) != CF_OK ||
          !why[0])
        return sim_violation(
            w,
            "%s: %s is no longer a member of %s, but the replica does not "
            "know it lost access",
            n->name, w->users[n->user].name, w->orgs[n->org].name);
      continue;
    }
    conflict_rows cr = {0};
    if (cf_node_conflicts_list(n->node, 1000000, conflict_cb, &cr) != CF_OK) {
      free(cr.keys);
      free(cr.seqs);
      free(cr.has_msg);
      return sim_error(w, "conflicts list");
    }
    int rc = check_node_equals_master(w, i, &cr);
    /* 3: outbox empty; rejections in the conflicts table with a reason. */
    int64_t outbox = -1;
    if (rc == 0 && (cf_node_outbox_count(n->node, &outbox) != CF_OK || outbox != 0))
      rc = sim_violation(w, "%s: %" PRId64 " changes still in the outbox", n->name,
                         outbox);
    for (size_t k = 0; rc == 0 && k < w->noutcomes; k++) {
      const sim_outcome *o = &w->outcomes[k];
      if (o->node != i || o->status != CF_PUSH_REJECTED || o->fk) continue;
      int found = 0;
      for (size_t j = 0; j < cr.n && !found; j++)
        if (cr.seqs[j] == o->seq) found = cr.has_msg[j] ? 1 : 2;
      if (found != 1)
        rc = sim_violation(w, "%s: rejected change %" PRId64 " (%s %s) is %s", n->name,
                           o->seq, cf__schema_table(o->table)->name, o->id,
                           found ? "in the conflicts table without a reason"
                                 : "not in the conflicts table");
    }
    free(cr.keys);
    free(cr.seqs);
    free(cr.has_msg);
    if (rc != 0) return -1;
    /* 4: the cursor at the head. */
    int64_t cursor = -1;
    char head[64], sql[256];
    snprintf(sql, sizeof sql,
             "SELECT head_seq FROM cf_sync.org_clock WHERE org_id = '%s'",
             w->orgs[n->org].id);
    if (cf__store_cursor(n->node, &cursor) != CF_OK ||
        sim_master_text(w, sql, head, sizeof head))
      return sim_error(w, "cursor");
    if (cursor != strtoll(head, NULL, 10))
      return sim_violation(w, "%s: cursor %" PRId64 " is not the org's head %s", n->name,
                           cursor, head);
  }
  if (check_acks(w) != 0) return -1;
  /* 5: replays change nothing. */
  for (int i = 0; i < w->nnodes; i++)
    if (sim_transport_memory.replay(w, i) != 0) return -1;
  return 0;
}
