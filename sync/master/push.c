/*
** sync/master/push.c: a batch of changes pushed by a node, applied on the
** master as the user (see sync/master/master_sync.h; design in
** docs/master-sync.md, "Push" and "Batches").
**
** A push, step by step (one transaction, as the user):
**
**   1. validate each change in C (table, key, org, canonical values,
**      versions, clock skew): bad ones are rejected "invalid" / "wrong_org";
**   2. group the valid changes by row key (a batch may touch a row twice);
**   3. cf_sync.push_begin: membership, the pushes of this (org, node,
**      user) serialised, what the batch is (new, a replay, or a stale or
**      reused number: docs/master-sync.md, "Batches").  No org-wide lock;
**   4. per table, read the existing rows (a join of the keys with the
**      table), which existing rows RLS hides, and the tombstones of the
**      missing ones (rows that carry every cell are taken to be new: only
**      their tombstones are read, new_rows_group).  No lock: the UPDATEs
**      of step 6 set a cell only if its pushed
**      version is not older than the one the row holds as it is written,
**      so a write committed since the read is never overwritten by an
**      older version (docs/master-sync.md, "Why a push holds the clock
**      only for its stamp");
**   5. merge every change into its row with core's cf__merge (the same
**      function the replicas use), in batch order; refuse rows the push
**      would create without every cell;
**   6. cf_sync.push_reserve (the org clock row lock, one cursor position
**      per row to write, published in cf.push_seq_lo for the stamp
**      triggers), then ONE statement per table and operation over unnest()
**      arrays (INSERT new rows and UPDATE changed rows in table order, then
**      UPDATE + DELETE deleted rows in reverse table order), then
**   7. record (org, node, user) -> (batch seq, digest, results) and commit:
**      6 and 7 are one pipelined round trip, so the clock lock is held only
**      while Postgres runs them.  If any statement fails there, the push is
**      rolled back and run again with each statement under a SAVEPOINT: a
**      statement that fails for a row's data is split in halves until the
**      offending rows are alone, so one bad row never sinks the rest.
**
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/hlc.h"
#include "core/merge.h"
#include "platform/plant.h"
#include "platform/platform.h"
#include "sync/master/master_sync_int.h"

/* The text of key cell k of row (uuid text, NUL-terminated in arena or in
** the caller's change), or NULL. */
static const char *key_text(const cf_row *row, unsigned k) {
  const cf_cell *c = cf__row_cell(row, row->table->key[k]);
  if (c == NULL || c->value.kind != CF_VALUE_TEXT) return NULL;
  return c->value.p;
}

/* Most array parameters of one statement: the columns, then versions, seq,
** the seq read and the cells taken (cf__sql_update_params). */
#define CF_PUSH_MAX_PARAMS (CF_SCHEMA_MAX_COLS + 4)

/* A row's identity, for sorting and grouping. */
typedef struct rowkey {
  const cf_table *t; /* its table */
  char key[2][37];   /* key uuids as text (org_id, id; or id, "") */
} rowkey;

/* One distinct row of the batch. */
typedef struct prow {
  const cf_table *t;               /* its table */
  char key[2][37];                 /* key uuids as text (org_id, id; or id, "") */
  cf_row local;                    /* master state, merged with the batch's changes */
  int existed;                     /* a live row exists in the master (read) */
  int tomb;                        /* a tombstone was found (existed == 0) */
  int changed;                     /* some change took a cell: it must be written */
  uint64_t took;                   /* the cells the batch's changes took */
  int rejected;                    /* the write was refused */
  cf_reject_reason reason;         /* why */
  char detail[CF_PUSH_DETAIL_LEN]; /* constraint name or message */
  uint64_t seq;                    /* the cursor position it is written with */
  char seq_read[24];               /* the row's cf_seq as read (existed), "" if none */
} prow;

/* State of one push. */
typedef struct push_ctx {
  cf__pg *pg;                        /* the connection */
  const cf_change *changes;          /* the batch */
  size_t n;                          /* its size */
  cf__push_result *results;          /* answers */
  size_t *row_of;                    /* change i -> prow index, or SIZE_MAX (invalid) */
  prow *rows;                        /* distinct rows */
  size_t nrows;                      /* count of rows */
  cf__arena mem;                     /* bytes of the master's rows */
  cf_buf tmp;                        /* scratch for conversions */
  cf_buf sql;                        /* the statement being run */
  cf_buf params[CF_PUSH_MAX_PARAMS]; /* array parameters */
} push_ctx;

static void set_result(cf__push_result *r, cf_push_status s, cf_reject_reason why,
                       const char *detail) {
  r->status = s;
  r->reason = why;
  snprintf(r->detail, sizeof r->detail, "%s", detail ? detail : "");
  for (char *p = r->detail; *p; p++)
    if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
}

/*
** Checks one change.  OUT: why and detail on rejection.  Returns 1 if valid.
*/
static int validate_change(const cf_change *c, const char *org, int64_t now_ms,
                           cf_buf *tmp, cf_reject_reason *why, const char **detail) {
  const cf_table *t = c->table;
  *why = CF_REASON_INVALID;
  if (t == NULL || cf__schema_table(t->number) != t) {
    *detail = "unknown table";
    return 0;
  }
  if ((c->present & ~cf__schema_mask_all(t)) != 0) {
    *detail = "cell out of range";
    return 0;
  }
  for (unsigned k = 0; k < t->nkey; k++) {
    const cf_cell *cell = cf__row_cell(c, t->key[k]);
    char canon[37];
    if (cell == NULL || cell->value.kind != CF_VALUE_TEXT || cell->value.n != 36 ||
        cf__canon_uuid(cell->value.p, cell->value.n, canon) != CF_OK ||
        memcmp(canon, cell->value.p, 36) != 0) {
      *detail = "missing or malformed key";
      return 0;
    }
  }
  /* The row's org: org_id of tenant rows, id of the organizations row. */
  const cf_cell *orgcell = NULL;
  if (t->org_col >= 0)
    orgcell = cf__row_cell(c, (unsigned)t->org_col);
  else if (t->number == 0)
    orgcell = cf__row_cell(c, (unsigned)t->id_col);
  if (orgcell != NULL && memcmp(orgcell->value.p, org, 36) != 0) {
    *why = CF_REASON_WRONG_ORG;
    *detail = "row belongs to another organization";
    return 0;
  }
  if ((c->present & cf__schema_mask_data(t)) == 0) {
    *detail = "change carries no cell";
    return 0;
  }
  for (unsigned i = 0; i <= t->ncols; i++) {
    if (!(c->present & CF_COL_BIT(i)) || (t->key_mask & CF_COL_BIT(i))) continue;
    const cf_cell *cell = &c->cells[i];
    if (cf__ver_is_zero(&cell->ver)) {
      *detail = "zero version";
      return 0;
    }
    if (CF_HLC_MS(cf__ver_hlc(&cell->ver)) > now_ms + CF_PUSH_MAX_SKEW_MS) {
      *detail = "version too far in the future (clock skew)";
      return 0;
    }
    if (i == t->ncols) {
      if (cell->value.kind != CF_VALUE_INT ||
          (cell->value.i != 0 && cell->value.i != 1)) {
        *detail = "deleted must be 0 or 1";
        return 0;
      }
      continue;
    }
    cf_value out;
    int rc = cf__value_canon(&t->cols[i], &cell->value, tmp, &out);
    if (rc == CF_CONSTRAINT) continue; /* NULL in a NOT NULL column: let Postgres say */
    if (rc != CF_OK || !cf__value_equal(&out, &cell->value)) {
      *detail = "value not in canonical form";
      return 0;
    }
  }
  return 1;
}

