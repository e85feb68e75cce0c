/*
** tests/fuzz/corpus_gen.c: writes the fuzz targets' seed corpora with the
** project's own encoders (core/codec.h, sync/auth.h, sync/rest.h), in the
** input layouts of tests/fuzz/fuzz_inputs.h.  Fuzzing is described in
** docs/testing.md, "Fuzzing".
**
**   fuzz_corpus_gen DIR     writes DIR/<target>/<seed> for every target
**
** The output is deterministic (fixed versions, ids and times, no
** randomness), so regenerating the checked-in tests/fuzz/corpus/ changes
** nothing unless an encoder did.  Seeds are small (the largest is a few
** hundred bytes); regression inputs that the fuzzers found are added to
** tests/fuzz/corpus/<target>/ by hand, named regress-*.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clientflow.h"
#include "core/buf.h"
#include "core/codec.h"
#include "core/json.h"
#include "core/row.h"
#include "core/schema.h"
#include "core/value.h"
#include "core/version.h"
#include "fuzz_inputs.h"
#include "sync/auth/auth.h"
#include "sync/server/rest.h"

#define ID1 "0190f1a2-0000-7000-8000-000000000001"
#define ID2 "0190f1a2-0000-7000-8000-000000000002"
#define ID3 "0190f1a2-0000-7000-8000-000000000003"
#define TS1 "2027-01-15T07:00:00.000000Z"
#define TS2 "2027-01-15T07:30:00.250000Z"

static const char *outdir;

static void die(const char *what, int rc) {
  fprintf(stderr, "fuzz_corpus_gen: %s: %s\n", what, cf_strerror(rc));
  exit(1);
}

static void mkdir_p(const char *p) {
  if (mkdir(p, 0755) != 0 && errno != EEXIST) die(p, CF_IO);
}

/* Writes bytes[0..n) as outdir/target/name. */
static void put(const char *target, const char *name, const void *bytes, size_t n) {
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", outdir, target);
  mkdir_p(p);
  snprintf(p, sizeof p, "%s/%s/%s", outdir, target, name);
  FILE *f = fopen(p, "wb");
  if (f == NULL || fwrite(bytes, 1, n, f) != n || fclose(f) != 0) die(p, CF_IO);
}

/* Writes a mode byte followed by text (which may hold NULs: n bytes). */
static void put_mode(const char *target, const char *name, unsigned char mode,
                     const char *text, size_t n) {
  unsigned char buf[8192];
  if (n + 1 > sizeof buf) die(name, CF_TOOBIG);
  buf[0] = mode;
  memcpy(buf + 1, text, n);
  put(target, name, buf, n + 1);
}

/* ---- rows and frames ----------------------------------------------------- */

static cf_ver ver_at(int64_t ms, unsigned counter, unsigned char node_byte) {
  cf_nodeid id;
  cf_ver v;
  memset(&id, node_byte, sizeof id);
  cf__ver_make(CF_HLC_MAKE(ms, counter), &id, &v);
  return v;
}

static void set_text(cf_row *row, const char *col, const char *s, const cf_ver *v) {
  int c = cf__schema_column_index(row->table, col);
  if (c < 0) die(col, CF_NOTFOUND);
  cf_value val = s != NULL ? cf__value_text(s, strlen(s)) : cf__value_null();
  int rc = cf__row_set(row, (unsigned)c, &val, v);
  if (rc != CF_OK) die(col, rc);
}

static void set_int(cf_row *row, const char *col, int64_t i, const cf_ver *v) {
  int c = cf__schema_column_index(row->table, col);
  if (c < 0) die(col, CF_NOTFOUND);
  cf_value val = cf__value_int(i);
  int rc = cf__row_set(row, (unsigned)c, &val, v);
  if (rc != CF_OK) die(col, rc);
}

/* A row of table with key (org, id); org NULL for the global tables. */
static void keyed(cf_row *row, const char *table, const char *org, const char *id) {
  cf__row_init(row, cf__schema_table_by_name(table));
  if (row->table == NULL) die(table, CF_NOTFOUND);
  if (org != NULL) set_text(row, "org_id", org, NULL);
  set_text(row, "id", id, NULL);
}

