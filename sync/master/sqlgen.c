/*
** sync/master/sqlgen.c: the per-table statements of push and pull, generated from the
*schema
** descriptor (core/schema.c)
** (sync/master/master_sync_int.h; docs/master-sync.md).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/plant.h"
#include "sync/master/master_sync_int.h"

/* Appends `t."col"::text` for every column of t in mask (NULL for the
** others, so positions stay those of the columns), comma-separated. */
static int append_select_cols(cf_buf *b, const cf_table *t, uint64_t mask) {
  int rc = CF_OK;
  for (unsigned i = 0; i < t->ncols && rc == CF_OK; i++) {
    if (i) rc = cf__buf_puts(b, ", ");
    if (!(mask & CF_COL_BIT(i))) {
      if (rc == CF_OK) rc = cf__buf_puts(b, "NULL");
      continue;
    }
    if (rc == CF_OK) rc = cf__buf_puts(b, "t.\"");
    if (rc == CF_OK) rc = cf__buf_puts(b, t->cols[i].name);
    if (rc == CF_OK) rc = cf__buf_puts(b, "\"::text");
  }
  return rc;
}

int cf__sql_has_seq(const cf_table *t) { return t->number != 1; /* users */ }

int cf__sql_update_cell(const cf_table *t, uint64_t mask, unsigned i) {
  if (i == t->ncols) return 1; /* the deleted cell */
  return (mask & CF_COL_BIT(i)) && !(t->key_mask & CF_COL_BIT(i));
}

/* The unnest(...) AS u(c<i>..., v, s[, m]) source over the columns in mask
** (in column order, named c<i> by their index), plus the versions (v) and
** the seq (s, tables that have one) when with_vs, plus the cells the row
** took (m, a bit per cell) when with_vs == 2. */
unsigned cf__sql_extra_params(const cf_table *t, int with_vs) {
  if (!with_vs) return 0;
  return (cf__sql_has_seq(t) ? 2u : 1u) + (with_vs == 2 ? 1u : 0u);
}

static int append_unnest(cf_buf *b, const cf_table *t, uint64_t mask, int with_vs) {
  unsigned np = cf__schema_mask_count(mask) + cf__sql_extra_params(t, with_vs);
  int rc = cf__buf_puts(b, "unnest(");
  char tmp[32];
  /* Parameters follow the columns in mask in column order: the key columns
  ** (uuid) come as uuid[] so that the key match compares uuid with uuid
  ** (append_key_match), the others as text[], cast where used. */
  unsigned p = 0;
  for (unsigned c = 0; c < t->ncols && rc == CF_OK; c++) {
    if (!(mask & CF_COL_BIT(c))) continue;
    snprintf(tmp, sizeof tmp, "%s$%u::%s[]", p ? ", " : "", p + 1,
             (t->key_mask & CF_COL_BIT(c)) ? "uuid" : "text");
    p++;
    rc = cf__buf_puts(b, tmp);
  }
  for (; p < np && rc == CF_OK; p++) {
    snprintf(tmp, sizeof tmp, "%s$%u::text[]", p ? ", " : "", p + 1);
    rc = cf__buf_puts(b, tmp);
  }
  if (rc == CF_OK) rc = cf__buf_puts(b, ") AS u(");
  int first = 1;
  for (unsigned i = 0; i < t->ncols && rc == CF_OK; i++) {
    if (!(mask & CF_COL_BIT(i))) continue;
    snprintf(tmp, sizeof tmp, "%sc%u", first ? "" : ", ", i);
    first = 0;
    rc = cf__buf_puts(b, tmp);
  }
  if (rc == CF_OK && with_vs) rc = cf__buf_puts(b, cf__sql_has_seq(t) ? ", v, s" : ", v");
  if (rc == CF_OK && with_vs == 2) rc = cf__buf_puts(b, ", m");
  if (rc == CF_OK) rc = cf__buf_puts(b, ")");
  return rc;
}

/* Appends the join condition of t's key with u's key columns (uuid, see
** append_unnest; mask: the columns of the unnest, for the position of the
** id array).  Every function in it is leakproof (uuid = uuid), so under
** RLS the planner may use it as the index condition of a nested loop over
** the primary key, one probe per row of the batch.  A text-to-uuid cast on
** u's side (before 010) is not leakproof: RLS kept the join above the
** policy's filter, and every batch hashed every row of the org (32 ms per
** 2,000-row UPDATE at 100,000 rows in the org).  The "= ANY" of the ids
** stays as a filter for the plan the planner picks when its statistics say
** the org is tiny (a scan of the org, then hash join). */
static int append_key_match(cf_buf *b, const cf_table *t, uint64_t mask) {
  char tmp[160];
  int rc = CF_OK;
  for (unsigned k = 0; k < t->nkey && rc == CF_OK; k++) {
    const char *name = t->cols[t->key[k]].name;
    snprintf(tmp, sizeof tmp, "%st.\"%s\" = u.c%u", k ? " AND " : "", name, t->key[k]);
    rc = cf__buf_puts(b, tmp);
  }
  unsigned id = t->key[t->nkey - 1];
  unsigned pos = cf__schema_mask_count(mask & (CF_COL_BIT(id) - 1)) + 1;
  snprintf(tmp, sizeof tmp, " AND t.\"%s\" = ANY ($%u::uuid[])", t->cols[id].name, pos);
  if (rc == CF_OK) rc = cf__buf_puts(b, tmp);
  return rc;
}

