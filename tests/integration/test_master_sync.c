/*
** tests/integration/test_master_sync.c: the master side of sync against a
** real Postgres (sync/master/push.c, sql/postgres/003_sync.sql): push
** results for every outcome, idempotent retries, per-column merge on the
** master, direct SQL writes, tombstones, revocation, paging, the gapless
** cursor under concurrent writers, and the server's role check.
**
** Pushes and pulls run on a connection of the login role cf_test_server
** (granted authenticator and cf_sync_server, NOT a superuser), as the
** server does; set-up and inspection use the superuser connection.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_test.h"
#include "clientflow.h"
#include "core/crypto.h"
#include "core/hlc.h"
#include "core/row.h"
#include "core/schema.h"
#include "core/uuid.h"
#include "core/value.h"
#include "core/version.h"
#include "platform/platform.h"
#include "sync/master/master_sync.h"
#include "sync/master/pg.h"

#define ORG_A "0190a000-0000-7000-8000-00000000000a"
#define ORG_B "0190a000-0000-7000-8000-00000000000b"
#define USER_1 "0190a000-0000-7000-8000-000000000001" /* owner of A */
#define USER_2 "0190a000-0000-7000-8000-000000000002" /* member of A */
#define USER_3 "0190a000-0000-7000-8000-000000000003" /* owner of B */
#define CLAIMS(u)                                                                        \
  "{\"sub\":\"" u "\",\"role\":\"authenticated\",\"aud\":\"authenticated\"}"
#define T0 "2026-11-28T16:00:00.000000Z"

typedef struct fx {
  char url[600];     /* the test database, as the superuser */
  char srv_url[640]; /* the same, as cf_test_server */
  cf__pg *admin;     /* superuser connection */
  cf__pg *server;    /* the sync server's connection */
} fx;

static cf__pg *connect_or_fail(const char *url) {
  cf__pg *pg = NULL;
  char err[256];
  int rc = cf__pg_connect(url, &pg, err, sizeof err);
  CHECK_MSG(rc == CF_OK, "connect: %s", err);
  return pg;
}

static void exec_or_fail(cf__pg *pg, const char *sql) {
  int rc = cf__pg_exec(pg, sql);
  CHECK_MSG(rc == CF_OK, "%s: %s", sql, cf__pg_errmsg(pg));
}

/* The first value of the first row of sql as a number (-1 if NULL). */
static long long query_num(cf__pg *pg, const char *sql) {
  char *v = NULL;
  int rc = cf__pg_query_text(pg, sql, 0, NULL, &v);
  CHECK_MSG(rc == CF_OK, "%s: %s", sql, cf__pg_errmsg(pg));
  long long n = v ? strtoll(v, NULL, 10) : -1;
  cf__free(v);
  return n;
}

/* The first value of the first row of sql as text into out ("" if NULL). */
static void query_str(cf__pg *pg, const char *sql, char *out, size_t outlen) {
  char *v = NULL;
  int rc = cf__pg_query_text(pg, sql, 0, NULL, &v);
  CHECK_MSG(rc == CF_OK, "%s: %s", sql, cf__pg_errmsg(pg));
  snprintf(out, outlen, "%s", v ? v : "");
  cf__free(v);
}

static const char server_role_sql[] =
    "DO $$ BEGIN "
    "  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cf_test_server') THEN "
    "    BEGIN CREATE ROLE cf_test_server LOGIN; "
    "    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END; "
    "  END IF; "
    "  BEGIN GRANT authenticator, cf_sync_server TO cf_test_server; "
    "  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END; "
    "END $$";

static void fx_open(fx *f) {
  memset(f, 0, sizeof *f);
  snprintf(f->url, sizeof f->url, "%s", cf_test_pg_createdb());
  snprintf(f->srv_url, sizeof f->srv_url, "%s user=cf_test_server", f->url);
  f->admin = connect_or_fail(f->url);
  exec_or_fail(f->admin, server_role_sql);
  exec_or_fail(f->admin,
               "INSERT INTO organizations (id, name, slug) VALUES "
               "('" ORG_A "', 'Org A', 'org-a'), ('" ORG_B "', 'Org B', 'org-b');"
               "INSERT INTO users (id, email) VALUES ('" USER_1 "', 'u1@a.test'), "
               "('" USER_2 "', 'u2@a.test'), ('" USER_3 "', 'u3@b.test');"
               "INSERT INTO memberships (org_id, user_id, role) VALUES "
               "('" ORG_A "', '" USER_1 "', 'owner'), ('" ORG_A "', '" USER_2
               "', 'member'), "
               "('" ORG_B "', '" USER_3 "', 'owner')");
  f->server = connect_or_fail(f->srv_url);
}

static void fx_close(fx *f) {
  cf__pg_close(f->server);
  cf__pg_close(f->admin);
}

/* The cursor after every change of org A that claims may read now. */
static uint64_t org_a_head_cursor(fx *f, const char *claims) {
  cf__pull_page page;
  CHECK_OK(cf__master_pull(f->server, claims, ORG_A, 0, 1000, &page));
  uint64_t cursor = page.next_cursor;
  cf__pull_page_free(&page);
  return cursor;
}

static cf_nodeid node_id(unsigned char tag) {
  cf_nodeid n;
  memset(n.b, 0, sizeof n.b);
  n.b[0] = 0x4e;
  n.b[15] = tag;
  return n;
}

/* A version from node tag at (now + offset ms, counter c). */
static cf_ver ver_at(unsigned char tag, int64_t offset_ms, unsigned c) {
  cf_nodeid n = node_id(tag);
  cf_ver v;
  cf__ver_make(CF_HLC_MAKE(cf__now_ms() + offset_ms, c), &n, &v);
  return v;
}

static void set_text(cf_change *c, const char *col, const char *text, const cf_ver *ver) {
  int i = cf__schema_column_index(c->table, col);
  CHECK(i >= 0);
  cf_value v = text ? cf__value_text(text, strlen(text)) : cf__value_null();
  CHECK_OK(cf__row_set(c, (unsigned)i, &v, ver));
}

/* A change of table `table` for key (org, id) with no data cells yet. */
static void change_init(cf_change *c, const char *table, const char *org,
                        const char *id) {
  const cf_table *t = cf__schema_table_by_name(table);
  CHECK(t != NULL);
  cf__row_init(c, t);
  if (t->org_col >= 0) set_text(c, "org_id", org, NULL);
  set_text(c, "id", id, NULL);
}

/* A full insert of a contact (every cell, deleted = 0) with version ver. */
static void contact_insert(cf_change *c, const char *org, const char *id,
                           const char *first, const char *email, const cf_ver *ver) {
  change_init(c, "contacts", org, id);
  set_text(c, "first_name", first, ver);
  set_text(c, "last_name", NULL, ver);
  set_text(c, "email", email, ver);
  set_text(c, "phone", NULL, ver);
  set_text(c, "company", NULL, ver);
  set_text(c, "tags", "[\"a\",\"b c\"]", ver);
  set_text(c, "metadata", "{\"k\":1}", ver);
  set_text(c, "created_at", T0, ver);
  set_text(c, "updated_at", T0, ver);
  cf__row_set_deleted(c, 0, ver);
}

static void new_id(char out[CF_UUID_TEXT_LEN]) {
  cf_uuid u;
  CHECK_OK(cf__uuid_v7(&u));
  cf__uuid_format(&u, out);
}

static int push(fx *f, const char *claims, const char *org, unsigned char node,
                uint64_t batch, const cf_change *ch, size_t n, cf__push_result *res,
                cf__push_info *info) {
  cf_nodeid nid = node_id(node);
  return cf__master_push(f->server, claims, org, &nid, batch, ch, n, res, info);
}

#define CHECK_RESULT(r, st, why)                                                         \
  CHECK_MSG((r).status == (st) && (r).reason == (why),                                   \
            "result %d/%s (%s), expected %d/%s", (int)(r).status,                        \
            cf__reject_reason_name((r).reason), (r).detail, (int)(st),                   \
            cf__reject_reason_name(why))

/* Pulls everything of org after cursor (pages of limit) into a fresh page
** list; returns the number of items seen and the final cursor. */
typedef struct seen {
  uint64_t *seqs;  /* every item's seq, in order received */
  size_t n, cap;   /* count and room */
  uint64_t cursor; /* the cursor after the last page */
} seen;

static void seen_add(seen *s, uint64_t seq) {
  if (s->n == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 256;
    s->seqs = realloc(s->seqs, s->cap * sizeof *s->seqs);
    CHECK(s->seqs != NULL);
  }
  s->seqs[s->n++] = seq;
}

/* One pulled row's cell as text ("" if NULL or absent). */
static void cell_text(const cf_row *row, const char *col, char *out, size_t outlen) {
  int i = cf__schema_column_index(row->table, col);
  const cf_cell *c = i >= 0 ? cf__row_cell(row, (unsigned)i) : NULL;
  if (c == NULL || c->value.kind == CF_VALUE_NULL) {
    snprintf(out, outlen, "%s", "");
  } else if (c->value.kind == CF_VALUE_INT) {
    snprintf(out, outlen, "%lld", (long long)c->value.i);
  } else {
    snprintf(out, outlen, "%.*s", (int)c->value.n, c->value.p);
  }
}

/* Finds the last item in page of table with id; NULL if none. */
static const cf__pull_item *find_item(const cf__pull_page *p, const char *table,
                                      const char *id) {
  const cf__pull_item *found = NULL;
  for (size_t i = 0; i < p->n; i++) {
    char idt[64];
    if (strcmp(p->items[i].row.table->name, table) != 0) continue;
    cell_text(&p->items[i].row, "id", idt, sizeof idt);
    if (strcmp(idt, id) == 0) found = &p->items[i];
  }
  return found;
}

/* ------------------------------------------------------------------------ */

