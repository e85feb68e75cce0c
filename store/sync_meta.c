/*
** store/sync_meta.c: small settings the sync layer keeps in the replica's
** cf_meta table (server URL, token, last sync) and the push batch numbers.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"
#include "store/store_int.h"
#include "store/store_sync.h"

/* Settings apps may read and write are namespaced so they never collide with
** the replica's own keys. */
#define SETTING_PREFIX "setting."

static int setting_key(const char *name, char *key, size_t cap) {
  if (name == NULL || *name == '\0' || strlen(name) > 64) return CF_INVALID;
  snprintf(key, cap, SETTING_PREFIX "%s", name);
  return CF_OK;
}

int cf_node_setting_set(cf_node *node, const char *name, const char *value) {
  char key[96];
  int rc = setting_key(name, key, sizeof key);
  if (rc != CF_OK) return rc;
  if ((rc = cf__node_token_refused(node, name)) != CF_OK) return rc;
  if (value == NULL) value = "";
  if (strlen(value) > 64 * 1024) return CF_TOOBIG;
  return cf__meta_put_text(node, key, value);
}

int cf_node_setting_get(cf_node *node, const char *name, char *buf, size_t cap) {
  char key[96];
  int rc = setting_key(name, key, sizeof key);
  if (rc != CF_OK) return rc;
  if (cap == 0) return CF_INVALID;
  return cf__meta_get_text(node, key, buf, cap);
}

int cf__store_next_batch_seq(cf_node *node, uint64_t above, uint64_t *out) {
  char buf[32];
  uint64_t last = 0;
  int rc = cf__meta_get_text(node, "push_batch_seq", buf, sizeof buf);
  if (rc == CF_OK)
    last = strtoull(buf, NULL, 10);
  else if (rc != CF_NOTFOUND)
    return rc;
  /* Never below the wall clock in HLC units: even if the last write of the
  ** counter was lost (power cut), a new batch gets a number above every
  ** batch sent before. */
  int64_t now = cf__now_ms();
  uint64_t floor = now > 0 ? (uint64_t)now << 16 : 0;
  if (above > last) last = above;
  uint64_t next = last + 1 > floor ? last + 1 : floor;
  snprintf(buf, sizeof buf, "%" PRIu64, next);
  rc = cf__meta_put_text(node, "push_batch_seq", buf);
  if (rc == CF_OK) *out = next;
  return rc;
}

void cf__store_set_server_clock(cf_node *node, int64_t server_ms) {
  cf__hlc_set_reference(&node->clock, server_ms, cf__monotonic_ns());
}
