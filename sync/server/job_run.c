/*
** sync/server/job_run.c: runs a sync session's request on the master and
** encodes the reply (see sync/server/job_run.h; the frames are specified in
** docs/protocol.md, push and pull on the master in docs/master-sync.md).
**
**   HELLO  membership, role, head and the node's last batch, read as the
**          user -> WELCOME, or ACCESS_REVOKED
**   PUSH   cf__master_push -> PUSH_RESULT (then ACCESS_REVOKED for a revoked
**          user), or ERROR state for a stale or reused batch number
**   PULL   cf__master_pull -> CHANGES, REBOOTSTRAP or ACCESS_REVOKED
**
** A database failure becomes ERROR busy (connection: retry later) or ERROR
** internal, with a WebSocket close code, and db_rc says which.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hlc.h"
#include "platform/platform.h"
#include "sync/master/master_sync.h"
#include "sync/server/job_run.h"
#include "core/ws_codes.h"

#define SESSION_SQL "server/session.sql"
#define MASTER_SQL "server/master_sync.sql"

static void reply_error(cf__sjob *j, unsigned code, const char *msg, int ws_code) {
  cf__buf_reset(&j->out);
  cf__buf_reset(&j->extra);
  if (cf__encode_error(code, msg, strlen(msg), &j->out) != CF_OK) cf__buf_reset(&j->out);
  j->close_code = ws_code;
}

/* Maps a failure of the database to the wire. */
static void reply_db_failure(cf__sjob *j, cf__pg *pg, int rc) {
  cf__log(CF_LOG_WARN, "msg=\"database call failed\" session=%llu rc=%s detail=\"%s\"",
          (unsigned long long)j->session_id, cf_strerror(rc),
          pg ? cf__pg_errmsg(pg) : "");
  j->db_rc = rc;
  reply_error(j, rc == CF_UNREACHABLE ? CF_WIRE_BUSY : CF_WIRE_INTERNAL,
              rc == CF_UNREACHABLE ? "database unavailable, retry later" : "server error",
              CF_WS_CLOSE_TRY_LATER);
}

/* Appends ACCESS_REVOKED for the job's org, saying msg, to out. */
static int encode_revoked(const cf__sjob *j, const char *msg, cf_buf *out) {
  cf_revoked r;
  memset(&r, 0, sizeof r);
  if (cf__uuid_parse(j->org, strlen(j->org), &r.org) != CF_OK)
    memset(&r.org, 0, sizeof r.org);
  r.message.p = msg;
  r.message.n = strlen(msg);
  return cf__encode_revoked(&r, out);
}

/*
** Runs one read-only statement as the job's user in a transaction of its
** own, in ONE round trip: BEGIN READ ONLY, the claims (as_user), the
** statement and COMMIT are pipelined (cf__pg_pipeline; the statements are
** prepared once per connection under the names given, which pg.c drops by
** itself behind a pooler that loses them).  This runs on every HELLO and,
** for an org whose watchers are several users, on every shared pull.
** OUT: *res, freed by the caller.  CF_OK or the database's code.
*/
static int read_as_user(cf__pg *pg, const cf__sjob *j, const char *file, const char *stmt,
                        const char *name, int nparams, const char *const *params,
                        cf__pg_res **res) {
  char *sql = NULL, *as_user_sql = NULL;
  const char *as_user = j->claims_json;
  *res = NULL;
  int rc = cf__sql_named(MASTER_SQL, "as_user", &as_user_sql);
  if (rc == CF_OK) rc = cf__sql_named(file, stmt, &sql);
  if (rc != CF_OK) goto out;
  cf__pg_step steps[4] = {{"BEGIN READ ONLY", NULL, 0, NULL, NULL},
                          {as_user_sql, "cf_sync_as_user", 1, &as_user, NULL},
                          {sql, name, nparams, params, NULL},
                          {"COMMIT", NULL, 0, NULL, NULL}};
  size_t failed = 0;
  rc = cf__pg_pipeline(pg, steps, 4, &failed);
  if (rc == CF_OK) {
    *res = steps[2].res;
    steps[2].res = NULL;
  } else if (rc != CF_UNREACHABLE) {
    cf__pg_rollback(pg); /* a statement failed inside the transaction */
  }
  for (int i = 0; i < 4; i++)
    cf__pg_res_free(steps[i].res);
out:
  cf__free(sql);
  cf__free(as_user_sql);
  return rc;
}

