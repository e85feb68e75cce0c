/*
** tests/unit/test_merge.c: THE merge function (core/merge.h) over rows and
** changes (core/row.h).
**
** The property tests draw thousands of random change sets from a seeded
** generator: few nodes and a narrow HLC range, so equal versions, equal
** HLCs with different nodes, and (deliberately, to prove the tie-break) the
** same version with different values all happen often.
*/
#include <stdlib.h>
#include <string.h>

#include "cf_test.h"
#include "clientflow.h"
#include "core/merge.h"
#include "core/row.h"
#include "core/schema.h"
#include "platform/platform.h"

static const char *const texts[] = {"", "a", "b", "ab", "zz", "\xc3\xa9"};
static const char key_org[] = "0192f0c1-0000-7000-8000-000000000001";
static const char *const key_ids[] = {"0192f0c1-0000-7000-8000-0000000000a1",
                                      "0192f0c1-0000-7000-8000-0000000000a2",
                                      "0192f0c1-0000-7000-8000-0000000000a3"};

static void make_ver(uint64_t *st, cf_ver *v) {
  cf_nodeid node;
  memset(node.b, 0, sizeof node.b);
  node.b[15] = (unsigned char)(1 + cf_test_rand(st) % 3); /* three nodes */
  cf_hlc h = CF_HLC_MAKE(1000 + cf_test_rand(st) % 4, cf_test_rand(st) % 3);
  cf__ver_make(h, &node, v);
}

static cf_value random_value(uint64_t *st) {
  switch (cf_test_rand(st) % 4) {
    case 0:
      return cf__value_null();
    case 1:
      return cf__value_int((int64_t)(cf_test_rand(st) % 5) - 2);
    default: {
      const char *t = texts[cf_test_rand(st) % (sizeof texts / sizeof texts[0])];
      return cf__value_text(t, strlen(t));
    }
  }
}

static void set_key(cf_row *r, unsigned which) {
  const cf_table *t = r->table;
  cf_value org = cf__value_text(key_org, 36);
  cf_value id = cf__value_text(key_ids[which], 36);
  CHECK_OK(cf__row_set(r, (unsigned)t->org_col, &org, NULL));
  CHECK_OK(cf__row_set(r, (unsigned)t->id_col, &id, NULL));
}

/* A random change to row `which` of contacts: a random subset of cells. */
static void random_change(uint64_t *st, const cf_table *t, unsigned which, cf_row *c) {
  cf__row_init(c, t);
  set_key(c, which);
  uint64_t data = cf__schema_mask_data(t);
  uint64_t pick = cf_test_rand(st) & data;
  if (pick == 0) pick = CF_COL_BIT(t->ncols); /* at least one cell */
  cf_ver shared;
  make_ver(st, &shared); /* most changes are one write: one version */
  for (unsigned i = 0; i <= t->ncols; i++) {
    if (!(pick & CF_COL_BIT(i))) continue;
    cf_ver v = shared;
    if (cf_test_rand(st) % 8 == 0) make_ver(st, &v);
    if (i == t->ncols) {
      cf__row_set_deleted(c, (int)(cf_test_rand(st) % 2), &v);
    } else {
      cf_value val = random_value(st);
      CHECK_OK(cf__row_set(c, i, &val, &v));
    }
  }
}

/* Encodes row into a fresh malloc'd buffer for comparison. */
static char *encode(const cf_row *r, size_t *len) {
  cf_buf b;
  cf__buf_init(&b, 1 << 20);
  CHECK_OK(cf__row_encode(r, &b));
  return cf__buf_detach(&b, len);
}

static void check_same_row(const cf_row *a, const cf_row *b, const char *what) {
  size_t la, lb;
  char *ea = encode(a, &la), *eb = encode(b, &lb);
  int same = la == lb && memcmp(ea, eb, la) == 0;
  cf__free(ea);
  cf__free(eb);
  CHECK_MSG(same, "%s: rows differ", what);
  CHECK(cf__row_equal(a, b));
}