static int cmp_key(const rowkey *a, const rowkey *b) {
  if (a->t->number != b->t->number) return a->t->number < b->t->number ? -1 : 1;
  int c = strcmp(a->key[0], b->key[0]);
  return c ? c : strcmp(a->key[1], b->key[1]);
}

/* Groups the valid changes into distinct rows: ctx->rows, ctx->row_of. */
static int group_rows(push_ctx *ctx) {
  size_t n = ctx->n, nvalid = 0;
  int rc = CF_OK;
  rowkey *keys = cf__calloc(n ? n : 1, sizeof *keys);
  size_t *idx = cf__calloc(n ? n : 1, sizeof *idx);
  ctx->rows = cf__calloc(n ? n : 1, sizeof *ctx->rows);
  if (keys == NULL || idx == NULL || ctx->rows == NULL) {
    rc = CF_NOMEM;
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    if (ctx->row_of[i] != SIZE_MAX) continue;
    const cf_change *c = &ctx->changes[i];
    keys[i].t = c->table;
    for (unsigned k = 0; k < c->table->nkey; k++)
      memcpy(keys[i].key[k], key_text(c, k), 36);
    idx[nvalid++] = i;
  }
  {
    /* Bottom-up merge sort of idx[0..nvalid) by (key, index). */
    size_t *tmp = cf__malloc((nvalid ? nvalid : 1) * sizeof *tmp);
    if (tmp == NULL) {
      rc = CF_NOMEM;
      goto out;
    }
    for (size_t w = 1; w < nvalid; w *= 2) {
      for (size_t lo = 0; lo < nvalid; lo += 2 * w) {
        size_t mid = lo + w < nvalid ? lo + w : nvalid;
        size_t hi = lo + 2 * w < nvalid ? lo + 2 * w : nvalid;
        size_t a = lo, b = mid, o = lo;
        while (a < mid && b < hi) {
          int c = cmp_key(&keys[idx[a]], &keys[idx[b]]);
          if (c < 0 || (c == 0 && idx[a] < idx[b]))
            tmp[o++] = idx[a++];
          else
            tmp[o++] = idx[b++];
        }
        while (a < mid)
          tmp[o++] = idx[a++];
        while (b < hi)
          tmp[o++] = idx[b++];
      }
      memcpy(idx, tmp, nvalid * sizeof *idx);
    }
    cf__free(tmp);
  }
  for (size_t j = 0; j < nvalid; j++) {
    size_t i = idx[j];
    if (ctx->nrows == 0 || cmp_key(&keys[idx[j - 1]], &keys[i]) != 0) {
      prow *r = &ctx->rows[ctx->nrows++];
      r->t = keys[i].t;
      memcpy(r->key, keys[i].key, sizeof r->key);
      cf__row_init(&r->local, r->t);
    }
    ctx->row_of[i] = ctx->nrows - 1;
  }
out:
  cf__free(keys);
  cf__free(idx);
  return rc;
}

/* Builds the array parameter literal "{"a","b"}" of key k over rows[idx]. */
static int params_reset(push_ctx *ctx, unsigned count) {
  for (unsigned i = 0; i < count; i++) {
    cf__buf_reset(&ctx->params[i]);
    int rc = cf__buf_putc(&ctx->params[i], '{');
    if (rc != CF_OK) return rc;
  }
  return CF_OK;
}

static int params_close(push_ctx *ctx, unsigned count, const char **pv) {
  for (unsigned i = 0; i < count; i++) {
    int rc = cf__buf_putc(&ctx->params[i], '}');
    if (rc != CF_OK) return rc;
    pv[i] = ctx->params[i].p;
  }
  return CF_OK;
}

static int param_sep(cf_buf *b) { return b->len > 1 ? cf__buf_putc(b, ',') : CF_OK; }

/* Appends the key of r to params 0..nkey-1. */
static int params_add_key(push_ctx *ctx, const prow *r) {
  for (unsigned k = 0; k < r->t->nkey; k++) {
    int rc = param_sep(&ctx->params[k]);
    if (rc == CF_OK) rc = cf__buf_puts(&ctx->params[k], r->key[k]);
    if (rc != CF_OK) return rc;
  }
  return CF_OK;
}

/* Appends the columns in mask of r's merged row (params 0.. in column
** order), then every cell's version and (tables with cf_seq) its seq, then
** for an UPDATE (sh) the cf_seq read and, when the rows of the statement
** took different cells, the cells r took (cf__sql_update_params). */
static int params_add_row(push_ctx *ctx, const prow *r, uint64_t mask,
                          const cf__update_shape *sh) {
  const cf_table *t = r->t;
  unsigned k = 0;
  int rc;
  for (unsigned i = 0; i < t->ncols; i++) {
    if (!(mask & CF_COL_BIT(i))) continue;
    cf_buf *b = &ctx->params[k++];
    const cf_cell *c = cf__row_cell(&r->local, i);
    cf_value nul = cf__value_null();
    if ((rc = param_sep(b)) != CF_OK) return rc;
    rc = cf__pg_append_element(b, &t->cols[i], c ? &c->value : &nul, &ctx->tmp);
    if (rc != CF_OK) return rc;
  }
  cf_buf *v = &ctx->params[k++];
  if ((rc = param_sep(v)) != CF_OK) return rc;
  for (unsigned i = 0; i <= t->ncols; i++) {
    const cf_cell *c = cf__row_cell(&r->local, i);
    static const unsigned char zero[CF_VER_LEN];
    const unsigned char *ver =
        (c != NULL && !(t->key_mask & CF_COL_BIT(i))) ? c->ver.b : zero;
    if ((rc = cf__pg_append_hex(v, ver, CF_VER_LEN)) != CF_OK) return rc;
  }
  char num[32];
  if (cf__sql_has_seq(t)) {
    snprintf(num, sizeof num, "%llu", (unsigned long long)r->seq);
    cf_buf *s = &ctx->params[k++];
    if ((rc = param_sep(s)) != CF_OK) return rc;
    if ((rc = cf__buf_puts(s, num)) != CF_OK) return rc;
    if (sh != NULL) {
      cf_buf *o = &ctx->params[k++];
      if ((rc = param_sep(o)) != CF_OK) return rc;
      rc = cf__buf_puts(o, r->seq_read[0] ? r->seq_read : "NULL");
      if (rc != CF_OK) return rc;
    }
  }
  if (sh != NULL && sh->took_any != sh->took_all) {
    snprintf(num, sizeof num, "%lld", (long long)r->took);
    cf_buf *m = &ctx->params[k++];
    if ((rc = param_sep(m)) != CF_OK) return rc;
    if ((rc = cf__buf_puts(m, num)) != CF_OK) return rc;
  }
  return CF_OK;
}

/*
** Is this failure caused by the data of the rows (reject them, alone) rather
** than by the session or the database (fail the push, the node retries)?
**   42501          RLS or privileges                    permission
**   23503          a foreign key (or a row naming a non-member)  foreign_key
**   23xxx          unique, check, not null, key immutability  constraint
**   22xxx          a value Postgres refuses (range, JSON, encoding)
**   54xxx          a program limit hit by a value (index row size,
**                  too many array elements, string too long)
**   57014          a statement timeout while writing the rows
**   P0001, 42804   a trigger's exception, a datatype mismatch  invalid
** Everything else -- connection (08), deadlock and serialization (40),
** shutdown (57P), resources (53) -- fails the whole push.
*/
static int row_level_failure(const char *state, cf_reject_reason *why) {
  if (strcmp(state, "42501") == 0)
    *why = CF_REASON_PERMISSION;
  else if (strcmp(state, "23503") == 0)
    *why = CF_REASON_FOREIGN_KEY;
  else if (strncmp(state, "23", 2) == 0)
    *why = CF_REASON_CONSTRAINT;
  else if (strncmp(state, "22", 2) == 0 || strncmp(state, "54", 2) == 0 ||
           strcmp(state, "57014") == 0 || strcmp(state, "P0001") == 0 ||
           strcmp(state, "42804") == 0)
    *why = CF_REASON_INVALID;
  else
    return 0;
  return 1;
}