/*
** Reads, as the job's user in a read-only transaction, whether the user is
** a member of the job's org, the org's head, the user's role and the last
** batch of the job's node (the statement "hello" of SESSION_SQL: columns
** member, head_seq, role, last_batch).
** OUT: *res, freed by the caller.  CF_OK or the database's code.
*/
static int read_org_state(cf__pg *pg, const cf__sjob *j, cf__pg_res **res) {
  char node[CF_NODE_ID_TEXT_LEN];
  cf__node_id_format(&j->node, node);
  const char *params[2] = {j->org, node};
  return read_as_user(pg, j, SESSION_SQL, "hello", "cf_sync_hello", 2, params, res);
}

static void run_hello(const cf__sjob_limits *lim, cf__pg *pg, cf__sjob *j) {
  cf__pg_res *res = NULL;
  int rc = read_org_state(pg, j, &res);
  if (rc != CF_OK) {
    reply_db_failure(j, pg, rc);
    goto out;
  }
  if (cf__pg_nrows(res) != 1 || !cf__pg_bool(res, 0, 0)) {
    /* docs/protocol.md, lifecycle 1 and 9: a user who is not (or no longer)
    ** a member gets ACCESS_REVOKED, so the node knows to stop syncing. */
    cf__buf_reset(&j->out);
    if (encode_revoked(j, "the user is not a member of this organization", &j->out) !=
        CF_OK)
      cf__buf_reset(&j->out);
    j->close_code = CF_WS_CLOSE_POLICY;
    goto out;
  }
  cf_welcome w;
  memset(&w, 0, sizeof w);
  w.proto = j->proto;
  w.hlc = (cf_hlc)cf__now_ms() << 16;
  const char *role = cf__pg_value(res, 0, 2);
  w.role.p = role ? role : "member";
  w.role.n = strlen(w.role.p);
  w.head_seq = strtoull(cf__pg_value(res, 0, 1), NULL, 10);
  w.last_batch = strtoull(cf__pg_value(res, 0, 3), NULL, 10);
  w.max_frame_bytes = CF_SJOB_MAX_FRAME;
  w.max_batch = lim->max_batch;
  w.max_page = lim->max_page;
  w.token_exp = j->token_exp;
  rc = cf__encode_welcome(&w, &j->out);
  if (rc != CF_OK) {
    reply_error(j, CF_WIRE_INTERNAL, "cannot encode WELCOME", CF_WS_CLOSE_INTERNAL);
    goto out;
  }
  j->ok = 1;
out:
  cf__pg_res_free(res);
}

