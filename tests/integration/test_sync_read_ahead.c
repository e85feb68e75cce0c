/*
** tests/integration/test_sync_read_ahead.c: the server reads the next page
** of a pull ahead (sync/server/prefetch.h; docs/server.md, "Pages read
** ahead"), against a real server on a real Postgres.
**
**   - A pull page by page is answered from pages read ahead, and brings
**     the same rows as a pull from a server that does not read ahead:
**     every row of the org, nothing of another.
**   - A client that asks for another cursor than the page said (a hostile
**     or confused one) gets the page of the cursor it asked for, never the
**     one read ahead.
**   - A PUSH between two pages throws the page read ahead away, and the
**     pushed row arrives (read your writes).
**   - A node bootstraps over several pages through cf_sync with pages read
**     ahead and holds what the master holds.
**   - The same through a server whose pages are 3 rows: cf_sync applies
**     each page on its own thread while it receives the next, and the
**     server reads two pages ahead; the node ends with every row and the
**     master's head as its cursor.
*/
#include "hostile_fixture.h"
#include "store/store.h"
#include "sync/server/prefetch.h"
#include "sync/server/server_int.h"

#define PAGE 3 /* rows per page: the demo org takes several */

/* What a pull brought. */
typedef struct pulled {
  long long rows;     /* rows */
  long long contacts; /* of them contacts */
  long long foreign;  /* rows of another org */
} pulled;

static void note_row(void *ctx, const cf_row *row) {
  pulled *p = ctx;
  p->rows++;
  if (strcmp(row->table->name, "contacts") == 0) p->contacts++;
  if (row->table->org_col < 0) return;
  const cf_cell *c = cf__row_cell(row, (unsigned)row->table->org_col);
  if (c == NULL || c->value.kind != CF_VALUE_TEXT || c->value.n != strlen(DEMO_ORG) ||
      memcmp(c->value.p, DEMO_ORG, c->value.n) != 0)
    p->foreign++;
}

/* One page: PULL from `from`, expecting CHANGES; returns its last_seq. */
static uint64_t pull_page(raw_client *c, uint64_t from, pulled *p, int *more) {
  hx_send_pull(c, from, PAGE);
  cf_frame fr;
  char why[1200];
  hx_next(c, &fr);
  CHECK_MSG(fr.type == CF_FRAME_CHANGES, "PULL from %llu: got %s",
            (unsigned long long)from, hx_describe(&fr, why, sizeof why));
  uint64_t last = from;
  *more = 0;
  if (fr.type == CF_FRAME_CHANGES) {
    for (size_t i = 0; p != NULL && i < fr.u.changes.nrows; i++)
      note_row(p, &fr.u.changes.rows[i]);
    last = fr.u.changes.last_seq;
    *more = fr.u.changes.more;
  }
  cf__frame_free(&fr);
  return last;
}

/* The whole org page by page from 0 as the rep; the pages taken. */
static int pull_org(sync_fx *f, const char *token, pulled *p) {
  raw_client c;
  hx_connect_welcomed(&c, f, token, DEMO_ORG, NULL, NULL);
  memset(p, 0, sizeof *p);
  uint64_t cur = 0;
  int more = 1, pages = 0;
  while (more && pages < 10000) {
    cur = pull_page(&c, cur, p, &more);
    pages++;
  }
  raw_free(&c);
  return pages;
}

