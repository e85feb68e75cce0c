/*
** tests/integration/test_sync_shared_pull.c: the server's shared pull
** (protocol 2 FEED, docs/server.md "Shared pages") keeps the isolation
** invariants: when an org's head moves, the one page the server reads is
** sent only to sessions of that org, only to users who are members when it
** is read, and only to sessions whose cursor it continues.  Against a real
** server and Postgres, with raw protocol 2 sessions that stand at a cursor
** of their choosing and record every frame they get.
**
** Absence is proven without waiting: the server's loop sends a shared page
** to every session of the org in one go, so a PING sent to a session after
** another got the page is answered after anything the page's round sent it.
*/
#include "hostile_fixture.h"

/* HELLO at `cursor` (the session stands there) offering protocols up to
** proto, then WELCOME choosing proto. */
static void hello_proto(raw_client *c, const sync_fx *f, const char *token,
                        const char *org, uint64_t cursor, unsigned proto) {
  raw_connect(c, f, 0);
  hx_hello_proto(c, token, org, 0, 0, cursor, proto);
  cf_frame w;
  raw_expect_frame(c, &w);
  CHECK_MSG(w.type == CF_FRAME_WELCOME, "expected WELCOME, got %s",
            cf__frame_type_name(w.type));
  CHECK_EQ(w.u.welcome.proto, proto);
  cf__frame_free(&w);
}

/* The same in protocol 2. */
static void hello_at(raw_client *c, const sync_fx *f, const char *token, const char *org,
                     uint64_t cursor) {
  hello_proto(c, f, token, org, cursor, 2);
}

/* The next frame of c whatever its type (FEED and LIVE included). */
static void next_any(raw_client *c, cf_frame *out) {
  int64_t deadline = sfx_monotonic_ms() + 15000;
  while (c->nmsg <= c->next && !c->closed && sfx_monotonic_ms() < deadline)
    CHECK_OK(cf__ws_client_run_once(c->cli, 50));
  CHECK_MSG(c->nmsg > c->next, "no frame %d (closed=%d)", c->next, c->closed);
  int i = c->next++;
  char err[256];
  CHECK_MSG(cf__frame_decode(c->msg[i], c->len[i], NULL, out, err, sizeof err) == CF_OK,
            "frame %d does not decode: %s", i, err);
}

/* Every row of a FEED belongs to org (organizations: is org; users: come
** through cf_sync.pull_users, members of org). */
static void check_rows_of(const cf_frame *fr, const char *org) {
  const cf_changes *ch = &fr->u.feed.changes;
  for (size_t i = 0; i < ch->nrows; i++) {
    const cf_row *row = &ch->rows[i];
    const char *col = strcmp(row->table->name, "organizations") == 0 ? "id" : "org_id";
    int k = cf__schema_column_index(row->table, col);
    if (k < 0) continue; /* users */
    const cf_cell *c = cf__row_cell(row, (unsigned)k);
    CHECK_MSG(c != NULL && c->value.kind == CF_VALUE_TEXT && c->value.n == strlen(org) &&
                  memcmp(c->value.p, org, c->value.n) == 0,
              "a %s row of another org in a FEED", row->table->name);
  }
}

/* Reads c's frames up to the PONG of a PING sent now; counts the FEEDs
** among them (each checked to hold rows of org only) and returns the
** cursor the last one moved to (or `cursor`). */
static uint64_t frames_until_pong(raw_client *c, const char *org, uint64_t cursor,
                                  int *feeds) {
  cf_buf b;
  cf__buf_init(&b, 64);
  CHECK_OK(cf__encode_seq(CF_FRAME_PING, 4242, &b));
  raw_send(c, b.p, b.len);
  cf__buf_free(&b);
  for (;;) {
    cf_frame fr;
    next_any(c, &fr);
    if (fr.type == CF_FRAME_PONG) {
      cf__frame_free(&fr);
      return cursor;
    }
    if (fr.type == CF_FRAME_FEED) {
      (*feeds)++;
      CHECK_EQ(fr.u.feed.from_seq, cursor); /* it continues the cursor */
      check_rows_of(&fr, org);
      cursor = fr.u.feed.changes.last_seq;
    } else {
      CHECK_MSG(fr.type == CF_FRAME_LIVE, "unexpected %s", cf__frame_type_name(fr.type));
    }
    cf__frame_free(&fr);
  }
}

