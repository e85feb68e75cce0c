/*
** bench/bench_core.c: throughput of the pure core/ pieces every synced row
** goes through (clock, ids, canonical values, merge).  Built, never run by
** ctest; prints a table:  ./bench_core [iterations]
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clientflow.h"
#include "core/hlc.h"
#include "core/json.h"
#include "core/merge.h"
#include "core/uuid.h"
#include "core/value.h"
#include "platform/platform.h"

static volatile uint64_t sink; /* keeps results alive */

static void report(const char *what, long n, int64_t ns, size_t bytes) {
  double secs = (double)ns / 1e9;
  if (bytes > 0)
    printf("| %-34s | %12.0f | %8.1f |\n", what, (double)n / secs,
           (double)bytes / secs / 1e6);
  else
    printf("| %-34s | %12.0f | %8s |\n", what, (double)n / secs, "");
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  int64_t t0;
  printf("| %-34s | %12s | %8s |\n", "operation", "ops/s", "MB/s");
  printf("|%s|%s|%s|\n", "------------------------------------", "--------------",
         "----------");

  cf_hlc_clock clock;
  cf__hlc_init(&clock);
  t0 = cf__monotonic_ns();
  for (long i = 0; i < n; i++)
    sink += cf__hlc_now(&clock);
  report("cf__hlc_now", n, cf__monotonic_ns() - t0, 0);

  cf_uuid u;
  t0 = cf__monotonic_ns();
  for (long i = 0; i < n; i++) {
    if (cf__uuid_v7(&u) != CF_OK) return 1;
    sink += u.b[15];
  }
  report("cf__uuid_v7 (getrandom per id)", n, cf__monotonic_ns() - t0, 0);

  const cf_table *contacts = cf__schema_table_by_name("contacts");
  const cf_column *created = cf__schema_column(contacts, "created_at");
  const cf_column *meta = cf__schema_column(contacts, "metadata");
  const cf_column *value = cf__schema_column(cf__schema_table_by_name("deals"), "value");
  cf_buf b;
  cf__buf_init(&b, 1 << 20);
  cf_value in, out;

  const char *ts = "2026-11-28 16:00:00.123456+00";
  in = cf__value_text(ts, strlen(ts));
  t0 = cf__monotonic_ns();
  for (long i = 0; i < n; i++) {
    if (cf__value_canon(created, &in, &b, &out) != CF_OK) return 1;
    sink += out.n;
  }
  report("canon timestamptz", n, cf__monotonic_ns() - t0, 0);

  const char *num = "123456.785";
  in = cf__value_text(num, strlen(num));
  t0 = cf__monotonic_ns();
  for (long i = 0; i < n; i++) {
    if (cf__value_canon(value, &in, &b, &out) != CF_OK) return 1;
    sink += out.n;
  }
  report("canon numeric(14,2)", n, cf__monotonic_ns() - t0, 0);

  const char *doc = "{\"source\": \"web\", \"score\": 42.50, \"tags\": [\"a\", \"b\"], "
                    "\"address\": {\"city\": \"Lyon\", \"zip\": \"69001\", \"country\": "
                    "\"FR\"}, \"consent\": true, \"notes\": \"caf\\u00e9 \\\"x\\\"\"}";
  size_t dlen = strlen(doc);
  in = cf__value_text(doc, dlen);
  long nj = n / 4;
  t0 = cf__monotonic_ns();
  for (long i = 0; i < nj; i++) {
    if (cf__value_canon(meta, &in, &b, &out) != CF_OK) return 1;
    sink += out.n;
  }
  report("canon jsonb (190 B document)", nj, cf__monotonic_ns() - t0, (size_t)nj * dlen);

  /* Merge: a full contacts row, then a 3-column update that wins. */
  cf_row *row = malloc(sizeof *row), *ins = malloc(sizeof *ins),
         *upd = malloc(sizeof *upd);
  cf_nodeid node;
  memset(node.b, 7, sizeof node.b);
  cf_ver v1, v2;
  cf__ver_make(CF_HLC_MAKE(1000, 0), &node, &v1);
  cf__ver_make(CF_HLC_MAKE(2000, 0), &node, &v2);
  cf__row_init(ins, contacts);
  cf_value text = cf__value_text("0192f0c1-7c3a-7b2e-9f00-0123456789ab", 36);
  for (unsigned c = 0; c < contacts->ncols; c++)
    if (cf__row_set(ins, c, &text, c < 2 ? NULL : &v1) != CF_OK) return 1;
  cf__row_set_deleted(ins, 0, &v1);
  *upd = *ins;
  upd->present = contacts->key_mask | CF_COL_BIT(2) | CF_COL_BIT(3) | CF_COL_BIT(10);
  for (unsigned c = 2; c < contacts->ncols; c++)
    upd->cells[c].ver = v2;
  t0 = cf__monotonic_ns();
  for (long i = 0; i < n; i++) {
    cf__row_init(row, contacts);
    cf_merge_result res;
    if (cf__merge_into(row, ins, &res) != CF_OK) return 1;
    if (cf__merge_into(row, upd, &res) != CF_OK) return 1;
    sink += res.take;
  }
  report("merge insert+update (2 merges)", n, cf__monotonic_ns() - t0, 0);

  free(row);
  free(ins);
  free(upd);
  cf__buf_free(&b);
  return sink == 42 ? 2 : 0;
}
