/*
** tests/integration/test_hostile_push.c: hostile PUSH frames, replayed
** against a real server on a real Postgres (tests/hostile_fixture.h).
**
** Each test is one finding of the outside review, asserting the FIXED
** behaviour (DESIGN.md, Security: "Push is judged change by change ... A
** pushed insert carries every column ... Nothing the master stores can make
** a pull fail"):
**
**   - a PUSH inserting a new row without some column, or without the
**     `deleted` pseudo-cell, is rejected `invalid` ("every column") for
**     every tenant table, the rest of its batch lands, and the org still
**     pulls from 0 without ERROR;
**   - one value the master cannot index (a ~100 kB tag: the GIN index row
**     limit) rejects that change alone, over the wire and through the
**     reference client;
**   - an activity naming as its user someone who is not a member of the
**     org is refused `constraint` (push, and direct SQL under RLS);
**   - regressions: rows of another org are `wrong_org`; a garbage frame
**     closes only its session.
**
** organizations and users take no push INSERT: the organizations row of the
** session's org exists already (any other id is `wrong_org`), and a user may
** only write their own users row, which exists before any membership.
*/
#include <stdarg.h>
#include <string.h>

#include "core/crypto.h"
#include "hostile_fixture.h"

/* An id of kind `kind` (4 hex digits) and number n in the demo org's range. */
static void new_id(char out[40], unsigned kind, unsigned n) {
  snprintf(out, 40, "01936b2a-%04x-7000-8000-9%011u", kind & 0xffffu, n);
}

static long long count_id(sync_fx *f, const char *table, const char *id) {
  char q[256];
  snprintf(q, sizeof q, "SELECT count(*) FROM public.%s WHERE id = '%s'", table, id);
  return sfx_sql_num(f, q);
}

static long long count_tombstones(sync_fx *f, const char *id) {
  char q[256];
  snprintf(q, sizeof q, "SELECT count(*) FROM cf_sync.tombstones WHERE id = '%s'", id);
  return sfx_sql_num(f, q);
}

/* Appends a line to a failure report. */
static void note(char *rep, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(char *rep, size_t cap, const char *fmt, ...) {
  size_t len = strlen(rep);
  if (len + 1 >= cap) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rep + len, cap - len, fmt, ap);
  va_end(ap);
}

/* Counts contacts rows seen by a pull. */
static void count_rows(void *ctx, const cf_row *row) {
  long long *n = ctx;
  n[row->table->number]++;
}