static void contact_full(cf_row *r, const char *org, const char *id, const cf_ver *v) {
  keyed(r, "contacts", org, id);
  set_text(r, "first_name", "Ava", v);
  set_text(r, "last_name", "Lindqvist", v);
  set_text(r, "email", "ava@example.com", v);
  set_text(r, "phone", "+1-555-0100", v);
  set_text(r, "company", "Northwind", v);
  set_text(r, "tags", "[\"lead\",\"vip\"]", v);
  set_text(r, "metadata", "{\"score\":1.5,\"src\":\"web\"}", v);
  set_text(r, "created_at", TS1, v);
  set_text(r, "updated_at", TS1, v);
  cf__row_set_deleted(r, 0, v);
}

static void deal_full(cf_row *r, const cf_ver *v) {
  keyed(r, "deals", FUZZ_ORG, ID2);
  set_text(r, "contact_id", ID1, v);
  set_text(r, "title", "Fleet renewal", v);
  set_text(r, "stage", "proposal", v);
  set_text(r, "value", "12500.00", v);
  set_text(r, "currency", "EUR", v);
  set_text(r, "expected_close", "2027-03-31", v);
  set_text(r, "closed_at", NULL, v);
  set_text(r, "metadata", "{}", v);
  set_text(r, "created_at", TS1, v);
  set_text(r, "updated_at", TS2, v);
  cf__row_set_deleted(r, 0, v);
}

static void metrics_full(cf_row *r, const cf_ver *v) {
  keyed(r, "daily_metrics", FUZZ_ORG, ID3);
  set_text(r, "day", "2027-01-14", v);
  set_int(r, "new_contacts", 4, v);
  set_int(r, "deals_won", 1, v);
  set_text(r, "revenue", "-0.50", v);
  set_int(r, "appointments_booked", 2147483647, v);
  set_int(r, "messages_sent", 0, v);
  set_text(r, "created_at", TS1, v);
  set_text(r, "updated_at", TS1, v);
  cf__row_set_deleted(r, 0, v);
}

static void automation_full(cf_row *r, const cf_ver *v) {
  keyed(r, "automations", FUZZ_ORG, ID3);
  set_text(r, "name", "Welcome", v);
  set_text(r, "trigger", "contact.created", v);
  set_text(r, "action", "send_email", v);
  set_text(r, "config", "{\"delay\":[1,2,{\"a\":null}],\"on\":true}", v);
  set_int(r, "enabled", 1, v);
  set_text(r, "created_at", TS1, v);
  set_text(r, "updated_at", TS1, v);
  cf__row_set_deleted(r, 0, v);
}

static void activity_full(cf_row *r, const cf_ver *v) {
  keyed(r, "activities", FUZZ_ORG, ID2);
  set_text(r, "kind", "call", v);
  set_text(r, "subject", "Intro \xc3\xa9t\xc3\xa9", v);
  set_text(r, "body", NULL, v);
  set_text(r, "contact_id", ID1, v);
  set_text(r, "deal_id", NULL, v);
  set_text(r, "user_id", FUZZ_USER, v);
  set_text(r, "occurred_at", TS1, v);
  set_text(r, "due_at", TS2, v);
  set_text(r, "completed_at", NULL, v);
  set_text(r, "metadata", "{}", v);
  set_text(r, "created_at", TS1, v);
  set_text(r, "updated_at", TS1, v);
  cf__row_set_deleted(r, 0, v);
}

/* Encodes a CHANGES page of rows. */
static void changes(cf_buf *out, const cf_row *rows, size_t n, uint64_t last, int more) {
  cf_changes c = {last, more, last + (more ? 10 : 0), (cf_row *)rows, n};
  cf__buf_reset(out);
  int rc = cf__encode_changes(&c, out);
  if (rc != CF_OK) die("encode changes", rc);
}

static void put_buf(const char *target, const char *name, const cf_buf *b) {
  put(target, name, b->p, b->len);
}