CF_TEST(test_master_push_applies_rows_and_pull_returns_them_unchanged) {
  fx f;
  fx_open(&f);
  cf_change ch[2];
  char id1[37], id2[37];
  new_id(id1);
  new_id(id2);
  cf_ver v = ver_at(1, 0, 0);
  contact_insert(&ch[0], ORG_A, id1, "Ann", "ann@x.test", &v);
  contact_insert(&ch[1], ORG_A, id2, "Bob", NULL, &v);
  cf__push_result res[2];
  cf__push_info info;
  CHECK_OK(push(&f, CLAIMS(USER_2), ORG_A, 1, 1, ch, 2, res, &info));
  CHECK_RESULT(res[0], CF_PUSH_APPLIED, CF_REASON_NONE);
  CHECK_RESULT(res[1], CF_PUSH_APPLIED, CF_REASON_NONE);
  CHECK_EQ(info.applied, 2);

  /* Another member pulls them with every cell and version as pushed. */
  cf__pull_page page;
  CHECK_OK(cf__master_pull(f.server, CLAIMS(USER_1), ORG_A, 0, 1000, &page));
  CHECK_EQ(page.status, CF__PULL_OK);
  CHECK_EQ(page.more, 0);
  CHECK_EQ(page.next_cursor, page.head);
  const cf__pull_item *a = find_item(&page, "contacts", id1);
  const cf__pull_item *b = find_item(&page, "contacts", id2);
  CHECK(a != NULL && b != NULL);
  CHECK(cf__row_equal(&a->row, &ch[0]));
  CHECK(cf__row_equal(&b->row, &ch[1]));
  /* The org's own rows come too: organizations, memberships, users. */
  CHECK(find_item(&page, "organizations", ORG_A) != NULL);
  CHECK(find_item(&page, "users", USER_1) != NULL);
  CHECK(find_item(&page, "users", USER_2) != NULL);
  CHECK(find_item(&page, "users", USER_3) == NULL);
  for (size_t i = 1; i < page.n; i++)
    CHECK(page.items[i - 1].seq <= page.items[i].seq);
  cf__pull_page_free(&page);

  /* Org B sees none of it. */
  CHECK_OK(cf__master_pull(f.server, CLAIMS(USER_3), ORG_B, 0, 1000, &page));
  CHECK(find_item(&page, "contacts", id1) == NULL);
  cf__pull_page_free(&page);
  fx_close(&f);
}

CF_TEST(test_master_push_older_version_is_superseded) {
  fx f;
  fx_open(&f);
  cf_change ch;
  char id[37], name[64];
  new_id(id);
  cf_ver newer = ver_at(1, 0, 5), older = ver_at(2, -1000, 0);
  contact_insert(&ch, ORG_A, id, "New", NULL, &newer);
  cf__push_result res;
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 1, &ch, 1, &res, NULL));
  CHECK_RESULT(res, CF_PUSH_APPLIED, CF_REASON_NONE);
  change_init(&ch, "contacts", ORG_A, id);
  set_text(&ch, "first_name", "Old", &older);
  CHECK_OK(push(&f, CLAIMS(USER_2), ORG_A, 2, 1, &ch, 1, &res, NULL));
  CHECK_RESULT(res, CF_PUSH_SUPERSEDED, CF_REASON_NONE);
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT first_name FROM contacts WHERE id = '%s'", id);
  query_str(f.admin, sql, name, sizeof name);
  CHECK_STR(name, "New");
  fx_close(&f);
}

/* A push takes a row carrying every cell to be new and reads only its
** tombstone (010); when the row exists after all, its INSERT fails on the
** key in the pipeline and the push runs again with the reads: the row is
** merged as before, in a batch with a row that really is new. */
CF_TEST(test_master_new_row_pushed_again_in_full_is_merged_not_duplicated) {
  fx f;
  fx_open(&f);
  cf_change ch[2];
  cf__push_result res[2];
  cf__push_info info;
  char id[37], id2[37], val[64], sql[200];
  new_id(id);
  new_id(id2);
  cf_ver v1 = ver_at(1, -3000, 0), v2 = ver_at(2, -2000, 0), v0 = ver_at(3, -4000, 0);
  contact_insert(&ch[0], ORG_A, id, "First", NULL, &v1);
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 1, ch, 1, res, NULL));
  CHECK_RESULT(res[0], CF_PUSH_APPLIED, CF_REASON_NONE);
  /* The same row in full from another node, newer, with a new row. */
  contact_insert(&ch[0], ORG_A, id, "Second", NULL, &v2);
  contact_insert(&ch[1], ORG_A, id2, "Other", NULL, &v2);
  CHECK_OK(push(&f, CLAIMS(USER_2), ORG_A, 2, 1, ch, 2, res, &info));
  CHECK_RESULT(res[0], CF_PUSH_APPLIED, CF_REASON_NONE);
  CHECK_RESULT(res[1], CF_PUSH_APPLIED, CF_REASON_NONE);
  CHECK_EQ(info.applied, 2);
  /* And in full again, older than both: superseded. */
  contact_insert(&ch[0], ORG_A, id, "Zeroth", NULL, &v0);
  CHECK_OK(push(&f, CLAIMS(USER_2), ORG_A, 3, 1, ch, 1, res, NULL));
  CHECK_RESULT(res[0], CF_PUSH_SUPERSEDED, CF_REASON_NONE);
  snprintf(sql, sizeof sql,
           "SELECT string_agg(first_name, '/' ORDER BY first_name) FROM contacts "
           "WHERE id IN ('%s', '%s')",
           id, id2);
  query_str(f.admin, sql, val, sizeof val);
  CHECK_STR(val, "Other/Second");
  fx_close(&f);
}

CF_TEST(test_master_merges_per_column_with_core_merge) {
  fx f;
  fx_open(&f);
  cf_change ch;
  char id[37], val[64], sql[200];
  new_id(id);
  cf_ver v0 = ver_at(1, -5000, 0);
  contact_insert(&ch, ORG_A, id, "Ann", NULL, &v0);
  cf__push_result res;
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 1, &ch, 1, &res, NULL));

  /* Node 1 edits last_name, node 2 edits phone: both kept. */
  cf_ver v1 = ver_at(1, -4000, 0), v2 = ver_at(2, -3000, 0);
  change_init(&ch, "contacts", ORG_A, id);
  set_text(&ch, "last_name", "Smith", &v1);
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 2, &ch, 1, &res, NULL));
  CHECK_RESULT(res, CF_PUSH_APPLIED, CF_REASON_NONE);
  change_init(&ch, "contacts", ORG_A, id);
  set_text(&ch, "phone", "555", &v2);
  CHECK_OK(push(&f, CLAIMS(USER_2), ORG_A, 2, 1, &ch, 1, &res, NULL));
  CHECK_RESULT(res, CF_PUSH_APPLIED, CF_REASON_NONE);
  snprintf(sql, sizeof sql,
           "SELECT last_name || '/' || phone FROM contacts WHERE id = '%s'", id);
  query_str(f.admin, sql, val, sizeof val);
  CHECK_STR(val, "Smith/555");
  /* The pushes did not write updated_at: set_updated_at's now() is undone,
  ** so the master keeps the value its version belongs to. */
  snprintf(sql, sizeof sql,
           "SELECT (updated_at = '" T0 "')::int FROM contacts WHERE id = '%s'", id);
  CHECK_EQ(query_num(f.admin, sql), 1);

  /* Same column: the newer version wins, whatever the arrival order. */
  cf_ver late = ver_at(2, -1000, 0), early = ver_at(1, -2000, 0);
  change_init(&ch, "contacts", ORG_A, id);
  set_text(&ch, "company", "Late Inc", &late);
  CHECK_OK(push(&f, CLAIMS(USER_2), ORG_A, 2, 2, &ch, 1, &res, NULL));
  CHECK_RESULT(res, CF_PUSH_APPLIED, CF_REASON_NONE);
  change_init(&ch, "contacts", ORG_A, id);
  set_text(&ch, "company", "Early Ltd", &early);
  set_text(&ch, "email", "ann@x.test", &early);
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 3, &ch, 1, &res, NULL));
  CHECK_RESULT(res, CF_PUSH_APPLIED, CF_REASON_NONE); /* email survived */
  snprintf(sql, sizeof sql,
           "SELECT company || '/' || email FROM contacts WHERE id = '%s'", id);
  query_str(f.admin, sql, val, sizeof val);
  CHECK_STR(val, "Late Inc/ann@x.test");
  fx_close(&f);
}

CF_TEST(test_master_push_rejects_row_of_other_org) {
  fx f;
  fx_open(&f);
  cf_change ch[2];
  char id1[37], id2[37];
  new_id(id1);
  new_id(id2);
  cf_ver v = ver_at(1, 0, 0);
  contact_insert(&ch[0], ORG_B, id1, "Mallory", NULL, &v);
  contact_insert(&ch[1], ORG_A, id2, "Fine", NULL, &v);
  cf__push_result res[2];
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 1, ch, 2, res, NULL));
  CHECK_RESULT(res[0], CF_PUSH_REJECTED, CF_REASON_WRONG_ORG);
  CHECK_RESULT(res[1], CF_PUSH_APPLIED, CF_REASON_NONE);
  CHECK_EQ(query_num(f.admin, "SELECT count(*) FROM contacts WHERE org_id = '" ORG_B "'"),
           0);

  /* Pushing for org B (not a member) is refused by membership: revoked. */
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_B, 1, 1, ch, 1, res, NULL));
  CHECK_RESULT(res[0], CF_PUSH_REJECTED, CF_REASON_REVOKED);
  CHECK_EQ(query_num(f.admin, "SELECT count(*) FROM contacts WHERE org_id = '" ORG_B "'"),
           0);
  fx_close(&f);
}