CF_TEST(test_hostile_push_partial_insert_rejected_invalid_on_every_tenant_table) {
  uint64_t seed = cf_test_seed();
  uint64_t rng = seed;
  sync_fx f;
  sfx_open(&f, 1);
  char *token = sfx_token(DEMO_OWNER, 3600);
  static char report[16384];
  report[0] = '\0';
  int attacks = 0;
  for (unsigned tn = 0; tn < CF_SCHEMA_NTABLES; tn++) {
    const cf_table *t = cf__schema_table(tn);
    if (!t->tenant) continue;
    for (int variant = 0; variant < 2; variant++) {
      /* variant 0: one random non-key column missing; 1: deleted missing. */
      hx_rowbuf rb;
      memset(&rb, 0, sizeof rb);
      snprintf(rb.org, sizeof rb.org, "%s", DEMO_ORG);
      new_id(rb.id, 0x0100 + tn, (unsigned)variant + 1);
      snprintf(rb.user, sizeof rb.user, "%s", variant ? NW_REP : NW_OWNER);
      snprintf(rb.day, sizeof rb.day, "2031-02-0%d", variant + 1);
      hx_rowbuf cb;
      memset(&cb, 0, sizeof cb);
      snprintf(cb.org, sizeof cb.org, "%s", DEMO_ORG);
      new_id(cb.id, 0x0003, 100 + tn * 2 + (unsigned)variant);

      raw_client c;
      hx_connect_welcomed(&c, &f, token, DEMO_ORG, NULL, NULL);
      cf_ver v = hx_ver_now(&c.node);
      cf_push_change ch[2];
      memset(ch, 0, sizeof ch);
      ch[0].id = 1;
      hx_full_row(&ch[0].row, t, &rb, &v);
      const char *missing;
      if (variant == 0) {
        unsigned cols[CF_SCHEMA_MAX_COLS], n = 0;
        for (unsigned i = 0; i < t->ncols; i++)
          if (!t->cols[i].key) cols[n++] = i;
        unsigned pick = cols[cf_test_rand(&rng) % n];
        cf__row_unset(&ch[0].row, pick);
        missing = t->cols[pick].name;
      } else {
        cf__row_unset(&ch[0].row, t->ncols);
        missing = "deleted";
      }
      ch[1].id = 2;
      hx_full_row(&ch[1].row, cf__schema_table_by_name("contacts"), &cb, &v);
      printf("attack: %s insert without %s\n", t->name, missing);
      attacks++;
      sfx_raw_send_push(&c, 1, ch, 2);
      cf_frame r;
      char why[1200];
      hx_next(&c, &r);
      if (r.type != CF_FRAME_PUSH_RESULT) {
        note(report, sizeof report, "  %s without %s: batch answered %s\n", t->name,
             missing, hx_describe(&r, why, sizeof why));
      } else {
        const cf_push_result *res = r.u.push_result.results;
        if (res[0].status != CF_PUSH_REJECTED || res[0].reason != CF_REASON_INVALID ||
            !hx_result_mentions(&r, 0, "every column"))
          note(report, sizeof report,
               "  %s without %s: answered %s/%s (%.*s), expected rejected/invalid "
               "mentioning \"every column\"\n",
               t->name, missing, cf__push_status_name(res[0].status),
               cf__reject_reason_name(res[0].reason), (int)res[0].message.n,
               res[0].message.p);
        if (res[1].status != CF_PUSH_APPLIED)
          note(report, sizeof report,
               "  %s without %s: the valid contact was %s (%.*s)\n", t->name, missing,
               cf__push_status_name(res[1].status), (int)res[1].message.n,
               res[1].message.p);
      }
      cf__frame_free(&r);
      raw_free(&c);
      long long stored = count_id(&f, t->name, rb.id), tomb = count_tombstones(&f, rb.id);
      if (stored != 0 || tomb != 0)
        note(report, sizeof report,
             "  %s without %s: stored on the master (rows %lld, "
             "tombstones %lld)\n",
             t->name, missing, stored, tomb);
      if (count_id(&f, "contacts", cb.id) != 1)
        note(report, sizeof report, "  %s without %s: the valid contact is not stored\n",
             t->name, missing);
    }
  }
  unsigned tenant_tables = 0;
  for (unsigned tn = 0; tn < CF_SCHEMA_NTABLES; tn++)
    tenant_tables += cf__schema_table(tn)->tenant;
  CHECK_EQ(attacks, 2 * (int)tenant_tables); /* 16 with the first ten tables */
  if (report[0]) printf("partial inserts, findings:\n%s", report);

  /* Sync of the org still works: another member pulls everything from 0. */
  char *rep = sfx_token(DEMO_REP, 3600);
  raw_client p;
  hx_connect_welcomed(&p, &f, rep, DEMO_ORG, NULL, NULL);
  long long seen[CF_SCHEMA_NTABLES] = {0};
  hx_pull_all(&p, 0, count_rows, seen, NULL);
  raw_free(&p);
  CHECK_MSG(seen[3] >= 10, "the pull brought %lld contacts", seen[3]);
  cf_node *n = sfx_node("rep", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, n);
  cf_node_close(n);
  cf_token_free(rep);
  cf_token_free(token);
  sfx_close(&f);
  CHECK_MSG(report[0] == '\0',
            "partial inserts were not all rejected invalid (seed %llu):\n%s",
            (unsigned long long)seed, report);
}