/* CHANGES pages: seeds of both the decoder and the replica. */
static void gen_changes(void) {
  static const char *const targets[] = {"fuzz_frame_decode", "fuzz_replica_apply"};
  cf_buf b;
  cf_row rows[4];
  cf_ver v1 = ver_at(FUZZ_NOW_MS - 60000, 0, 0x11);
  cf_ver v2 = ver_at(FUZZ_NOW_MS - 1000, 3, 0x22);
  cf_ver v3 = ver_at(FUZZ_NOW_MS + 1000, 0, 0x33);
  cf_ver ahead = ver_at(FUZZ_NOW_MS + 3600000, 0, 0x44);
  cf__buf_init(&b, CF_CODEC_MAX_FRAME);
  for (size_t t = 0; t < 2; t++) {
    const char *tg = targets[t];
    changes(&b, NULL, 0, 0, 0);
    put_buf(tg, "changes-empty", &b);

    contact_full(&rows[0], FUZZ_ORG, ID1, &v1);
    changes(&b, rows, 1, 7, 0);
    put_buf(tg, "changes-contact-insert", &b);

    /* A partial update in three versions (vers dictionary and vidx). */
    keyed(&rows[0], "contacts", FUZZ_ORG, ID1);
    set_text(&rows[0], "email", "ava@northwind.example", &v2);
    set_text(&rows[0], "phone", NULL, &v3);
    set_text(&rows[0], "updated_at", TS2, &v2);
    set_text(&rows[0], "tags", "[]", &v1);
    changes(&b, rows, 1, 8, 1);
    put_buf(tg, "changes-contact-update-3-versions", &b);

    keyed(&rows[0], "contacts", FUZZ_ORG, ID1);
    cf__row_set_deleted(&rows[0], 1, &v3);
    changes(&b, rows, 1, 9, 0);
    put_buf(tg, "changes-contact-delete", &b);

    contact_full(&rows[0], FUZZ_ORG, ID1, &v1);
    deal_full(&rows[1], &v2);
    metrics_full(&rows[2], &v1);
    automation_full(&rows[3], &v3);
    changes(&b, rows, 4, 1000, 1);
    put_buf(tg, "changes-page-of-4", &b);

    activity_full(&rows[0], &v2);
    changes(&b, rows, 1, 11, 0);
    put_buf(tg, "changes-activity", &b);

    keyed(&rows[0], "organizations", NULL, FUZZ_ORG);
    set_text(&rows[0], "name", "ClientFlow Demo", &v1);
    set_text(&rows[0], "slug", "demo", &v1);
    set_text(&rows[0], "settings", "{\"tz\":\"Europe/Stockholm\"}", &v1);
    keyed(&rows[1], "users", NULL, FUZZ_USER);
    set_text(&rows[1], "email", "rep@example.com", &v1);
    set_text(&rows[1], "full_name", "Rep", &v1);
    keyed(&rows[2], "memberships", FUZZ_ORG, ID3);
    set_text(&rows[2], "user_id", FUZZ_USER, &v1);
    set_text(&rows[2], "role", "member", &v1);
    changes(&b, rows, 3, 12, 0);
    put_buf(tg, "changes-org-user-membership", &b);

    /* Refusals the replica must survive: another org, a version far ahead,
    ** a non-canonical value (uppercase UUID), two rows with one key. */
    contact_full(&rows[0], FUZZ_OTHER_ORG, ID1, &v1);
    changes(&b, rows, 1, 13, 0);
    put_buf(tg, "changes-wrong-org", &b);
    contact_full(&rows[0], FUZZ_ORG, ID1, &ahead);
    changes(&b, rows, 1, 14, 0);
    put_buf(tg, "changes-clock-skew", &b);
    keyed(&rows[0], "deals", FUZZ_ORG, ID2);
    set_text(&rows[0], "contact_id", "0190F1A2-0000-7000-8000-000000000001", &v1);
    changes(&b, rows, 1, 15, 0);
    put_buf(tg, "changes-not-canonical", &b);
    contact_full(&rows[0], FUZZ_ORG, ID1, &v1);
    contact_full(&rows[1], FUZZ_ORG, ID1, &v2);
    set_text(&rows[1], "first_name", "Bo", &v2);
    changes(&b, rows, 2, UINT64_MAX, 0);
    put_buf(tg, "changes-same-key-twice-max-cursor", &b);
    if (t == 0) {
      /* FEED (protocol 2): the same page sent unasked, from a cursor; one
      ** that would move the cursor back (last below from). */
      cf_feed fd = {{21, 0, 21, rows, 1}, 20};
      contact_full(&rows[0], FUZZ_ORG, ID1, &v2);
      cf__buf_reset(&b);
      if (cf__encode_feed(&fd, &b) != CF_OK) die("encode feed", CF_ERROR);
      put_buf(tg, "feed-contact", &b);
      fd.from_seq = 30;
      cf__buf_reset(&b);
      if (cf__encode_feed(&fd, &b) != CF_OK) die("encode feed", CF_ERROR);
      put_buf(tg, "feed-goes-back", &b);
    }
  }
  cf__buf_free(&b);
}

