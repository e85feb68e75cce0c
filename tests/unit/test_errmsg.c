/*
** tests/unit/test_errmsg.c: every handle type has its own
** cf_<handle>_errmsg() (include/clientflow.h, CONVENTIONS), and a failure
** leaves its detail there.  The handles that need a server or Postgres
** (cf_master, cf_server, cf_sync) are exercised by the integration tests;
** here their functions are only shown to exist with the documented types.
*/
#include <string.h>

#include "cf_test.h"
#include "clientflow.h"

#define ORG "0190b6a0-0000-7000-8000-000000000001"
#define USER "3f1c2a9e-5b7d-4e8f-9a01-23456789abcd"

CF_TEST(test_every_handle_type_has_a_typed_errmsg_function) {
  const char *(*master)(const cf_master *) = cf_master_errmsg;
  const char *(*auth)(const cf_auth *) = cf_auth_errmsg;
  const char *(*node)(const cf_node *) = cf_node_errmsg;
  const char *(*server)(const cf_server *) = cf_server_errmsg;
  const char *(*sync)(const cf_sync *) = cf_sync_errmsg;
  CHECK(master != NULL && auth != NULL && node != NULL && server != NULL && sync != NULL);
}

CF_TEST(test_node_errmsg_of_null_tells_why_open_failed) {
  cf_node *node = (cf_node *)1;
  int rc = cf_node_open("/nonexistent-dir/for/sure/replica.db", ORG, USER, &node);
  CHECK(rc != CF_OK);
  CHECK(node == NULL);
  const char *why = cf_node_errmsg(NULL);
  CHECK(why != NULL && why[0] != '\0');
}

CF_TEST(test_auth_errmsg_names_the_bad_setting_and_clears_on_success) {
  cf_auth *auth = NULL;
  CHECK_OK(cf_auth_new(&auth));
  CHECK_STR(cf_auth_errmsg(auth), "");
  CHECK_EQ(cf_auth_set_leeway(auth, 100000), CF_CONFIG);
  CHECK(strstr(cf_auth_errmsg(auth), "leeway") != NULL);
  CHECK_OK(cf_auth_set_leeway(auth, 10));
  CHECK_STR(cf_auth_errmsg(auth), "");
  CHECK_STR(cf_auth_errmsg(NULL), "");
  cf_auth_free(auth);
}