/* The constraint named in a failure message (first quoted name after
** "constraint "), else the message itself. */
static void failure_detail(const char *msg, char *out, size_t outlen) {
  const char *p = strstr(msg, "constraint \"");
  if (p != NULL) {
    p += strlen("constraint \"");
    const char *e = strchr(p, '"');
    if (e != NULL) {
      snprintf(out, outlen, "%.*s", (int)(e - p), p);
      return;
    }
  }
  snprintf(out, outlen, "%s", msg);
}

static int sp_exec(push_ctx *ctx, const char *what) { return cf__pg_exec(ctx->pg, what); }

/* Builds kind's statement for rows[idx[0..n)] of table t into ctx->sql
** and ctx->params.  An UPDATE sets only the columns some change of the
** group took.  OUT: pv[0..*np), the parameters (ctx->params' bytes). */
static int build_group_stmt(push_ctx *ctx, const cf_table *t, cf__stmt_kind kind,
                            const size_t *idx, size_t n, const char **pv,
                            unsigned *np_out) {
  uint64_t mask = t->key_mask;
  cf__update_shape shape = {0, ~(uint64_t)0};
  const cf__update_shape *sh = NULL;
  unsigned np;
  if (kind == CF__STMT_INSERT) {
    mask = cf__schema_mask_columns(t);
    np = cf__schema_mask_count(mask) + (cf__sql_has_seq(t) ? 2u : 1u);
  } else if (kind == CF__STMT_UPDATE) {
    for (size_t j = 0; j < n; j++) {
      uint64_t took = ctx->rows[idx[j]].took & ~t->key_mask;
      shape.took_any |= took;
      shape.took_all &= took;
    }
    if (n == 0) shape.took_all = 0;
    sh = &shape;
    mask |= shape.took_any & cf__schema_mask_columns(t);
    np = cf__sql_update_params(t, sh);
  } else {
    np = cf__schema_mask_count(mask);
  }
  int rc = cf__sql_build_stmt(&ctx->sql, t, kind, mask, sh);
  if (rc == CF_OK) rc = params_reset(ctx, np);
  for (size_t j = 0; j < n && rc == CF_OK; j++) {
    const prow *r = &ctx->rows[idx[j]];
    rc = kind == CF__STMT_DELETE ? params_add_key(ctx, r)
                                 : params_add_row(ctx, r, mask, sh);
  }
  if (rc == CF_OK) rc = params_close(ctx, np, pv);
  *np_out = np;
  return rc;
}

/* Runs kind's statement for rows[idx[0..n)] of table t.  OUT: *res. */
static int run_group_stmt(push_ctx *ctx, const cf_table *t, cf__stmt_kind kind,
                          const size_t *idx, size_t n, cf__pg_res **res) {
  const char *pv[CF_PUSH_MAX_PARAMS];
  unsigned np = 0;
  int rc = build_group_stmt(ctx, t, kind, idx, n, pv, &np);
  if (rc != CF_OK) return rc;
  return cf__pg_query(ctx->pg, ctx->sql.p, (int)np, pv, res);
}

/* Marks rows[idx[j]] whose id is not among res's first column as refused
** (RLS USING filtered them silently).  Returns how many were missing. */
static size_t mark_missing(push_ctx *ctx, const size_t *idx, size_t n,
                           const cf__pg_res *res) {
  size_t missing = 0;
  int nr = cf__pg_nrows(res);
  /* Keys in a group are distinct: all there iff the counts match. */
  if ((size_t)nr == n) return 0;
  for (size_t j = 0; j < n; j++) {
    prow *r = &ctx->rows[idx[j]];
    const char *id = r->key[r->t->nkey - 1];
    int found = 0;
    for (int k = 0; k < nr && !found; k++)
      found = strcmp(cf__pg_value(res, k, 0), id) == 0;
    if (!found) {
      r->rejected = 1;
      r->reason = CF_REASON_PERMISSION;
      snprintf(r->detail, sizeof r->detail, "row-level security refused the write");
      missing++;
    }
  }
  return missing;
}

/* Does the user see r's row now (a fresh read, after a failed insert)? */
static int row_visible(push_ctx *ctx, const cf_table *t, const prow *r) {
  cf__pg_res *res = NULL;
  char *sql = cf__mprintf("SELECT 1 FROM public.\"%s\" AS t WHERE t.id = $1::uuid%s",
                          t->name, t->tenant ? " AND t.org_id = $2::uuid" : "");
  const char *pv[2] = {r->key[t->nkey - 1], r->key[0]};
  int seen = sql != NULL &&
             cf__pg_query(ctx->pg, sql, t->tenant ? 2 : 1, pv, &res) == CF_OK &&
             cf__pg_nrows(res) > 0;
  cf__pg_res_free(res);
  cf__free(sql);
  return seen;
}

/*
** Writes rows[idx[0..n)] of table t with op (INSERT, UPDATE, or DELETE =
** UPDATE then DELETE) under a savepoint; splits the group on row-level
** failures until each bad row is alone and rejected.
*/
static int write_group(push_ctx *ctx, const cf_table *t, cf__stmt_kind op, size_t *idx,
                       size_t n) {
  cf__pg_res *res = NULL;
  int rc;
  if (n == 0) return CF_OK;
  if ((rc = sp_exec(ctx, "SAVEPOINT cf_w")) != CF_OK) return rc;
  size_t missing = 0;
  rc = run_group_stmt(ctx, t, op == CF__STMT_INSERT ? CF__STMT_INSERT : CF__STMT_UPDATE,
                      idx, n, &res);
  if (rc == CF_OK && op != CF__STMT_INSERT) missing = mark_missing(ctx, idx, n, res);
  cf__pg_res_free(res);
  res = NULL;
  if (rc == CF_OK && op == CF__STMT_DELETE && missing == 0) {
    rc = run_group_stmt(ctx, t, CF__STMT_DELETE, idx, n, &res);
    if (rc == CF_OK) missing = mark_missing(ctx, idx, n, res);
    cf__pg_res_free(res);
  }
  if (rc == CF_OK && missing == 0) return sp_exec(ctx, "RELEASE SAVEPOINT cf_w");

  cf_reject_reason why = CF_REASON_NONE;
  char detail[CF_PUSH_DETAIL_LEN];
  if (rc != CF_OK) {
    if (!row_level_failure(cf__pg_sqlstate(ctx->pg), &why)) return rc; /* session-level */
    failure_detail(cf__pg_errmsg(ctx->pg), detail, sizeof detail);
  }
  int rc2 = sp_exec(ctx, "ROLLBACK TO SAVEPOINT cf_w");
  if (rc2 == CF_OK) rc2 = sp_exec(ctx, "RELEASE SAVEPOINT cf_w");
  if (rc2 != CF_OK) return rc2;
  if (rc == CF_OK) {
    /* Some rows were filtered by RLS: write the others again. */
    size_t m = 0;
    for (size_t j = 0; j < n; j++)
      if (!ctx->rows[idx[j]].rejected) idx[m++] = idx[j];
    return write_group(ctx, t, op, idx, m);
  }
  if (n == 1) {
    prow *r = &ctx->rows[idx[0]];
    char pkey[80];
    snprintf(pkey, sizeof pkey, "%s_pkey", t->name);
    r->rejected = 1;
    r->reason = why;
    snprintf(r->detail, sizeof r->detail, "%s", detail);
    if (op == CF__STMT_INSERT && why == CF_REASON_CONSTRAINT &&
        strcmp(detail, pkey) == 0) {
      /* The row exists but the read did not return it: RLS hides it from
      ** the user (existing_ids normally catches this first), or another
      ** writer created it since the read (pushes of one org read without
      ** a lock since 008): then the push fails and the node retries it,
      ** and the retry merges into that row. */
      if (row_visible(ctx, t, r))
        return cf__pg_fail(ctx->pg, CF_BUSY,
                           "push: %s row %s was created "
                           "concurrently; retry",
                           t->name, r->key[t->nkey - 1]);
      r->reason = CF_REASON_PERMISSION;
      snprintf(r->detail, sizeof r->detail, "row-level security refused the write");
    }
    return CF_OK;
  }
  size_t half = n / 2;
  if ((rc = write_group(ctx, t, op, idx, half)) != CF_OK) return rc;
  return write_group(ctx, t, op, idx + half, n - half);
}