/* Every other frame type, for the decoder. */
static void gen_frames(void) {
  const char *tg = "fuzz_frame_decode";
  cf_buf b;
  int rc;
  cf__buf_init(&b, CF_CODEC_MAX_FRAME);
  cf_hello h;
  memset(&h, 0, sizeof h);
  h.proto_min = 1;
  h.proto_max = 3;
  h.token.p = "eyJhbGciOiJIUzI1NiJ9.e30.c2ln";
  h.token.n = strlen(h.token.p);
  memset(h.node.b, 0x11, sizeof h.node.b);
  memset(h.org.b, 0x22, sizeof h.org.b);
  h.cursor = 300;
  h.last_batch = 70000;
  h.hlc = CF_HLC_MAKE(FUZZ_NOW_MS, 5);
  h.software.p = "clientflow/0.1.0";
  h.software.n = strlen(h.software.p);
  if ((rc = cf__encode_hello(&h, &b)) != CF_OK) die("hello", rc);
  put_buf(tg, "hello", &b);

  cf_welcome w = {1,
                  CF_HLC_MAKE(FUZZ_NOW_MS, 0),
                  {"member", 6},
                  4294967296ULL,
                  0,
                  (size_t)4 << 20,
                  1000,
                  5000,
                  -1};
  cf__buf_reset(&b);
  if ((rc = cf__encode_welcome(&w, &b)) != CF_OK) die("welcome", rc);
  put_buf(tg, "welcome", &b);

  cf_auth_frame a = {{"eyJ0eXAiOiJKV1QifQ.e30.", 23}};
  cf__buf_reset(&b);
  if ((rc = cf__encode_auth(&a, &b)) != CF_OK) die("auth", rc);
  put_buf(tg, "auth", &b);

  cf_auth_ok ok = {-2147483649LL};
  cf__buf_reset(&b);
  if ((rc = cf__encode_auth_ok(&ok, &b)) != CF_OK) die("auth_ok", rc);
  put_buf(tg, "auth-ok", &b);

  cf_push_change pc[2];
  cf_ver v1 = ver_at(FUZZ_NOW_MS - 5, 0, 0x11), v2 = ver_at(FUZZ_NOW_MS, 1, 0x11);
  pc[0].id = 1;
  contact_full(&pc[0].row, FUZZ_ORG, ID1, &v1);
  pc[1].id = 200;
  keyed(&pc[1].row, "deals", FUZZ_ORG, ID2);
  set_text(&pc[1].row, "value", "1.00", &v2);
  set_text(&pc[1].row, "stage", "won", &v1);
  cf_push p = {42, pc, 2};
  cf__buf_reset(&b);
  if ((rc = cf__encode_push(&p, &b)) != CF_OK) die("push", rc);
  put_buf(tg, "push-2-changes", &b);

  cf_push_result res[3] = {
      {1, CF_PUSH_APPLIED, 0, {"", 0}},
      {2, CF_PUSH_SUPERSEDED, 0, {"", 0}},
      {65536, CF_PUSH_REJECTED, CF_REASON_CONSTRAINT, {"dup email", 9}}};
  cf_push_reply pr = {42, 99, res, 3};
  cf__buf_reset(&b);
  if ((rc = cf__encode_push_result(&pr, &b)) != CF_OK) die("push_result", rc);
  put_buf(tg, "push-result-3", &b);

  cf_pull pl = {12345678901ULL, 500};
  cf__buf_reset(&b);
  if ((rc = cf__encode_pull(&pl, &b)) != CF_OK) die("pull", rc);
  put_buf(tg, "pull", &b);

  static const struct {
    cf_frame_type type;
    uint64_t seq;
    const char *name;
  } seqs[] = {{CF_FRAME_CHECKPOINT, 0, "checkpoint"},
              {CF_FRAME_LIVE, 300, "live"},
              {CF_FRAME_REBOOTSTRAP, 65535, "rebootstrap"},
              {CF_FRAME_PING, UINT64_MAX, "ping"},
              {CF_FRAME_PONG, 127, "pong"}};
  for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
    cf__buf_reset(&b);
    if ((rc = cf__encode_seq(seqs[i].type, seqs[i].seq, &b)) != CF_OK) die("seq", rc);
    put_buf(tg, seqs[i].name, &b);
  }

  cf_revoked rv;
  memset(rv.org.b, 0x22, sizeof rv.org.b);
  rv.message.p = "membership removed";
  rv.message.n = strlen(rv.message.p);
  cf__buf_reset(&b);
  if ((rc = cf__encode_revoked(&rv, &b)) != CF_OK) die("revoked", rc);
  put_buf(tg, "access-revoked", &b);

  static const char msg[] = "PUSH before WELCOME";
  cf__buf_reset(&b);
  if ((rc = cf__encode_error(CF_WIRE_STATE, msg, strlen(msg), &b)) != CF_OK)
    die("error", rc);
  put_buf(tg, "error", &b);
  cf__buf_free(&b);
}

