/*
** tests/unit/test_formats.c: the byte formats of docs/formats.md, byte by
** byte: HLC timestamps and versions, UUIDv7, the order-preserving value
** encoding, the replica's version blob and the frame codec.  The expected
** bytes are spelled out here, so the same test passing natively and under
** qemu for big-endian s390x (scripts/cross.sh) shows the formats do not
** depend on the machine's byte order.
*/
#include <stdlib.h>
#include <string.h>

#include "cf_test.h"
#include "clientflow.h"
#include "core/buf.h"
#include "core/codec.h"
#include "core/crypto.h"
#include "core/row.h"
#include "core/schema.h"
#include "core/uuid.h"
#include "core/value.h"
#include "core/version.h"
#include "store/vblob.h"

#define T0_MS INT64_C(1767225600000) /* 2026-01-01T00:00:00Z = 0x019b76daa800 */

/* Checks that b[0..n) is the hex text want (lowercase). */
static void check_hex(const void *b, size_t n, const char *want) {
  char *h = malloc(2 * n + 1);
  CHECK(h != NULL);
  cf__hex(b, n, h);
  h[2 * n] = '\0';
  int same = strcmp(h, want) == 0;
  if (!same) fprintf(stderr, "got  %s\nwant %s\n", h, want);
  free(h);
  CHECK(same);
}

static cf_nodeid node_0_to_15(void) {
  cf_nodeid id;
  for (int i = 0; i < CF_NODE_ID_LEN; i++)
    id.b[i] = (unsigned char)i;
  return id;
}

CF_TEST(test_format_hlc_and_version_bytes) {
  cf_hlc h = CF_HLC_MAKE(T0_MS, 5);
  CHECK(h == UINT64_C(0x019b76daa8000005));
  cf_nodeid id = node_0_to_15();
  cf_ver v;
  cf__ver_make(h, &id, &v);
  check_hex(v.b, CF_VER_LEN, "019b76daa8000005000102030405060708090a0b0c0d0e0f");
  CHECK(cf__ver_hlc(&v) == h);
  char text[CF_VER_TEXT_LEN];
  CHECK_STR(cf__ver_format(&v, text),
            "019b76daa8000005-000102030405060708090a0b0c0d0e0f");
  cf_ver floor = cf__ver_floor();
  check_hex(floor.b, CF_VER_LEN, "000000000000000100000000000000000000000000000000");
}

static int64_t t0_clock(void *ctx) { return T0_MS; }
static int counting_random(void *ctx, unsigned char *buf, size_t len) {
  for (size_t i = 0; i < len; i++)
    buf[i] = (unsigned char)i;
  return 0;
}

CF_TEST(test_format_uuid_v7_bytes) {
  cf_set_clock_hook(t0_clock, NULL);
  cf_set_random_hook(counting_random, NULL);
  cf_uuid u;
  int rc = cf__uuid_v7(&u);
  cf_set_clock_hook(NULL, NULL);
  cf_set_random_hook(NULL, NULL);
  CHECK_OK(rc);
  /* ms 0x019b76daa800; rand_a 0x607 (bytes 0..7 of the random, low 12
  ** bits) under version 7; rand_b 0x08090a0b0c0d0e0f (bytes 8..15, low 62
  ** bits) under variant 10. */
  check_hex(u.b, CF_UUID_LEN, "019b76daa800760788090a0b0c0d0e0f");
  char text[CF_UUID_TEXT_LEN];
  CHECK_STR(cf__uuid_format(&u, text), "019b76da-a800-7607-8809-0a0b0c0d0e0f");
  CHECK(cf__uuid_v7_ms(&u) == T0_MS);
}