/* Waits until a's FEEDs brought it to `head`; returns how many came. */
static int feeds_until(raw_client *a, const char *org, uint64_t *cursor, uint64_t head) {
  int feeds = 0;
  while (*cursor < head) {
    cf_frame fr;
    next_any(a, &fr);
    CHECK_MSG(fr.type == CF_FRAME_FEED || fr.type == CF_FRAME_LIVE, "unexpected %s",
              cf__frame_type_name(fr.type));
    if (fr.type == CF_FRAME_FEED) {
      CHECK_EQ(fr.u.feed.from_seq, *cursor);
      check_rows_of(&fr, org);
      *cursor = fr.u.feed.changes.last_seq;
      feeds++;
    }
    cf__frame_free(&fr);
  }
  return feeds;
}

CF_TEST(test_sync_shared_page_reaches_only_sessions_of_its_org) {
  sync_fx f;
  sfx_open(&f, 1);
  char *rep = sfx_token(DEMO_REP, 600), *owner = sfx_token(DEMO_OWNER, 600);
  char *nw = sfx_token(NW_OWNER, 600);
  uint64_t demo_head = (uint64_t)hx_master_head(&f, DEMO_ORG);
  uint64_t nw_head = (uint64_t)hx_master_head(&f, NW_ORG);
  raw_client a, b, other, behind;
  hello_at(&a, &f, rep, DEMO_ORG, demo_head);
  hello_at(&b, &f, owner, DEMO_ORG, demo_head);
  hello_at(&other, &f, nw, NW_ORG, nw_head);
  hello_at(&behind, &f, rep, DEMO_ORG, 1); /* not at the cursor the page continues */
  for (int round = 0; round < 3; round++) {
    sfx_sql(&f,
            "UPDATE contacts SET company = 'shared ' || now() WHERE id = '" DEMO_CONTACT(
                "01") "'");
    uint64_t head = (uint64_t)hx_master_head(&f, DEMO_ORG);
    uint64_t ca = demo_head, cb = demo_head;
    CHECK(feeds_until(&a, DEMO_ORG, &ca, head) >= 1);
    int fb = 0, fo = 0, fbh = 0;
    cb = frames_until_pong(&b, DEMO_ORG, cb, &fb);
    if (cb < head) CHECK(feeds_until(&b, DEMO_ORG, &cb, head) >= 1);
    /* the other org's session got nothing of it: not a page, not a LIVE */
    CHECK_EQ(frames_until_pong(&other, NW_ORG, nw_head, &fo), nw_head);
    CHECK_EQ(fo, 0);
    CHECK_MSG(other.nmsg == other.next, "the other org's session got frames");
    /* the session behind is told (LIVE) and pulls as itself */
    (void)frames_until_pong(&behind, DEMO_ORG, 1, &fbh);
    CHECK_EQ(fbh, 0);
    demo_head = head;
  }
  raw_free(&a);
  raw_free(&b);
  raw_free(&other);
  raw_free(&behind);
  cf_token_free(rep);
  cf_token_free(owner);
  cf_token_free(nw);
  sfx_close(&f);
}