/* ---- tokens -------------------------------------------------------------- */

static void gen_jwt(void) {
  const char *tg = "fuzz_jwt_verify";
  char payload[1024], two[2048];
  int64_t now = FUZZ_NOW_MS / 1000;
  snprintf(payload, sizeof payload,
           "{\"aud\":\"authenticated\",\"exp\":%lld,\"iat\":%lld,\"sub\":\"%s\","
           "\"email\":\"rep@example.com\",\"role\":\"authenticated\",\"app_metadata\":"
           "{\"provider\":\"email\",\"providers\":[\"email\"]},\"amr\":[{\"method\":"
           "\"password\",\"timestamp\":%lld}]}",
           (long long)(now + 3600), (long long)(now - 60), FUZZ_USER,
           (long long)(now - 60));

  /* RAW: a valid token, and the RFC 7515 A.3 ES256 example. */
  char *tok = NULL;
  int rc = cf__jwt_sign_hs256(FUZZ_SECRET, strlen(FUZZ_SECRET),
                              "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, &tok);
  if (rc != CF_OK) die("sign", rc);
  put_mode(tg, "raw-valid-hs256", JWT_MODE_RAW, tok, strlen(tok));
  cf_token_free(tok);
  static const char rfc[] =
      "eyJhbGciOiJFUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9p"
      "c19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8"
      "ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
  put_mode(tg, "raw-rfc7515-es256", JWT_MODE_RAW, rfc, strlen(rfc));
  static const char none[] = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.";
  put_mode(tg, "raw-alg-none", JWT_MODE_RAW, none, strlen(none));

  /* SIGNED: header NUL payload. */
  static const char *const headers[] = {
      "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "{\"alg\":\"HS256\",\"kid\":\"a3\"}",
      "{\"alg\":\"ES256\",\"kid\":\"a3\"}", "{\"typ\":\"JWT\",\"alg\":\"none\"}",
      "{\"alg\":\"HS256\",\"crit\":[\"x\"],\"alg\":\"HS256\"}"};
  for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
    char name[64];
    int n = snprintf(two, sizeof two, "%s%c%s", headers[i], '\0', payload);
    snprintf(name, sizeof name, "signed-header-%zu", i);
    put_mode(tg, name, JWT_MODE_SIGNED, two, (size_t)n);
  }

  /* PAYLOAD: claims variants. */
  static const char *const claims[] = {
      "{\"sub\":\"" FUZZ_USER "\",\"exp\":1800003600,\"aud\":[\"x\",\"authenticated\"]}",
      "{\"sub\":\"" FUZZ_USER "\",\"exp\":1800003600,\"nbf\":1799999990,"
      "\"aud\":\"authenticated\",\"role\":\"authenticated\",\"email\":\"a\\u00e9\\\"b\"}",
      "{\"sub\":\"0190F1A2-0000-7000-8000-00000000B001\",\"exp\":1800003600,"
      "\"aud\":\"authenticated\"}",
      "{\"sub\":\"" FUZZ_USER "\",\"exp\":1799999000,\"aud\":\"authenticated\"}",
      "{\"sub\":\"" FUZZ_USER "\",\"exp\":1.8e9,\"aud\":\"authenticated\"}",
      "{\"sub\":\"" FUZZ_USER "\",\"exp\":null,\"aud\":\"authenticated\",\"x\":"
      "[[[[[[[[{}]]]]]]]]}",
      "{\"sub\":\"" FUZZ_USER
      "\",\"exp\":99999999999999999999,\"aud\":\"authenticated\"}"};
  for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
    char name[64];
    snprintf(name, sizeof name, "payload-%zu", i);
    put_mode(tg, name, JWT_MODE_PAYLOAD, claims[i], strlen(claims[i]));
  }

  /* JWKS documents. */
  static const char *const docs[] = {
      FUZZ_JWKS,
      "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\",\"kid\":\"r\"},"
      "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"},{\"kty\":\"EC\",\"crv\":\"P-256\",\"use\":"
      "\"sig\","
      "\"alg\":\"ES256\",\"key_ops\":[\"verify\"],\"kid\":\"k\","
      "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
      "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}",
      "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
      "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\","
      "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"}]}",
      "{\"keys\":[]}"};
  for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
    char name[64];
    snprintf(name, sizeof name, "jwks-%zu", i);
    put_mode(tg, name, JWT_MODE_JWKS, docs[i], strlen(docs[i]));
  }
}

