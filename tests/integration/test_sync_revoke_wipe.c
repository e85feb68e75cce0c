/*
** tests/integration/test_sync_revoke_wipe.c: wipe on revocation through a
** real server (tests/sync_fixture.h; docs/encryption.md "Wipe on
** revocation").  A replica opened with CF_REVOKE_WIPE, whose user loses
** the membership while offline with an unpushed edit, exports the edit,
** then leaves no org value and no token in any file of its directory.
*/
#define _GNU_SOURCE /* memmem */
#include <sys/stat.h>

#include "platform/platform.h"
#include "file_scan.h"
#include "sync_fixture.h"

/* Fails if a file of dir holds needle. */
static void check_dir_lacks(const char *dir, const char *needle) {
  const char *hit = fscan_dir_has(dir, needle);
  CHECK_MSG(hit == NULL, "'%s' survives in %s/%s", needle, dir, hit);
}

static void revoked_replica_is_wiped(int encrypted) {
  static const unsigned char key[32] = "revocation-test-key-0123456789ab";
  sync_fx f;
  sfx_open(&f, 1);
  char dir[4200], path[4300], export[4300];
  snprintf(dir, sizeof dir, "%s/laptop", cf_test_tmpdir());
  CHECK(mkdir(dir, 0700) == 0);
  snprintf(path, sizeof path, "%s/replica.db", dir);
  snprintf(export, sizeof export, "%s/handover.db", cf_test_tmpdir());
  cf_node_options *o = NULL;
  CHECK_OK(cf_node_options_new(&o));
  if (encrypted) CHECK_OK(cf_node_options_set_key(o, key));
  CHECK_OK(cf_node_options_set_revoke(o, CF_REVOKE_WIPE, export));
  cf_node *n = NULL;
  CHECK_OK(cf_node_open_with(path, DEMO_ORG, DEMO_REP, o, &n));
  cf_node_options_free(o);
  char *t = sfx_token(DEMO_REP, 3600);
  if (encrypted) CHECK_OK(cf_node_setting_set(n, "token", t));
  sfx_sync_result r = sfx_sync_with(&f, n, t);
  CHECK_MSG(r.rc == CF_OK, "bootstrap: %s", r.errmsg);
  char email[256], last[256];
  sfx_node_text(n, "SELECT email FROM contacts WHERE id = '" DEMO_CONTACT("03") "'",
                email, sizeof email);
  sfx_node_text(n, "SELECT last_name FROM contacts WHERE id = '" DEMO_CONTACT("04") "'",
                last, sizeof last);
  CHECK(email[0] != '\0' && last[0] != '\0');
  sfx_node_exec(
      n,
      "UPDATE contacts SET phone = '+1-wiped-edit' WHERE id = '" DEMO_CONTACT("05") "'");
  sfx_sql(&f, "DELETE FROM memberships WHERE id = '" DEMO_REP_MEMBERSHIP "'");
  r = sfx_sync_with(&f, n, t);
  CHECK_MSG(r.rc == CF_PERMISSION && r.count[CF_SYNC_REVOKED] == 1, "sync: %s: %s",
            cf_strerror(r.rc), r.errmsg);
  /* Wiped: no row, no conflict, no token; the revocation is remembered. */
  CHECK_EQ(sfx_node_num(n, "SELECT count(*) FROM contacts"), 0);
  CHECK_EQ(sfx_node_num(n, "SELECT count(*) FROM organizations"), 0);
  CHECK_EQ(sfx_node_num(n, "SELECT count(*) FROM cf_conflicts"), 0);
  char buf[64];
  CHECK_EQ(cf_node_setting_get(n, "token", buf, sizeof buf), CF_NOTFOUND);
  CHECK_OK(cf_node_setting_get(n, "access_revoked", buf, sizeof buf));
  check_dir_lacks(dir, email);
  check_dir_lacks(dir, last);
  check_dir_lacks(dir, "+1-wiped-edit");
  check_dir_lacks(dir, strrchr(t, '.') + 1);
  /* The export holds the edit, with the master's reason. */
  char sql[4400];
  snprintf(sql, sizeof sql, "ATTACH '%s' AS x", export);
  sfx_node_exec(n, sql);
  CHECK_EQ(sfx_node_num(n, "SELECT count(*) FROM x.changes WHERE state = 'rejected' AND "
                           "message LIKE 'revoked%' AND json_extract(row, '$.phone') = "
                           "'+1-wiped-edit'"),
           1);
  sfx_node_exec(n, "DETACH x");
  CHECK_EQ(fscan_file_has(export, "+1-wiped-edit"), !encrypted);
  cf_node_close(n);
  check_dir_lacks(dir, email);
  check_dir_lacks(dir, "+1-wiped-edit");
  cf_token_free(t);
  sfx_close(&f);
}

CF_TEST(test_sync_revoked_plain_replica_with_wipe_policy_exports_and_leaves_nothing) {
  revoked_replica_is_wiped(0);
}

CF_TEST(test_sync_revoked_encrypted_replica_with_wipe_policy_exports_and_leaves_nothing) {
  revoked_replica_is_wiped(1);
}
