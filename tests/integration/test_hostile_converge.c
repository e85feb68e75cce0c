/*
** tests/integration/test_hostile_converge.c: sequences of ordinary writes
** that made the master and the replicas disagree for good, replayed with
** real nodes (cf_node / cf_sync) against a real server on a real Postgres
** (tests/hostile_fixture.h).  DESIGN.md: "Every write the master makes
** itself (cascades, triggers, defaults, direct SQL) carries a version newer
** than the one it replaced, so replicas converge on it."
**
**   - Cascade: a contact deleted offline in the same batch as an update of
**     a deal (and an appointment) pointing at it: `ON DELETE SET NULL
**     (contact_id)` on the master must reach every replica.
**   - updated_at retry: a member's edit refused while revoked, an owner's
**     update with an explicit future updated_at, the membership restored,
**     the conflict retried: every replica and the master end with the same
**     updated_at and title.
*/
#include "hostile_fixture.h"

/* The master's value of expr for row id of table, as text ("NULL" for
** NULL; timestamps in the replicas' canonical form). */
static void master_value(sync_fx *f, const char *table, const char *expr, const char *id,
                         char *out, size_t cap) {
  char q[512];
  snprintf(q, sizeof q,
           "SELECT coalesce((%s)::text, 'NULL') FROM public.%s WHERE id = '%s'", expr,
           table, id);
  sfx_sql_text(f, q, out, cap);
}

static void node_value(cf_node *n, const char *table, const char *expr, const char *id,
                       char *out, size_t cap) {
  char q[512];
  snprintf(q, sizeof q, "SELECT coalesce(%s, 'NULL') FROM %s WHERE id = '%s'", expr,
           table, id);
  sfx_node_text(n, q, out, cap);
}

/* Every node and the master show `want` for the row. */
static void check_everywhere(sync_fx *f, cf_node **nodes, const char **names, int nn,
                             const char *table, const char *mexpr, const char *nexpr,
                             const char *id, const char *want) {
  char v[256];
  master_value(f, table, mexpr, id, v, sizeof v);
  char report[2048];
  int bad = want ? strcmp(v, want) != 0 : 0;
  snprintf(report, sizeof report, "master=%s", v);
  char ref[256];
  snprintf(ref, sizeof ref, "%s", want ? want : v);
  for (int i = 0; i < nn; i++) {
    char w[256];
    node_value(nodes[i], table, nexpr, id, w, sizeof w);
    size_t len = strlen(report);
    snprintf(report + len, sizeof report - len, " %s=%s", names[i], w);
    if (strcmp(w, ref) != 0) bad = 1;
  }
  printf("%s.%s of %s: %s\n", table, nexpr, id, report);
  CHECK_MSG(!bad, "%s.%s of %s differs (want %s): %s", table, nexpr, id, ref, report);
}

CF_TEST(test_hostile_cascade_set_null_with_offline_update_converges) {
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *a = sfx_node("a", DEMO_ORG, DEMO_REP);
  cf_node *b = sfx_node("b", DEMO_ORG, DEMO_OWNER);
  sfx_sync_ok(&f, a);
  sfx_sync_ok(&f, b);
  sfx_node_exec(a, "INSERT INTO contacts (first_name) VALUES ('Cascade')");
  char c_id[64], d_id[64], p_id[64], sql[512];
  sfx_node_text(a, "SELECT id FROM contacts WHERE first_name = 'Cascade'", c_id,
                sizeof c_id);
  snprintf(sql, sizeof sql,
           "INSERT INTO deals (title, contact_id) VALUES ('Deal D', '%s')", c_id);
  sfx_node_exec(a, sql);
  snprintf(
      sql, sizeof sql,
      "INSERT INTO appointments (title, contact_id, starts_at, ends_at) VALUES "
      "('Meeting P', '%s', '2031-01-01T10:00:00.000000Z', '2031-01-01T11:00:00.000000Z')",
      c_id);
  sfx_node_exec(a, sql);
  sfx_node_text(a, "SELECT id FROM deals WHERE title = 'Deal D'", d_id, sizeof d_id);
  sfx_node_text(a, "SELECT id FROM appointments WHERE title = 'Meeting P'", p_id,
                sizeof p_id);
  sfx_sync_ok(&f, a);
  sfx_sync_ok(&f, b);
  char v[64];
  node_value(b, "deals", "contact_id", d_id, v, sizeof v);
  CHECK_STR(v, c_id);

  /* Offline on a: delete C, update D's stage and P's status; one sync. */
  sfx_clock_advance(1000);
  snprintf(sql, sizeof sql, "DELETE FROM contacts WHERE id = '%s'", c_id);
  sfx_node_exec(a, sql);
  snprintf(sql, sizeof sql, "UPDATE deals SET stage = 'won' WHERE id = '%s'", d_id);
  sfx_node_exec(a, sql);
  snprintf(sql, sizeof sql,
           "UPDATE appointments SET status = 'confirmed' WHERE id = '%s'", p_id);
  sfx_node_exec(a, sql);
  sfx_sync_ok(&f, a);
  sfx_sync_ok(&f, b);
  cf_node *fresh = sfx_node("f", DEMO_ORG, DEMO_OWNER);
  sfx_sync_ok(&f, fresh);

  cf_node *nodes[3] = {a, b, fresh};
  const char *names[3] = {"A", "B", "F"};
  check_everywhere(&f, nodes, names, 3, "deals", "contact_id", "contact_id", d_id,
                   "NULL");
  check_everywhere(&f, nodes, names, 3, "deals", "stage", "stage", d_id, "won");
  check_everywhere(&f, nodes, names, 3, "appointments", "contact_id", "contact_id", p_id,
                   "NULL");
  check_everywhere(&f, nodes, names, 3, "appointments", "status", "status", p_id,
                   "confirmed");
  check_everywhere(&f, nodes, names, 3, "deals",
                   "to_char(updated_at AT TIME ZONE 'UTC', "
                   "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
                   "updated_at", d_id, NULL);
  CHECK_EQ(
      sfx_node_num(fresh, "SELECT count(*) FROM contacts WHERE first_name = 'Cascade'"),
      0);
  cf_node_close(a);
  cf_node_close(b);
  cf_node_close(fresh);
  sfx_close(&f);
}

