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

/* The unnest(...) AS u(c<i>..., extra...) source over the columns in mask
** (in column order, named c<i> by their index), then one text[] parameter
** per name of extra[0..nextra) (versions, seq, ...). */
static int append_unnest(cf_buf *b, const cf_table *t, uint64_t mask,
                         const char *const *extra, unsigned nextra) {
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
  for (unsigned e = 0; e < nextra && rc == CF_OK; e++, p++) {
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
  for (unsigned e = 0; e < nextra && rc == CF_OK; e++) {
    if ((rc = cf__buf_puts(b, ", ")) == CF_OK) rc = cf__buf_puts(b, extra[e]);
  }
  if (rc == CF_OK) rc = cf__buf_puts(b, ")");
  return rc;
}

/* Appends the join condition of t's key with u's key columns (uuid, see
** append_unnest).  Every function in it is leakproof (uuid = uuid), so under
** RLS the planner may use it as the index condition of a nested loop over
** the primary key, one probe per row of the batch.  A text-to-uuid cast on
** u's side (before 010) is not leakproof: RLS kept the join above the
** policy's filter, and every batch hashed every row of the org (32 ms per
** 2,000-row UPDATE at 100,000 rows in the org).
**
** No "t.id = ANY (ids)" beside it (there was one until issue 13's third
** round, meant for the plan of an org the statistics say is tiny): with
** it the planner costs a scan of the keys' index entries by that array and
** then a hash join as cheaper than the probes, and that plan made the
** push's UPDATE 1.3-1.5x the owner's; without it the push's UPDATE takes
** the owner's plan (a probe per row) and the owner's time, with fresh
** statistics and with statistics that still say "empty" alike
** (docs/master-sync.md, "Since issue 13's third round"). */
static int append_key_match(cf_buf *b, const cf_table *t) {
  char tmp[160];
  int rc = CF_OK;
  for (unsigned k = 0; k < t->nkey && rc == CF_OK; k++) {
    const char *name = t->cols[t->key[k]].name;
    snprintf(tmp, sizeof tmp, "%st.\"%s\" = u.c%u", k ? " AND " : "", name, t->key[k]);
    rc = cf__buf_puts(b, tmp);
  }
  return rc;
}

/* Appends the test under which an UPDATE takes pushed cell i of a row
** (sets its column, or its version): [the row took it, when not every row
** of the statement did] and [the row is as the push read it (its cf_seq,
** which every write of the row changes, is the one read), or the pushed
** version is not older than the one the row holds as the UPDATE locks it]. */
static int append_take_test(cf_buf *b, const cf_table *t, const cf__update_shape *sh,
                            unsigned i) {
  char tmp[256];
  unsigned off = i * CF_VER_LEN + 1;
  int rc = CF_OK;
  if (!(sh->took_all & CF_COL_BIT(i))) {
    snprintf(tmp, sizeof tmp, "(u.m::bigint & %llu) <> 0 AND ",
             (unsigned long long)CF_COL_BIT(i));
    rc = cf__buf_puts(b, tmp);
  }
  snprintf(
      tmp, sizeof tmp,
      "(%ssubstring(u.vb FROM %u FOR %u) >= substring(t.cf_versions FROM %u FOR %u))",
      cf__sql_has_seq(t) ? "t.cf_seq = u.o::bigint OR " : "", off, (unsigned)CF_VER_LEN,
      off, (unsigned)CF_VER_LEN);
  if (rc == CF_OK) rc = cf__buf_puts(b, tmp);
  return rc;
}

/*
** The UPDATE of a push (docs/master-sync.md, "Versions of writes" and "Why
** the merge stays right without the lock"): each row sets only the cells
** ITS changes took; a cell is taken only if the row is still as the push
** read it, or else if its pushed version is not older than the one the
** row holds as the UPDATE locks it.
**
** Why both: a push reads and merges without any lock (008), so another
** writer -- or a cascade of this push's own deletes -- may have changed
** the row since the read.  Every write of a row gives it a new cf_seq
** (the stamp triggers take a fresh cursor position; a push writes one of
** its reserved ones), so "t.cf_seq = u.o" (the cf_seq read) says the row is
** exactly as read: then the versions the push merged in C (u.vb, every
** cell's) are the row's new versions as they are, one assignment instead
** of a guard and an overlay per cell.  Otherwise the cell-by-cell guard
** decides (last writer wins, as the merge would have), the cells not taken
** keep the value and version the row holds now.  users rows have no
** cf_seq: the cell-by-cell guard alone.
*/
static int build_update(cf_buf *b, const cf_table *t, const cf__update_shape *sh) {
  char tmp[512];
  uint64_t cells = sh->took_any & ~t->key_mask;
  uint64_t cols = cells & cf__schema_mask_columns(t);
  int has_seq = cf__sql_has_seq(t), rc;
  snprintf(tmp, sizeof tmp, "UPDATE public.\"%s\" AS t SET ", t->name);
  rc = cf__buf_puts(b, tmp);
  for (unsigned i = 0; i < t->ncols && rc == CF_OK; i++) {
    if (!(cols & CF_COL_BIT(i))) continue;
    snprintf(tmp, sizeof tmp, "\"%s\" = CASE WHEN ", t->cols[i].name);
    rc = cf__buf_puts(b, tmp);
    if (rc == CF_OK) rc = append_take_test(b, t, sh, i);
    snprintf(tmp, sizeof tmp, " THEN u.c%u%s ELSE t.\"%s\" END, ", i,
             cf__pg_cast(t->cols[i].type), t->cols[i].name);
    if (rc == CF_OK) rc = cf__buf_puts(b, tmp);
  }
  /* The versions: the merged ones when the row is as read, else the row's
  ** own with each taken cell overlaid in place. */
  if (rc == CF_OK)
    rc = cf__buf_puts(b, has_seq ? "cf_versions = CASE WHEN t.cf_seq = u.o::bigint THEN "
                                   "u.vb ELSE "
                                 : "cf_versions = ");
  for (unsigned i = 0; i <= t->ncols && rc == CF_OK; i++)
    if (cells & CF_COL_BIT(i)) rc = cf__buf_puts(b, "overlay(");
  if (rc == CF_OK) rc = cf__buf_puts(b, "t.cf_versions");
  for (unsigned i = 0; i <= t->ncols && rc == CF_OK; i++) {
    if (!(cells & CF_COL_BIT(i))) continue;
    unsigned off = i * CF_VER_LEN + 1;
    rc = cf__buf_puts(b, " PLACING CASE WHEN ");
    if (rc == CF_OK) rc = append_take_test(b, t, sh, i);
    snprintf(tmp, sizeof tmp,
             " THEN substring(u.vb FROM %u FOR %u) ELSE substring(t.cf_versions FROM %u "
             "FOR %u) END FROM %u FOR %u)",
             off, (unsigned)CF_VER_LEN, off, (unsigned)CF_VER_LEN, off,
             (unsigned)CF_VER_LEN);
    if (rc == CF_OK) rc = cf__buf_puts(b, tmp);
  }
  if (rc == CF_OK && has_seq)
    rc = cf__buf_puts(b, " END, cf_seq = " CF__SEQ_LO " + u.s::bigint");
  if (rc == CF_OK)
    rc = cf__buf_puts(b, " FROM (SELECT u.*, decode(u.v, 'hex') AS vb FROM ");
  const char *extra[4] = {"v", "s", "o", "m"};
  unsigned nextra = has_seq ? 3 : 1;
  if (sh->took_any != sh->took_all) extra[nextra++] = "m";
  if (rc == CF_OK) rc = append_unnest(b, t, cols | t->key_mask, extra, nextra);
  if (rc == CF_OK) rc = cf__buf_puts(b, ") AS u WHERE ");
  if (rc == CF_OK) rc = append_key_match(b, t);
  if (rc == CF_OK) rc = cf__buf_puts(b, " RETURNING t.id::text");
  return rc;
}

unsigned cf__sql_update_params(const cf_table *t, const cf__update_shape *sh) {
  uint64_t cols = sh->took_any & ~t->key_mask & cf__schema_mask_columns(t);
  return cf__schema_mask_count(cols | t->key_mask) + (cf__sql_has_seq(t) ? 3u : 1u) +
         (sh->took_any != sh->took_all ? 1u : 0u);
}

/* Builds the statement of kind for table t into b (reset first).  An UPDATE
** has the shape sh (NULL for the other kinds). */
int cf__sql_build_stmt(cf_buf *b, const cf_table *t, cf__stmt_kind kind, uint64_t mask,
                       const cf__update_shape *sh) {
  int rc;
  char tmp[512];
  static const char *const vs[2] = {"v", "s"};
  cf__buf_reset(b);
  switch (kind) {
    case CF__STMT_LOCK:
      /* Reads the columns in mask, every version and cf_seq (binary
      ** results: the text columns as their text, the versions raw, cf_seq
      ** as 8 bytes) of the rows whose ids are in the array (all rows of a
      ** push share its org): a join with unnest() whose condition is the
      ** whole key, so that the planner probes the primary key once per id.
      ** "t.id = ANY (ids)" alone made it scan the org (33 ms per 2,000 ids
      ** at 100,000 rows in the org, against 10 ms for the probes); kept as
      ** a filter beside the join (until issue 13's third round) it made the
      ** planner hash the result of a scan of the whole org filtered by it
      ** (57 ms); a forced probe per id (LATERAL ... OFFSET 0) took an index
      ** of (org_id, ...) per probe when the statistics said the org was
      ** empty (an org scan per id). */
      rc = cf__buf_puts(b, "SELECT ");
      if (rc == CF_OK) rc = append_select_cols(b, t, mask | t->key_mask);
      if (t->tenant)
        snprintf(tmp, sizeof tmp,
                 ", t.cf_versions, t.cf_seq FROM unnest($2::uuid[]) AS k(id) "
                 "JOIN public.\"%s\" AS t ON t.org_id = $1::uuid AND t.id = k.id",
                 t->name);
      else
        snprintf(tmp, sizeof tmp,
                 ", t.cf_versions, %s FROM unnest($1::uuid[]) AS k(id) "
                 "JOIN public.\"%s\" AS t ON t.id = k.id",
                 cf__sql_has_seq(t) ? "t.cf_seq" : "NULL::bigint", t->name);
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
      if (rc == CF_OK)
        rc = append_unnest(b, t, cf__schema_mask_columns(t), vs,
                           cf__sql_has_seq(t) ? 2 : 1);
      return rc;
    case CF__STMT_UPDATE:
      return sh != NULL ? build_update(b, t, sh) : CF_MISUSE;
    case CF__STMT_DELETE:
      snprintf(tmp, sizeof tmp, "DELETE FROM public.\"%s\" AS t USING ", t->name);
      rc = cf__buf_puts(b, tmp);
      if (rc == CF_OK) rc = append_unnest(b, t, t->key_mask, NULL, 0);
      if (rc == CF_OK) rc = cf__buf_puts(b, " WHERE ");
      if (rc == CF_OK) rc = append_key_match(b, t);
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