static void run_push(cf__pg *pg, cf__sjob *j) {
  const cf_push *p = &j->frame.u.push;
  cf_change *changes = NULL;
  cf__push_result *results = NULL;
  cf_push_result *wire = NULL;
  changes = cf__calloc(p->nchanges ? p->nchanges : 1, sizeof *changes);
  results = cf__calloc(p->nchanges ? p->nchanges : 1, sizeof *results);
  wire = cf__calloc(p->nchanges ? p->nchanges : 1, sizeof *wire);
  if (changes == NULL || results == NULL || wire == NULL) {
    reply_error(j, CF_WIRE_INTERNAL, "out of memory", CF_WS_CLOSE_INTERNAL);
    goto out;
  }
  for (size_t i = 0; i < p->nchanges; i++)
    changes[i] = p->changes[i].row;
  cf__push_info info;
  memset(&info, 0, sizeof info);
  int rc = cf__master_push(pg, j->claims_json, j->org, &j->node, p->batch_seq, changes,
                           p->nchanges, results, &info);
  if (rc != CF_OK) {
    reply_db_failure(j, pg, rc);
    goto out;
  }
  if (info.stale || info.reused) {
    /* docs/protocol.md, "Batches": no answer may claim a batch applied that
    ** the master did not apply.  Another replica pushed under this node id
    ** (a copied directory, a restored backup) or the client is broken. */
    char msg[256];
    if (info.stale)
      snprintf(msg, sizeof msg,
               "node id conflict: batch %llu is older than batch %llu this node id "
               "already pushed; another replica uses this node id",
               (unsigned long long)p->batch_seq, (unsigned long long)info.last_batch);
    else
      snprintf(msg, sizeof msg,
               "node id conflict: batch %llu was already pushed with other contents; "
               "another replica uses this node id",
               (unsigned long long)p->batch_seq);
    cf__log(CF_LOG_WARN, "msg=\"push refused\" session=%llu reason=\"%s\"",
            (unsigned long long)j->session_id, msg);
    reply_error(j, CF_WIRE_STATE, msg, CF_WS_CLOSE_POLICY);
    goto out;
  }
  for (size_t i = 0; i < p->nchanges; i++) {
    wire[i].change_id = p->changes[i].id;
    wire[i].status = results[i].status;
    wire[i].reason = results[i].reason;
    wire[i].message.p = results[i].detail;
    wire[i].message.n = strlen(results[i].detail);
  }
  cf_push_reply reply;
  memset(&reply, 0, sizeof reply);
  reply.batch_seq = p->batch_seq;
  /* The head once the batch committed (docs/protocol.md, lifecycle 5: a
  ** pull up to it includes the batch).  A batch that wrote rows reserved
  ** seq_lo .. seq_hi under the org's clock lock, so that end covers it; a
  ** batch that wrote nothing (replayed, revoked, all superseded or
  ** rejected) reads the head after the fact.  If it cannot be read the
  ** session fails and the client's retry of the batch is answered from the
  ** record. */
  if (info.seq_hi > 0) {
    reply.head_seq = info.seq_hi;
  } else {
    cf__pg_res *state = NULL;
    rc = read_org_state(pg, j, &state);
    if (rc != CF_OK) {
      reply_db_failure(j, pg, rc);
      goto out;
    }
    const char *head = cf__pg_nrows(state) == 1 ? cf__pg_value(state, 0, 1) : NULL;
    reply.head_seq = head ? strtoull(head, NULL, 10) : 0;
    cf__pg_res_free(state);
  }
  reply.results = wire;
  reply.nresults = p->nchanges;
  if (cf__encode_push_result(&reply, &j->out) != CF_OK) {
    reply_error(j, CF_WIRE_INTERNAL, "cannot encode PUSH_RESULT", CF_WS_CLOSE_INTERNAL);
    goto out;
  }
  if (info.revoked) {
    /* DESIGN 9: the replica learns it has lost access (docs/protocol.md,
    ** lifecycle 9), after the answers that keep its changes as conflicts. */
    if (encode_revoked(j, "the user is no longer a member of this organization",
                       &j->extra) == CF_OK)
      j->close_code = CF_WS_CLOSE_POLICY;
  }
  j->pushed = p->nchanges;
  cf__log(CF_LOG_DEBUG,
          "msg=\"push\" session=%llu batch=%llu changes=%zu applied=%zu superseded=%zu "
          "rejected=%zu replayed=%d",
          (unsigned long long)j->session_id, (unsigned long long)p->batch_seq,
          p->nchanges, info.applied, info.superseded, info.rejected, info.replayed);
out:
  cf__free(changes);
  cf__free(results);
  cf__free(wire);
}

/*
** Encodes a pulled page as one CHANGES frame.  Items that share a cursor
** position are never split: if the frame fills up, it ends at the last whole
** group and says `more`.
*/
static int wrap_page(int feed, uint64_t from, uint64_t last, int more, uint64_t head,
                     size_t rows, const cf_buf *body, cf_buf *out) {
  if (feed)
    return cf__encode_feed_body(from, last, more, head, rows, body->p, body->len, out);
  return cf__encode_changes_body(last, more, head, rows, body->p, body->len, out);
}