/* ---- JSON and values ------------------------------------------------------ */

/* The fuzz_value_column() number of table.col. */
static unsigned value_column(const char *table, const char *col) {
  unsigned n = 0;
  for (unsigned t = 0; t < CF_SCHEMA_NTABLES; t++) {
    const cf_table *tb = cf__schema_table(t);
    if (strcmp(tb->name, table) == 0) {
      int c = cf__schema_column_index(tb, col);
      if (c < 0 || (unsigned)c >= tb->ncols) die(col, CF_NOTFOUND);
      return n + (unsigned)c;
    }
    n += tb->ncols;
  }
  for (unsigned i = 0; i < FUZZ_NEXTRA; i++)
    if (strcmp(fuzz_extra_columns[i].name, col) == 0) return n + i;
  die(col, CF_NOTFOUND);
  return 0;
}

static void put_value(const char *name, const char *table, const char *col,
                      cf_value_kind kind, const void *payload, size_t n) {
  unsigned char buf[512];
  unsigned sel = value_column(table, col) + 3;
  if (sel > 255 || n + 2 > sizeof buf) die(name, CF_TOOBIG);
  buf[0] = (unsigned char)sel;
  buf[1] = (unsigned char)kind;
  memcpy(buf + 2, payload, n);
  put("fuzz_json_canon", name, buf, n + 2);
}

static void put_value_text(const char *name, const char *table, const char *col,
                           const char *text) {
  put_value(name, table, col, CF_VALUE_TEXT, text, strlen(text));
}