/* A tags value of one tag of `hexlen` random hex digits: ["..."]. */
static char *big_tags(uint64_t *rng, size_t hexlen) {
  char *s = malloc(hexlen + 5);
  CHECK(s != NULL);
  size_t n = 0;
  s[n++] = '[';
  s[n++] = '"';
  for (size_t i = 0; i < hexlen; i += 16) {
    uint64_t r = cf_test_rand(rng);
    unsigned char bytes[8];
    char digits[17];
    memcpy(bytes, &r, sizeof bytes);
    cf__hex(bytes, sizeof bytes, digits);
    for (size_t k = 0; k < 16 && i + k < hexlen; k++)
      s[n++] = digits[k];
  }
  s[n++] = '"';
  s[n++] = ']';
  s[n] = '\0';
  return s;
}

CF_TEST(test_hostile_push_unindexable_tag_rejected_alone_rest_of_batch_applied) {
  uint64_t seed = cf_test_seed();
  uint64_t rng = seed;
  sync_fx f;
  sfx_open(&f, 1);
  char *token = sfx_token(DEMO_REP, 3600);
  raw_client c;
  hx_connect_welcomed(&c, &f, token, DEMO_ORG, NULL, NULL);
  char ids[3][40];
  for (int i = 0; i < 3; i++)
    new_id(ids[i], 0x0003, 200 + (unsigned)i);
  char *tags = big_tags(&rng, 100000);
  cf_push_change ch[3];
  memset(ch, 0, sizeof ch);
  for (int i = 0; i < 3; i++) {
    ch[i].id = (uint64_t)i + 1;
    sfx_contact_change(&ch[i].row, &c.node, DEMO_ORG, ids[i], i == 1 ? "Big" : "Small",
                       1);
  }
  cf_ver v = hx_ver_now(&c.node);
  sfx_set_text(&ch[1].row, "tags", tags, &v);
  sfx_raw_send_push(&c, 1, ch, 3);
  cf_frame r;
  char why[1200];
  hx_next(&c, &r);
  CHECK_MSG(r.type == CF_FRAME_PUSH_RESULT, "the batch with one unindexable tag got %s",
            hx_describe(&r, why, sizeof why));
  hx_check_result(&r, 0, CF_PUSH_APPLIED, 0, "first valid contact");
  const cf_push_result *mid = &r.u.push_result.results[1];
  CHECK_MSG(mid->status == CF_PUSH_REJECTED &&
                (mid->reason == CF_REASON_INVALID || mid->reason == CF_REASON_CONSTRAINT),
            "big tag: %s/%s (%.*s)", cf__push_status_name(mid->status),
            cf__reject_reason_name(mid->reason), (int)mid->message.n, mid->message.p);
  CHECK_MSG(hx_result_mentions(&r, 1, "index row"), "big tag: message \"%.*s\"",
            (int)mid->message.n, mid->message.p);
  hx_check_result(&r, 2, CF_PUSH_APPLIED, 0, "second valid contact");
  cf__frame_free(&r);
  raw_free(&c);
  CHECK_EQ(count_id(&f, "contacts", ids[0]), 1);
  CHECK_EQ(count_id(&f, "contacts", ids[1]), 0);
  CHECK_EQ(count_id(&f, "contacts", ids[2]), 1);
  free(tags);
  cf_token_free(token);
  sfx_close(&f);
}