static int encode_page(const cf__pull_page *page, cf_buf *out, uint64_t from, int feed,
                       uint64_t *last, int *more_out) {
  cf_buf body;
  cf__buf_init(&body, CF_SJOB_MAX_FRAME - CF_CODEC_FRAME_OVERHEAD);
  size_t rows = 0, group_rows = 0, group_len = 0;
  uint64_t last_complete = from;
  int more = page->more, rc = CF_OK;
  for (size_t i = 0; i < page->n; i++) {
    if (i > 0 && page->items[i].seq != page->items[i - 1].seq) {
      last_complete = page->items[i - 1].seq;
      group_rows = rows;
      group_len = body.len;
    }
    rc = cf__codec_put_row(&page->items[i].row, &body);
    if (rc == CF_TOOBIG) {
      if (group_rows == 0) goto out; /* one group larger than a frame */
      cf__buf_truncate(&body, group_len);
      rows = group_rows;
      more = 1;
      rc = wrap_page(feed, from, last_complete, more, page->head, rows, &body, out);
      *last = last_complete;
      *more_out = more;
      goto out;
    }
    if (rc != CF_OK) goto out;
    rows++;
  }
  /* An empty page still moves the cursor to the head: positions may be
  ** holes (a rolled-back or all-rejected write), which no row will ever
  ** fill. */
  *last = page->next_cursor > from ? page->next_cursor : from;
  *more_out = more;
  rc = wrap_page(feed, from, *last, more, page->head, rows, &body, out);
out:
  cf__buf_free(&body);
  return rc;
}

static void run_pull(const cf__sjob_limits *lim, cf__pg *pg, cf__sjob *j) {
  const cf_pull *p = &j->frame.u.pull;
  cf__pull_page page;
  memset(&page, 0, sizeof page);
  size_t limit = p->limit < lim->max_page ? (size_t)p->limit : lim->max_page;
  if (limit == 0) limit = 1;
  int rc = cf__master_pull_cut(pg, j->claims_json, j->org, p->from_seq, limit, j->on_cut,
                               j->on_cut_ctx, &page);
  if (rc != CF_OK) {
    reply_db_failure(j, pg, rc);
    goto out;
  }
  if (page.status == CF__PULL_REBOOTSTRAP) {
    rc = cf__encode_seq(CF_FRAME_REBOOTSTRAP, page.head, &j->out);
    j->has_cursor = 1; /* the client starts again from 0 */
  } else if (page.status == CF__PULL_REVOKED) {
    rc =
        encode_revoked(j, "the user is no longer a member of this organization", &j->out);
  } else {
    rc = encode_page(&page, &j->out, p->from_seq, 0, &j->cursor_after, &j->more);
    j->has_cursor = rc == CF_OK;
    j->pulled = page.n;
  }
  if (rc != CF_OK)
    reply_error(j, CF_WIRE_INTERNAL, "cannot encode the page", CF_WS_CLOSE_INTERNAL);
out:
  cf__pull_page_free(&page);
}

/*
** Which of the job's users are members of its org, read as the job's user
** in a transaction after the page's (so at the page's snapshot or later: a
** membership revoked before the page was read is seen).  Fills j->member.
*/
static int read_members(cf__pg *pg, cf__sjob *j) {
  char *list = NULL;
  cf__pg_res *res = NULL;
  j->member = cf__calloc(j->nusers ? j->nusers : 1, 1);
  list = cf__malloc(j->nusers * CF_UUID_TEXT_LEN + 3);
  if (j->member == NULL || list == NULL) {
    cf__free(list);
    return CF_NOMEM;
  }
  size_t len = 0;
  list[len++] = '{';
  for (size_t i = 0; i < j->nusers; i++) {
    if (i > 0) list[len++] = ',';
    memcpy(list + len, j->users[i], CF_UUID_TEXT_LEN - 1);
    len += CF_UUID_TEXT_LEN - 1;
  }
  list[len++] = '}';
  list[len] = '\0';
  const char *params[2] = {j->org, list};
  int rc =
      read_as_user(pg, j, SESSION_SQL, "members", "cf_sync_members", 2, params, &res);
  for (int r = 0; rc == CF_OK && r < cf__pg_nrows(res); r++) {
    const char *u = cf__pg_value(res, r, 0);
    size_t i = u != NULL ? cf__sjob_find_user(j, u) : j->nusers;
    if (i < j->nusers) j->member[i] = 1;
  }
  cf__pg_res_free(res);
  cf__free(list);
  return rc;
}