#define APPT_X "01936b2a-0006-7000-8000-100000000001"
#define TS_SQL                                                                           \
  "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* The sequence; O writes through direct SQL as the owner (via_node 0) or
** through O's own replica (via_node 1). */
static void retry_after_revocation(int via_node) {
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *m = sfx_node("m", DEMO_ORG, DEMO_REP);
  cf_node *o = sfx_node("o", DEMO_ORG, DEMO_OWNER);
  sfx_sync_ok(&f, m);
  sfx_sync_ok(&f, o);

  /* M edits X offline. */
  sfx_clock_advance(1000);
  sfx_node_exec(m, "UPDATE appointments SET title = 'M offline edit' WHERE id = '" APPT_X
                   "'");
  /* O removes M from the org (as the owner, under RLS). */
  char state[6] = "", msg[512] = "";
  CHECK_MSG(hx_sql_as(&f, DEMO_OWNER,
                      "DELETE FROM memberships WHERE id = '" DEMO_REP_MEMBERSHIP "'",
                      state, msg, sizeof msg),
            "owner deletes the membership: %s %s", state, msg);
  /* M syncs: refused, the edit moves to conflicts. */
  char *t = sfx_token(DEMO_REP, 3600);
  sfx_sync_result r = sfx_sync_with(&f, m, t);
  cf_token_free(t);
  CHECK_MSG(r.rc == CF_PERMISSION, "revoked sync: %s: %s", cf_strerror(r.rc), r.errmsg);
  sfx_conflicts cl = sfx_node_conflicts(m);
  CHECK_EQ(cl.n, 1);
  CHECK_STR(cl.c[0].row_id, APPT_X);
  /* O updates X with updated_at explicitly 3 minutes ahead. */
  sfx_clock_advance(1000);
  if (via_node) {
    char ts[CF_TIMESTAMP_TEXT_LEN], sql[256];
    CHECK_OK(cf__timestamp_format((cf__now_ms() + 180000) * 1000, ts));
    snprintf(sql, sizeof sql,
             "UPDATE appointments SET location = 'Room O', updated_at = '%s' WHERE id = "
             "'" APPT_X "'",
             ts);
    sfx_node_exec(o, sql);
    sfx_sync_ok(&f, o);
  } else {
    CHECK_MSG(
        hx_sql_as(&f, DEMO_OWNER,
                  "UPDATE appointments SET location = 'Room O', updated_at = now() + "
                  "interval '3 minutes' WHERE id = '" APPT_X "'",
                  state, msg, sizeof msg),
        "owner's update: %s %s", state, msg);
  }
  /* O restores M's membership. */
  CHECK_MSG(hx_sql_as(&f, DEMO_OWNER,
                      "INSERT INTO memberships (org_id, user_id, role) VALUES ('" DEMO_ORG
                      "', '" DEMO_REP "', 'member')",
                      state, msg, sizeof msg),
            "owner restores the membership: %s %s", state, msg);
  /* M retries its conflict and syncs; O syncs; F bootstraps. */
  sfx_clock_advance(1000);
  CHECK_OK(cf_node_conflict_retry(m, cl.c[0].id));
  sfx_sync_ok(&f, m);
  sfx_sync_ok(&f, o);
  cf_node *fresh = sfx_node("f", DEMO_ORG, DEMO_OWNER);
  sfx_sync_ok(&f, fresh);
  sfx_sync_ok(&f, m); /* M has now seen everything the others have */

  cf_node *nodes[3] = {m, o, fresh};
  const char *names[3] = {"M", "O", "F"};
  check_everywhere(&f, nodes, names, 3, "appointments", TS_SQL, "updated_at", APPT_X,
                   NULL);
  check_everywhere(&f, nodes, names, 3, "appointments", "title", "title", APPT_X, NULL);
  check_everywhere(&f, nodes, names, 3, "appointments", "location", "location", APPT_X,
                   "Room O");
  CHECK_EQ(sfx_node_conflicts(m).n, 0);
  CHECK_EQ(sfx_outbox(m), 0);
  cf_node_close(m);
  cf_node_close(o);
  cf_node_close(fresh);
  sfx_close(&f);
}

CF_TEST(test_hostile_retry_after_revocation_and_future_updated_at_by_sql_converges) {
  retry_after_revocation(0);
}

CF_TEST(test_hostile_retry_after_revocation_and_future_updated_at_by_node_converges) {
  retry_after_revocation(1);
}