/* Merges every change of list (in order) into a fresh row. */
static void fold(const cf_table *t, cf_row *const *list, size_t n, cf_row *out) {
  cf__row_init(out, t);
  for (size_t i = 0; i < n; i++)
    CHECK_OK(cf__merge_into(out, list[i], NULL));
}

CF_TEST(test_merge_is_commutative_over_random_changes) {
  uint64_t st = cf_test_seed();
  const cf_table *t = cf__schema_table_by_name("contacts");
  cf_row *a = malloc(sizeof *a), *b = malloc(sizeof *b);
  cf_row *ab = malloc(sizeof *ab), *ba = malloc(sizeof *ba);
  for (int round = 0; round < 5000; round++) {
    random_change(&st, t, 0, a);
    random_change(&st, t, 0, b);
    cf_row *l1[] = {a, b}, *l2[] = {b, a};
    fold(t, l1, 2, ab);
    fold(t, l2, 2, ba);
    check_same_row(ab, ba, "a+b vs b+a");
    /* Merging a row into a row: also commutative. */
    cf_row *x = malloc(sizeof *x), *y = malloc(sizeof *y);
    *x = *a;
    *y = *b;
    CHECK_OK(cf__merge_into(x, b, NULL));
    CHECK_OK(cf__merge_into(y, a, NULL));
    check_same_row(x, y, "row-into-row");
    free(x);
    free(y);
  }
  free(a);
  free(b);
  free(ab);
  free(ba);
}

CF_TEST(test_merge_is_associative_over_random_changes) {
  uint64_t st = cf_test_seed();
  const cf_table *t = cf__schema_table_by_name("deals");
  cf_row *a = malloc(sizeof *a), *b = malloc(sizeof *b), *c = malloc(sizeof *c);
  cf_row *left = malloc(sizeof *left), *bc = malloc(sizeof *bc),
         *right = malloc(sizeof *right);
  for (int round = 0; round < 5000; round++) {
    random_change(&st, t, 1, a);
    random_change(&st, t, 1, b);
    random_change(&st, t, 1, c);
    /* (a + b) + c */
    *left = *a;
    CHECK_OK(cf__merge_into(left, b, NULL));
    CHECK_OK(cf__merge_into(left, c, NULL));
    /* a + (b + c) */
    *bc = *b;
    CHECK_OK(cf__merge_into(bc, c, NULL));
    *right = *a;
    CHECK_OK(cf__merge_into(right, bc, NULL));
    check_same_row(left, right, "(a+b)+c vs a+(b+c)");
  }
  free(a);
  free(b);
  free(c);
  free(left);
  free(bc);
  free(right);
}

CF_TEST(test_merge_is_idempotent_over_random_changes) {
  uint64_t st = cf_test_seed();
  const cf_table *t = cf__schema_table_by_name("activities");
  cf_row *a = malloc(sizeof *a), *b = malloc(sizeof *b), *row = malloc(sizeof *row);
  cf_row *again = malloc(sizeof *again);
  for (int round = 0; round < 5000; round++) {
    random_change(&st, t, 2, a);
    random_change(&st, t, 2, b);
    cf__row_init(row, t);
    CHECK_OK(cf__merge_into(row, a, NULL));
    CHECK_OK(cf__merge_into(row, b, NULL));
    *again = *row;
    cf_merge_result res;
    CHECK_OK(cf__merge_into(again, b, &res)); /* re-delivered change */
    CHECK_EQ(res.take, 0);
    check_same_row(row, again, "x+b+b vs x+b");
    CHECK_OK(cf__merge_into(again, a, &res));
    CHECK_EQ(res.take, 0);
    CHECK_OK(cf__merge_into(again, row, &res)); /* a row into itself */
    CHECK_EQ(res.take, 0);
    CHECK_EQ(res.superseded, 0);
    check_same_row(row, again, "x+x vs x");
  }
  free(a);
  free(b);
  free(row);
  free(again);
}

