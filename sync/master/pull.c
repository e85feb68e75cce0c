/*
** sync/master/pull.c: a page of an org's changes after a cursor, read as
** the user (see sync/master/master_sync.h; docs/master-sync.md, "Pull").
**
** One REPEATABLE READ READ ONLY transaction reads up to limit + 1 changes
** after the cursor from each of the eleven sources (ten tables -- users
** through cf_sync.pull_users -- and the tombstones), in one pipelined round
** trip with binary results (text columns, raw versions), merges them by cursor position
*and cuts the page where every source
** is known to be complete.  Only the sources that cf_sync.pull_start
** (013_pull_sources.sql), in the same snapshot, finds changed after the
** cursor are read: a live pull after one commit reads one or two.  The
** rows are converted to canonical values only once the page is cut:
** cf__master_pull_cut tells its caller where the page ends before that, so
** that the next page's read can start meanwhile (docs/server.md, "Pages
** read ahead").
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "platform/plant.h"
#include "platform/platform.h"
#include "sync/master/master_sync_int.h"

/* One fetched change before it is converted. */
typedef struct pull_ref {
  uint64_t seq;    /* cursor position */
  unsigned source; /* 0..9 table number, 10 tombstones */
  int row;         /* row in that source's result */
} pull_ref;

static int cmp_ref(const void *pa, const void *pb) {
  const pull_ref *a = pa, *b = pb;
  if (a->seq != b->seq) return a->seq < b->seq ? -1 : 1;
  if (a->source != b->source) return a->source < b->source ? -1 : 1;
  return a->row < b->row ? -1 : a->row > b->row;
}

#define PULL_SOURCES (CF_SCHEMA_NTABLES + 1)
/* cf_sync.pull_start (013_pull_sources.sql) tests these eleven sources by
** name: a new table needs a migration that tests it too. */
_Static_assert(PULL_SOURCES == 11, "cf_sync.pull_start knows eleven sources");

void cf__pull_page_free(cf__pull_page *page) {
  if (page == NULL) return;
  cf__free(page->items);
  if (page->mem != NULL) {
    cf__arena_free(page->mem);
    cf__free(page->mem);
  }
  memset(page, 0, sizeof *page);
}

/* Converts a tombstone row of the tombstones result into a change. */
static int tombstone_to_row(const cf__pg_res *res, int r, const char *org, cf__arena *a,
                            cf_row *row) {
  const char *tno = cf__pg_value(res, r, 1), *id = cf__pg_value(res, r, 2);
  size_t vlen;
  const char *vb = cf__pg_bytes(res, r, 3, &vlen);
  const cf_table *t = tno ? cf__schema_table((unsigned)strtoul(tno, NULL, 10)) : NULL;
  cf_ver ver;
  if (t == NULL || id == NULL || strlen(id) != 36 || vb == NULL || vlen != CF_VER_LEN)
    return CF_CORRUPT;
  memcpy(ver.b, vb, CF_VER_LEN);
  cf__row_init(row, t);
  const char *idc = cf__arena_copy(a, id, 36);
  if (idc == NULL) return CF_NOMEM;
  cf_value vid = cf__value_text(idc, 36);
  if (cf__row_set(row, (unsigned)t->id_col, &vid, NULL) != CF_OK) return CF_CORRUPT;
  if (t->org_col >= 0) {
    const char *oc = cf__arena_copy(a, org, 36);
    if (oc == NULL) return CF_NOMEM;
    cf_value vorg = cf__value_text(oc, 36);
    if (cf__row_set(row, (unsigned)t->org_col, &vorg, NULL) != CF_OK) return CF_CORRUPT;
  }
  cf__row_set_deleted(row, 1, &ver);
  return CF_OK;
}

int cf__master_pull(cf__pg *pg, const char *claims_json, const char *org_id,
                    uint64_t cursor, size_t limit, cf__pull_page *page) {
  return cf__master_pull_cut(pg, claims_json, org_id, cursor, limit, NULL, NULL, page);
}