/* Builds the statement of kind for table t into b (reset first).  An UPDATE
** sets the columns in mask (key columns are never set); the other kinds
** ignore mask. */
int cf__sql_build_stmt(cf_buf *b, const cf_table *t, cf__stmt_kind kind, uint64_t mask) {
  int rc;
  char tmp[512];
  cf__buf_reset(b);
  switch (kind) {
    case CF__STMT_LOCK:
      /* Reads the columns in mask (and every version) of the rows whose
      ** ids are in the array (all rows of a push share its org): a join
      ** with unnest() whose condition is the whole key, so that with
      ** statistics the planner probes the primary key once per id (10 ms
      ** per 2,000 ids at 100,000 rows in the org); "t.id = ANY (ids)"
      ** alone made it scan the org (33 ms), and a forced probe per id
      ** (LATERAL ... OFFSET 0) took an index of (org_id, ...) per probe
      ** when the statistics said the org was empty (an org scan per id).
      ** The "= ANY" stays as a filter of that org scan. */
      rc = cf__buf_puts(b, "SELECT ");
      if (rc == CF_OK) rc = append_select_cols(b, t, mask | t->key_mask);
      if (t->tenant)
        snprintf(tmp, sizeof tmp,
                 ", encode(t.cf_versions, 'hex') FROM unnest($2::uuid[]) AS k(id) "
                 "JOIN public.\"%s\" AS t ON t.org_id = $1::uuid AND t.id = k.id "
                 "WHERE t.id = ANY ($2::uuid[])",
                 t->name);
      else
        snprintf(tmp, sizeof tmp,
                 ", encode(t.cf_versions, 'hex') FROM unnest($1::uuid[]) AS k(id) "
                 "JOIN public.\"%s\" AS t ON t.id = k.id WHERE t.id = ANY ($1::uuid[])",
                 t->name);
      if (rc == CF_OK) rc = cf__buf_puts(b, tmp);
      return rc;
    case CF__STMT_INSERT:
      snprintf(tmp, sizeof tmp, "INSERT INTO public.\"%s\" (", t->name);
      rc = cf__buf_puts(b, tmp);
      for (unsigned i = 0; i < t->ncols && rc == CF_OK; i++) {
        snprintf(tmp, sizeof tmp, "\"%s\", ", t->cols[i].name);
        rc = cf__buf_puts(b, tmp);
      }
      if (rc == CF_OK)
        rc = cf__buf_puts(b, cf__sql_has_seq(t) ? "cf_versions, cf_seq) SELECT "
                                                : "cf_versions) SELECT ");
      for (unsigned i = 0; i < t->ncols && rc == CF_OK; i++) {
        snprintf(tmp, sizeof tmp, "u.c%u%s, ", i, cf__pg_cast(t->cols[i].type));
        rc = cf__buf_puts(b, tmp);
      }
      if (rc == CF_OK)
        rc = cf__buf_puts(b, cf__sql_has_seq(t) ? "decode(u.v, 'hex'), " CF__SEQ_LO
                                                  " + u.s::bigint FROM "
                                                : "decode(u.v, 'hex') FROM ");
      if (rc == CF_OK) rc = append_unnest(b, t, cf__schema_mask_columns(t), 1);
      return rc;
    case CF__STMT_UPDATE:
      /* Each row sets only the cells ITS changes took (u.m, a bit per
      ** cell): the other columns keep the value and version the row holds
      ** now, not the ones read before this push's earlier statements ran
      ** -- a cascade of this push's own deletes (ON DELETE SET NULL) may
      ** have changed them since, with a newer master version.  And a taken
      ** cell is set only if its pushed version is not older than the one
      ** the row holds as the UPDATE locks it: a push reads and merges
      ** without any lock (008), so another writer may have committed a
      ** newer version of the cell since; that one stays (last writer wins,
      ** as the merge would have decided). */
      /* u.vb holds the versions of the updated cells only (cf__sql_update_
      ** cell), in cell order: pos counts them. */
      snprintf(tmp, sizeof tmp, "UPDATE public.\"%s\" AS t SET ", t->name);
      rc = cf__buf_puts(b, tmp);
      unsigned pos = 0;
      for (unsigned i = 0; i < t->ncols && rc == CF_OK; i++) {
        if (!cf__sql_update_cell(t, mask, i)) continue;
        unsigned off = i * CF_VER_LEN + 1, poff = pos++ * CF_VER_LEN + 1;
        snprintf(tmp, sizeof tmp,
                 "\"%s\" = CASE WHEN (u.m::bigint & %llu) <> 0 AND substring(u.vb FROM "
                 "%u FOR %u) >= substring(t.cf_versions FROM %u FOR %u) THEN u.c%u%s "
                 "ELSE t.\"%s\" END, ",
                 t->cols[i].name, (unsigned long long)CF_COL_BIT(i), poff,
                 (unsigned)CF_VER_LEN, off, (unsigned)CF_VER_LEN, i,
                 cf__pg_cast(t->cols[i].type), t->cols[i].name);
        rc = cf__buf_puts(b, tmp);
      }
      /* The versions: the row's own, each updated cell overlaid in place
      ** (one overlay per cell, the others untouched). */
      if (rc == CF_OK) rc = cf__buf_puts(b, "cf_versions = ");
      unsigned nv = pos + 1; /* the updated columns and the deleted cell */
      for (unsigned k = 0; k < nv && rc == CF_OK; k++)
        rc = cf__buf_puts(b, "overlay(");
      if (rc == CF_OK) rc = cf__buf_puts(b, "t.cf_versions");
      pos = 0;
      for (unsigned i = 0; i <= t->ncols && rc == CF_OK; i++) {
        if (!cf__sql_update_cell(t, mask, i)) continue;
        unsigned off = i * CF_VER_LEN + 1, poff = pos++ * CF_VER_LEN + 1;
        snprintf(
            tmp, sizeof tmp,
            " PLACING CASE WHEN (u.m::bigint & %llu) <> 0 AND substring(u.vb FROM %u "
            "FOR %u) >= substring(t.cf_versions FROM %u FOR %u) THEN substring(u.vb "
            "FROM %u FOR %u) ELSE substring(t.cf_versions FROM %u FOR %u) END FROM %u "
            "FOR %u)",
            (unsigned long long)CF_COL_BIT(i), poff, (unsigned)CF_VER_LEN, off,
            (unsigned)CF_VER_LEN, poff, (unsigned)CF_VER_LEN, off, (unsigned)CF_VER_LEN,
            off, (unsigned)CF_VER_LEN);
        rc = cf__buf_puts(b, tmp);
      }
      if (rc == CF_OK)
        rc = cf__buf_puts(b, cf__sql_has_seq(t)
                                 ? ", cf_seq = " CF__SEQ_LO
                                   " + u.s::bigint FROM (SELECT u.*, "
                                   "decode(u.v, 'hex') AS vb FROM "
                                 : " FROM (SELECT u.*, decode(u.v, 'hex') AS vb FROM ");
      if (rc == CF_OK) rc = append_unnest(b, t, mask | t->key_mask, 2);
      if (rc == CF_OK) rc = cf__buf_puts(b, ") AS u WHERE ");
      if (rc == CF_OK) rc = append_key_match(b, t, mask | t->key_mask);
      if (rc == CF_OK) rc = cf__buf_puts(b, " RETURNING t.id::text");
      return rc;
    case CF__STMT_DELETE:
      snprintf(tmp, sizeof tmp, "DELETE FROM public.\"%s\" AS t USING ", t->name);
      rc = cf__buf_puts(b, tmp);
      if (rc == CF_OK) rc = append_unnest(b, t, t->key_mask, 0);
      if (rc == CF_OK) rc = cf__buf_puts(b, " WHERE ");
      if (rc == CF_OK) rc = append_key_match(b, t, t->key_mask);
      if (rc == CF_OK) rc = cf__buf_puts(b, " RETURNING t.id::text");
      return rc;
  }
  return CF_MISUSE;
}