/* The reference: each non-key cell is the greatest (version, value). */
static void reference(const cf_table *t, cf_row *const *list, size_t n, cf_row *out) {
  cf__row_init(out, t);
  for (size_t i = 0; i < n; i++) {
    const cf_row *c = list[i];
    for (unsigned k = 0; k <= t->ncols; k++) {
      if (!(c->present & CF_COL_BIT(k))) continue;
      if ((t->key_mask & CF_COL_BIT(k)) || !(out->present & CF_COL_BIT(k)) ||
          cf__cell_cmp(&c->cells[k], &out->cells[k]) > 0) {
        out->cells[k] = c->cells[k];
        out->present |= CF_COL_BIT(k);
      }
    }
  }
}

CF_TEST(test_merge_any_arrival_order_gives_byte_identical_rows) {
  uint64_t st = cf_test_seed();
  enum { MAXN = 16, ORDERS = 6, NROWS = 3 };
  cf_row *changes = malloc(MAXN * sizeof *changes);
  cf_row *replica = malloc(NROWS * sizeof *replica);
  cf_row *first = malloc(NROWS * sizeof *first);
  cf_row *ref = malloc(sizeof *ref);
  const cf_table *tables[] = {cf__schema_table_by_name("contacts"),
                              cf__schema_table_by_name("daily_metrics"),
                              cf__schema_table_by_name("organizations")};
  for (int set = 0; set < 3000; set++) {
    const cf_table *t = tables[set % 3];
    size_t n = 1 + cf_test_rand(&st) % MAXN;
    unsigned which[MAXN];
    for (size_t i = 0; i < n; i++) {
      which[i] = (unsigned)(cf_test_rand(&st) % NROWS);
      if (t->tenant) {
        random_change(&st, t, which[i], &changes[i]);
      } else {
        /* organizations: key is id only. */
        random_change(&st, cf__schema_table_by_name("contacts"), which[i], &changes[i]);
        cf_row tmp;
        cf__row_init(&tmp, t);
        cf_value id = cf__value_text(key_ids[which[i]], 36);
        CHECK_OK(cf__row_set(&tmp, 0, &id, NULL));
        for (unsigned k = 1; k <= t->ncols; k++) {
          unsigned from = k == t->ncols ? changes[i].table->ncols : k + 1;
          if (changes[i].present & CF_COL_BIT(from))
            CHECK_OK(cf__row_set(&tmp, k, &changes[i].cells[from].value,
                                 &changes[i].cells[from].ver));
        }
        changes[i] = tmp;
      }
    }
    for (int order = 0; order < ORDERS; order++) {
      size_t perm[2 * MAXN], m = n;
      for (size_t i = 0; i < n; i++)
        perm[i] = i;
      /* Shuffle, and re-deliver a few changes (duplicates are harmless). */
      for (size_t i = n; i > 1; i--) {
        size_t j = cf_test_rand(&st) % i, tmp = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = tmp;
      }
      if (order % 2 == 1)
        for (size_t d = 0; d < 3; d++)
          perm[m++] = perm[cf_test_rand(&st) % n];
      for (unsigned r = 0; r < NROWS; r++)
        cf__row_init(&replica[r], t);
      for (size_t i = 0; i < m; i++) {
        cf_merge_result res;
        CHECK_OK(cf__merge_into(&replica[which[perm[i]]], &changes[perm[i]], &res));
        CHECK_EQ(res.take & res.superseded, 0);
        CHECK_EQ((res.take | res.superseded | res.same),
                 changes[perm[i]].present & ~t->key_mask);
        CHECK_EQ(res.visible, !cf__row_is_deleted(&replica[which[perm[i]]]));
      }
      for (unsigned r = 0; r < NROWS; r++) {
        if (order == 0) {
          first[r] = replica[r];
          /* And the replica equals the reference model. */
          cf_row *mine[MAXN];
          size_t k = 0;
          for (size_t i = 0; i < n; i++)
            if (which[i] == r) mine[k++] = &changes[i];
          reference(t, mine, k, ref);
          check_same_row(&replica[r], ref, "replica vs reference");
        } else {
          check_same_row(&replica[r], &first[r], "order vs first order");
        }
      }
    }
  }
  free(changes);
  free(replica);
  free(first);
  free(ref);
}