/* The cf_seq of result row k, column col (binary: a big-endian int8) as
** decimal text into out, "" when NULL (users rows have none). */
static void read_seq(const cf__pg_res *res, int k, int col, char out[24]) {
  size_t n;
  const unsigned char *p = (const unsigned char *)cf__pg_bytes(res, k, col, &n);
  out[0] = '\0';
  if (p == NULL || n != 8 || !cf__pg_is_binary(res, col)) return;
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | p[i];
  snprintf(out, 24, "%lld", (long long)v);
}

/* Reads the existing rows of table t among rows[lo..hi) into the prows
** (load_rows). */
static int read_rows(push_ctx *ctx, const char *org, size_t lo, size_t hi) {
  const cf_table *t = ctx->rows[lo].t;
  const char *pv[2];
  cf__pg_res *res = NULL;
  /* Values are needed only for the columns the batch carries: the merge
  ** compares values only on equal versions of a carried cell, and an UPDATE
  ** writes only columns some change took.  The others are read as NULL
  ** (never written back); every version is read. */
  uint64_t need = 0;
  for (size_t i = 0; i < ctx->n; i++)
    if (ctx->row_of[i] != SIZE_MAX && ctx->rows[ctx->row_of[i]].t == t)
      need |= ctx->changes[i].present;
  int rc = cf__sql_build_stmt(&ctx->sql, t, CF__STMT_LOCK,
                              need & cf__schema_mask_columns(t), NULL);
  if (rc == CF_OK) rc = params_reset(ctx, 1);
  for (size_t i = lo; i < hi && rc == CF_OK; i++) {
    rc = param_sep(&ctx->params[0]);
    if (rc == CF_OK) rc = cf__buf_puts(&ctx->params[0], ctx->rows[i].key[t->nkey - 1]);
  }
  if (rc == CF_OK) rc = params_close(ctx, 1, &pv[1]);
  pv[0] = org;
  /* Binary results: the versions come as their raw bytes (half of hex, no
  ** encoding on the server nor decoding here), cf_seq as 8 bytes. */
  const char *sqls[1] = {ctx->sql.p};
  if (rc == CF_OK)
    rc = cf__pg_query_many_binary(ctx->pg, 1, sqls, t->tenant ? 2 : 1,
                                  t->tenant ? pv : pv + 1, &res);
  if (rc != CF_OK) goto out;
  for (int k = 0; k < cf__pg_nrows(res); k++) {
    size_t idlen;
    const char *id = cf__pg_bytes(res, k, t->id_col, &idlen);
    if (id == NULL || idlen != 36) {
      rc = cf__pg_fail(ctx->pg, CF_CORRUPT, "push: read a malformed key");
      goto out;
    }
    /* rows[lo..hi) are sorted by key: binary search on the id (same org). */
    size_t a = lo, b = hi;
    while (a < b) {
      size_t m = a + (b - a) / 2;
      int c = strcmp(ctx->rows[m].key[t->nkey - 1], id);
      if (c == 0) {
        a = m;
        break;
      }
      if (c < 0)
        a = m + 1;
      else
        b = m;
    }
    if (a >= hi || strcmp(ctx->rows[a].key[t->nkey - 1], id) != 0) {
      rc = cf__pg_fail(ctx->pg, CF_CORRUPT, "push: read a row that was not asked for");
      goto out;
    }
    prow *r = &ctx->rows[a];
    r->existed = 1;
    read_seq(res, k, (int)t->ncols + 1, r->seq_read);
    rc = cf__pg_row_from_result(t, res, k, 0, &ctx->tmp, &ctx->mem, &r->local);
    if (rc == CF_CORRUPT) {
      /* A value stored before the master checked them (005): the row
      ** cannot be merged; its changes are refused, the rest goes on. */
      r->rejected = 1;
      r->reason = CF_REASON_INVALID;
      snprintf(r->detail, sizeof r->detail,
               "the master's row holds a value the replicas cannot hold");
      rc = CF_OK;
    } else if (rc != CF_OK) {
      cf__pg_fail(ctx->pg, rc, "push: cannot read %s row %s", t->name, id);
      goto out;
    }
  }
out:
  cf__pg_res_free(res);
  return rc;
}

/* Reads the existing rows of table t among rows[lo..hi) (and which missing
** ones exist but are hidden by RLS, and the tombstones of the others) into
** the prows.  See step 4 at the top for why no lock is needed.  new_rows:
** the rows are taken to be new (new_rows_group): only their tombstones are
** read. */
static int load_rows(push_ctx *ctx, const char *org, size_t lo, size_t hi, int new_rows) {
  const cf_table *t = ctx->rows[lo].t;
  const char *pv[3];
  cf__pg_res *res = NULL;
  char *tsql = NULL, *tsql2 = NULL;
  int rc = new_rows ? CF_OK : read_rows(ctx, org, lo, hi);
  if (rc != CF_OK) goto out;

  /* Tombstones of the rows that do not exist. */
  if ((rc = params_reset(ctx, 1)) != CF_OK) goto out;
  size_t nmissing = 0;
  for (size_t i = lo; i < hi && rc == CF_OK; i++) {
    if (ctx->rows[i].existed) continue;
    nmissing++;
    rc = param_sep(&ctx->params[0]);
    if (rc == CF_OK) rc = cf__buf_puts(&ctx->params[0], ctx->rows[i].key[t->nkey - 1]);
  }
  if (rc != CF_OK || nmissing == 0) goto out;
  if ((rc = params_close(ctx, 1, &pv[2])) != CF_OK) goto out;
  char tno[8];
  snprintf(tno, sizeof tno, "%u", t->number);
  pv[0] = org;
  pv[1] = tno;
  /* Rows that exist but that the read did not return: RLS refuses the user
  ** that row (reading or updating it); they are rejected, not inserted.
  ** And the tombstones of the others.  Both in one round trip. */
  cf__pg_res *two[2] = {NULL, NULL};
  const char *sqls[2] = {NULL, NULL};
  if ((rc = cf__sql_named(CF__MASTER_SQL, "existing_ids", &tsql)) != CF_OK) goto out;
  if ((rc = cf__sql_named(CF__MASTER_SQL, "tombstones_for_keys", &tsql2)) != CF_OK)
    goto out;
  if (new_rows) {
    if ((rc = cf__pg_query(ctx->pg, tsql2, 3, pv, &two[1])) != CF_OK) goto out;
  } else {
    sqls[0] = tsql;
    sqls[1] = tsql2;
    if ((rc = cf__pg_query_many(ctx->pg, 2, sqls, 3, pv, two)) != CF_OK) goto out;
  }
  res = two[0];
  for (int k = 0; k < cf__pg_nrows(res); k++) {
    const char *id = cf__pg_value(res, k, 0);
    for (size_t i = lo; i < hi; i++) {
      prow *r = &ctx->rows[i];
      if (r->existed || strcmp(r->key[t->nkey - 1], id) != 0) continue;
      r->rejected = 1;
      r->reason = CF_REASON_PERMISSION;
      snprintf(r->detail, sizeof r->detail, "row-level security refused the write");
    }
  }
  cf__pg_res_free(res);
  res = two[1];
  for (int k = 0; k < cf__pg_nrows(res); k++) {
    const char *id = cf__pg_value(res, k, 0), *hex = cf__pg_value(res, k, 1);
    for (size_t i = lo; i < hi; i++) {
      prow *r = &ctx->rows[i];
      if (r->existed || strcmp(r->key[t->nkey - 1], id) != 0) continue;
      cf_ver ver;
      if (hex == NULL || strlen(hex) != CF__HEX_VER_LEN ||
          cf__hex_decode(hex, CF__HEX_VER_LEN, ver.b) != CF_OK) {
        rc = cf__pg_fail(ctx->pg, CF_CORRUPT, "push: bad tombstone version");
        goto out;
      }
      /* The key cells (borrowed from r->key) and deleted = 1. */
      for (unsigned kk = 0; kk < t->nkey; kk++) {
        cf_value v = cf__value_text(r->key[kk], 36);
        if ((rc = cf__row_set(&r->local, t->key[kk], &v, NULL)) != CF_OK) goto out;
      }
      cf__row_set_deleted(&r->local, 1, &ver);
      r->tomb = 1;
    }
  }
out:
  cf__pg_res_free(res);
  cf__free(tsql);
  cf__free(tsql2);
  return rc;
}

