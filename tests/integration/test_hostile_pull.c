/*
** tests/integration/test_hostile_pull.c: pulls, cursors and the limits of
** HELLO/PULL/PUSH fields under attack, against a real server on a real
** Postgres (tests/hostile_fixture.h).
**
**   - Pull is total: rows planted on the master by a superuser with broken
**     sync metadata (cf_versions all zero, or of the wrong length) do not
**     make a pull fail; the rest of the org arrives.
**   - A batch whose every change is rejected leaves no replica one below
**     the org's head.
**   - Extreme values: PULL from 2^64-1 and PUSH batch 2^64-1 are `protocol`
**     errors (not `internal`); a HELLO whose clock is more than 5 minutes
**     ahead is `clock_skew`, saying by how many seconds, and gets no
**     WELCOME.
*/
#include "hostile_fixture.h"

/* Collects which demo contacts a pull brought. */
typedef struct seen_contacts {
  int seen[11]; /* [n]: DEMO_CONTACT(n) came (1..10) */
  long long rows;
} seen_contacts;

static void note_contact(void *ctx, const cf_row *row) {
  seen_contacts *s = ctx;
  s->rows++;
  if (strcmp(row->table->name, "contacts") != 0) return;
  char id[40];
  hx_row_id(row, id);
  for (int n = 1; n <= 10; n++) {
    char want[40];
    snprintf(want, sizeof want, "01936b2a-0003-7000-8000-1000000000%02d", n);
    if (strcmp(id, want) == 0) s->seen[n] = 1;
  }
}

/* Plants `bytes_sql` (a bytea expression) as cf_versions of demo contacts 3
** and 7 as the superuser, triggers off, then pulls the org from 0 as the
** rep (raw) and syncs a fresh node: both must succeed and bring the other
** eight contacts. */
static void pull_with_planted_versions(const char *bytes_sql) {
  sync_fx f;
  sfx_open(&f, 1);
  char sql[1024];
  snprintf(sql, sizeof sql,
           "BEGIN; SET LOCAL session_replication_role = replica; "
           "UPDATE contacts SET cf_versions = %s WHERE id IN ('" DEMO_CONTACT(
               "03") "', '" DEMO_CONTACT("07") "'); COMMIT",
           bytes_sql);
  sfx_sql(&f, sql);
  printf("planted: cf_versions = %s\n", bytes_sql);
  char *token = sfx_token(DEMO_REP, 3600);
  raw_client c;
  hx_connect_welcomed(&c, &f, token, DEMO_ORG, NULL, NULL);
  seen_contacts s;
  memset(&s, 0, sizeof s);
  hx_pull_all(&c, 0, note_contact, &s, NULL);
  raw_free(&c);
  for (int n = 1; n <= 10; n++)
    if (n != 3 && n != 7)
      CHECK_MSG(s.seen[n], "demo contact %d missing from the pull", n);
  cf_node *node = sfx_node("rep", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, node);
  CHECK_MSG(sfx_node_num(node, "SELECT count(*) FROM contacts") >= 8,
            "the node holds %lld contacts",
            sfx_node_num(node, "SELECT count(*) FROM contacts"));
  cf_node_close(node);
  cf_token_free(token);
  sfx_close(&f);
}

CF_TEST(test_hostile_pull_total_with_all_zero_versions_planted) {
  const cf_table *t = cf__schema_table_by_name("contacts");
  char expr[128];
  snprintf(expr, sizeof expr, "decode(repeat('00', %u), 'hex')", (t->ncols + 1) * 24);
  pull_with_planted_versions(expr);
}

CF_TEST(test_hostile_pull_total_with_wrong_length_versions_planted) {
  pull_with_planted_versions("'\\x0102'::bytea");
}

CF_TEST(test_hostile_all_rejected_batch_leaves_no_cursor_below_head) {
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *a = sfx_node("a", DEMO_ORG, DEMO_REP);
  cf_node *b = sfx_node("b", DEMO_ORG, DEMO_OWNER);
  sfx_sync_ok(&f, a);
  sfx_sync_ok(&f, b);
  /* b takes the email first; a's only change then clashes with it. */
  sfx_node_exec(
      b, "INSERT INTO contacts (first_name, email) VALUES ('Bea', 'taken@clash.test')");
  sfx_sync_ok(&f, b);
  sfx_node_exec(
      a, "INSERT INTO contacts (first_name, email) VALUES ('Ann', 'taken@clash.test')");
  char *t = sfx_token(DEMO_REP, 3600);
  sfx_sync_result ra = sfx_sync_with(&f, a, t);
  cf_token_free(t);
  CHECK_MSG(ra.rc == CF_OK, "a: %s: %s", cf_strerror(ra.rc), ra.errmsg);
  CHECK_EQ(ra.count[CF_SYNC_PUSHED], 1);
  CHECK_EQ(ra.count[CF_SYNC_REJECTED], 1);
  sfx_sync_result rb = sfx_sync_ok(&f, b);

  long long head = hx_master_head(&f, DEMO_ORG);
  char *tok = sfx_token(DEMO_OWNER, 3600);
  raw_client c;
  cf_welcome w;
  hx_connect_welcomed(&c, &f, tok, DEMO_ORG, NULL, &w);
  raw_free(&c);
  cf_token_free(tok);
  printf("head: master %lld, WELCOME %llu; cursors: a %lld, b %lld\n", head,
         (unsigned long long)w.head_seq, (long long)ra.count[CF_SYNC_CURSOR],
         (long long)rb.count[CF_SYNC_CURSOR]);
  CHECK_EQ(w.head_seq, head);
  CHECK_MSG(rb.count[CF_SYNC_CURSOR] == (int64_t)w.head_seq,
            "b's cursor %lld, the org's head %llu", (long long)rb.count[CF_SYNC_CURSOR],
            (unsigned long long)w.head_seq);
  CHECK_MSG(ra.count[CF_SYNC_CURSOR] == (int64_t)w.head_seq,
            "a's cursor %lld, the org's head %llu", (long long)ra.count[CF_SYNC_CURSOR],
            (unsigned long long)w.head_seq);
  cf_node_close(a);
  cf_node_close(b);
  sfx_close(&f);
}