/* A version with hlc h from node n. */
static cf_ver ver(unsigned h, unsigned char n) {
  cf_nodeid node;
  memset(node.b, n, sizeof node.b);
  cf_ver v;
  cf__ver_make(CF_HLC_MAKE(1000, h), &node, &v);
  return v;
}

CF_TEST(test_merge_soft_delete_is_a_column_and_edits_do_not_resurrect) {
  const cf_table *t = cf__schema_table_by_name("contacts");
  unsigned first = (unsigned)cf__schema_column_index(t, "first_name");
  cf_row row, ins, del, edit, undel;
  cf_merge_result res;
  cf_value name1 = cf__value_text("Ann", 3), name2 = cf__value_text("Bea", 3);
  cf_ver v1 = ver(1, 1), v2 = ver(2, 1), v3 = ver(3, 2), v4 = ver(4, 1);

  cf__row_init(&ins, t);
  set_key(&ins, 0);
  CHECK_OK(cf__row_set(&ins, first, &name1, &v1));
  cf__row_set_deleted(&ins, 0, &v1);
  cf__row_init(&del, t);
  set_key(&del, 0);
  cf__row_set_deleted(&del, 1, &v2);
  cf__row_init(&edit, t);
  set_key(&edit, 0);
  CHECK_OK(cf__row_set(&edit, first, &name2, &v3));
  cf__row_init(&undel, t);
  set_key(&undel, 0);
  cf__row_set_deleted(&undel, 0, &v4);

  cf__row_init(&row, t);
  CHECK_OK(cf__merge_into(&row, &ins, &res));
  CHECK(!res.was_visible && res.visible);
  CHECK_OK(cf__merge_into(&row, &del, &res));
  CHECK(res.was_visible && !res.visible);
  CHECK(cf__row_is_deleted(&row));
  /* A newer edit lands in the hidden row but does not show it again. */
  CHECK_OK(cf__merge_into(&row, &edit, &res));
  CHECK(!res.was_visible && !res.visible);
  CHECK_EQ(res.take, CF_COL_BIT(first));
  CHECK(cf__value_equal(&row.cells[first].value, &name2));
  /* Only a newer deleted = 0 undeletes, with the latest edit visible. */
  CHECK_OK(cf__merge_into(&row, &undel, &res));
  CHECK(!res.was_visible && res.visible);
  CHECK(!cf__row_is_deleted(&row));
  /* An older undelete than the delete loses. */
  cf_row row2, old_undel;
  cf__row_init(&row2, t);
  CHECK_OK(cf__merge_into(&row2, &del, NULL));
  cf__row_init(&old_undel, t);
  set_key(&old_undel, 0);
  cf__row_set_deleted(&old_undel, 0, &v1);
  CHECK_OK(cf__merge_into(&row2, &old_undel, &res));
  CHECK_EQ(res.superseded, CF_COL_BIT(t->ncols));
  CHECK(!res.visible);
}