CF_TEST(test_hostile_sync_unindexable_tag_kept_in_conflicts_innocent_change_lands) {
  uint64_t seed = cf_test_seed();
  uint64_t rng = seed;
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *n = sfx_node("rep", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, n);
  char *tags = big_tags(&rng, 100000);
  size_t cap = strlen(tags) + 256;
  char *sql = malloc(cap);
  CHECK(sql != NULL);
  snprintf(sql, cap, "INSERT INTO contacts (first_name, tags) VALUES ('Big', '%s')",
           tags);
  sfx_node_exec(n, sql);
  sfx_node_exec(n, "INSERT INTO contacts (first_name) VALUES ('Innocent')");
  free(sql);
  free(tags);
  char *t = sfx_token(DEMO_REP, 3600);
  sfx_sync_result r = sfx_sync_with(&f, n, t);
  cf_token_free(t);
  CHECK_MSG(r.rc == CF_OK, "sync with one unindexable contact: %s: %s", cf_strerror(r.rc),
            r.errmsg);
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE first_name = 'Innocent'"),
           1);
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE first_name = 'Big'"), 0);
  sfx_conflicts cl = sfx_node_conflicts(n);
  CHECK_EQ(cl.n, 1);
  CHECK_STR(cl.c[0].table, "contacts");
  CHECK_MSG(cl.c[0].code == CF_INVALID || cl.c[0].code == CF_CONSTRAINT,
            "conflict code %s", cf_strerror(cl.c[0].code));
  CHECK_EQ(sfx_outbox(n), 0);
  cf_node_close(n);
  sfx_close(&f);
}

#define DEMO_ACTIVITY_1 "01936b2a-0005-7000-8000-100000000001"

CF_TEST(test_hostile_push_activity_user_of_other_org_rejected_foreign_key) {
  sync_fx f;
  sfx_open(&f, 1);
  char *token = sfx_token(DEMO_REP, 3600);
  raw_client c;
  hx_connect_welcomed(&c, &f, token, DEMO_ORG, NULL, NULL);
  cf_ver v = hx_ver_now(&c.node);
  const cf_table *acts = cf__schema_table_by_name("activities");
  hx_rowbuf rb[2];
  memset(rb, 0, sizeof rb);
  for (int i = 0; i < 2; i++) {
    snprintf(rb[i].org, sizeof rb[i].org, "%s", DEMO_ORG);
    new_id(rb[i].id, 0x0005, 300 + (unsigned)i);
  }
  cf_push_change ch[3];
  memset(ch, 0, sizeof ch);
  /* 1: a new activity of a Northwind-only user; 2: one of the demo owner;
  ** 3: a seeded demo activity re-assigned to the Northwind owner. */
  ch[0].id = 1;
  hx_full_row(&ch[0].row, acts, &rb[0], &v);
  sfx_set_text(&ch[0].row, "user_id", NW_REP, &v);
  ch[1].id = 2;
  hx_full_row(&ch[1].row, acts, &rb[1], &v);
  sfx_set_text(&ch[1].row, "user_id", DEMO_OWNER, &v);
  ch[2].id = 3;
  cf__row_init(&ch[2].row, acts);
  sfx_set_text(&ch[2].row, "org_id", DEMO_ORG, NULL);
  sfx_set_text(&ch[2].row, "id", DEMO_ACTIVITY_1, NULL);
  sfx_set_text(&ch[2].row, "user_id", NW_OWNER, &v);
  cf_frame r;
  sfx_raw_push(&c, 1, ch, 3, &r);
  hx_check_result(&r, 1, CF_PUSH_APPLIED, 0, "activity of a member");
  hx_check_result(&r, 0, CF_PUSH_REJECTED, CF_REASON_FOREIGN_KEY,
                  "new activity of a user of another org");
  hx_check_result(&r, 2, CF_PUSH_REJECTED, CF_REASON_FOREIGN_KEY,
                  "activity re-assigned to a user of another org");
  cf__frame_free(&r);
  raw_free(&c);
  CHECK_EQ(count_id(&f, "activities", rb[0].id), 0);
  CHECK_EQ(count_id(&f, "activities", rb[1].id), 1);
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM activities WHERE id = '" DEMO_ACTIVITY_1
                           "' AND user_id = '" NW_OWNER "'"),
           0);
  cf_token_free(token);
  sfx_close(&f);
}