CF_TEST(test_master_push_rejects_moving_row_to_other_org) {
  fx f;
  fx_open(&f);
  cf_change ch;
  char id[37];
  new_id(id);
  cf_ver v = ver_at(1, -1000, 0), v2 = ver_at(1, 0, 0);
  contact_insert(&ch, ORG_A, id, "Ann", NULL, &v);
  cf__push_result res;
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 1, &ch, 1, &res, NULL));
  /* The same id with org_id B: an attempt to move it. */
  change_init(&ch, "contacts", ORG_B, id);
  set_text(&ch, "first_name", "Moved", &v2);
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 2, &ch, 1, &res, NULL));
  CHECK_RESULT(res, CF_PUSH_REJECTED, CF_REASON_WRONG_ORG);
  char sql[200];
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM contacts WHERE id = '%s' AND org_id = '" ORG_A
           "' AND first_name = 'Ann'",
           id);
  CHECK_EQ(query_num(f.admin, sql), 1);
  /* Direct SQL cannot move it either. */
  snprintf(sql, sizeof sql, "UPDATE contacts SET org_id = '" ORG_B "' WHERE id = '%s'",
           id);
  CHECK(cf__pg_exec(f.admin, sql) == CF_CONSTRAINT);
  fx_close(&f);
}

CF_TEST(test_master_revoked_member_push_rejected_and_pull_says_revoked) {
  fx f;
  fx_open(&f);
  cf_change ch;
  char id[37];
  new_id(id);
  cf_ver v = ver_at(2, 0, 0);
  contact_insert(&ch, ORG_A, id, "Offline", NULL, &v);
  exec_or_fail(f.admin, "DELETE FROM memberships WHERE user_id = '" USER_2 "'");
  cf__push_result res;
  cf__push_info info;
  CHECK_OK(push(&f, CLAIMS(USER_2), ORG_A, 2, 1, &ch, 1, &res, &info));
  CHECK_RESULT(res, CF_PUSH_REJECTED, CF_REASON_REVOKED);
  CHECK_EQ(info.revoked, 1);
  cf__pull_page page;
  CHECK_OK(cf__master_pull(f.server, CLAIMS(USER_2), ORG_A, 0, 100, &page));
  CHECK_EQ(page.status, CF__PULL_REVOKED);
  CHECK_EQ(page.n, 0);
  cf__pull_page_free(&page);
  /* The other members see the membership's tombstone. */
  CHECK_OK(cf__master_pull(f.server, CLAIMS(USER_1), ORG_A, 0, 100, &page));
  int tomb = 0;
  for (size_t i = 0; i < page.n; i++)
    if (page.items[i].row.table->number == 2 && cf__row_is_deleted(&page.items[i].row))
      tomb++;
  CHECK_EQ(tomb, 1);
  cf__pull_page_free(&page);
  fx_close(&f);
}

CF_TEST(test_master_unique_clash_from_two_nodes_rejects_the_second) {
  fx f;
  fx_open(&f);
  cf_change ch;
  char id1[37], id2[37];
  new_id(id1);
  new_id(id2);
  cf_ver v1 = ver_at(1, 0, 0), v2 = ver_at(2, 0, 0);
  cf__push_result res;
  contact_insert(&ch, ORG_A, id1, "Ann", "same@x.test", &v1);
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 1, &ch, 1, &res, NULL));
  CHECK_RESULT(res, CF_PUSH_APPLIED, CF_REASON_NONE);
  contact_insert(&ch, ORG_A, id2, "Anne", "same@x.test", &v2);
  CHECK_OK(push(&f, CLAIMS(USER_2), ORG_A, 2, 1, &ch, 1, &res, NULL));
  CHECK_RESULT(res, CF_PUSH_REJECTED, CF_REASON_CONSTRAINT);
  CHECK_STR(res.detail, "contacts_org_email_key");
  fx_close(&f);
}

CF_TEST(test_master_one_bad_row_does_not_sink_the_batch) {
  fx f;
  fx_open(&f);
  enum { N = 40 };
  cf_change *ch = calloc(N, sizeof *ch);
  cf__push_result res[N];
  char ids[N][37];
  CHECK(ch != NULL);
  cf_ver v = ver_at(1, 0, 0);
  for (int i = 0; i < N; i++) {
    new_id(ids[i]);
    contact_insert(&ch[i], ORG_A, ids[i], "Ok", NULL, &v);
  }
  set_text(&ch[7], "email", "not-an-email", &v);    /* CHECK constraint */
  set_text(&ch[19], "first_name", NULL, &v);        /* NOT NULL */
  set_text(&ch[23], "created_at", "yesterday", &v); /* not canonical */
  set_text(&ch[31], "tags", "{a,b}", &v);           /* not canonical */
  CHECK_OK(push(&f, CLAIMS(USER_2), ORG_A, 1, 1, ch, N, res, NULL));
  for (int i = 0; i < N; i++) {
    if (i == 7 || i == 19) {
      CHECK_RESULT(res[i], CF_PUSH_REJECTED, CF_REASON_CONSTRAINT);
    } else if (i == 23 || i == 31) {
      CHECK_RESULT(res[i], CF_PUSH_REJECTED, CF_REASON_INVALID);
    } else {
      CHECK_RESULT(res[i], CF_PUSH_APPLIED, CF_REASON_NONE);
    }
  }
  CHECK_STR(res[7].detail, "contacts_email_check");
  CHECK_EQ(query_num(f.admin, "SELECT count(*) FROM contacts"), N - 4);

  /* Permission: a member may not write automations (owner/admin only). */
  cf_change a;
  char aid[37];
  new_id(aid);
  change_init(&a, "automations", ORG_A, aid);
  set_text(&a, "name", "Welcome", &v);
  set_text(&a, "trigger", "contact_created", &v);
  set_text(&a, "action", "send_email", &v);
  set_text(&a, "config", "{}", &v);
  cf_value one = cf__value_int(1);
  CHECK_OK(
      cf__row_set(&a, (unsigned)cf__schema_column_index(a.table, "enabled"), &one, &v));
  set_text(&a, "created_at", T0, &v);
  set_text(&a, "updated_at", T0, &v);
  cf__row_set_deleted(&a, 0, &v);
  CHECK_OK(push(&f, CLAIMS(USER_2), ORG_A, 1, 2, &a, 1, res, NULL));
  CHECK_RESULT(res[0], CF_PUSH_REJECTED, CF_REASON_PERMISSION);
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 3, 1, &a, 1, res, NULL));
  CHECK_RESULT(res[0], CF_PUSH_APPLIED, CF_REASON_NONE);
  free(ch);
  fx_close(&f);
}

CF_TEST(test_master_org_and_user_rows_follow_rls) {
  fx f;
  fx_open(&f);
  cf_change ch;
  cf__push_result res;
  char val[128];
  cf_ver v = ver_at(2, 0, 0);
  /* A member may not rename the org; the owner may. */
  change_init(&ch, "organizations", NULL, ORG_A);
  set_text(&ch, "name", "Renamed", &v);
  CHECK_OK(push(&f, CLAIMS(USER_2), ORG_A, 2, 1, &ch, 1, &res, NULL));
  CHECK_RESULT(res, CF_PUSH_REJECTED, CF_REASON_PERMISSION);
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 1, &ch, 1, &res, NULL));
  CHECK_RESULT(res, CF_PUSH_APPLIED, CF_REASON_NONE);
  query_str(f.admin, "SELECT name FROM organizations WHERE id = '" ORG_A "'", val,
            sizeof val);
  CHECK_STR(val, "Renamed");
  /* Another org's organizations row is wrong_org. */
  change_init(&ch, "organizations", NULL, ORG_B);
  set_text(&ch, "name", "Hijacked", &v);
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 2, &ch, 1, &res, NULL));
  CHECK_RESULT(res, CF_PUSH_REJECTED, CF_REASON_WRONG_ORG);
  /* A user edits their own profile, not another member's. */
  change_init(&ch, "users", NULL, USER_2);
  set_text(&ch, "full_name", "Second User", &v);
  CHECK_OK(push(&f, CLAIMS(USER_2), ORG_A, 2, 2, &ch, 1, &res, NULL));
  CHECK_RESULT(res, CF_PUSH_APPLIED, CF_REASON_NONE);
  change_init(&ch, "users", NULL, USER_1);
  set_text(&ch, "full_name", "Impostor", &v);
  CHECK_OK(push(&f, CLAIMS(USER_2), ORG_A, 2, 3, &ch, 1, &res, NULL));
  CHECK_RESULT(res, CF_PUSH_REJECTED, CF_REASON_PERMISSION);
  query_str(f.admin, "SELECT coalesce(full_name, '') FROM users WHERE id = '" USER_1 "'",
            val, sizeof val);
  CHECK_STR(val, "");
  /* The profile change reaches the other member's pull, with its version. */
  cf__pull_page page;
  CHECK_OK(cf__master_pull(f.server, CLAIMS(USER_1), ORG_A, 0, 1000, &page));
  const cf__pull_item *u = find_item(&page, "users", USER_2);
  CHECK(u != NULL);
  cell_text(&u->row, "full_name", val, sizeof val);
  CHECK_STR(val, "Second User");
  CHECK(cf__ver_cmp(&u->row.cells[2].ver, &v) == 0);
  cf__pull_page_free(&page);
  fx_close(&f);
}

CF_TEST(test_master_batch_touching_a_row_twice_merges_in_order) {
  fx f;
  fx_open(&f);
  cf_change ch[3];
  char id[37], val[128], sql[200];
  new_id(id);
  cf_ver v1 = ver_at(1, -2000, 0), v2 = ver_at(1, -1000, 0), v0 = ver_at(1, -3000, 0);
  contact_insert(&ch[0], ORG_A, id, "First", NULL, &v1);
  change_init(&ch[1], "contacts", ORG_A, id);
  set_text(&ch[1], "company", "Acme", &v2);
  change_init(&ch[2], "contacts", ORG_A, id);
  set_text(&ch[2], "first_name", "Stale", &v0); /* older than the insert */
  cf__push_result res[3];
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 1, ch, 3, res, NULL));
  CHECK_RESULT(res[0], CF_PUSH_APPLIED, CF_REASON_NONE);
  CHECK_RESULT(res[1], CF_PUSH_APPLIED, CF_REASON_NONE);
  CHECK_RESULT(res[2], CF_PUSH_SUPERSEDED, CF_REASON_NONE);
  snprintf(sql, sizeof sql,
           "SELECT first_name || '/' || company FROM contacts WHERE id = '%s'", id);
  query_str(f.admin, sql, val, sizeof val);
  CHECK_STR(val, "First/Acme");
  fx_close(&f);
}

