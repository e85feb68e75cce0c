/*
** tests/integration/test_hostile_batch.c: hostile use of push batch numbers
** (docs/protocol.md, "Idempotency"), against a real server on a real
** Postgres (tests/hostile_fixture.h).
**
** A node numbers its batches 1, 2, 3 ...; the master records the last one
** per (org, node, user) with its results.  Each test first has a node push
** batch 10 (a new contact X), which is applied, then:
**
**   - a LOWER batch (5, a new contact Y) is `ERROR state` naming the node
**     id, the session closes and Y is not written (it used to be answered
**     "applied" from the record while Y was silently dropped);
**   - batch 10 again with DIFFERENT contents is `ERROR state` naming the
**     node id, nothing written (another replica uses this node id);
**   - batch 10 again with the SAME bytes is a retry after a lost answer:
**     the same PUSH_RESULT, nothing written twice;
**   - a HELLO whose last_batch is non-zero and below the master's record
**     of that node is `ERROR state` naming the node id.
*/
#include "hostile_fixture.h"

#define X_ID "01936b2a-0003-7000-8000-900000000a01"
#define Y_ID "01936b2a-0003-7000-8000-900000000a02"
#define Z_ID "01936b2a-0003-7000-8000-900000000a03"

/* The answers of a PUSH_RESULT, copied out of the frame. */
typedef struct answers {
  uint64_t batch;       /* batch_seq */
  uint64_t head;        /* head_seq */
  size_t n;             /* results */
  unsigned status[4];   /* per change */
  unsigned reason[4];   /* per change */
  char message[4][256]; /* per change */
} answers;

static void copy_answers(const cf_frame *r, answers *a) {
  memset(a, 0, sizeof *a);
  a->batch = r->u.push_result.batch_seq;
  a->head = r->u.push_result.head_seq;
  a->n = r->u.push_result.nresults;
  for (size_t i = 0; i < a->n && i < 4; i++) {
    const cf_push_result *res = &r->u.push_result.results[i];
    a->status[i] = res->status;
    a->reason[i] = res->reason;
    snprintf(a->message[i], sizeof a->message[i], "%.*s", (int)res->message.n,
             res->message.p);
  }
}

/* One hostile node: its id and its batch 10, encoded once. */
typedef struct batch_fx {
  sync_fx f;       /* server and database */
  char *token;     /* the rep's token */
  cf_nodeid node;  /* the node id every session poses as */
  cf_buf batch10;  /* PUSH(10, [insert X]) as sent the first time */
  answers first;   /* its PUSH_RESULT */
  long long x_seq; /* X's cf_seq after it */
  long long head;  /* the org's head after it */
} batch_fx;

/* PUSH(batch, [insert of contact id with first name `first`]) into out. */
static void encode_insert(const cf_nodeid *node, uint64_t batch, const char *id,
                          const char *first, cf_buf *out) {
  cf_push_change ch;
  memset(&ch, 0, sizeof ch);
  ch.id = 1;
  sfx_contact_change(&ch.row, node, DEMO_ORG, id, first, 1);
  cf_push p = {batch, &ch, 1};
  cf__buf_init(out, CF_CODEC_MAX_FRAME);
  CHECK_OK(cf__encode_push(&p, out));
}

static long long contacts_with_id(sync_fx *f, const char *id) {
  char q[200];
  snprintf(q, sizeof q, "SELECT count(*) FROM contacts WHERE id = '%s'", id);
  return sfx_sql_num(f, q);
}

/* Opens the fixture and has the node push batch 10 (insert X): applied. */
static void batch_open(batch_fx *b) {
  memset(b, 0, sizeof *b);
  sfx_open(&b->f, 1);
  b->token = sfx_token(DEMO_REP, 3600);
  CHECK_OK(cf__node_id_generate(&b->node));
  encode_insert(&b->node, 10, X_ID, "Xavier", &b->batch10);
  raw_client c;
  hx_connect_welcomed(&c, &b->f, b->token, DEMO_ORG, &b->node, NULL);
  raw_send(&c, b->batch10.p, b->batch10.len);
  cf_frame r;
  char why[1200];
  hx_next(&c, &r);
  CHECK_MSG(r.type == CF_FRAME_PUSH_RESULT, "batch 10: %s",
            hx_describe(&r, why, sizeof why));
  copy_answers(&r, &b->first);
  cf__frame_free(&r);
  raw_free(&c);
  CHECK_EQ(b->first.batch, 10);
  CHECK_EQ(b->first.status[0], CF_PUSH_APPLIED);
  CHECK_EQ(contacts_with_id(&b->f, X_ID), 1);
  b->x_seq = sfx_sql_num(&b->f, "SELECT cf_seq FROM contacts WHERE id = '" X_ID "'");
  b->head = hx_master_head(&b->f, DEMO_ORG);
}

static void batch_close(batch_fx *b) {
  cf__buf_free(&b->batch10);
  cf_token_free(b->token);
  sfx_close(&b->f);
}

/* Nothing of the attack was written: X once with its seq, the head still. */
static void check_nothing_written(batch_fx *b) {
  CHECK_EQ(contacts_with_id(&b->f, X_ID), 1);
  CHECK_EQ(sfx_sql_num(&b->f, "SELECT cf_seq FROM contacts WHERE id = '" X_ID "'"),
           b->x_seq);
  CHECK_EQ(contacts_with_id(&b->f, Y_ID), 0);
  CHECK_EQ(contacts_with_id(&b->f, Z_ID), 0);
}