/* Formats the results as the text cf_sync.node_batches keeps: one line per
** change, "<status><reason> <detail>". */
static int results_text(const cf__push_result *res, size_t n, cf_buf *out) {
  int rc = CF_OK;
  char head[8];
  cf__buf_reset(out);
  for (size_t i = 0; i < n && rc == CF_OK; i++) {
    snprintf(head, sizeof head, "%d%d ", (int)res[i].status, (int)res[i].reason);
    rc = cf__buf_puts(out, head);
    if (rc == CF_OK) rc = cf__buf_puts(out, res[i].detail);
    if (rc == CF_OK) rc = cf__buf_putc(out, '\n');
  }
  return rc;
}

/* Parses results_text's format back.  Returns 1 on success. */
static int parse_results(const char *s, cf__push_result *res, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (s[0] < '0' || s[0] > '2' || s[1] < '0' || s[1] > '9' || s[2] != ' ') return 0;
    const char *e = strchr(s + 3, '\n');
    if (e == NULL) return 0;
    res[i].status = (cf_push_status)(s[0] - '0');
    res[i].reason = (cf_reject_reason)(s[1] - '0');
    snprintf(res[i].detail, sizeof res[i].detail, "%.*s", (int)(e - s - 3), s + 3);
    s = e + 1;
  }
  return *s == '\0';
}

static void push_ctx_free(push_ctx *ctx) {
  cf__free(ctx->row_of);
  cf__free(ctx->rows);
  cf__arena_free(&ctx->mem);
  cf__buf_free(&ctx->tmp);
  cf__buf_free(&ctx->sql);
  for (size_t i = 0; i < sizeof ctx->params / sizeof ctx->params[0]; i++)
    cf__buf_free(&ctx->params[i]);
}

/* Merges every valid change into its row, in batch order; sets results. */
static int merge_changes(push_ctx *ctx) {
  for (size_t i = 0; i < ctx->n; i++) {
    if (ctx->row_of[i] == SIZE_MAX) continue;
    prow *r = &ctx->rows[ctx->row_of[i]];
    const cf_change *c = &ctx->changes[i];
    cf_merge_result m;
    if (r->rejected) {
      set_result(&ctx->results[i], CF_PUSH_REJECTED, r->reason, r->detail);
      continue;
    }
    int was_tomb_hidden = r->tomb && cf__row_is_deleted(&r->local);
    int rc = cf__merge(&r->local, c, &m);
    if (rc != CF_OK) return rc;
    cf__merge_apply(&r->local, c, &m);
    if (m.take != 0) r->changed = 1;
    r->took |= m.take;
    int deleted_cell = (int)c->table->ncols;
    if (was_tomb_hidden && !m.visible && !(m.take & CF_COL_BIT(deleted_cell))) {
      /* Merged into a row that a newer delete removed: kept nowhere. */
      set_result(&ctx->results[i], CF_PUSH_SUPERSEDED, CF_REASON_NONE, "row deleted");
    } else if (m.take == 0 && m.superseded != 0) {
      set_result(&ctx->results[i], CF_PUSH_SUPERSEDED, CF_REASON_NONE, "");
    } else {
      set_result(&ctx->results[i], CF_PUSH_APPLIED, CF_REASON_NONE, "");
    }
  }
  return CF_OK;
}

/* What the push does with r: 0 insert, 1 update, 2 delete, -1 nothing. */
static int row_op(const prow *r) {
  if (!r->changed || r->rejected) return -1;
  int visible = !cf__row_is_deleted(&r->local);
  return r->existed ? (visible ? 1 : 2) : (visible ? 0 : -1);
}

/*
** A row the push creates (a new row, or a deleted one brought back) must
** carry every column and the deleted cell with a real version, from the
** batch's changes together: the master would otherwise store cells it has
** no version for, which no replica could merge (docs/master-sync.md, "What
** a push must contain").  Such rows are rejected "invalid".
*/
static void reject_incomplete_rows(push_ctx *ctx) {
  for (size_t i = 0; i < ctx->nrows; i++) {
    prow *r = &ctx->rows[i];
    if (row_op(r) != 0) continue;
    const cf_table *t = r->t;
    for (unsigned c = 0; c <= t->ncols; c++) {
      if (t->key_mask & CF_COL_BIT(c)) continue;
      const cf_cell *cell = cf__row_cell(&r->local, c);
      if (cell != NULL && !cf__ver_is_zero(&cell->ver)) continue;
      r->rejected = 1;
      r->reason = CF_REASON_INVALID;
      snprintf(r->detail, sizeof r->detail,
               "a new row must carry every column (%s is missing)",
               c < t->ncols ? t->cols[c].name : CF_SCHEMA_DELETED_NAME);
      break;
    }
  }
}

/* The changes of rows whose write was refused get the row's rejection. */
static void mark_rejected(push_ctx *ctx) {
  for (size_t i = 0; i < ctx->n; i++) {
    if (ctx->row_of[i] == SIZE_MAX) continue;
    const prow *r = &ctx->rows[ctx->row_of[i]];
    if (r->rejected && ctx->results[i].status == CF_PUSH_APPLIED)
      set_result(&ctx->results[i], CF_PUSH_REJECTED, r->reason, r->detail);
  }
}

/* How many rows the push will write (one cursor position each). */
static size_t rows_to_write(const push_ctx *ctx) {
  size_t n = 0;
  for (size_t i = 0; i < ctx->nrows; i++)
    if (row_op(&ctx->rows[i]) >= 0) n++;
  return n;
}

/* One statement group of the write phase: the rows of one table
** (rows[lo..hi)) whose operation is op. */
typedef struct wgroup {
  size_t lo, hi; /* the table's rows */
  int op;        /* 0 insert, 1 update, 2 delete */
} wgroup;