CF_TEST(test_master_push_out_of_memory_commits_nothing_then_retry_applies) {
  fx f;
  fx_open(&f);
  cf_change ch[2];
  char id1[37], id2[37];
  new_id(id1);
  new_id(id2);
  cf_ver v = ver_at(1, 0, 0);
  contact_insert(&ch[0], ORG_A, id1, "Ann", NULL, &v);
  contact_insert(&ch[1], ORG_A, id2, "Bob", NULL, &v);
  cf__push_result res[2];
  int failures = 0;
  for (uint64_t k = 1;; k++) {
    CHECK(k < 10000);
    cf__alloc_fail_at(k);
    int rc = push(&f, CLAIMS(USER_1), ORG_A, 1, 1, ch, 2, res, NULL);
    cf__alloc_fail_at(0);
    if (rc == CF_OK) break;
    CHECK_MSG(rc == CF_NOMEM, "allocation %llu failed with %s", (unsigned long long)k,
              cf_strerror(rc));
    failures++;
    /* Nothing of the failed attempt was committed. */
    CHECK_EQ(query_num(f.admin, "SELECT count(*) FROM contacts"), 0);
    CHECK_EQ(query_num(f.admin, "SELECT count(*) FROM cf_sync.node_batches"), 0);
  }
  CHECK(failures > 0);
  CHECK_RESULT(res[0], CF_PUSH_APPLIED, CF_REASON_NONE);
  CHECK_RESULT(res[1], CF_PUSH_APPLIED, CF_REASON_NONE);
  CHECK_EQ(query_num(f.admin, "SELECT count(*) FROM contacts"), 2);
  fx_close(&f);
}

CF_TEST(test_master_pull_out_of_memory_fails_cleanly) {
  fx f;
  fx_open(&f);
  exec_or_fail(f.admin,
               "INSERT INTO contacts (org_id, first_name, tags, metadata) VALUES "
               "('" ORG_A "', 'A', '{x,y}', '{\"b\": [1, 2.50]}'); "
               "DELETE FROM memberships WHERE user_id = '" USER_2 "'");
  cf__pull_page page;
  CHECK_OK(cf__master_pull(f.server, CLAIMS(USER_1), ORG_A, 0, 100, &page));
  size_t want = page.n;
  cf__pull_page_free(&page);
  int failures = 0;
  for (uint64_t k = 1;; k++) {
    CHECK(k < 10000);
    cf__alloc_fail_at(k);
    int rc = cf__master_pull(f.server, CLAIMS(USER_1), ORG_A, 0, 100, &page);
    cf__alloc_fail_at(0);
    if (rc == CF_OK) {
      CHECK_EQ(page.n, want);
      cf__pull_page_free(&page);
      break;
    }
    CHECK_MSG(rc == CF_NOMEM, "allocation %llu failed with %s", (unsigned long long)k,
              cf_strerror(rc));
    cf__pull_page_free(&page);
    failures++;
  }
  CHECK(failures > 0);
  fx_close(&f);
}

CF_TEST(test_master_retried_batch_changes_nothing_twice) {
  fx f;
  fx_open(&f);
  cf_change ch[3];
  char ids[3][37];
  cf_ver v = ver_at(1, 0, 0);
  for (int i = 0; i < 3; i++) {
    new_id(ids[i]);
    contact_insert(&ch[i], ORG_A, ids[i], "Ann", i == 2 ? "bad" : NULL, &v);
  }
  cf__push_result r1[3], r2[3];
  cf__push_info info;
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 7, ch, 3, r1, &info));
  CHECK_EQ(info.replayed, 0);
  const char *state_sql =
      "SELECT string_agg(id::text || cf_seq || encode(cf_versions, 'hex') || updated_at, "
      "',' "
      "ORDER BY id) || (SELECT head_seq FROM cf_sync.org_clock WHERE org_id = '" ORG_A
      "') "
      "FROM contacts";
  char before[8192], after[8192];
  query_str(f.admin, state_sql, before, sizeof before);
  /* The acknowledgement was lost: the node sends batch 7 again. */
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 7, ch, 3, r2, &info));
  CHECK_EQ(info.replayed, 1);
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(r1[i].status, r2[i].status);
    CHECK_EQ(r1[i].reason, r2[i].reason);
    CHECK_STR(r1[i].detail, r2[i].detail);
  }
  CHECK_RESULT(r2[2], CF_PUSH_REJECTED, CF_REASON_CONSTRAINT);
  query_str(f.admin, state_sql, after, sizeof after);
  CHECK_STR(before, after);
  /* An older batch is refused as stale, never answered "applied": the
  ** caller must answer with a protocol error.  Nothing changes. */
  cf_change other[1];
  char oid[37];
  new_id(oid);
  contact_insert(&other[0], ORG_A, oid, "Yves", NULL, &v);
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 6, other, 1, r2, &info));
  CHECK_EQ(info.replayed, 0);
  CHECK_EQ(info.stale, 1);
  CHECK_EQ(info.last_batch, 7);
  CHECK_EQ(info.applied + info.superseded + info.rejected, 0);
  query_str(f.admin, state_sql, after, sizeof after);
  CHECK_STR(before, after);
  /* The last batch's number with other contents is refused as reused. */
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 7, other, 1, r2, &info));
  CHECK_EQ(info.reused, 1);
  CHECK_EQ(info.replayed, 0);
  query_str(f.admin, state_sql, after, sizeof after);
  CHECK_STR(before, after);
  /* Same number, same count, one value different: reused too. */
  cf_change changed[3];
  memcpy(changed, ch, sizeof changed);
  contact_insert(&changed[1], ORG_A, ids[1], "Anne", NULL, &v);
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 7, changed, 3, r2, &info));
  CHECK_EQ(info.reused, 1);
  query_str(f.admin, state_sql, after, sizeof after);
  CHECK_STR(before, after);
  fx_close(&f);
}

CF_TEST(test_master_direct_sql_writes_get_master_versions_and_reach_pull) {
  fx f;
  fx_open(&f);
  cf__pull_page page;
  uint64_t cursor = org_a_head_cursor(&f, CLAIMS(USER_1));

  exec_or_fail(f.admin,
               "INSERT INTO contacts (org_id, id, first_name) VALUES "
               "('" ORG_A "', '0190a000-0000-7000-8000-0000000000c1', 'Direct'),"
               "('" ORG_A "', '0190a000-0000-7000-8000-0000000000c2', 'Doomed')");
  char master_node[64], vers_before[1024], vers_after[1024];
  query_str(f.admin, "SELECT master_node FROM cf_sync.config", master_node,
            sizeof master_node);
  query_str(f.admin,
            "SELECT encode(cf_versions, 'hex') FROM contacts WHERE id = "
            "'0190a000-0000-7000-8000-0000000000c1'",
            vers_before, sizeof vers_before);
  exec_or_fail(f.admin, "UPDATE contacts SET phone = '123' WHERE id = "
                        "'0190a000-0000-7000-8000-0000000000c1'");
  exec_or_fail(f.admin,
               "DELETE FROM contacts WHERE id = '0190a000-0000-7000-8000-0000000000c2'");
  query_str(f.admin,
            "SELECT encode(cf_versions, 'hex') FROM contacts WHERE id = "
            "'0190a000-0000-7000-8000-0000000000c1'",
            vers_after, sizeof vers_after);
  /* Only phone (index 5) and updated_at (10) got new versions. */
  for (int i = 0; i <= 11; i++) {
    int same = memcmp(vers_before + i * 48, vers_after + i * 48, 48) == 0;
    CHECK_MSG(same == !(i == 5 || i == 10), "cell %d", i);
  }

  CHECK_OK(cf__master_pull(f.server, CLAIMS(USER_2), ORG_A, cursor, 1000, &page));
  CHECK_EQ(page.status, CF__PULL_OK);
  CHECK_EQ(page.n, 2); /* the updated row and the tombstone */
  const cf__pull_item *row =
      find_item(&page, "contacts", "0190a000-0000-7000-8000-0000000000c1");
  const cf__pull_item *tomb =
      find_item(&page, "contacts", "0190a000-0000-7000-8000-0000000000c2");
  CHECK(row != NULL && tomb != NULL);
  char phone[16];
  cell_text(&row->row, "phone", phone, sizeof phone);
  CHECK_STR(phone, "123");
  CHECK(!cf__row_is_deleted(&row->row));
  CHECK(cf__row_is_deleted(&tomb->row));
  /* Versions carry the master's node id. */
  cf_nodeid nid;
  char nid_text[CF_NODE_ID_TEXT_LEN];
  cf__ver_node(&row->row.cells[5].ver, &nid);
  cf__node_id_format(&nid, nid_text);
  CHECK_STR(nid_text, master_node);
  cf__pull_page_free(&page);

  /* A pushed update older than the direct delete is superseded. */
  cf_change ch;
  change_init(&ch, "contacts", ORG_A, "0190a000-0000-7000-8000-0000000000c2");
  cf_ver old = ver_at(1, -60000, 0);
  set_text(&ch, "phone", "999", &old);
  cf__push_result res;
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 1, &ch, 1, &res, NULL));
  CHECK_RESULT(res, CF_PUSH_SUPERSEDED, CF_REASON_NONE);
  CHECK_EQ(query_num(f.admin, "SELECT count(*) FROM contacts WHERE id = "
                              "'0190a000-0000-7000-8000-0000000000c2'"),
           0);
  fx_close(&f);
}