CF_TEST(test_hostile_sql_as_user_activity_user_of_other_org_refused) {
  sync_fx f;
  sfx_open(&f, 1);
  char state[6] = "", msg[512] = "";
  /* A member of the member's own org: accepted. */
  CHECK_MSG(
      hx_sql_as(
          &f, DEMO_REP,
          "INSERT INTO activities (org_id, kind, subject, user_id) VALUES ('" DEMO_ORG
          "', 'call', 'ok', '" DEMO_OWNER "')",
          state, msg, sizeof msg),
      "insert naming a member: %s %s", state, msg);
  /* A user of Northwind only: refused by a constraint (class 23). */
  int ok = hx_sql_as(
      &f, DEMO_REP,
      "INSERT INTO activities (org_id, kind, subject, user_id) VALUES ('" DEMO_ORG
      "', 'call', 'cross', '" NW_REP "')",
      state, msg, sizeof msg);
  CHECK_MSG(!ok, "an activity of the demo org naming a Northwind-only user was inserted");
  CHECK_MSG(strncmp(state, "23", 2) == 0, "refused with SQLSTATE %s: %s", state, msg);
  ok = hx_sql_as(&f, DEMO_REP,
                 "UPDATE activities SET user_id = '" NW_OWNER
                 "' WHERE id = '" DEMO_ACTIVITY_1 "'",
                 state, msg, sizeof msg);
  CHECK_MSG(!ok, "an activity of the demo org was re-assigned to a Northwind-only user");
  CHECK_MSG(strncmp(state, "23", 2) == 0, "refused with SQLSTATE %s: %s", state, msg);
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM activities WHERE user_id IN ('" NW_REP
                           "', '" NW_OWNER "') AND org_id = '" DEMO_ORG "'"),
           0);
  sfx_close(&f);
}

CF_TEST(test_hostile_sync_node_activity_user_of_other_org_kept_in_conflicts) {
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *n = sfx_node("rep", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, n);
  sfx_node_exec(
      n,
      "INSERT INTO activities (kind, subject, user_id) VALUES ('call', 'cross', '" NW_REP
      "')");
  sfx_node_exec(n, "INSERT INTO activities (kind, subject, user_id) VALUES ('call', "
                   "'fine', '" DEMO_OWNER "')");
  sfx_sync_result r = sfx_sync_ok(&f, n);
  CHECK_EQ(r.count[CF_SYNC_REJECTED], 1);
  sfx_conflicts cl = sfx_node_conflicts(n);
  CHECK_EQ(cl.n, 1);
  CHECK_EQ(cl.c[0].code, CF_CONSTRAINT);
  CHECK_STR(cl.c[0].table, "activities");
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM activities WHERE subject = 'fine'"), 1);
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM activities WHERE subject = 'cross'"), 0);
  cf_node_close(n);
  sfx_close(&f);
}

CF_TEST(test_hostile_push_row_of_other_org_rejected_wrong_org) {
  sync_fx f;
  sfx_open(&f, 1);
  char *token = sfx_token(DEMO_REP, 3600);
  raw_client c;
  hx_connect_welcomed(&c, &f, token, DEMO_ORG, NULL, NULL);
  char ids[2][40];
  new_id(ids[0], 0x0003, 400);
  new_id(ids[1], 0x0003, 401);
  cf_push_change ch[3];
  memset(ch, 0, sizeof ch);
  ch[0].id = 1;
  sfx_contact_change(&ch[0].row, &c.node, NW_ORG, ids[0], "Mallory", 1);
  ch[1].id = 2;
  sfx_contact_change(&ch[1].row, &c.node, NW_ORG, NW_CONTACT("02"), "Hijack", 0);
  ch[2].id = 3;
  sfx_contact_change(&ch[2].row, &c.node, DEMO_ORG, ids[1], "Good", 1);
  cf_frame r;
  sfx_raw_push(&c, 1, ch, 3, &r);
  hx_check_result(&r, 0, CF_PUSH_REJECTED, CF_REASON_WRONG_ORG, "new row of another org");
  hx_check_result(&r, 1, CF_PUSH_REJECTED, CF_REASON_WRONG_ORG,
                  "existing row of another org");
  hx_check_result(&r, 2, CF_PUSH_APPLIED, 0, "good row");
  cf__frame_free(&r);
  raw_free(&c);
  CHECK_EQ(count_id(&f, "contacts", ids[0]), 0);
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE first_name = 'Hijack'"),
           0);
  CHECK_EQ(count_id(&f, "contacts", ids[1]), 1);
  cf_token_free(token);
  sfx_close(&f);
}