static void put_value_be64(const char *name, const char *table, const char *col,
                           cf_value_kind kind, uint64_t v) {
  unsigned char b[8];
  for (int i = 7; i >= 0; i--, v >>= 8)
    b[i] = (unsigned char)(v & 0xff);
  put_value(name, table, col, kind, b, 8);
}

static void gen_json(void) {
  const char *tg = "fuzz_json_canon";
  static const struct {
    cf_json_expect expect;
    const char *text;
  } js[] = {
      {CF_JSON_ANY,
       " { \"b\" : [1, 2.50, -0, 1e2, 1.5E-3, true, false, null], \"a\": {} } "},
      {CF_JSON_ANY, "\"tab\\tquote\\\"uni\\u00e9\\ud83d\\ude00\\u001f\""},
      {CF_JSON_ANY, "-12345678901234567890.000100e-5"},
      {CF_JSON_OBJECT,
       "{\"z\":1,\"a\":2,\"z\":3,\"\xc3\xa9\":\"x\",\"ab\":[],\"a\\u0000\":0}"},
      {CF_JSON_OBJECT, "{\"k\":{\"k\":{\"k\":{\"k\":[[[[{\"x\":1e-7}]]]]}}}}"},
      {CF_JSON_ARRAY_OF_STRINGS, "[ \"b c\", \"\", \"\\\\\", \"\xe2\x82\xac\" ]"},
      {CF_JSON_ARRAY_OF_STRINGS, "[]"},
  };
  for (size_t i = 0; i < sizeof js / sizeof js[0]; i++) {
    char name[64];
    snprintf(name, sizeof name, "json-%zu", i);
    put_mode(tg, name, (unsigned char)js[i].expect, js[i].text, strlen(js[i].text));
  }
  put_value_text("value-uuid", "contacts", "id", "0190F1A2-0000-7000-8000-00000000A001");
  put_value_text("value-text", "contacts", "first_name", "Zo\xc3\xab");
  put_value_text("value-integer-text", "daily_metrics", "new_contacts", " -2147483648 ");
  put_value_be64("value-integer-real", "daily_metrics", "deals_won", CF_VALUE_REAL,
                 0x4059000000000000ULL); /* 100.0 */
  put_value_be64("value-bigint-int", "", "big", CF_VALUE_INT, 0x8000000000000000ULL);
  put_value_text("value-numeric", "deals", "value", "-1.005e3");
  put_value_be64("value-numeric-real", "", "wide", CF_VALUE_REAL,
                 0x3fb999999999999aULL); /* 0.1 */
  put_value_text("value-numeric-frac", "", "frac", "0.9995");
  put_value_text("value-boolean", "automations", "enabled", "Yes");
  put_value_be64("value-boolean-int", "automations", "enabled", CF_VALUE_INT, 1);
  put_value_text("value-date", "deals", "expected_close", "2028-02-29");
  put_value_text("value-timestamptz", "deals", "closed_at",
                 "2026-11-28 16:00:00.1234565+05:30 BC");
  put_value_text("value-jsonb", "contacts", "metadata", "{\"b\":1.10,\"a\":[true]}");
  put_value_text("value-text-array-pg", "contacts", "tags", "{a,\"b c\",\"\\\"q\",\"\"}");
  put_value_text("value-text-array-json", "contacts", "tags", "[\"x\", \"y\"]");
  put_value("value-null-not-null", "contacts", "first_name", CF_VALUE_NULL, "", 0);
}

/* ---- REST parameters ------------------------------------------------------ */

static void put_rest(const char *name, unsigned parser, unsigned list, const char *text) {
  put_mode("fuzz_rest_params", name, (unsigned char)(parser + REST_NPARSERS * list), text,
           strlen(text));
}