CF_TEST(test_master_pushed_delete_leaves_tombstone_with_its_version) {
  fx f;
  fx_open(&f);
  cf_change ch;
  char id[37], sql[256], hex[128], want[128];
  new_id(id);
  cf_ver v = ver_at(1, -1000, 0), d = ver_at(2, 0, 0);
  contact_insert(&ch, ORG_A, id, "Ann", NULL, &v);
  cf__push_result res;
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 1, &ch, 1, &res, NULL));
  change_init(&ch, "contacts", ORG_A, id);
  cf__row_set_deleted(&ch, 1, &d);
  CHECK_OK(push(&f, CLAIMS(USER_2), ORG_A, 2, 1, &ch, 1, &res, NULL));
  CHECK_RESULT(res, CF_PUSH_APPLIED, CF_REASON_NONE);
  snprintf(sql, sizeof sql,
           "SELECT encode(deleted_version, 'hex') FROM cf_sync.tombstones "
           "WHERE id = '%s'",
           id);
  query_str(f.admin, sql, hex, sizeof hex);
  cf__hex(d.b, CF_VER_LEN, want);
  CHECK_STR(hex, want);
  snprintf(sql, sizeof sql, "SELECT count(*) FROM contacts WHERE id = '%s'", id);
  CHECK_EQ(query_num(f.admin, sql), 0);
  /* Undelete with a newer full row brings it back. */
  cf_ver u = ver_at(1, 1, 0);
  contact_insert(&ch, ORG_A, id, "Back", NULL, &u);
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 2, &ch, 1, &res, NULL));
  CHECK_RESULT(res, CF_PUSH_APPLIED, CF_REASON_NONE);
  CHECK_EQ(query_num(f.admin, sql), 1);
  fx_close(&f);
}

CF_TEST(test_master_pull_pages_never_split_or_repeat_changes) {
  fx f;
  fx_open(&f);
  enum { N = 230 };
  cf_change *ch = calloc(N, sizeof *ch);
  cf__push_result *res = calloc(N, sizeof *res);
  char(*ids)[37] = calloc(N, 37);
  CHECK(ch && res && ids);
  cf_ver v = ver_at(1, 0, 0);
  for (int i = 0; i < N; i++) {
    new_id(ids[i]);
    contact_insert(&ch[i], ORG_A, ids[i], "P", NULL, &v);
  }
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 1, ch, N, res, NULL));
  exec_or_fail(f.admin,
               "DELETE FROM contacts WHERE ctid IN (SELECT ctid FROM contacts LIMIT 30)");
  seen s = {0};
  uint64_t cursor = 0;
  int pages = 0;
  for (;;) {
    cf__pull_page page;
    CHECK_OK(cf__master_pull(f.server, CLAIMS(USER_2), ORG_A, cursor, 17, &page));
    CHECK_EQ(page.status, CF__PULL_OK);
    for (size_t i = 0; i < page.n; i++) {
      CHECK(page.items[i].seq > cursor);
      seen_add(&s, page.items[i].seq);
    }
    CHECK(page.next_cursor >= cursor);
    cursor = page.next_cursor;
    int more = page.more;
    cf__pull_page_free(&page);
    pages++;
    if (!more) break;
    CHECK(pages < 1000);
  }
  /* Every change once: the rows left, the tombstones, org, members. */
  long long expect = query_num(
      f.admin, "SELECT (SELECT count(*) FROM contacts) + "
               "(SELECT count(*) FROM cf_sync.tombstones) + "
               "(SELECT count(*) FROM memberships WHERE org_id = '" ORG_A "') + "
               "(SELECT count(*) FROM cf_sync.user_seqs WHERE org_id = '" ORG_A "') + 1");
  CHECK_EQ((long long)s.n, expect);
  for (size_t i = 1; i < s.n; i++)
    CHECK(s.seqs[i - 1] <= s.seqs[i]);
  CHECK(pages >= (int)(expect / 18));
  free(s.seqs);
  free(ch);
  free(res);
  free(ids);
  fx_close(&f);
}

CF_TEST(test_master_pull_after_purge_horizon_asks_for_rebootstrap) {
  fx f;
  fx_open(&f);
  cf__pull_page page;
  uint64_t cursor = org_a_head_cursor(&f, CLAIMS(USER_1));
  exec_or_fail(f.admin,
               "INSERT INTO contacts (org_id, first_name) VALUES ('" ORG_A "', 'x');"
               "DELETE FROM contacts");
  /* A later transaction: now() has moved past the tombstone's deleted_at. */
  CHECK(query_num(f.admin, "SELECT cf_sync.purge_tombstones('0 seconds')") == 1);
  CHECK_OK(cf__master_pull(f.server, CLAIMS(USER_1), ORG_A, cursor, 1000, &page));
  CHECK_EQ(page.status, CF__PULL_REBOOTSTRAP);
  cf__pull_page_free(&page);
  CHECK_OK(cf__master_pull(f.server, CLAIMS(USER_1), ORG_A, 0, 1000, &page));
  CHECK_EQ(page.status, CF__PULL_OK);
  cf__pull_page_free(&page);
  fx_close(&f);
}

/* ------------------------------------------------------------------------
** The gapless cursor race.
*/

typedef struct writer {
  const char *url;    /* connection string */
  int pusher;         /* 1: writes through cf__master_push */
  unsigned char node; /* a pusher's node tag */
  int ntx;            /* transactions to commit */
  uint64_t rng;       /* its random state (from the test seed) */
  int committed;      /* rows committed */
  char err[320];      /* first failure, "" if none */
  int finished;       /* set (atomically) when the thread is done */
} writer;

static void *writer_main(void *arg) {
  writer *w = arg;
  cf__pg *pg = NULL;
  char err[256];
  if (cf__pg_connect(w->url, &pg, err, sizeof err) != CF_OK) {
    snprintf(w->err, sizeof w->err, "connect: %s", err);
    __atomic_store_n(&w->finished, 1, __ATOMIC_RELEASE);
    return NULL;
  }
  for (int i = 0; i < w->ntx && !w->err[0]; i++) {
    uint64_t r = cf_test_rand(&w->rng);
    int rows = 1 + (int)(r % 3);
    if (w->pusher) {
      cf_change ch[3];
      char ids[3][37];
      cf__push_result res[3];
      cf_nodeid nid = node_id(w->node);
      cf_ver v;
      cf__ver_make(CF_HLC_MAKE(cf__now_ms(), (unsigned)i), &nid, &v);
      for (int k = 0; k < rows; k++) {
        cf_uuid u;
        if (cf__uuid_v7(&u) != CF_OK) break;
        cf__uuid_format(&u, ids[k]);
        contact_insert(&ch[k], ORG_A, ids[k], "Pushed", NULL, &v);
      }
      int rc = cf__master_push(pg, CLAIMS(USER_2), ORG_A, &nid, (uint64_t)i + 1, ch,
                               (size_t)rows, res, NULL);
      if (rc != CF_OK) {
        snprintf(w->err, sizeof w->err, "push: %s", cf__pg_errmsg(pg));
        break;
      }
      for (int k = 0; k < rows; k++)
        w->committed += res[k].status == CF_PUSH_APPLIED;
    } else {
      char sql[512];
      /* Hold some transactions open a while (0..20 ms) before commit. */
      int hold = (r >> 8) % 4 == 0 ? (int)((r >> 16) % 20) : 0;
      snprintf(
          sql, sizeof sql,
          "BEGIN; INSERT INTO contacts (org_id, first_name) SELECT '" ORG_A
          "', 'Direct' FROM generate_series(1, %d); SELECT pg_sleep(%d / 1000.0); COMMIT",
          rows, hold);
      if (cf__pg_exec(pg, sql) != CF_OK) {
        snprintf(w->err, sizeof w->err, "insert: %s", cf__pg_errmsg(pg));
        break;
      }
      w->committed += rows;
    }
  }
  cf__pg_close(pg);
  __atomic_store_n(&w->finished, 1, __ATOMIC_RELEASE);
  return NULL;
}

/* What a pull from cursor c must return: every change of ORG_A numbered
** after c, as "seq:table[:d]" in the pull's order (seq, then source; the
** tombstones are source 10), read as the superuser from every source. */
static void expected_after(cf__pg *admin, uint64_t c, char *out, size_t outlen) {
  char sql[2048];
  snprintf(
      sql, sizeof sql,
      "SELECT coalesce(string_agg(s.seq || ':' || s.tno || s.d, ' ' ORDER BY s.seq, "
      "s.src), '') FROM ("
      " SELECT cf_seq AS seq, 0 AS src, 0 AS tno, '' AS d FROM organizations"
      "  WHERE id = '" ORG_A "'"
      " UNION ALL SELECT s.cf_seq, 1, 1, '' FROM cf_sync.user_seqs AS s"
      "  JOIN users AS u ON u.id = s.user_id WHERE s.org_id = '" ORG_A "'"
      " UNION ALL SELECT cf_seq, 2, 2, '' FROM memberships WHERE org_id = '" ORG_A "'"
      " UNION ALL SELECT cf_seq, 3, 3, '' FROM contacts WHERE org_id = '" ORG_A "'"
      " UNION ALL SELECT cf_seq, 4, 4, '' FROM deals WHERE org_id = '" ORG_A "'"
      " UNION ALL SELECT cf_seq, 5, 5, '' FROM activities WHERE org_id = '" ORG_A "'"
      " UNION ALL SELECT cf_seq, 6, 6, '' FROM appointments WHERE org_id = '" ORG_A "'"
      " UNION ALL SELECT cf_seq, 7, 7, '' FROM messages WHERE org_id = '" ORG_A "'"
      " UNION ALL SELECT cf_seq, 8, 8, '' FROM automations WHERE org_id = '" ORG_A "'"
      " UNION ALL SELECT cf_seq, 9, 9, '' FROM daily_metrics WHERE org_id = '" ORG_A "'"
      " UNION ALL SELECT cf_seq, 10, table_no, ':d' FROM cf_sync.tombstones"
      "  WHERE org_id = '" ORG_A "') AS s WHERE s.seq > %llu",
      (unsigned long long)c);
  query_str(admin, sql, out, outlen);
}