CF_TEST(test_hostile_batch_lower_than_applied_refused_state_and_not_written) {
  batch_fx b;
  batch_open(&b);
  raw_client c;
  hx_connect_welcomed(&c, &b.f, b.token, DEMO_ORG, &b.node, NULL);
  cf_buf y;
  encode_insert(&b.node, 5, Y_ID, "Yolanda", &y);
  raw_send(&c, y.p, y.len);
  cf__buf_free(&y);
  hx_expect_error(&c, CF_WIRE_STATE, "node id");
  raw_free(&c);
  check_nothing_written(&b);
  batch_close(&b);
}

CF_TEST(test_hostile_batch_same_seq_different_contents_refused_state) {
  batch_fx b;
  batch_open(&b);
  raw_client c;
  hx_connect_welcomed(&c, &b.f, b.token, DEMO_ORG, &b.node, NULL);
  cf_buf z;
  encode_insert(&b.node, 10, Z_ID, "Zelda", &z);
  raw_send(&c, z.p, z.len);
  cf__buf_free(&z);
  hx_expect_error(&c, CF_WIRE_STATE, "node id");
  raw_free(&c);
  check_nothing_written(&b);
  CHECK_EQ(hx_master_head(&b.f, DEMO_ORG), b.head);
  batch_close(&b);
}

CF_TEST(test_hostile_batch_same_seq_same_bytes_replayed_nothing_written_twice) {
  batch_fx b;
  batch_open(&b);
  /* The answer was lost: the node reconnects, WELCOME says 10 committed,
  ** the node sends batch 10 again, byte for byte.  (HELLO says last_batch
  ** 0 here, which is never refused; the reference client's own lost-answer
  ** path, last_batch 9 against a record of 10, is test_sync_convergence's.) */
  raw_client c;
  cf_welcome w;
  hx_connect(&c, &b.f, &b.node);
  hx_hello(&c, b.token, DEMO_ORG, 0, 0);
  cf_frame fr;
  char why[1200];
  hx_next(&c, &fr);
  CHECK_MSG(fr.type == CF_FRAME_WELCOME, "HELLO(last_batch 0): %s",
            hx_describe(&fr, why, sizeof why));
  w = fr.u.welcome;
  cf__frame_free(&fr);
  CHECK_EQ(w.last_batch, 10);
  raw_send(&c, b.batch10.p, b.batch10.len);
  hx_next(&c, &fr);
  CHECK_MSG(fr.type == CF_FRAME_PUSH_RESULT, "replayed batch 10: %s",
            hx_describe(&fr, why, sizeof why));
  answers again;
  copy_answers(&fr, &again);
  cf__frame_free(&fr);
  raw_free(&c);
  CHECK_EQ(again.batch, b.first.batch);
  CHECK_EQ(again.n, b.first.n);
  for (size_t i = 0; i < again.n; i++) {
    CHECK_EQ(again.status[i], b.first.status[i]);
    CHECK_EQ(again.reason[i], b.first.reason[i]);
    CHECK_STR(again.message[i], b.first.message[i]);
  }
  CHECK_MSG(again.head >= b.first.head, "replayed head %llu below the first %llu",
            (unsigned long long)again.head, (unsigned long long)b.first.head);
  check_nothing_written(&b);
  CHECK_EQ(hx_master_head(&b.f, DEMO_ORG), b.head);
  batch_close(&b);
}

CF_TEST(test_hostile_copied_replica_learns_the_record_and_its_next_batch_lands) {
  batch_fx b;
  batch_open(&b);
  /* A copy of the replica (same node id) that has only seen batch 3
  ** answered, while the master holds batch 10 of that node id.  HELLO's
  ** last_batch is advisory (a lost answer looks the same); WELCOME tells
  ** the copy the record, so it numbers its next batch above it, and that
  ** batch lands.  Only a batch at or below the record is refused (the
  ** tests above). */
  raw_client c;
  hx_connect(&c, &b.f, &b.node);
  hx_hello(&c, b.token, DEMO_ORG, 3, 0);
  cf_frame fr;
  char why[1200];
  hx_next(&c, &fr);
  CHECK_MSG(fr.type == CF_FRAME_WELCOME, "HELLO(last_batch 3): %s",
            hx_describe(&fr, why, sizeof why));
  CHECK_EQ(fr.u.welcome.last_batch, 10);
  cf__frame_free(&fr);
  cf_buf y;
  encode_insert(&b.node, 11, Y_ID, "Yolanda", &y);
  raw_send(&c, y.p, y.len);
  cf__buf_free(&y);
  hx_next(&c, &fr);
  CHECK_MSG(fr.type == CF_FRAME_PUSH_RESULT, "batch 11: %s",
            hx_describe(&fr, why, sizeof why));
  CHECK_EQ(fr.u.push_result.nresults, 1);
  CHECK_EQ(fr.u.push_result.results[0].status, CF_PUSH_APPLIED);
  cf__frame_free(&fr);
  raw_free(&c);
  CHECK_EQ(contacts_with_id(&b.f, Y_ID), 1);
  CHECK_EQ(contacts_with_id(&b.f, X_ID), 1);
  batch_close(&b);
}