CF_TEST(test_hostile_garbage_frame_closes_only_its_session) {
  uint64_t seed = cf_test_seed();
  uint64_t rng = seed;
  sync_fx f;
  sfx_open(&f, 1);
  char *token = sfx_token(DEMO_REP, 3600);
  raw_client good;
  hx_connect_welcomed(&good, &f, token, DEMO_ORG, NULL, NULL);
  hx_check_alive(&good, 1);
  for (int round = 0; round < 4; round++) {
    /* Random bytes starting with a byte no msgpack value starts with. */
    uint8_t junk[64];
    junk[0] = 0xc1;
    for (size_t i = 1; i < sizeof junk; i++)
      junk[i] = (uint8_t)cf_test_rand(&rng);
    raw_client bad;
    if (round % 2)
      hx_connect_welcomed(&bad, &f, token, DEMO_ORG, NULL, NULL);
    else
      hx_connect(&bad, &f, NULL);
    raw_send(&bad, junk, sizeof junk);
    hx_expect_error(&bad, CF_WIRE_PROTOCOL, NULL);
    raw_free(&bad);
    hx_check_alive(&good, 2 + (uint64_t)round);
  }
  uint64_t head = 0;
  hx_pull_all(&good, 0, NULL, NULL, &head);
  CHECK(head > 0);
  raw_free(&good);
  cf_token_free(token);
  sfx_close(&f);
}

CF_TEST(test_hostile_push_deal_of_missing_contact_rejected_foreign_key) {
  /* A dangling reference is told apart from other constraints by its reason
  ** code (the reference client re-sends such changes after the rest of its
  ** outbox); the rest of the batch lands. */
  sync_fx f;
  sfx_open(&f, 1);
  char *token = sfx_token(DEMO_REP, 3600);
  raw_client c;
  hx_connect_welcomed(&c, &f, token, DEMO_ORG, NULL, NULL);
  cf_ver v = hx_ver_now(&c.node);
  const cf_table *deals = cf__schema_table_by_name("deals");
  hx_rowbuf rb[2];
  memset(rb, 0, sizeof rb);
  for (int i = 0; i < 2; i++) {
    snprintf(rb[i].org, sizeof rb[i].org, "%s", DEMO_ORG);
    new_id(rb[i].id, 0x0004, 400 + (unsigned)i);
  }
  cf_push_change ch[2];
  memset(ch, 0, sizeof ch);
  ch[0].id = 1;
  hx_full_row(&ch[0].row, deals, &rb[0], &v);
  sfx_set_text(&ch[0].row, "contact_id", "01936b2a-0003-7000-8000-1000000009ff", &v);
  ch[1].id = 2;
  hx_full_row(&ch[1].row, deals, &rb[1], &v);
  cf_frame r;
  sfx_raw_push(&c, 1, ch, 2, &r);
  hx_check_result(&r, 0, CF_PUSH_REJECTED, CF_REASON_FOREIGN_KEY,
                  "deal of a missing contact");
  hx_check_result(&r, 1, CF_PUSH_APPLIED, 0, "deal without a contact");
  cf__frame_free(&r);
  raw_free(&c);
  CHECK_EQ(count_id(&f, "deals", rb[0].id), 0);
  CHECK_EQ(count_id(&f, "deals", rb[1].id), 1);
  cf_token_free(token);
  sfx_close(&f);
}