/* The same of a page. */
static void page_items(const cf__pull_page *p, char *out, size_t outlen) {
  size_t len = 0;
  out[0] = '\0';
  for (size_t i = 0; i < p->n && len < outlen; i++)
    len += (size_t)snprintf(out + len, outlen - len, "%s%llu:%u%s", i ? " " : "",
                            (unsigned long long)p->items[i].seq,
                            p->items[i].row.table->number,
                            cf__row_is_deleted(&p->items[i].row) ? ":d" : "");
}

/* A pull reads only the sources cf_sync.pull_start (013) finds changed after
** its cursor: from EVERY cursor position, after a change to each of the
** eleven sources in turn (and changes of another org in between), the page
** must still hold exactly the org's changes after that cursor. */
CF_TEST(test_master_pull_of_only_the_changed_sources_misses_nothing_from_any_cursor) {
  fx f;
  fx_open(&f);
  cf__pull_page page;
  uint64_t start = org_a_head_cursor(&f, CLAIMS(USER_2));
  static const char *const writes[] = {
      "UPDATE organizations SET name = 'Org A2' WHERE id = '" ORG_A "'",
      "INSERT INTO contacts (org_id, id, first_name) VALUES ('" ORG_B
      "', '0190a000-0000-7000-8000-0000000000b1', 'Other org')",
      "UPDATE users SET full_name = 'User Two' WHERE id = '" USER_2 "'",
      "UPDATE memberships SET role = 'admin' WHERE user_id = '" USER_2 "'",
      "INSERT INTO contacts (org_id, id, first_name) VALUES ('" ORG_A
      "', '0190a000-0000-7000-8000-0000000000a1', 'Ann')",
      "INSERT INTO deals (org_id, id, contact_id, title) VALUES ('" ORG_A
      "', '0190a000-0000-7000-8000-0000000000a2', '0190a000-0000-7000-8000-0000000000a1',"
      " 'Deal')",
      "INSERT INTO activities (org_id, id, kind, subject) VALUES ('" ORG_A
      "', '0190a000-0000-7000-8000-0000000000a3', 'call', 'Call')",
      "UPDATE contacts SET first_name = 'Other' WHERE org_id = '" ORG_B "'",
      "INSERT INTO appointments (org_id, id, title, starts_at, ends_at) VALUES ('" ORG_A
      "', '0190a000-0000-7000-8000-0000000000a4', 'Visit', '2026-12-01T10:00:00Z',"
      " '2026-12-01T11:00:00Z')",
      "INSERT INTO messages (org_id, id, channel, direction, body) VALUES ('" ORG_A
      "', '0190a000-0000-7000-8000-0000000000a5', 'sms', 'outbound', 'Hi')",
      "INSERT INTO automations (org_id, id, name, trigger, action) VALUES ('" ORG_A
      "', '0190a000-0000-7000-8000-0000000000a6', 'Remind', 'appointment_reminder',"
      " 'send_sms')",
      "INSERT INTO daily_metrics (org_id, id, day) VALUES ('" ORG_A
      "', '0190a000-0000-7000-8000-0000000000a7', '2026-12-01')",
      "DELETE FROM activities WHERE id = '0190a000-0000-7000-8000-0000000000a3'",
      "UPDATE contacts SET last_name = 'Again' WHERE org_id = '" ORG_A "'"};
  for (size_t i = 0; i < sizeof writes / sizeof *writes; i++)
    exec_or_fail(f.admin, writes[i]);
  uint64_t head = (uint64_t)query_num(
      f.admin, "SELECT head_seq FROM cf_sync.org_clock WHERE org_id = '" ORG_A "'");
  CHECK(head > start);
  char want[2048], got[2048];
  for (uint64_t c = 0; c <= head; c++) {
    expected_after(f.admin, c, want, sizeof want);
    CHECK_OK(cf__master_pull(f.server, CLAIMS(USER_2), ORG_A, c, 1000, &page));
    CHECK_EQ(page.status, CF__PULL_OK);
    page_items(&page, got, sizeof got);
    CHECK_MSG(strcmp(want, got) == 0, "from %llu: want \"%s\", got \"%s\"",
              (unsigned long long)c, want, got);
    CHECK_EQ(page.more, 0);
    CHECK_EQ(page.next_cursor, head);
    cf__pull_page_free(&page);
  }
  /* Page by page (one change a page) from the start: the same changes. */
  uint64_t c = start;
  size_t len = 0;
  got[0] = '\0';
  for (int guard = 0; guard < 100; guard++) {
    CHECK_OK(cf__master_pull(f.server, CLAIMS(USER_2), ORG_A, c, 1, &page));
    char part[512];
    page_items(&page, part, sizeof part);
    if (part[0] != '\0')
      len += (size_t)snprintf(got + len, sizeof got - len, "%s%s", len ? " " : "", part);
    c = page.next_cursor;
    int more = page.more;
    cf__pull_page_free(&page);
    if (!more) break;
  }
  expected_after(f.admin, start, want, sizeof want);
  CHECK_STR(got, want);
  CHECK_EQ(c, head);
  fx_close(&f);
}

CF_TEST(test_master_gapless_cursor_under_concurrent_writers) {
  fx f;
  fx_open(&f);
  /* Three pushers (own nodes) and three direct writers: since 008 pushes of
  ** one org run side by side up to their reservation (docs/master-sync.md,
  ** "The change cursor"). */
  enum { NW = 6, NPUSHERS = 3, NTX = 60 };
  writer w[NW];
  pthread_t th[NW];
  uint64_t seed = cf_test_seed();
  for (int i = 0; i < NW; i++) {
    memset(&w[i], 0, sizeof w[i]);
    w[i].url = i < NPUSHERS ? f.srv_url : f.url;
    w[i].pusher = i < NPUSHERS;
    w[i].node = (unsigned char)(9 + i);
    w[i].ntx = NTX;
    w[i].rng = seed + (uint64_t)i * 0x9e3779b97f4a7c15ULL;
  }
  /* Start the puller's cursor after the fixture's rows. */
  cf__pull_page page;
  uint64_t cursor = org_a_head_cursor(&f, CLAIMS(USER_1));
  for (int i = 0; i < NW; i++)
    CHECK(pthread_create(&th[i], NULL, writer_main, &w[i]) == 0);

  seen s = {0};
  int writers_done = 0;
  for (;;) {
    /* Read "done" before pulling: a pull that starts after every writer
    ** committed and finds nothing more ends the race. */
    int done_before = writers_done;
    CHECK_OK(cf__master_pull(f.server, CLAIMS(USER_1), ORG_A, cursor, 7, &page));
    CHECK_EQ(page.status, CF__PULL_OK);
    for (size_t i = 0; i < page.n; i++) {
      CHECK(page.items[i].seq > cursor);
      CHECK(strcmp(page.items[i].row.table->name, "contacts") == 0);
      seen_add(&s, page.items[i].seq);
    }
    CHECK(page.next_cursor >= cursor);
    cursor = page.next_cursor;
    int more = page.more;
    cf__pull_page_free(&page);
    if (done_before && !more) break;
    if (!writers_done) {
      int all = 1;
      for (int i = 0; i < NW; i++)
        all &= __atomic_load_n(&w[i].finished, __ATOMIC_ACQUIRE);
      writers_done = all;
    }
  }
  for (int i = 0; i < NW; i++)
    CHECK(pthread_join(th[i], NULL) == 0);
  int total = 0;
  for (int i = 0; i < NW; i++) {
    CHECK_MSG(!w[i].err[0], "writer %d: %s", i, w[i].err);
    total += w[i].committed;
  }
  /* Every change seen exactly once, none skipped: compare with the table. */
  CHECK_EQ((long long)s.n, total);
  CHECK_EQ(query_num(f.admin, "SELECT count(*) FROM contacts"), total);
  for (size_t i = 1; i < s.n; i++)
    CHECK_MSG(s.seqs[i - 1] < s.seqs[i], "seq %llu twice", (unsigned long long)s.seqs[i]);
  char *list = NULL;
  cf_buf b;
  cf__buf_init(&b, 1 << 24);
  for (size_t i = 0; i < s.n; i++) {
    char num[32];
    snprintf(num, sizeof num, "%s%llu", i ? "," : "", (unsigned long long)s.seqs[i]);
    CHECK_OK(cf__buf_puts(&b, num));
  }
  list =
      cf__mprintf("SELECT count(*) FROM contacts WHERE cf_seq <> ALL ('{%s}'::bigint[])",
                  b.p ? b.p : "");
  CHECK(list != NULL);
  CHECK_EQ(query_num(f.admin, list), 0);
  cf__free(list);
  cf__buf_free(&b);
  free(s.seqs);
  fx_close(&f);
}

/*
** cf__pg_pipeline's prepared statements behind a pooler that loses them
** (another backend, 26000) or already has them (42P05): the request is run
** again unnamed, and the connection prepares nothing from then on.
*/
CF_TEST(test_pg_pipeline_runs_unnamed_when_prepared_statements_are_lost_or_doubled) {
  fx f;
  fx_open(&f);
  static const char name[] = "cf_test_lost";
  const char *one = "1";
  cf__pg_step st[3] = {{"BEGIN", NULL, 0, NULL, NULL},
                       {"SELECT $1::int + 1", name, 1, &one, NULL},
                       {"COMMIT", NULL, 0, NULL, NULL}};
  size_t failed = 99;
  CHECK_OK(cf__pg_pipeline(f.admin, st, 3, &failed));
  CHECK_EQ((long long)failed, 3);
  CHECK_STR(cf__pg_value(st[1].res, 0, 0), "2");
  for (int i = 0; i < 3; i++)
    cf__pg_res_free(st[i].res);
  /* The backend lost it (as after a pooler switched backends). */
  CHECK_OK(cf__pg_exec(f.admin, "DEALLOCATE cf_test_lost"));
  CHECK_OK(cf__pg_pipeline(f.admin, st, 3, &failed));
  CHECK_STR(cf__pg_value(st[1].res, 0, 0), "2");
  for (int i = 0; i < 3; i++)
    cf__pg_res_free(st[i].res);
  /* Another connection whose backend already has the name (42P05). */
  cf__pg *pg = connect_or_fail(f.url);
  CHECK_OK(cf__pg_exec(pg, "PREPARE cf_test_lost AS SELECT 41"));
  CHECK_OK(cf__pg_pipeline(pg, st, 3, &failed));
  CHECK_STR(cf__pg_value(st[1].res, 0, 0), "2");
  for (int i = 0; i < 3; i++)
    cf__pg_res_free(st[i].res);
  cf__pg_close(pg);
  fx_close(&f);
}