int cf__master_pull_cut(cf__pg *pg, const char *claims_json, const char *org_id,
                        uint64_t cursor, size_t limit, cf__pull_cut_fn on_cut, void *ctx,
                        cf__pull_page *page) {
  cf__pg_res *res[PULL_SOURCES] = {0}, *got[PULL_SOURCES] = {0};
  char *srcs[PULL_SOURCES] = {0};
  cf__pg_res *begin = NULL;
  char org[37], cur[24], lim[24];
  char *sql = NULL, *as_user = NULL;
  pull_ref *refs = NULL;
  cf_buf stmt, tmp;
  int rc = CF_OK, in_tx = 0;
  memset(page, 0, sizeof *page);
  cf__buf_init(&stmt, CF__STMT_MAX);
  cf__buf_init(&tmp, CF__PARAM_MAX);
  if (org_id == NULL || strlen(org_id) != 36 ||
      cf__canon_uuid(org_id, 36, org) != CF_OK || claims_json == NULL || limit == 0 ||
      cursor > (uint64_t)INT64_MAX)
    return cf__pg_fail(pg, CF_INVALID, "pull: bad org id, claims, cursor or limit");
  if (limit > CF_PULL_MAX_PAGE) limit = CF_PULL_MAX_PAGE;
  page->mem = cf__calloc(1, sizeof(cf__arena));
  if (page->mem == NULL) return CF_NOMEM;

  snprintf(cur, sizeof cur, "%llu", (unsigned long long)cursor);
  snprintf(lim, sizeof lim, "%zu", limit + 1);
  /* One round trip: the transaction, the user, and pull_start (membership,
  ** head, purge horizon, which sources changed after the cursor). */
  if ((rc = cf__sql_named(CF__MASTER_SQL, "as_user", &as_user)) != CF_OK ||
      (rc = cf__sql_named(CF__MASTER_SQL, "pull_start", &sql)) != CF_OK)
    goto out;
  const char *op[2] = {org, cur};
  cf__pg_step steps[3] = {
      {"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL, 0, NULL, NULL},
      {as_user, "cf_sync_as_user", 1, &claims_json, NULL},
      {sql, "cf_sync_pull_start", 2, op, NULL}};
  size_t failed = 0;
  in_tx = 1; /* rolled back at the end whatever happened (a no-op when idle) */
  rc = cf__pg_pipeline(pg, steps, 3, &failed);
  begin = steps[2].res;
  steps[2].res = NULL;
  cf__pg_res_free(steps[0].res);
  cf__pg_res_free(steps[1].res);
  if (rc == CF_UNREACHABLE) in_tx = 0;
  if (rc != CF_OK) goto out;
  if (cf__pg_nrows(begin) != 1 || !cf__pg_bool(begin, 0, 0)) {
    page->status = CF__PULL_REVOKED;
    goto out;
  }
  page->head = strtoull(cf__pg_value(begin, 0, 1), NULL, 10);
  uint64_t purged = strtoull(cf__pg_value(begin, 0, 2), NULL, 10);
  if (cursor > 0 && cursor < purged) {
    page->status = CF__PULL_REBOOTSTRAP;
    page->next_cursor = 0;
    page->more = 1;
    goto out;
  }
  /* Bit s: source s holds a change after the cursor in this snapshot.  A
  ** clear bit means its statement would return no row: it is not sent.
  ** (The planted leak reads every source, so that it shows.) */
  unsigned long changed = strtoul(cf__pg_value(begin, 0, 3), NULL, 10);
  if (cf__plant(CF_PLANT_LEAK)) changed = ~0ul;

  /* The changed sources, limit + 1 rows each, in one round trip (pipelined). */
  const char *pp[3] = {org, cur, lim};
  size_t total = 0, nsent = 0;
  unsigned sent[PULL_SOURCES];
  for (unsigned s = 0; s < PULL_SOURCES; s++) {
    if (!(changed & (1ul << s))) continue;
    if (s < CF_SCHEMA_NTABLES) {
      if ((rc = cf__sql_build_pull_stmt(&stmt, cf__schema_table(s))) != CF_OK) goto out;
      if ((srcs[nsent] = cf__strdup(stmt.p)) == NULL) rc = CF_NOMEM;
    } else {
      rc = cf__sql_named(CF__MASTER_SQL, "pull_tombstones", &srcs[nsent]);
    }
    if (rc != CF_OK) goto out;
    sent[nsent++] = s;
  }
  /* Binary results: every column is selected as text (the same bytes) but
  ** the versions, which come as their raw bytes instead of hex. */
  if ((rc = cf__pg_query_many_binary(pg, nsent, (const char *const *)srcs, 3, pp, got)) !=
      CF_OK)
    goto out;
  for (size_t i = 0; i < nsent; i++) { /* by source number, the others empty */
    res[sent[i]] = got[i];
    got[i] = NULL;
  }
  for (unsigned s = 0; s < PULL_SOURCES; s++)
    total += (size_t)cf__pg_nrows(res[s]);

  /* Where every source is complete: the smallest last seq of a full one. */
  uint64_t frontier = UINT64_MAX;
  refs = cf__malloc((total ? total : 1) * sizeof *refs);
  if (refs == NULL) {
    rc = CF_NOMEM;
    goto out;
  }
  size_t nref = 0;
  for (unsigned s = 0; s < PULL_SOURCES; s++) {
    int nr = cf__pg_nrows(res[s]);
    for (int r = 0; r < nr; r++) {
      refs[nref].seq = strtoull(cf__pg_value(res[s], r, 0), NULL, 10);
      refs[nref].source = s;
      refs[nref].row = r;
      nref++;
    }
    if ((size_t)nr > limit) {
      uint64_t last = strtoull(cf__pg_value(res[s], nr - 1, 0), NULL, 10);
      if (last < frontier) frontier = last;
    }
  }
  qsort(refs, nref, sizeof *refs, cmp_ref);
  size_t take = 0;
  while (take < nref && refs[take].seq <= frontier &&
         (take < limit || refs[take].seq == refs[take - 1].seq))
    take++;
  /* Where the page ends is known now: the conversion below leaves rows
  ** out but never moves the cut. */
  if (take < nref) {
    page->more = 1;
    page->next_cursor = refs[take - 1].seq;
  } else {
    page->more = 0;
    page->next_cursor = page->head > cursor ? page->head : cursor;
    if (take > 0 && refs[take - 1].seq > page->next_cursor)
      page->next_cursor = refs[take - 1].seq;
    if (cf__plant(CF_PLANT_CURSOR) && take > 0) page->next_cursor++;
  }
  if (on_cut != NULL && page->more)
    on_cut(ctx, page->next_cursor > cursor ? page->next_cursor : cursor, 1);
  page->items = cf__calloc(take ? take : 1, sizeof *page->items);
  if (page->items == NULL) {
    rc = CF_NOMEM;
    goto out;
  }
  for (size_t i = 0; i < take; i++) {
    cf__pull_item *it = &page->items[page->n];
    const pull_ref *ref = &refs[i];
    it->seq = ref->seq;
    if (ref->source == CF_SCHEMA_NTABLES)
      rc = tombstone_to_row(res[ref->source], ref->row, org, page->mem, &it->row);
    else
      rc = cf__pg_row_from_result(cf__schema_table(ref->source), res[ref->source],
                                  ref->row, 1, &tmp, page->mem, &it->row);
    if (rc == CF_CORRUPT) {
      /* Nothing the master stores may fail a pull (it would stop every
      ** member of the org): a row that cannot be sent is left out, and
      ** said so, loudly. */
      const char *id = cf__pg_value(res[ref->source], ref->row,
                                    ref->source == CF_SCHEMA_NTABLES ? 2 : 1);
      cf__log(
          CF_LOG_WARN,
          "msg=\"pull left out a row it cannot send\" org=%s source=%u row=%s seq=%llu",
          org, ref->source, id ? id : "?", (unsigned long long)ref->seq);
      page->skipped++;
      rc = CF_OK;
      continue;
    }
    if (rc != CF_OK) goto out;
    if (cf__plant(CF_PLANT_CASCADE) && ref->source == 4 &&
        it->row.cells[2].value.kind == CF_VALUE_NULL)
      it->row.cells[2].ver = cf__ver_floor();
    page->n++;
  }
out:
  if (in_tx) cf__pg_rollback(pg);
  for (unsigned s = 0; s < PULL_SOURCES; s++) {
    cf__pg_res_free(res[s]);
    cf__pg_res_free(got[s]);
    cf__free(srcs[s]);
  }
  cf__pg_res_free(begin);
  cf__free(sql);
  cf__free(as_user);
  cf__free(refs);
  cf__buf_free(&stmt);
  cf__buf_free(&tmp);
  return rc;
}