/*
** The write phase's groups, in the order they run: first the inserts and
** updates, table by table in table order (parents before children), then
** the deletes in reverse table order (children before parents).  So a
** delete's cascades (ON DELETE CASCADE / SET NULL, stamped with newer
** master versions) run after every other write of the batch and never
** remove or change a row the batch still has to write.  Each row to write
** gets its cursor position, as an offset from the first one reserved, in
** that order.  OUT: g[0..*ng) (g holds 3 * nrows entries).  CF_OK or
** CF_NOMEM.
*/
static int plan_writes(push_ctx *ctx, wgroup *g, size_t *ng) {
  size_t n = 0, nt = 0;
  uint64_t off = 0;
  size_t *starts = cf__malloc((ctx->nrows + 1) * sizeof *starts);
  if (starts == NULL) return CF_NOMEM;
  /* rows are sorted by table: starts[k] is where the k-th table begins. */
  for (size_t i = 0; i < ctx->nrows; i++)
    if (i == 0 || ctx->rows[i].t != ctx->rows[i - 1].t) starts[nt++] = i;
  starts[nt] = ctx->nrows;
  for (size_t pass = 0; pass < 3 * nt; pass++) {
    size_t k = pass < 2 * nt ? pass / 2 : nt - 1 - (pass - 2 * nt);
    int op = pass < 2 * nt ? (int)(pass % 2) : 2;
    size_t m = 0;
    for (size_t i = starts[k]; i < starts[k + 1]; i++)
      if (row_op(&ctx->rows[i]) == op) {
        ctx->rows[i].seq = off++;
        m++;
      }
    if (m == 0) continue;
    g[n].lo = starts[k];
    g[n].hi = starts[k + 1];
    g[n].op = op;
    n++;
  }
  cf__free(starts);
  *ng = n;
  return CF_OK;
}

/* The indexes of the rows of group g: idx[0..return). */
static size_t group_rows_of(const push_ctx *ctx, const wgroup *g, size_t *idx) {
  size_t m = 0;
  for (size_t i = g->lo; i < g->hi; i++)
    if (row_op(&ctx->rows[i]) == g->op) idx[m++] = i;
  return m;
}

/* Writes the groups one statement at a time, each under a savepoint, so a
** failing row is found and rejected alone (write_group). */
static int write_rows(push_ctx *ctx, const wgroup *g, size_t ng) {
  static const cf__stmt_kind kinds[3] = {CF__STMT_INSERT, CF__STMT_UPDATE,
                                         CF__STMT_DELETE};
  int rc = CF_OK;
  size_t *idx = cf__malloc((ctx->nrows ? ctx->nrows : 1) * sizeof *idx);
  if (idx == NULL) return CF_NOMEM;
  for (size_t k = 0; k < ng && rc == CF_OK; k++) {
    size_t m = group_rows_of(ctx, &g[k], idx);
    rc = write_group(ctx, ctx->rows[g[k].lo].t, kinds[g[k].op], idx, m);
  }
  cf__free(idx);
  return rc;
}

/* One statement of the pipelined write phase, with its own buffers. */
typedef struct fstep {
  cf_buf sql;                         /* the statement */
  cf_buf params[CF_PUSH_MAX_PARAMS];  /* its array parameters */
  const char *pv[CF_PUSH_MAX_PARAMS]; /* their text */
  unsigned np;                        /* how many */
} fstep;

static void fsteps_free(fstep *f, size_t n) {
  if (f == NULL) return;
  for (size_t i = 0; i < n; i++) {
    cf__buf_free(&f[i].sql);
    for (size_t k = 0; k < sizeof f[i].params / sizeof f[i].params[0]; k++)
      cf__buf_free(&f[i].params[k]);
  }
  cf__free(f);
}

/*
** Builds into f the statement of kind for rows[idx[0..m)] of t, taking over
** ctx's buffers.  An UPDATE or DELETE is wrapped so that it fails unless it
** touched all m rows (cf_sync.push_expect, 008): RLS filters those
** silently, and the pipeline must stop before its COMMIT.
*/
static int build_fstep(push_ctx *ctx, const cf_table *t, cf__stmt_kind kind,
                       const size_t *idx, size_t m, fstep *f) {
  unsigned np = 0;
  int rc = build_group_stmt(ctx, t, kind, idx, m, f->pv, &np);
  if (rc != CF_OK) return rc;
  f->np = np;
  for (unsigned i = 0; i < np; i++) {
    f->params[i] = ctx->params[i];
    cf__buf_init(&ctx->params[i], CF__PARAM_MAX);
  }
  cf__buf_init(&f->sql, CF__STMT_MAX);
  if (kind == CF__STMT_INSERT) {
    rc = cf__buf_puts(&f->sql, ctx->sql.p);
  } else {
    char tail[96];
    snprintf(tail, sizeof tail, ") SELECT cf_sync.push_expect(count(*), %zu) FROM w", m);
    rc = cf__buf_puts(&f->sql, "WITH w AS (");
    if (rc == CF_OK) rc = cf__buf_puts(&f->sql, ctx->sql.p);
    if (rc == CF_OK) rc = cf__buf_puts(&f->sql, tail);
  }
  return rc;
}

/*
** The last round trip of a push (008_push_clock_last.sql): reserve the
** cursor positions (the org clock row lock), every write, the record of the
** batch and COMMIT, sent together in one pipeline, so the clock lock is
** held only while the server executes them.  reserve is NULL when the
** batch needs no reservation.  OUT: *seq_lo (0 if none reserved).  Any
** failure of a statement aborts the transaction before its COMMIT:
** CF_ERROR then means "run the push again statement by statement"; other
** codes (a lost connection) fail the push.
*/
static int write_pipelined(push_ctx *ctx, const wgroup *g, size_t ng,
                           const char *reserve_sql, const char *const *reserve_pv,
                           const char *record_sql, const char *const *record_pv,
                           uint64_t *seq_lo) {
  static const cf__stmt_kind kinds[3] = {CF__STMT_INSERT, CF__STMT_UPDATE,
                                         CF__STMT_UPDATE};
  size_t nst = 0, cap = 2 * ng;
  fstep *f = cf__calloc(cap ? cap : 1, sizeof *f);
  size_t *idx = cf__malloc((ctx->nrows ? ctx->nrows : 1) * sizeof *idx);
  cf__pg_step steps[3 + 2 * 3 * CF_SCHEMA_NTABLES];
  size_t ns = 0, failed = 0;
  int rc = CF_OK;
  *seq_lo = 0;
  if (f == NULL || idx == NULL) {
    rc = CF_NOMEM;
    goto out;
  }
  if (2 * ng + 3 > sizeof steps / sizeof steps[0]) {
    rc = CF_ERROR; /* more groups than tables allow: go statement by statement */
    goto out;
  }
  for (size_t k = 0; k < ng && rc == CF_OK; k++) {
    const cf_table *t = ctx->rows[g[k].lo].t;
    size_t m = group_rows_of(ctx, &g[k], idx);
    rc = build_fstep(ctx, t, kinds[g[k].op], idx, m, &f[nst++]);
    if (rc == CF_OK && g[k].op == 2)
      rc = build_fstep(ctx, t, CF__STMT_DELETE, idx, m, &f[nst++]);
  }
  if (rc != CF_OK) goto out;
  size_t reserve_at = SIZE_MAX;
  if (reserve_sql != NULL) {
    reserve_at = ns;
    steps[ns++] = (cf__pg_step){reserve_sql, NULL, 3, reserve_pv, NULL};
  }
  for (size_t i = 0; i < nst; i++)
    steps[ns++] = (cf__pg_step){f[i].sql.p, NULL, (int)f[i].np, f[i].pv, NULL};
  steps[ns++] = (cf__pg_step){record_sql, NULL, 5, record_pv, NULL};
  steps[ns++] = (cf__pg_step){"COMMIT", NULL, 0, NULL, NULL};
  rc = cf__pg_pipeline(ctx->pg, steps, ns, &failed);
  if (rc == CF_OK && reserve_at != SIZE_MAX) {
    const char *lo = cf__pg_value(steps[reserve_at].res, 0, 0);
    *seq_lo = lo ? strtoull(lo, NULL, 10) : 0;
  }
  for (size_t i = 0; i < ns; i++)
    cf__pg_res_free(steps[i].res);
  if (rc != CF_OK && rc != CF_UNREACHABLE && rc != CF_NOMEM) rc = CF_ERROR;
out:
  fsteps_free(f, nst);
  cf__free(idx);
  return rc;
}