CF_TEST(test_merge_classifies_take_superseded_same_and_breaks_ties) {
  const cf_table *t = cf__schema_table_by_name("deals");
  unsigned title = (unsigned)cf__schema_column_index(t, "title");
  unsigned stage = (unsigned)cf__schema_column_index(t, "stage");
  unsigned cur = (unsigned)cf__schema_column_index(t, "currency");
  cf_row local, change;
  cf_merge_result res;
  cf_value a = cf__value_text("a", 1), b = cf__value_text("b", 1);
  cf_ver old = ver(1, 1), mid = ver(2, 1), mid_other_node = ver(2, 9), newer = ver(3, 1);

  cf__row_init(&local, t);
  set_key(&local, 0);
  CHECK_OK(cf__row_set(&local, title, &a, &mid));
  CHECK_OK(cf__row_set(&local, stage, &a, &mid));
  CHECK_OK(cf__row_set(&local, cur, &b, &mid));

  cf__row_init(&change, t);
  set_key(&change, 0);
  CHECK_OK(cf__row_set(&change, title, &b, &newer)); /* newer: take */
  CHECK_OK(cf__row_set(&change, stage, &b, &old));   /* older: superseded */
  CHECK_OK(cf__row_set(&change, cur, &b, &mid));     /* identical: same */
  CHECK_OK(cf__merge(&local, &change, &res));
  CHECK_EQ(res.take, CF_COL_BIT(title));
  CHECK_EQ(res.superseded, CF_COL_BIT(stage));
  CHECK_EQ(res.same, CF_COL_BIT(cur));

  /* Equal HLC, different node: the greater node id wins. */
  cf__row_init(&change, t);
  set_key(&change, 0);
  CHECK_OK(cf__row_set(&change, stage, &b, &mid_other_node));
  CHECK_OK(cf__merge(&local, &change, &res));
  CHECK_EQ(res.take, CF_COL_BIT(stage));

  /* Same version, different value: the greater value wins, both ways. */
  cf__row_init(&change, t);
  set_key(&change, 0);
  CHECK_OK(cf__row_set(&change, title, &b, &mid));
  CHECK_OK(cf__merge(&local, &change, &res));
  CHECK_EQ(res.take, CF_COL_BIT(title));
  cf_row l2 = change, c2 = local;
  CHECK_OK(cf__merge(&l2, &c2, &res));
  CHECK_EQ(res.superseded & CF_COL_BIT(title), CF_COL_BIT(title));
}

CF_TEST(test_merge_refuses_different_rows_and_tables) {
  const cf_table *t = cf__schema_table_by_name("contacts");
  cf_row x, y;
  cf_merge_result res;
  cf__row_init(&x, t);
  set_key(&x, 0);
  cf_ver v = ver(1, 1);
  cf__row_set_deleted(&x, 0, &v);
  cf__row_init(&y, t);
  set_key(&y, 1);
  cf__row_set_deleted(&y, 0, &v);
  CHECK_EQ(cf__merge(&x, &y, &res), CF_MISUSE);
  cf__row_init(&y, cf__schema_table_by_name("deals"));
  set_key(&y, 0);
  cf__row_set_deleted(&y, 0, &v);
  CHECK_EQ(cf__merge(&x, &y, &res), CF_MISUSE);
  CHECK_EQ(cf__merge(&x, NULL, &res), CF_MISUSE);
  /* Key cells carry no version and never count as taken. */
  cf_row fresh;
  cf__row_init(&fresh, t);
  CHECK_OK(cf__merge_into(&fresh, &x, &res));
  CHECK_EQ(res.take & t->key_mask, 0);
  CHECK(cf__row_same_key(&fresh, &x));
  /* The deleted cell only takes 0 or 1. */
  cf_value two = cf__value_int(2);
  CHECK_EQ(cf__row_set(&x, t->ncols, &two, &v), CF_MISUSE);
  CHECK_EQ(cf__row_set(&x, t->ncols + 1, &two, &v), CF_MISUSE);
}

CF_TEST(test_row_max_version_and_encoding_distinguishes_versions) {
  const cf_table *t = cf__schema_table_by_name("contacts");
  cf_row r1, r2;
  cf__row_init(&r1, t);
  set_key(&r1, 0);
  cf_ver v1 = ver(1, 1), v2 = ver(2, 1);
  cf_value a = cf__value_text("a", 1);
  CHECK_OK(cf__row_set(&r1, 2, &a, &v1));
  CHECK_OK(cf__row_set(&r1, 3, &a, &v2));
  cf_ver m;
  cf__row_max_ver(&r1, &m);
  CHECK_EQ(cf__ver_cmp(&m, &v2), 0);
  r2 = r1;
  r2.cells[2].ver = v2;
  CHECK(!cf__row_equal(&r1, &r2));
  size_t l1, l2;
  char *e1 = encode(&r1, &l1), *e2 = encode(&r2, &l2);
  CHECK(l1 == l2 && memcmp(e1, e2, l1) != 0);
  cf__free(e1);
  cf__free(e2);
}