/*
** Concurrent pushes of the same cells: pushes read and merge without a lock
** since 008, so a push may write a cell another push changed after its read.
** Whatever the interleaving, each cell ends with the value of its newest
** version (last writer wins per column), as every replica would hold it.
*/
enum { CC_ROWS = 4, CC_PUSHERS = 3, CC_PUSHES = 100 };

typedef struct cc_pusher {
  const char *url;                     /* the server's connection string */
  const char (*ids)[CF_UUID_TEXT_LEN]; /* the rows */
  unsigned char node;                  /* its node tag */
  int64_t base_ms;                     /* versions are after this time */
  uint64_t rng;                        /* its random state */
  cf_ver best[CC_ROWS];                /* its newest version per row */
  char best_val[CC_ROWS][48];          /* the company that version wrote */
  char err[320];                       /* first failure */
} cc_pusher;

static void *cc_main(void *arg) {
  cc_pusher *p = arg;
  cf__pg *pg = NULL;
  char err[256];
  if (cf__pg_connect(p->url, &pg, err, sizeof err) != CF_OK) {
    snprintf(p->err, sizeof p->err, "connect: %s", err);
    return NULL;
  }
  cf_nodeid nid = node_id(p->node);
  for (int i = 0; i < CC_PUSHES && !p->err[0]; i++) {
    cf_change ch[CC_ROWS];
    cf__push_result res[CC_ROWS];
    char val[CC_ROWS][48];
    for (int k = 0; k < CC_ROWS; k++) {
      uint64_t r = cf_test_rand(&p->rng);
      cf_ver v;
      /* Versions anywhere in the last hour: a push often loses to another,
      ** and the newest one can come at any time. */
      cf__ver_make(
          CF_HLC_MAKE(p->base_ms + (int64_t)(r % 3600000), (unsigned)(r >> 40) & 0xff),
          &nid, &v);
      snprintf(val[k], sizeof val[k], "n%u-%llu", p->node, (unsigned long long)(r >> 20));
      change_init(&ch[k], "contacts", ORG_A, p->ids[k]);
      cf_value cv = cf__value_text(val[k], strlen(val[k]));
      int col = cf__schema_column_index(ch[k].table, "company");
      if (cf__row_set(&ch[k], (unsigned)col, &cv, &v) != CF_OK) {
        snprintf(p->err, sizeof p->err, "row_set");
        break;
      }
      if (cf__ver_is_zero(&p->best[k]) || cf__ver_cmp(&v, &p->best[k]) > 0) {
        p->best[k] = v;
        memcpy(p->best_val[k], val[k], sizeof val[k]);
      }
    }
    int rc = cf__master_push(pg, CLAIMS(USER_2), ORG_A, &nid, (uint64_t)i + 1, ch,
                             CC_ROWS, res, NULL);
    if (rc != CF_OK) snprintf(p->err, sizeof p->err, "push: %s", cf__pg_errmsg(pg));
  }
  cf__pg_close(pg);
  return NULL;
}

CF_TEST(test_master_concurrent_pushes_of_one_cell_keep_its_newest_version) {
  fx f;
  fx_open(&f);
  char ids[CC_ROWS][CF_UUID_TEXT_LEN];
  cf_change ins[CC_ROWS];
  cf__push_result res[CC_ROWS];
  cf_ver v0 = ver_at(8, -7200000, 0);
  for (int k = 0; k < CC_ROWS; k++) {
    new_id(ids[k]);
    contact_insert(&ins[k], ORG_A, ids[k], "Shared", NULL, &v0);
  }
  CHECK_OK(push(&f, CLAIMS(USER_2), ORG_A, 8, 1, ins, CC_ROWS, res, NULL));
  for (int k = 0; k < CC_ROWS; k++)
    CHECK_RESULT(res[k], CF_PUSH_APPLIED, CF_REASON_NONE);
  uint64_t seed = cf_test_seed();
  cc_pusher p[CC_PUSHERS];
  pthread_t th[CC_PUSHERS];
  for (int i = 0; i < CC_PUSHERS; i++) {
    memset(&p[i], 0, sizeof p[i]);
    p[i].url = f.srv_url;
    p[i].ids = (const char(*)[CF_UUID_TEXT_LEN])ids;
    p[i].node = (unsigned char)(20 + i);
    p[i].base_ms = cf__now_ms() - 3700000;
    p[i].rng = seed + (uint64_t)i * 0x9e3779b97f4a7c15ULL;
    CHECK(pthread_create(&th[i], NULL, cc_main, &p[i]) == 0);
  }
  for (int i = 0; i < CC_PUSHERS; i++)
    CHECK(pthread_join(th[i], NULL) == 0);
  for (int i = 0; i < CC_PUSHERS; i++)
    CHECK_MSG(!p[i].err[0], "pusher %d: %s", i, p[i].err);
  for (int k = 0; k < CC_ROWS; k++) {
    int w = 0;
    for (int i = 1; i < CC_PUSHERS; i++)
      if (cf__ver_cmp(&p[i].best[k], &p[w].best[k]) > 0) w = i;
    char sql[256], got[64];
    snprintf(sql, sizeof sql, "SELECT company FROM contacts WHERE id = '%s'", ids[k]);
    query_str(f.admin, sql, got, sizeof got);
    CHECK_MSG(strcmp(got, p[w].best_val[k]) == 0, "row %d: %s, newest version wrote %s",
              k, got, p[w].best_val[k]);
  }
  fx_close(&f);
}

/* A push run on a thread of its own (its own connection), for a test that
** holds a lock the push must wait for. */
typedef struct held_push {
  const char *url;        /* the server role's connection string */
  cf_change *ch;          /* the batch */
  size_t n;               /* its size */
  cf__push_result res[4]; /* its results */
  int rc;                 /* cf__master_push's code */
  char err[256];          /* its message */
} held_push;

static void *held_push_main(void *arg) {
  held_push *h = arg;
  cf__pg *pg = NULL;
  if (cf__pg_connect(h->url, &pg, h->err, sizeof h->err) != CF_OK) {
    h->rc = CF_UNREACHABLE;
    return NULL;
  }
  cf_nodeid nid = node_id(2);
  h->rc = cf__master_push(pg, CLAIMS(USER_2), ORG_A, &nid, 1, h->ch, h->n, h->res, NULL);
  snprintf(h->err, sizeof h->err, "%s", cf__pg_errmsg(pg));
  cf__pg_close(pg);
  return NULL;
}

/* The node id of cell `cell` of a contact's stored versions, as hex. */
static void stored_node(fx *f, const char *id, int cell, char *out, size_t outlen) {
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT encode(substring(cf_versions FROM %d FOR 16), 'hex') FROM contacts "
           "WHERE id = '%s'",
           cell * CF_VER_LEN + 9, id);
  query_str(f->admin, sql, out, outlen);
}