/*
** The digest that identifies a batch's contents (with its number): SHA-256
** over, for each change in order, its table number, present mask, and each
** present cell's version, value kind and value.  Two batches with the same
** digest carry the same changes.
*/
static int batch_digest(const cf_change *changes, size_t n, cf_buf *tmp,
                        unsigned char out[CF_SHA256_LEN]) {
  int rc = CF_OK;
  cf__buf_reset(tmp);
  for (size_t i = 0; i < n && rc == CF_OK; i++) {
    const cf_change *c = &changes[i];
    unsigned char head[12];
    unsigned tno = c->table ? c->table->number : 0xffffffffu;
    unsigned ncells = c->table ? c->table->ncols + 1 : 0;
    for (int b = 0; b < 4; b++)
      head[b] = (unsigned char)(tno >> (24 - 8 * b));
    for (int b = 0; b < 8; b++)
      head[4 + b] = (unsigned char)(c->present >> (56 - 8 * b));
    rc = cf__buf_append(tmp, head, sizeof head);
    for (unsigned k = 0; k < ncells && rc == CF_OK; k++) {
      if (!(c->present & CF_COL_BIT(k))) continue;
      const cf_cell *cell = &c->cells[k];
      unsigned char kind = (unsigned char)cell->value.kind, len[8];
      uint64_t v = (uint64_t)cell->value.i;
      if (cell->value.kind == CF_VALUE_TEXT || cell->value.kind == CF_VALUE_BLOB)
        v = (uint64_t)cell->value.n;
      else if (cell->value.kind == CF_VALUE_REAL)
        memcpy(&v, &cell->value.d, sizeof v);
      for (int b = 0; b < 8; b++)
        len[b] = (unsigned char)(v >> (56 - 8 * b));
      rc = cf__buf_append(tmp, cell->ver.b, CF_VER_LEN);
      if (rc == CF_OK) rc = cf__buf_append(tmp, &kind, 1);
      if (rc == CF_OK) rc = cf__buf_append(tmp, len, sizeof len);
      if (rc == CF_OK &&
          (cell->value.kind == CF_VALUE_TEXT || cell->value.kind == CF_VALUE_BLOB))
        rc = cf__buf_append(tmp, cell->value.p, cell->value.n);
    }
  }
  if (rc == CF_OK) cf__sha256(tmp->p ? tmp->p : "", tmp->len, out);
  return rc;
}

/*
** Are rows[lo..hi) (one table) all rows that the batch creates -- each
** carrying, over its changes, every column and the deleted cell -- of a
** tenant table?  Then the push takes them to be new rows and reads only
** their tombstones, not the rows themselves nor which exist hidden by RLS
** (010, docs/master-sync.md "Pushes of new rows"): a row that exists after
** all makes its INSERT fail on the primary key in the pipeline, before the
** COMMIT, and the push runs again with the reads.  A replica's inserts are
** such rows (its outbox carries every cell of a new row), and an update
** never carries every cell, so the guess is right but for a row created
** twice, which the second attempt merges.
*/
static int new_rows_group(const push_ctx *ctx, size_t lo, size_t hi) {
  const cf_table *t = ctx->rows[lo].t;
  uint64_t all = cf__schema_mask_all(t) & ~t->key_mask;
  if (!t->tenant) return 0;
  uint64_t *carried = cf__calloc(hi - lo, sizeof *carried);
  if (carried == NULL) return 0;
  for (size_t i = 0; i < ctx->n; i++) {
    size_t r = ctx->row_of[i];
    if (r != SIZE_MAX && r >= lo && r < hi) carried[r - lo] |= ctx->changes[i].present;
  }
  int all_new = 1;
  for (size_t r = 0; r < hi - lo && all_new; r++)
    all_new = (carried[r] & all) == all;
  cf__free(carried);
  return all_new;
}