static void gen_rest(void) {
  char cur[CF_REST_CURSOR_TEXT + 1];
  int rc = cf__rest_cursor_encode(CF_REST_LIST_CONTACTS, 1764345600123456LL, ID1, cur);
  if (rc != CF_OK) die("cursor", rc);
  put_rest("cursor-contacts", REST_CURSOR, CF_REST_LIST_CONTACTS, cur);
  rc = cf__rest_cursor_encode(CF_REST_LIST_APPOINTMENTS, -62135596800000000LL, ID2, cur);
  if (rc != CF_OK) die("cursor", rc);
  put_rest("cursor-appointments-min", REST_CURSOR, CF_REST_LIST_APPOINTMENTS, cur);
  put_rest("limit", REST_LIMIT, 0, "500");
  put_rest("days", REST_DAYS, 0, "365");
  put_rest("uuid", REST_UUID, 0, "01936B2A-0003-7000-8000-10000000000A");
  put_rest("stage", REST_STAGE, 0, "qualified");
  put_rest("time-date", REST_TIME, 0, "2024-02-29");
  put_rest("time-full", REST_TIME, 0, "2026-11-28T16:00:00.123456 05:30");
  put_rest("time-z", REST_TIME, 0, "2026-11-28T16:00Z");
  put_rest("bearer", REST_BEARER, 0, "Bearer   eyJhbGciOiJIUzI1NiJ9.e30.c2ln \t");
}

/* fuzz_server_session: flags, then (2-byte length, frame) records. */
static void session_record(cf_buf *in, const cf_buf *frame) {
  unsigned char len[2] = {(unsigned char)(frame->len >> 8), (unsigned char)frame->len};
  if (cf__buf_append(in, len, 2) != CF_OK ||
      cf__buf_append(in, frame->p, frame->len) != CF_OK)
    die("session record", CF_NOMEM);
}

static void gen_session(void) {
  const char *tg = "fuzz_server_session";
  cf_buf push, pull, ping, in, body;
  int rc;
  cf__buf_init(&push, CF_CODEC_MAX_FRAME);
  cf__buf_init(&pull, 256);
  cf__buf_init(&ping, 64);
  cf__buf_init(&in, CF_CODEC_MAX_FRAME);
  cf__buf_init(&body, CF_CODEC_MAX_FRAME);
  cf_ver v = ver_at(FUZZ_NOW_MS - 1000, 0, 9);
  cf_row r;
  contact_full(&r, FUZZ_ORG, "0190f1a2-0000-7000-8000-0000000c0001", &v);
  if ((rc = cf__codec_put_change(1, &r, &body)) != CF_OK) die("session change", rc);
  if ((rc = cf__encode_push_body(7, 1, body.p, body.len, &push)) != CF_OK)
    die("push", rc);
  cf_pull pl = {0, 100};
  if ((rc = cf__encode_pull(&pl, &pull)) != CF_OK) die("pull", rc);
  if ((rc = cf__encode_seq(CF_FRAME_PING, 42, &ping)) != CF_OK) die("ping", rc);
  static const struct {
    const char *name;
    unsigned char flags;
    const char *records; /* u: push, l: pull, p: ping, d: deadline */
  } seeds[] = {{"ready-push-pull-ping", 1, "ulp"},
               {"ready-db-down", 3, "ul"},
               {"no-hello-push", 0, "u"},
               {"ready-deadline", 1, "d"},
               {"ready-queue", 1, "uuuuuuuuuul"}};
  for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
    cf__buf_reset(&in);
    if (cf__buf_append(&in, &seeds[i].flags, 1) != CF_OK) die("session", CF_NOMEM);
    for (const char *c = seeds[i].records; *c; c++) {
      if (*c == 'd') {
        static const unsigned char zero[2] = {0, 0};
        if (cf__buf_append(&in, zero, 2) != CF_OK) die("session", CF_NOMEM);
      } else {
        session_record(&in, *c == 'u' ? &push : *c == 'l' ? &pull : &ping);
      }
    }
    put_buf(tg, seeds[i].name, &in);
  }
  cf__buf_free(&push);
  cf__buf_free(&pull);
  cf__buf_free(&ping);
  cf__buf_free(&in);
  cf__buf_free(&body);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fuzz_corpus_gen DIR\n");
    return 2;
  }
  outdir = argv[1];
  mkdir_p(outdir);
  gen_changes();
  gen_frames();
  gen_jwt();
  gen_json();
  gen_rest();
  gen_session();
  return 0;
}