/* Builds the pull statement of table t: cf_seq and every column as text and
** the versions as bytea, changes after $2 in org $1, at most $3.  Run with
** binary results (cf__pg_query_many_binary): the text columns arrive as
** their text, the versions as their raw bytes (half of hex). */
int cf__sql_build_pull_stmt(cf_buf *b, const cf_table *t) {
  char tmp[400];
  cf__buf_reset(b);
  int rc = cf__buf_puts(b, "SELECT t.cf_seq::text, ");
  if (rc == CF_OK) rc = append_select_cols(b, t, cf__schema_mask_columns(t));
  if (rc != CF_OK) return rc;
  if (t->number == 1) {
    snprintf(tmp, sizeof tmp,
             ", t.cf_versions FROM cf_sync.pull_users($1::uuid, $2::bigint, "
             "$3::integer) AS t ORDER BY t.cf_seq");
  } else {
    snprintf(tmp, sizeof tmp,
             ", t.cf_versions FROM public.\"%s\" AS t WHERE (t.\"%s\" = "
             "$1::uuid %s) "
             "AND t.cf_seq > $2::bigint ORDER BY t.cf_seq LIMIT $3::integer",
             t->name, t->tenant ? "org_id" : "id",
             cf__plant(CF_PLANT_LEAK) && t->number == 3
                 ? "OR t.id = (SELECT o.id FROM public.contacts o WHERE o.org_id <> "
                   "$1::uuid ORDER BY o.id LIMIT 1)"
                 : "");
  }
  return cf__buf_puts(b, tmp);
}