CF_TEST(test_sync_shared_page_is_not_sent_to_a_revoked_member) {
  sync_fx f;
  sfx_open(&f, 1);
  char *rep = sfx_token(DEMO_REP, 600), *owner = sfx_token(DEMO_OWNER, 600);
  uint64_t head = (uint64_t)hx_master_head(&f, DEMO_ORG);
  raw_client keep, lost;
  hello_at(&keep, &f, owner, DEMO_ORG, head);
  hello_at(&lost, &f, rep, DEMO_ORG, head);
  /* the rep loses the org; then the org changes twice more */
  sfx_sql(&f, "DELETE FROM memberships WHERE id = '" DEMO_REP_MEMBERSHIP "'");
  for (int i = 0; i < 2; i++)
    sfx_sql(&f, "UPDATE contacts SET company = 'after revocation' || now() WHERE id = "
                "'" DEMO_CONTACT("02") "'");
  uint64_t now_head = (uint64_t)hx_master_head(&f, DEMO_ORG);
  uint64_t ck = head;
  CHECK(feeds_until(&keep, DEMO_ORG, &ck, now_head) >= 1);
  /* every round that served `keep` has reached `lost` by now: no page */
  int fl = 0;
  CHECK_EQ(frames_until_pong(&lost, DEMO_ORG, head, &fl), head);
  CHECK_EQ(fl, 0);
  /* and its own pull says what it is */
  hx_send_pull(&lost, head, 100);
  cf_frame fr;
  raw_expect_frame(&lost, &fr);
  CHECK_MSG(fr.type == CF_FRAME_ACCESS_REVOKED, "got %s", cf__frame_type_name(fr.type));
  cf__frame_free(&fr);
  raw_free(&keep);
  raw_free(&lost);
  cf_token_free(rep);
  cf_token_free(owner);
  sfx_close(&f);
}

/* An org with more sessions than the server tells in one turn of its loop
** (LIVE_STEP, 64: sync/server/server.c tell_org writes a large org's LIVEs
** in steps so that a shared page goes out between two of them): heads in
** quick succession still reach EVERY session, the last LIVE naming the last
** head, in increasing order, and the session that takes shared pages gets
** its FEEDs up to that head. */
#define MANY 80
CF_TEST(test_sync_live_of_a_large_org_reaches_every_session_with_the_last_head) {
  sync_fx f;
  sfx_open(&f, 1);
  char *rep = sfx_token(DEMO_REP, 600), *owner = sfx_token(DEMO_OWNER, 600);
  uint64_t start = (uint64_t)hx_master_head(&f, DEMO_ORG);
  raw_client a, *many = calloc(MANY, sizeof *many);
  CHECK(many != NULL);
  hello_at(&a, &f, owner, DEMO_ORG, start);
  for (int i = 0; i < MANY; i++)
    hello_proto(&many[i], &f, i % 2 ? rep : owner, DEMO_ORG, 0, 1); /* LIVE only */
  for (int round = 0; round < 4; round++)
    sfx_sql(&f,
            "UPDATE contacts SET company = 'round ' || now() WHERE id = '" DEMO_CONTACT(
                "03") "'");
  uint64_t head = (uint64_t)hx_master_head(&f, DEMO_ORG);
  uint64_t ca = start;
  CHECK(feeds_until(&a, DEMO_ORG, &ca, head) >= 1);
  CHECK_EQ(ca, head);
  for (int i = 0; i < MANY; i++) {
    uint64_t told = 0;
    while (told < head) {
      cf_frame fr;
      next_any(&many[i], &fr);
      CHECK_MSG(fr.type == CF_FRAME_LIVE, "session %d: unexpected %s", i,
                cf__frame_type_name(fr.type));
      CHECK_MSG(fr.u.live.seq > told && fr.u.live.seq <= head,
                "session %d: LIVE %llu after %llu (head %llu)", i,
                (unsigned long long)fr.u.live.seq, (unsigned long long)told,
                (unsigned long long)head);
      told = fr.u.live.seq;
      cf__frame_free(&fr);
    }
  }
  for (int i = 0; i < MANY; i++)
    raw_free(&many[i]);
  free(many);
  raw_free(&a);
  cf_token_free(rep);
  cf_token_free(owner);
  sfx_close(&f);
}