CF_TEST(test_format_value_encoding_bytes) {
  static const struct {
    cf_value v;
    const char *hex;
  } cases[] = {
      {{CF_VALUE_NULL, 0, 0, NULL, 0}, "00"},
      {{CF_VALUE_INT, -2, 0, NULL, 0}, "017ffffffffffffffe"},
      {{CF_VALUE_INT, 300, 0, NULL, 0}, "01800000000000012c"},
      {{CF_VALUE_REAL, 0, 1.5, NULL, 0}, "02bff8000000000000"},
      {{CF_VALUE_REAL, 0, -1.5, NULL, 0}, "024007ffffffffffff"},
      {{CF_VALUE_TEXT, 0, 0, "ab", 2}, "03616200"},
      {{CF_VALUE_BLOB, 0, 0, "\x01\xff", 2}, "040000000201ff"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cf_buf b;
    cf__buf_init(&b, 64);
    CHECK_OK(cf__value_encode(&cases[i].v, &b));
    check_hex(b.p, b.len, cases[i].hex);
    cf__buf_free(&b);
  }
}

/* The remote contact of tests/portable/replica_portable.c: first_name and
** deleted at (T0 + 100000 ms, 3), email at (T0 + 100001 ms, 0), both of node
** ab..ab, every other cell never written. */
CF_TEST(test_format_version_blob_bytes) {
  const cf_table *t = cf__schema_table_by_name("contacts");
  CHECK(t != NULL && t->ncols == 11);
  cf_nodeid ab;
  memset(ab.b, 0xab, sizeof ab.b);
  cf_ver v1, v2;
  cf__ver_make(CF_HLC_MAKE(T0_MS + 100000, 3), &ab, &v1);
  cf__ver_make(CF_HLC_MAKE(T0_MS + 100001, 0), &ab, &v2);
  cf_vrow row;
  static const cf_ver zero;
  cf__vrow_fill(&row, t->ncols + 1, &zero);
  row.v[cf__schema_column_index(t, "first_name")] = v1;
  row.v[cf__schema_column_index(t, "email")] = v2;
  row.v[t->ncols] = v1;
  unsigned char out[CF_VBLOB_MAX_LEN];
  size_t n = cf__vblob_encode(&row, t->key_mask, out);
  check_hex(out, n,
            "03"
            "019b76dc2ea00003abababababababababababababababab"
            "000000000000000000000000000000000000000000000000"
            "019b76dc2ea10000abababababababababababababababab"
            "000000010201010101010100");
  cf_vrow back;
  CHECK_OK(cf__vblob_decode(out, n, t->ncols + 1, &back));
  CHECK(cf__ver_cmp(&back.v[2], &v1) == 0 && cf__ver_cmp(&back.v[4], &v2) == 0);
}

CF_TEST(test_format_frame_bytes) {
  cf_buf b;
  cf__buf_init(&b, 1 << 16);
  /* LIVE with head 300: fixarray(3), version 1, type 10, uint16 300. */
  CHECK_OK(cf__encode_seq(CF_FRAME_LIVE, 300, &b));
  check_hex(b.p, b.len, "93010acd012c");

  /* One ROW: a contact with its two key cells and first_name "Ada" at
  ** version (T0 ms, 5) of node 00..0f. */
  cf__buf_reset(&b);
  const cf_table *t = cf__schema_table_by_name("contacts");
  cf_row row;
  cf__row_init(&row, t);
  cf_value org = cf__value_text("0190f1a2-0000-7000-8000-00000000a001", 36);
  cf_value id = cf__value_text("0190f1a2-0000-7000-8000-0000000c0001", 36);
  cf_value name = cf__value_text("Ada", 3);
  cf_nodeid node = node_0_to_15();
  cf_ver v;
  cf__ver_make(CF_HLC_MAKE(T0_MS, 5), &node, &v);
  CHECK_OK(cf__row_set(&row, 0, &org, NULL));
  CHECK_OK(cf__row_set(&row, 1, &id, NULL));
  CHECK_OK(cf__row_set(&row, 2, &name, &v));
  CHECK_OK(cf__codec_put_row(&row, &b));
  check_hex(b.p, b.len,
            "95"   /* ROW = array(5) */
            "03"   /* table 3, contacts */
            "07"   /* present: cells 0, 1, 2 */
            "93"   /* values: array(3) */
            "d924" /* str8, 36 bytes: org_id */
            "30313930663161322d303030302d373030302d383030302d303030303030303061303031"
            "d924" /* id */
            "30313930663161322d303030302d373030302d383030302d303030303030306330303031"
            "a3416461" /* fixstr "Ada" */
            "91"       /* vers: array(1) */
            "c418"     /* bin8, 24 bytes: the version */
            "019b76daa8000005000102030405060708090a0b0c0d0e0f"
            "c0"); /* vidx: nil (one version) */
  cf__buf_free(&b);
}