/*
** One attempt at a push.  fast: the write phase is one pipelined round trip
** (write_pipelined); a statement that fails there returns CF_ERROR and the
** caller runs the push again with fast = 0, statement by statement under
** savepoints, which rejects the offending rows one by one.
*/
static int push_once(cf__pg *pg, const char *claims_json, const char *org_id,
                     const cf_nodeid *node, uint64_t batch_seq, const cf_change *changes,
                     size_t n, cf__push_result *results, cf__push_info *info, int fast,
                     int guess, int *guessed) {
  push_ctx ctx;
  cf__push_info dummy;
  wgroup *groups = NULL;
  size_t ngroups = 0;
  cf_buf restext; /* the results as node_batches keeps them (fast path) */
  cf__buf_init(&restext, CF__PARAM_MAX);
  char org[37], node_text[CF_NODE_ID_TEXT_LEN], batch[24], count[24], maxhlc[24];
  char *sql = NULL, *rec_sql = NULL;
  cf__pg_res *res = NULL;
  int rc = CF_OK, in_tx = 0;
  memset(&ctx, 0, sizeof ctx);
  if (info == NULL) info = &dummy;
  memset(info, 0, sizeof *info);
  cf__buf_init(&ctx.tmp, CF__PARAM_MAX);
  cf__buf_init(&ctx.sql, CF__STMT_MAX);
  for (size_t i = 0; i < sizeof ctx.params / sizeof ctx.params[0]; i++)
    cf__buf_init(&ctx.params[i], CF__PARAM_MAX);
  if (n > CF_PUSH_MAX_BATCH)
    return cf__pg_fail(pg, CF_TOOBIG, "push: batch of %zu changes", n);
  if (org_id == NULL || strlen(org_id) != 36 ||
      cf__canon_uuid(org_id, 36, org) != CF_OK || claims_json == NULL || node == NULL ||
      batch_seq == 0 || batch_seq > (uint64_t)INT64_MAX)
    return cf__pg_fail(pg, CF_INVALID, "push: bad org id, claims, node or batch");
  ctx.pg = pg;
  ctx.changes = changes;
  ctx.n = n;
  ctx.results = results;
  ctx.row_of = cf__malloc((n ? n : 1) * sizeof *ctx.row_of);
  if (ctx.row_of == NULL) {
    rc = CF_NOMEM;
    goto out;
  }

  /* 1. Validate. */
  int64_t now_ms = cf__now_ms();
  cf_hlc max_hlc = 0;
  for (size_t i = 0; i < n; i++) {
    cf_reject_reason why;
    const char *detail = NULL;
    if (validate_change(&changes[i], org, now_ms, &ctx.tmp, &why, &detail)) {
      ctx.row_of[i] = SIZE_MAX;
      for (unsigned c = 0; c <= changes[i].table->ncols; c++)
        if (changes[i].present & CF_COL_BIT(c)) {
          cf_hlc h = cf__ver_hlc(&changes[i].cells[c].ver);
          if (h > max_hlc) max_hlc = h;
        }
    } else {
      ctx.row_of[i] = SIZE_MAX - 1;
      set_result(&results[i], CF_PUSH_REJECTED, why, detail);
    }
  }
  /* 2. Group: group_rows takes the entries marked SIZE_MAX. */
  if ((rc = group_rows(&ctx)) != CF_OK) goto out;
  for (size_t i = 0; i < n; i++)
    if (ctx.row_of[i] == SIZE_MAX - 1) ctx.row_of[i] = SIZE_MAX;

  /* 3. Begin as the user: membership, the org clock lock, what the batch is. */
  unsigned char digest[CF_SHA256_LEN];
  char digest_hex[2 * CF_SHA256_LEN + 1];
  if ((rc = batch_digest(changes, n, &ctx.tmp, digest)) != CF_OK) goto out;
  cf__hex(digest, sizeof digest, digest_hex);
  if ((rc = cf__master_begin_push(pg, claims_json)) != CF_OK) goto out;
  in_tx = 1;
  cf__node_id_format(node, node_text);
  snprintf(batch, sizeof batch, "%llu", (unsigned long long)batch_seq);
  const char *bp[4] = {org, node_text, batch, digest_hex};
  if ((rc = cf__sql_named(CF__MASTER_SQL, "push_begin", &sql)) != CF_OK) goto out;
  if ((rc = cf__pg_query(pg, sql, 4, bp, &res)) != CF_OK) goto out;
  const char *outcome = cf__pg_value(res, 0, 1);
  const char *last = cf__pg_value(res, 0, 2);
  info->last_batch = last ? strtoull(last, NULL, 10) : 0;
  if (!cf__pg_bool(res, 0, 0)) {
    info->revoked = 1;
    for (size_t i = 0; i < n; i++)
      if (ctx.row_of[i] != SIZE_MAX)
        set_result(&results[i], CF_PUSH_REJECTED, CF_REASON_REVOKED,
                   "not a member of the organization");
    goto finish_readonly;
  }
  if (outcome != NULL && strcmp(outcome, "replay") == 0) {
    const char *recorded = cf__pg_value(res, 0, 3);
    if (recorded != NULL && parse_results(recorded, results, n)) {
      info->replayed = 1;
      goto finish_readonly;
    }
    outcome = "reused"; /* a record of another number of changes */
  }
  if (outcome == NULL || strcmp(outcome, "new") != 0) {
    /* Another batch was recorded under this number, or a later one: no
    ** answer may claim this one applied.  Nothing changes. */
    if (cf__plant(CF_PLANT_STALE) && outcome != NULL && strcmp(outcome, "stale") == 0) {
      for (size_t i = 0; i < n; i++)
        set_result(&results[i], CF_PUSH_APPLIED, 0, "");
      goto finish_readonly;
    }
    if (outcome != NULL && strcmp(outcome, "stale") == 0)
      info->stale = 1;
    else
      info->reused = 1;
    cf__pg_rollback(pg);
    in_tx = 0;
    goto out;
  }
  cf__pg_res_free(res);
  res = NULL;

  /* 4. Read the rows, table by table. */
  for (size_t lo = 0; lo < ctx.nrows;) {
    size_t hi = lo;
    while (hi < ctx.nrows && ctx.rows[hi].t == ctx.rows[lo].t)
      hi++;
    int new_rows = guess && new_rows_group(&ctx, lo, hi);
    if (new_rows) *guessed = 1;
    if ((rc = load_rows(&ctx, org, lo, hi, new_rows)) != CF_OK) goto out;
    lo = hi;
  }
  /* 5. Merge; rows the push would create without every cell are refused. */
  if ((rc = merge_changes(&ctx)) != CF_OK) goto out;
  reject_incomplete_rows(&ctx);
  /* 6, 7. Reserve one cursor position per row to write (none: the head
  ** stays where it is) and let the org clock adopt the batch's greatest HLC
  ** -- also when nothing is written (every change superseded), so the
  ** master's own later writes order after every version a node pushed
  ** (007_adopt_batch_hlc.sql) -- then write, record and commit.  The
  ** reservation takes the org clock row lock, held to the commit: in the
  ** fast path all of it is one round trip (008_push_clock_last.sql). */
  uint64_t seq_lo = 0;
  size_t nwrite = rows_to_write(&ctx);
  groups = cf__calloc(3 * ctx.nrows + 1, sizeof *groups);
  if (groups == NULL) {
    rc = CF_NOMEM;
    goto out;
  }
  if ((rc = plan_writes(&ctx, groups, &ngroups)) != CF_OK) goto out;
  snprintf(count, sizeof count, "%zu", nwrite);
  snprintf(maxhlc, sizeof maxhlc, "%lld", (long long)(max_hlc & (cf_hlc)INT64_MAX));
  const char *rp3[3] = {org, count, maxhlc};
  int reserve = nwrite > 0 || max_hlc > 0;
  cf__free(sql);
  sql = NULL;
  if ((rc = cf__sql_named(CF__MASTER_SQL, "push_reserve", &sql)) != CF_OK) goto out;
  if ((rc = cf__sql_named(CF__MASTER_SQL, "push_record", &rec_sql)) != CF_OK) goto out;
  if (fast) {
    mark_rejected(&ctx);
    /* Not in ctx.tmp: building the statements uses that as scratch. */
    if ((rc = results_text(results, n, &restext)) != CF_OK) goto out;
    const char *rp[5] = {org, node_text, batch, digest_hex, restext.p ? restext.p : ""};
    rc = write_pipelined(&ctx, groups, ngroups, reserve ? sql : NULL, rp3, rec_sql, rp,
                         &seq_lo);
    if (rc != CF_OK) goto out; /* CF_ERROR: the caller goes statement by statement */
    in_tx = 0;
    if (nwrite > 0 && seq_lo == 0) {
      rc = cf__pg_fail(pg, CF_DATABASE, "push: no cursor positions reserved");
      goto out;
    }
  } else {
    if (reserve) {
      if ((rc = cf__pg_query(pg, sql, 3, rp3, &res)) != CF_OK) goto out;
      const char *lo_text = cf__pg_value(res, 0, 0);
      if (nwrite > 0 && lo_text == NULL) {
        rc = cf__pg_fail(pg, CF_DATABASE, "push: no cursor positions reserved");
        goto out;
      }
      if (nwrite > 0) seq_lo = strtoull(lo_text, NULL, 10);
      cf__pg_res_free(res);
      res = NULL;
    }
    if ((rc = write_rows(&ctx, groups, ngroups)) != CF_OK) goto out;
    mark_rejected(&ctx);
    if ((rc = results_text(results, n, &ctx.tmp)) != CF_OK) goto out;
    const char *rp[5] = {org, node_text, batch, digest_hex, ctx.tmp.p ? ctx.tmp.p : ""};
    if ((rc = cf__pg_query(pg, rec_sql, 5, rp, NULL)) != CF_OK) goto out;
    if ((rc = cf__pg_commit(pg)) != CF_OK) goto out;
    in_tx = 0;
  }
  if (nwrite > 0) {
    info->seq_lo = seq_lo;
    info->seq_hi = seq_lo + nwrite - 1;
  }
  goto count;

finish_readonly:
  cf__pg_rollback(pg);
  in_tx = 0;
count:
  for (size_t i = 0; i < n; i++) {
    if (results[i].status == CF_PUSH_APPLIED)
      info->applied++;
    else if (results[i].status == CF_PUSH_SUPERSEDED)
      info->superseded++;
    else
      info->rejected++;
  }
out:
  if (in_tx) cf__pg_rollback(pg);
  cf__pg_res_free(res);
  cf__free(sql);
  cf__free(rec_sql);
  cf__free(groups);
  cf__buf_free(&restext);
  push_ctx_free(&ctx);
  return rc;
}

int cf__master_push(cf__pg *pg, const char *claims_json, const char *org_id,
                    const cf_nodeid *node, uint64_t batch_seq, const cf_change *changes,
                    size_t n, cf__push_result *results, cf__push_info *info) {
  /* Fast with new rows taken as new; if that fails and some rows were
  ** taken so, fast with every read; then statement by statement. */
  int guessed = 0;
  int rc = push_once(pg, claims_json, org_id, node, batch_seq, changes, n, results, info,
                     1, 1, &guessed);
  if (rc == CF_ERROR && guessed)
    rc = push_once(pg, claims_json, org_id, node, batch_seq, changes, n, results, info, 1,
                   0, &guessed);
  if (rc == CF_ERROR)
    rc = push_once(pg, claims_json, org_id, node, batch_seq, changes, n, results, info, 0,
                   0, &guessed);
  return rc;
}