CF_TEST(test_master_push_over_a_row_changed_since_its_read_keeps_the_newer_cells) {
  /* The push's UPDATE writes the versions it merged in C only while the row
  ** is as the push read it (the same cf_seq); a row changed between the
  ** read and the write gets the cell-by-cell guard (docs/master-sync.md,
  ** "Why the merge stays right without the lock").  Made to happen: a
  ** direct write of x's company holds the org clock (uncommitted) while the
  ** push reads x and merges, and commits while the push waits for the
  ** clock; the push then writes over the new row.  Its company change is
  ** older than the direct write and must lose; its phone change, a cell
  ** nobody else wrote, must land.  y, another row of the same statement
  ** carrying other cells (a statement whose rows took different cells), is
  ** unchanged since the read and takes its change. */
  fx f;
  fx_open(&f);
  char x[CF_UUID_TEXT_LEN], y[CF_UUID_TEXT_LEN];
  new_id(x);
  new_id(y);
  cf_change ch[2];
  cf__push_result res[2];
  cf_ver v0 = ver_at(1, -3600000, 0);
  contact_insert(&ch[0], ORG_A, x, "Xena", NULL, &v0);
  contact_insert(&ch[1], ORG_A, y, "Yuri", NULL, &v0);
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 1, ch, 2, res, NULL));
  CHECK_RESULT(res[0], CF_PUSH_APPLIED, CF_REASON_NONE);
  CHECK_RESULT(res[1], CF_PUSH_APPLIED, CF_REASON_NONE);

  cf__pg *direct = connect_or_fail(f.url), *watch = connect_or_fail(f.url);
  char sql[256];
  snprintf(sql, sizeof sql,
           "BEGIN; UPDATE contacts SET company = 'Direct' WHERE id = '%s'", x);
  exec_or_fail(direct, sql);

  cf_ver v1 = ver_at(2, -1800000, 0); /* newer than v0, older than the direct write */
  change_init(&ch[0], "contacts", ORG_A, x);
  set_text(&ch[0], "company", "Pushed", &v1);
  set_text(&ch[0], "phone", "+1-555-0199", &v1);
  change_init(&ch[1], "contacts", ORG_A, y);
  set_text(&ch[1], "first_name", "Yann", &v1);
  held_push h;
  memset(&h, 0, sizeof h);
  h.url = f.srv_url;
  h.ch = ch;
  h.n = 2;
  pthread_t t;
  CHECK(pthread_create(&t, NULL, held_push_main, &h) == 0);
  /* Wait (bounded) until the push waits for the clock the writer holds. */
  long long waiting = 0;
  for (int i = 0; i < 1000 && waiting == 0; i++)
    waiting =
        query_num(watch, "SELECT count(*) FROM pg_stat_activity, pg_sleep(0.01) "
                         "WHERE usename = 'cf_test_server' AND wait_event_type = 'Lock' "
                         "AND datname = current_database()");
  CHECK_EQ(waiting, 1);
  exec_or_fail(direct, "COMMIT");
  CHECK(pthread_join(t, NULL) == 0);
  CHECK_MSG(h.rc == CF_OK, "push: %s", h.err);
  /* Applied: each change took a cell when merged; the direct write
  ** superseded the company a moment later, as any later write would. */
  CHECK_RESULT(h.res[0], CF_PUSH_APPLIED, CF_REASON_NONE);
  CHECK_RESULT(h.res[1], CF_PUSH_APPLIED, CF_REASON_NONE);

  char got[64], master_node[64], node2[64], nid[64];
  snprintf(sql, sizeof sql,
           "SELECT company || ' ' || phone FROM contacts WHERE id = '%s'", x);
  query_str(f.admin, sql, got, sizeof got);
  CHECK_STR(got, "Direct +1-555-0199");
  snprintf(sql, sizeof sql, "SELECT first_name FROM contacts WHERE id = '%s'", y);
  query_str(f.admin, sql, got, sizeof got);
  CHECK_STR(got, "Yann");
  /* The versions went with the values: company the master's, phone and
  ** y's first_name the push's. */
  query_str(f.admin, "SELECT replace(master_node::text, '-', '') FROM cf_sync.config",
            master_node, sizeof master_node);
  cf_nodeid n2 = node_id(2);
  cf__hex(n2.b, sizeof n2.b, node2);
  const cf_table *ct = cf__schema_table_by_name("contacts");
  stored_node(&f, x, cf__schema_column_index(ct, "company"), nid, sizeof nid);
  CHECK_STR(nid, master_node);
  stored_node(&f, x, cf__schema_column_index(ct, "phone"), nid, sizeof nid);
  CHECK_STR(nid, node2);
  stored_node(&f, y, cf__schema_column_index(ct, "first_name"), nid, sizeof nid);
  CHECK_STR(nid, node2);
  /* ... and y's other cells kept the insert's (node 1). */
  char node1[64];
  cf_nodeid n1 = node_id(1);
  cf__hex(n1.b, sizeof n1.b, node1);
  stored_node(&f, y, cf__schema_column_index(ct, "last_name"), nid, sizeof nid);
  CHECK_STR(nid, node1);
  cf__pg_close(watch);
  cf__pg_close(direct);
  fx_close(&f);
}

/* ------------------------------------------------------------------------ */

CF_TEST(test_master_check_role_refuses_superuser_owner_and_bypassrls) {
  fx f;
  fx_open(&f);
  CHECK_OK(cf__master_check_role(f.server));
  CHECK_EQ(cf__master_check_role(f.admin), CF_PERMISSION);
  CHECK(strstr(cf__pg_errmsg(f.admin), "superuser") != NULL);

  exec_or_fail(
      f.admin,
      "DO $$ BEGIN "
      "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cf_test_bypass') THEN "
      "  BEGIN CREATE ROLE cf_test_bypass LOGIN BYPASSRLS; "
      "  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END; END IF; "
      "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cf_test_owner') THEN "
      "  BEGIN CREATE ROLE cf_test_owner LOGIN; "
      "  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END; END IF; "
      "BEGIN GRANT authenticator, cf_sync_server TO cf_test_bypass, cf_test_owner; "
      "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END; "
      "END $$");
  exec_or_fail(f.admin, "ALTER TABLE public.deals OWNER TO cf_test_owner");
  char url[700];
  snprintf(url, sizeof url, "%s user=cf_test_bypass", f.url);
  cf__pg *pg = connect_or_fail(url);
  CHECK_EQ(cf__master_check_role(pg), CF_PERMISSION);
  CHECK(strstr(cf__pg_errmsg(pg), "BYPASSRLS") != NULL);
  cf__pg_close(pg);
  snprintf(url, sizeof url, "%s user=cf_test_owner", f.url);
  pg = connect_or_fail(url);
  CHECK_EQ(cf__master_check_role(pg), CF_PERMISSION);
  CHECK(strstr(cf__pg_errmsg(pg), "owns tables (deals)") != NULL);
  cf__pg_close(pg);
  exec_or_fail(f.admin, "ALTER TABLE public.deals OWNER TO postgres");
  fx_close(&f);
}

CF_TEST(test_master_check_role_refuses_a_master_not_migrated_for_this_server) {
  /* A server started against a master that lacks a migration it calls
  ** (013's pull_start) would fail every pull: it refuses to start instead. */
  fx f;
  fx_open(&f);
  CHECK_OK(cf__master_check_role(f.server));
  exec_or_fail(f.admin, "ALTER FUNCTION cf_sync.pull_start(uuid, bigint) "
                        "RENAME TO pull_start_hidden");
  CHECK_EQ(cf__master_check_role(f.server), CF_CONFIG);
  CHECK(strstr(cf__pg_errmsg(f.server), "clientflow migrate up") != NULL);
  exec_or_fail(f.admin, "ALTER FUNCTION cf_sync.pull_start_hidden(uuid, bigint) "
                        "RENAME TO pull_start");
  CHECK_OK(cf__master_check_role(f.server));
  fx_close(&f);
}

CF_TEST(test_master_pushed_updated_at_equal_to_the_stored_one_is_kept_under_its_version) {
  /* set_updated_at (001) replaces an updated_at the writer did not change
  ** with now(); for a pushed row the value is the one its version belongs
  ** to, whatever it equals (finding 8 of the hardening issue). */
  fx f;
  fx_open(&f);
  char id[37];
  new_id(id);
  cf_change ch[1];
  cf_ver v1 = ver_at(1, 0, 0), v2 = ver_at(1, 1000, 0);
  contact_insert(&ch[0], ORG_A, id, "Ann", NULL, &v1);
  cf__push_result res[1];
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 1, ch, 1, res, NULL));
  CHECK_RESULT(res[0], CF_PUSH_APPLIED, CF_REASON_NONE);
  /* A newer write of updated_at with the same value, and of a title. */
  change_init(&ch[0], "contacts", ORG_A, id);
  set_text(&ch[0], "first_name", "Anne", &v2);
  set_text(&ch[0], "updated_at", T0, &v2);
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 2, ch, 1, res, NULL));
  CHECK_RESULT(res[0], CF_PUSH_APPLIED, CF_REASON_NONE);
  char sql[256], val[128];
  snprintf(sql, sizeof sql,
           "SELECT to_char(updated_at AT TIME ZONE 'UTC', "
           "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
           "FROM contacts WHERE id = '%s'",
           id);
  query_str(f.admin, sql, val, sizeof val);
  CHECK_STR(val, T0);
  /* An update that does not carry updated_at keeps the stored one too. */
  cf_ver v3 = ver_at(1, 2000, 0);
  change_init(&ch[0], "contacts", ORG_A, id);
  set_text(&ch[0], "phone", "+1-555-0100", &v3);
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 3, ch, 1, res, NULL));
  query_str(f.admin, sql, val, sizeof val);
  CHECK_STR(val, T0);
  fx_close(&f);
}

CF_TEST(test_master_new_row_without_every_cell_is_rejected_and_never_stored) {
  fx f;
  fx_open(&f);
  char id[37];
  new_id(id);
  cf_change ch[2];
  cf_ver v = ver_at(1, 0, 0);
  contact_insert(&ch[0], ORG_A, id, "Ann", NULL, &v);
  ch[0].present &= ~CF_COL_BIT(ch[0].table->ncols); /* no deleted cell */
  char id2[37];
  new_id(id2);
  contact_insert(&ch[1], ORG_A, id2, "Bob", NULL, &v);
  cf__push_result res[2];
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 1, ch, 2, res, NULL));
  CHECK_RESULT(res[0], CF_PUSH_REJECTED, CF_REASON_INVALID);
  CHECK(strstr(res[0].detail, "every column") != NULL);
  CHECK_RESULT(res[1], CF_PUSH_APPLIED, CF_REASON_NONE);
  CHECK_EQ(query_num(f.admin, "SELECT count(*) FROM contacts"), 1);
  fx_close(&f);
}

CF_TEST(test_master_all_superseded_batch_still_moves_the_org_clock_past_its_versions) {
  /* An edit of a row the master deleted writes nothing, but the master's own
  ** later writes (re-creating the row) must order after it, or the node
  ** keeps its edit forever (found by clientflow sim). */
  fx f;
  fx_open(&f);
  char id[37];
  new_id(id);
  cf_change ch[1];
  cf_ver v = ver_at(1, 0, 0);
  contact_insert(&ch[0], ORG_A, id, "Ann", NULL, &v);
  cf__push_result res[1];
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 1, ch, 1, res, NULL));
  char sql[256];
  snprintf(sql, sizeof sql, "DELETE FROM contacts WHERE id = '%s'", id);
  exec_or_fail(f.admin, sql);
  cf_ver ahead = ver_at(1, 120000, 0); /* a node two minutes ahead */
  change_init(&ch[0], "contacts", ORG_A, id);
  set_text(&ch[0], "company", "Offline Edit", &ahead);
  cf__push_info info;
  CHECK_OK(push(&f, CLAIMS(USER_1), ORG_A, 1, 2, ch, 1, res, &info));
  CHECK_RESULT(res[0], CF_PUSH_SUPERSEDED, CF_REASON_NONE);
  CHECK_EQ(info.seq_hi, 0); /* nothing written, no position reserved */
  snprintf(sql, sizeof sql,
           "SELECT (last_hlc >= %lld)::int FROM cf_sync.org_clock WHERE org_id = '" ORG_A
           "'",
           (long long)cf__ver_hlc(&ahead));
  CHECK_EQ(query_num(f.admin, sql), 1);
  fx_close(&f);
}
