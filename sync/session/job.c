/*
** sync/session/job.c: a sync session's request for the master and its
** answer (see sync/session/job.h).
*/
#include <stdio.h>
#include <string.h>

#include "core/ws_codes.h"
#include "platform/platform.h"
#include "sync/session/job.h"

int cf__sjob_new(cf__sjob_kind kind, uint64_t session_id, const char *claims_json,
                 size_t claims_len, const char *org, const cf_nodeid *node,
                 const uint8_t *bytes, size_t n, const cf__sjob_limits *lim,
                 cf__sjob **out) {
  *out = NULL;
  cf__sjob *j = cf__calloc(1, sizeof *j);
  if (j == NULL) return CF_NOMEM;
  j->kind = kind;
  j->session_id = session_id;
  snprintf(j->org, sizeof j->org, "%s", org);
  j->node = *node;
  cf__buf_init(&j->out, CF_SJOB_MAX_FRAME);
  cf__buf_init(&j->extra, 4096);
  if (claims_json != NULL &&
      (j->claims_json = cf__strndup(claims_json, claims_len)) == NULL) {
    cf__sjob_free(j);
    return CF_NOMEM;
  }
  if (bytes != NULL) {
    if ((j->bytes = cf__malloc(n ? n : 1)) == NULL) {
      cf__sjob_free(j);
      return CF_NOMEM;
    }
    memcpy(j->bytes, bytes, n);
    j->n = n;
    cf_codec_limits cl = {CF_SJOB_MAX_FRAME, lim->max_batch > lim->max_page
                                                 ? lim->max_batch
                                                 : lim->max_page};
    char err[256];
    int rc = cf__frame_decode(j->bytes, j->n, &cl, &j->frame, err, sizeof err);
    if (rc != CF_OK) {
      cf__sjob_free(j);
      return rc;
    }
  }
  *out = j;
  return CF_OK;
}

void cf__sjob_free(cf__sjob *j) {
  if (j == NULL) return;
  if (j->bytes != NULL) cf__frame_free(&j->frame);
  cf__free(j->bytes);
  cf__free(j->claims_json);
  cf__free(j->users);
  cf__free(j->member);
  cf__buf_free(&j->out);
  cf__buf_free(&j->extra);
  cf__free(j);
}

void cf__sjob_reset_answer(cf__sjob *j) {
  cf__buf_reset(&j->out);
  cf__buf_reset(&j->extra);
  j->close_code = 0;
  j->db_rc = CF_OK;
  j->ok = 0;
  j->pushed = 0;
  j->pulled = 0;
  j->has_cursor = 0;
  j->cursor_after = 0;
  j->more = 0;
  j->feed_ok = 0;
  j->feed_revoked = 0;
  cf__free(j->member);
  j->member = NULL;
}

size_t cf__sjob_find_user(const cf__sjob *j, const char *user) {
  size_t lo = 0, hi = j->nusers;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(j->users[mid], user);
    if (c == 0) return mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return j->nusers;
}