CF_TEST(test_hostile_pull_from_max_seq_is_protocol_error) {
  sync_fx f;
  sfx_open(&f, 1);
  char *token = sfx_token(DEMO_REP, 3600);
  raw_client c;
  hx_connect_welcomed(&c, &f, token, DEMO_ORG, NULL, NULL);
  hx_send_pull(&c, UINT64_MAX, 100);
  hx_expect_error(&c, CF_WIRE_PROTOCOL, NULL);
  raw_free(&c);
  /* The server carries on. */
  raw_client g;
  hx_connect_welcomed(&g, &f, token, DEMO_ORG, NULL, NULL);
  hx_check_alive(&g, 7);
  raw_free(&g);
  cf_token_free(token);
  sfx_close(&f);
}

CF_TEST(test_hostile_push_max_batch_seq_is_protocol_error) {
  sync_fx f;
  sfx_open(&f, 1);
  char *token = sfx_token(DEMO_REP, 3600);
  raw_client c;
  hx_connect_welcomed(&c, &f, token, DEMO_ORG, NULL, NULL);
  cf_push_change ch;
  memset(&ch, 0, sizeof ch);
  ch.id = 1;
  sfx_contact_change(&ch.row, &c.node, DEMO_ORG, "01936b2a-0003-7000-8000-900000000b01",
                     "Maxine", 1);
  sfx_raw_send_push(&c, UINT64_MAX, &ch, 1);
  hx_expect_error(&c, CF_WIRE_PROTOCOL, NULL);
  raw_free(&c);
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE first_name = 'Maxine'"),
           0);
  cf_token_free(token);
  sfx_close(&f);
}

CF_TEST(test_hostile_hello_clock_ahead_refused_clock_skew_saying_seconds) {
  sync_fx f;
  sfx_open(&f, 1);
  char *token = sfx_token(DEMO_REP, 3600);
  /* One minute ahead is within the bound: WELCOME. */
  raw_client ok;
  hx_connect(&ok, &f, NULL);
  hx_hello(&ok, token, DEMO_ORG, 0, CF_HLC_MAKE(cf__now_ms() + 60000, 0));
  cf_frame fr;
  char why[1200];
  hx_next(&ok, &fr);
  CHECK_MSG(fr.type == CF_FRAME_WELCOME, "1 min ahead: %s",
            hx_describe(&fr, why, sizeof why));
  cf__frame_free(&fr);
  raw_free(&ok);
  /* Ten minutes ahead: ERROR clock_skew "ahead by ~600 s", no WELCOME. */
  raw_client c;
  hx_connect(&c, &f, NULL);
  hx_hello(&c, token, DEMO_ORG, 0, CF_HLC_MAKE(cf__now_ms() + 600000, 0));
  hx_next(&c, &fr);
  hx_describe(&fr, why, sizeof why);
  int is_skew = fr.type == CF_FRAME_ERROR && fr.u.error.code == CF_WIRE_CLOCK_SKEW;
  char msg[1100] = "";
  if (fr.type == CF_FRAME_ERROR)
    snprintf(msg, sizeof msg, "%.*s", (int)fr.u.error.message.n, fr.u.error.message.p);
  cf__frame_free(&fr);
  CHECK_MSG(is_skew, "HELLO 10 min ahead: expected ERROR clock_skew, got %s", why);
  const char *p = strstr(msg, "ahead by");
  CHECK_MSG(p != NULL, "clock_skew message \"%s\" does not say \"ahead by\"", msg);
  p += strlen("ahead by");
  while (*p == ' ')
    p++;
  double secs = strtod(p, NULL);
  CHECK_MSG(secs >= 590 && secs <= 610, "clock_skew message \"%s\": %g s, expected ~600",
            msg, secs);
  CHECK_MSG(raw_run_until(&c, raw_is_closed), "the session was not closed");
  raw_free(&c);
  cf_token_free(token);
  sfx_close(&f);
}