/*
** The shared pull of an org: one page after from_seq as the job's user,
** encoded once as a FEED frame, and which of the job's users may receive
** it.  Anything but a page (a failure, REBOOTSTRAP, the user revoked) leaves
** feed_ok 0: the server then tells the sessions with LIVE and each pulls as
** itself.
*/
static void run_feed(const cf__sjob_limits *lim, cf__pg *pg, cf__sjob *j) {
  cf__pull_page page;
  memset(&page, 0, sizeof page);
  int rc = cf__master_pull(pg, j->claims_json, j->org, j->from_seq, lim->max_page, &page);
  if (rc != CF_OK) {
    j->db_rc = rc;
    cf__log(CF_LOG_WARN, "msg=\"shared pull failed\" org=%s rc=%s detail=\"%s\"", j->org,
            cf_strerror(rc), cf__pg_errmsg(pg));
    goto out;
  }
  if (page.status != CF__PULL_OK) {
    j->feed_revoked = page.status == CF__PULL_REVOKED;
    goto out;
  }
  rc = encode_page(&page, &j->out, j->from_seq, 1, &j->cursor_after, &j->more);
  if (rc != CF_OK) goto out;
  /* The pull itself checked the membership of the user it ran as, in its
  ** snapshot: a page for that user alone (one watcher, or one user's
  ** devices) needs no second transaction. */
  if (j->nusers == 1) {
    j->member = cf__calloc(1, 1);
    rc = j->member != NULL ? CF_OK : CF_NOMEM;
    if (rc == CF_OK) j->member[0] = 1;
  } else {
    rc = read_members(pg, j);
  }
  if (rc != CF_OK) {
    j->db_rc = rc;
    goto out;
  }
  j->pulled = page.n;
  j->feed_ok = 1;
out:
  if (!j->feed_ok) cf__buf_reset(&j->out);
  cf__pull_page_free(&page);
}

void cf__sjob_run(cf__pg *pg, const cf__sjob_limits *lim, cf__sjob *j) {
  if (j->kind == CF_SJOB_FEED) run_feed(lim, pg, j);
  if (j->kind == CF_SJOB_HELLO) run_hello(lim, pg, j);
  if (j->kind == CF_SJOB_PUSH) run_push(pg, j);
  if (j->kind == CF_SJOB_PULL) run_pull(lim, pg, j);
}

void cf__sjob_fail_unreachable(cf__sjob *j) { reply_db_failure(j, NULL, CF_UNREACHABLE); }

cf__pool_conn cf__sjob_run_pooled(cf__pg *pg, const cf__sjob_limits *lim, cf__sjob *j) {
  cf__sjob_reset_answer(j);
  j->t_start_ns = cf__monotonic_ns();
  if (pg == NULL) {
    cf__sjob_fail_unreachable(j);
    return CF_POOL_LOST;
  }
  cf__sjob_run(pg, lim, j);
  j->t_done_ns = cf__monotonic_ns();
  if (j->db_rc == CF_UNREACHABLE) return CF_POOL_LOST;
  if (j->kind == CF_SJOB_FEED && j->db_rc != CF_OK) return CF_POOL_DISCARD;
  if (j->close_code == CF_WS_CLOSE_TRY_LATER) return CF_POOL_DISCARD;
  return CF_POOL_KEEP;
}