CF_TEST(test_sync_read_ahead_pages_bring_the_same_rows_and_nothing_of_other_orgs) {
  sync_fx f;
  sfx_open(&f, 1);
  char *token = sfx_token(DEMO_REP, 3600);
  uint64_t hits0 = cf__prefetch_hits();
  pulled ahead;
  int pages = pull_org(&f, token, &ahead);
  uint64_t hits = cf__prefetch_hits() - hits0;
  printf("read ahead: %d pages, %lld rows (%lld contacts), %llu pages read ahead used\n",
         pages, ahead.rows, ahead.contacts, (unsigned long long)hits);
  CHECK_MSG(pages >= 4, "the org took %d pages of %d rows", pages, PAGE);
  CHECK_MSG(hits >= (uint64_t)pages - 2, "only %llu of %d pages came from a read ahead",
            (unsigned long long)hits, pages);
  CHECK_EQ(ahead.foreign, 0);
  CHECK_EQ(
      ahead.contacts,
      sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE org_id = '" DEMO_ORG "'"));

  /* The same pull from a server that does not read ahead. */
  sfx_server_stop(&f);
  sfx_server_make(&f, 2);
  CHECK_OK(cf__server_set_read_ahead(f.srv, 0));
  sfx_server_go(&f);
  hits0 = cf__prefetch_hits();
  pulled plain;
  int plain_pages = pull_org(&f, token, &plain);
  CHECK_EQ(cf__prefetch_hits() - hits0, 0);
  CHECK_EQ(plain_pages, pages);
  CHECK_EQ(plain.rows, ahead.rows);
  CHECK_EQ(plain.contacts, ahead.contacts);
  CHECK_EQ(plain.foreign, 0);
  cf_token_free(token);
  sfx_close(&f);
}

CF_TEST(test_hostile_pull_other_cursor_than_the_page_said_gets_its_own_page) {
  sync_fx f;
  sfx_open(&f, 1);
  char *token = sfx_token(DEMO_REP, 3600);
  raw_client c;
  hx_connect_welcomed(&c, &f, token, DEMO_ORG, NULL, NULL);
  pulled first, again;
  memset(&first, 0, sizeof first);
  memset(&again, 0, sizeof again);
  int more = 0;
  uint64_t last = pull_page(&c, 0, &first, &more);
  CHECK(more);
  /* The server now reads from `last` ahead; ask for 0 again instead, and
  ** for a cursor in between. */
  uint64_t wasted0 = cf__prefetch_wasted();
  uint64_t last2 = pull_page(&c, 0, &again, &more);
  CHECK_EQ(last2, last);
  CHECK_EQ(again.rows, first.rows);
  CHECK(more);
  uint64_t mid = last > 1 ? last - 1 : 0;
  pulled part;
  memset(&part, 0, sizeof part);
  uint64_t last3 = pull_page(&c, mid, &part, &more);
  CHECK_MSG(last3 > mid, "PULL from %llu answered up to %llu", (unsigned long long)mid,
            (unsigned long long)last3);
  CHECK_EQ(part.foreign, 0);
  /* Each other cursor threw the page read ahead away (or its read). */
  CHECK_MSG(cf__prefetch_wasted() - wasted0 >= 2, "%llu pages read ahead thrown away",
            (unsigned long long)(cf__prefetch_wasted() - wasted0));
  hx_check_alive(&c, 9);
  raw_free(&c);
  cf_token_free(token);
  sfx_close(&f);
}

CF_TEST(test_sync_read_ahead_page_is_dropped_by_a_push_and_the_pushed_row_arrives) {
  sync_fx f;
  sfx_open(&f, 1);
  char *token = sfx_token(DEMO_REP, 3600);
  raw_client c;
  hx_connect_welcomed(&c, &f, token, DEMO_ORG, NULL, NULL);
  int more = 0;
  pulled all;
  memset(&all, 0, sizeof all);
  uint64_t cur = pull_page(&c, 0, &all, &more);
  CHECK(more);
  /* A push between two pages of the pull. */
  uint64_t wasted0 = cf__prefetch_wasted();
  cf_push_change ch;
  memset(&ch, 0, sizeof ch);
  ch.id = 1;
  sfx_contact_change(&ch.row, &c.node, DEMO_ORG, "01936b2a-0003-7000-8000-900000000a01",
                     "Readahead", 1);
  cf_frame r;
  sfx_raw_push(&c, 1, &ch, 1, &r);
  hx_check_result(&r, 0, CF_PUSH_APPLIED, 0, "the push between two pages");
  cf__frame_free(&r);
  while (more)
    cur = pull_page(&c, cur, &all, &more);
  CHECK_EQ(
      sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE first_name = 'Readahead'"), 1);
  /* Every contact of the org came, the pushed one too. */
  CHECK_EQ(
      all.contacts,
      sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE org_id = '" DEMO_ORG "'"));
  CHECK_MSG(cf__prefetch_wasted() - wasted0 >= 1,
            "the page read ahead before the push was used after it");
  CHECK_EQ(all.foreign, 0);
  raw_free(&c);

  /* A node pulling afterwards holds it. */
  cf_node *node = sfx_node("n", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, node);
  CHECK_EQ(
      sfx_node_num(node, "SELECT count(*) FROM contacts WHERE first_name = 'Readahead'"),
      1);
  cf_node_close(node);
  cf_token_free(token);
  sfx_close(&f);
}

CF_TEST(test_sync_bootstrap_in_pages_of_three_rows_applies_each_with_its_cursor) {
  sync_fx f;
  sfx_open_db(&f, 1);
  sfx_server_make(&f, 2);
  CHECK_OK(cf__server_set_max_page(f.srv, PAGE));
  sfx_server_go(&f);
  uint64_t hits0 = cf__prefetch_hits();
  cf_node *node = sfx_node("pages", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, node);
  uint64_t hits = cf__prefetch_hits() - hits0;
  CHECK_MSG(hits >= 3, "only %llu pages came from a read ahead",
            (unsigned long long)hits);
  CHECK_EQ(
      sfx_node_num(node, "SELECT count(*) FROM contacts"),
      sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE org_id = '" DEMO_ORG "'"));
  CHECK_EQ(sfx_node_num(node, "SELECT count(*) FROM deals"),
           sfx_sql_num(&f, "SELECT count(*) FROM deals WHERE org_id = '" DEMO_ORG "'"));
  int64_t cursor = -1;
  CHECK_OK(cf__store_cursor(node, &cursor));
  CHECK_EQ(cursor,
           sfx_sql_num(&f,
                       "SELECT head_seq FROM cf_sync.org_clock WHERE org_id = '" DEMO_ORG
                       "'"));
  /* Again, from that cursor: nothing more to take. */
  sfx_sync_ok(&f, node);
  int64_t again = -1;
  CHECK_OK(cf__store_cursor(node, &again));
  CHECK_EQ(again, cursor);
  cf_node_close(node);
  sfx_close(&f);
}
