/*
** core/version.c: node ids and 24-byte column versions (see core/version.h).
*/
#include "core/version.h"

#include <string.h>

#include "core/crypto.h"
#include "core/uuid.h"

int cf__node_id_generate(cf_nodeid *out) {
  cf_uuid u;
  int rc = cf__uuid_v4(&u);
  memcpy(out->b, u.b, CF_NODE_ID_LEN);
  return rc;
}

void cf__node_id_format(const cf_nodeid *id, char out[CF_NODE_ID_TEXT_LEN]) {
  cf_uuid u;
  memcpy(u.b, id->b, CF_NODE_ID_LEN);
  cf__uuid_format(&u, out);
}

int cf__node_id_parse(const char *s, size_t len, cf_nodeid *out) {
  cf_uuid u;
  int rc = cf__uuid_parse(s, len, &u);
  if (rc == CF_OK) memcpy(out->b, u.b, CF_NODE_ID_LEN);
  return rc;
}

void cf__ver_make(cf_hlc hlc, const cf_nodeid *node, cf_ver *out) {
  for (int i = 0; i < 8; i++)
    out->b[i] = (unsigned char)(hlc >> (56 - 8 * i));
  memcpy(out->b + 8, node->b, CF_NODE_ID_LEN);
}

cf_hlc cf__ver_hlc(const cf_ver *v) {
  cf_hlc h = 0;
  for (int i = 0; i < 8; i++)
    h = (h << 8) | v->b[i];
  return h;
}

void cf__ver_node(const cf_ver *v, cf_nodeid *node) {
  if (node != NULL) memcpy(node->b, v->b + 8, CF_NODE_ID_LEN);
}

void cf__ver_encode(const cf_ver *v, unsigned char out[CF_VER_LEN]) {
  memcpy(out, v->b, CF_VER_LEN);
}

int cf__ver_decode(const void *bytes, size_t len, cf_ver *out) {
  if (bytes == NULL || len != CF_VER_LEN) return CF_INVALID;
  memcpy(out->b, bytes, CF_VER_LEN);
  return CF_OK;
}

int cf__ver_cmp(const cf_ver *a, const cf_ver *b) {
  return memcmp(a->b, b->b, CF_VER_LEN);
}

int cf__ver_is_zero(const cf_ver *v) {
  for (int i = 0; i < CF_VER_LEN; i++)
    if (v->b[i] != 0) return 0;
  return 1;
}

cf_ver cf__ver_floor(void) {
  cf_ver v;
  memset(&v, 0, sizeof v);
  v.b[7] = 1; /* big-endian HLC 1 */
  return v;
}

char *cf__ver_format(const cf_ver *v, char out[CF_VER_TEXT_LEN]) {
  cf__hex(v->b, 8, out); /* the HLC; its NUL becomes the dash */
  out[16] = '-';
  cf__hex(v->b + 8, CF_VER_LEN - 8, out + 17);
  return out;
}

int cf__ver_parse(const char *s, size_t len, cf_ver *out) {
  if (s == NULL || len != CF_VER_TEXT_LEN - 1 || s[16] != '-') return CF_INVALID;
  cf_ver v = {{0}};
  if (cf__hex_decode(s, 16, v.b) != CF_OK ||
      cf__hex_decode(s + 17, 2 * (CF_VER_LEN - 8), v.b + 8) != CF_OK)
    return CF_INVALID;
  *out = v;
  return CF_OK;
}
