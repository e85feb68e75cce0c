/*
** store/watch.c: watched queries -- a SELECT on the views registered once,
** whose new result the app receives from cf_node_poll whenever a committed
** transaction touched a table it reads (include/clientflow.h, "Watched
** queries"; docs/embedding.md).
**
** The tables a query reads are learned while it compiles: the connection's
** authorizer (store/notify.c) reports every table read (SQLITE_READ), the
** views' data tables included.  A query that also reads something else
** (cf_conflicts, the outbox) re-runs after every commit.  After the
** journal rows of a poll are delivered, each watch whose tables changed
** runs again; its result is kept serialised, and the callback is called
** only when the new result differs from the last one delivered, so a
** transaction that touched the table without changing what the query shows
** costs one query, not a callback.  Several transactions between two polls
** give one run: results are coalesced, and never taken mid-transaction
** (cf_node_poll refuses inside one).
**
** The serialised result, compared byte for byte (one cell after another):
**   byte    1: 0x01 NULL, 0x02 a value
**   then    the value as text (sqlite3_column_text) and a NUL (value only)
** The column names come first, the same way, so a changed column list is a
** changed result.  The buffer is capped (CF_WATCH_MAX_BYTES): a bigger
** result fails with CF_TOOBIG.
*/
#include <string.h>

#include "core/buf.h"
#include "platform/platform.h"
#include "store/notify.h"

/* The most bytes one watched query's result may take (serialised). */
#define CF_WATCH_MAX_BYTES ((size_t)64 << 20)

/* A result as the callback sees it: pointers into the watch's buffer. */
struct cf_rows {
  int ncols;          /* columns */
  int64_t nrows;      /* rows */
  const char **names; /* ncols column names */
  const char **cells; /* nrows * ncols values as text, NULL for SQL NULL */
};

/* One watched query of a node. */
struct cf_watch {
  struct cf_node *node;  /* the node (not owned) */
  sqlite3_stmt *st;      /* the query; owned */
  uint64_t tables;       /* table bits it reads */
  int reads_other;       /* it reads other tables too: re-run after any commit */
  cf_watch_fn fn;        /* the callback */
  void *ctx;             /* its context */
  cf_buf last;           /* the last result delivered, serialised */
  int delivered;         /* 1 once the first result was delivered */
  struct cf_watch *next; /* the node's next watch */
};

int cf_node_watch(cf_node *node, const char *sql, cf_watch_fn fn, void *ctx,
                  cf_watch **out) {
  if (out == NULL) return CF_MISUSE;
  *out = NULL;
  if (node == NULL || sql == NULL || fn == NULL || node->nt == NULL) return CF_MISUSE;
  node->errmsg[0] = '\0';
  cf__node_settle(node);
  struct cf_watch *w = cf__calloc(1, sizeof *w);
  if (w == NULL) return cf__node_fail(node, CF_NOMEM, "out of memory");
  cf__stmt_kind kind;
  const char *tail = NULL;
  int rc = CF_OK;
  int src = cf__notify_prepare(node, sql, &w->st, &tail, &kind);
  if (src != SQLITE_OK) {
    rc = cf__node_sqlerr(node, src, NULL);
  } else if (w->st == NULL) {
    rc = cf__node_fail(node, CF_INVALID, "no SQL statement given");
  } else if (kind.writes || !sqlite3_stmt_readonly(w->st) ||
             sqlite3_column_count(w->st) == 0) {
    rc = cf__node_fail(node, CF_INVALID, "a watched query must be a SELECT");
  } else {
    while (tail != NULL && (*tail == ' ' || *tail == '\n' || *tail == '\t' ||
                            *tail == '\r' || *tail == ';'))
      tail++;
    if (tail != NULL && *tail != '\0')
      rc = cf__node_fail(node, CF_INVALID, "a watched query is one statement");
  }
  if (rc != CF_OK) {
    sqlite3_finalize(w->st);
    cf__free(w);
    return rc;
  }
  w->node = node;
  w->tables = kind.reads;
  w->reads_other = kind.reads_other || kind.reads == 0;
  w->fn = fn;
  w->ctx = ctx;
  cf__buf_init(&w->last, CF_WATCH_MAX_BYTES);
  w->next = node->watches;
  node->watches = w;
  *out = w;
  return CF_OK;
}

static void watch_free(struct cf_watch *w) {
  sqlite3_finalize(w->st);
  cf__buf_free(&w->last);
  cf__free(w);
}

void cf_watch_free(cf_watch *w) {
  if (w == NULL) return;
  struct cf_watch **p = &w->node->watches;
  while (*p != NULL && *p != w)
    p = &(*p)->next;
  if (*p == w) *p = w->next;
  watch_free(w);
}

void cf__watch_free_all(struct cf_node *node) {
  while (node->watches != NULL) {
    struct cf_watch *w = node->watches;
    node->watches = w->next;
    watch_free(w);
  }
}

int cf__watch_pending(const struct cf_node *node) {
  for (const struct cf_watch *w = node->watches; w != NULL; w = w->next)
    if (!w->delivered) return 1;
  return 0;
}

/* Appends one cell: its marker, and its text and a NUL when not NULL.
** OUT: *off, where the text starts (-1 for NULL). */
static int put_cell(cf_buf *b, const char *text, size_t n, int64_t *off) {
  int rc = cf__buf_putc(b, text != NULL ? 2 : 1);
  *off = -1;
  if (rc != CF_OK || text == NULL) return rc;
  *off = (int64_t)b->len;
  if (n > 0 && (rc = cf__buf_append(b, text, n)) != CF_OK) return rc;
  return cf__buf_putc(b, '\0');
}

/* Appends an offset to offs[*n] (growing it).  CF_OK or CF_NOMEM. */
static int push_off(int64_t **offs, size_t *n, size_t *cap, int64_t off) {
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 64;
    int64_t *g = cf__realloc(*offs, c * sizeof *g);
    if (g == NULL) return CF_NOMEM;
    *offs = g;
    *cap = c;
  }
  (*offs)[(*n)++] = off;
  return CF_OK;
}

/* Runs w's query; calls back when the result differs from the last one. */
static int run_watch(struct cf_watch *w) {
  struct cf_node *node = w->node;
  cf_buf cur;
  cf__buf_init(&cur, CF_WATCH_MAX_BYTES);
  int64_t *offs = NULL;
  size_t n = 0, cap = 0;
  const char **ptrs = NULL;
  int ncols = sqlite3_column_count(w->st);
  int64_t nrows = 0;
  int rc = CF_OK;
  sqlite3_reset(w->st);
  for (int c = 0; rc == CF_OK && c < ncols; c++) {
    const char *name = sqlite3_column_name(w->st, c);
    int64_t off;
    rc = put_cell(&cur, name ? name : "", name ? strlen(name) : 0, &off);
    if (rc == CF_OK) rc = push_off(&offs, &n, &cap, off);
  }
  int src = SQLITE_ROW;
  while (rc == CF_OK && (src = sqlite3_step(w->st)) == SQLITE_ROW) {
    for (int c = 0; rc == CF_OK && c < ncols; c++) {
      const char *text = (const char *)sqlite3_column_text(w->st, c);
      size_t len = (size_t)sqlite3_column_bytes(w->st, c);
      int64_t off;
      rc = put_cell(&cur, text, len, &off);
      if (rc == CF_OK) rc = push_off(&offs, &n, &cap, off);
    }
    nrows++;
  }
  if (rc == CF_OK && src != SQLITE_DONE) rc = cf__node_sqlerr(node, src, "watched query");
  sqlite3_reset(w->st);
  if (rc == CF_TOOBIG)
    rc = cf__node_fail(node, CF_TOOBIG, "a watched query's result is over %zu bytes",
                       CF_WATCH_MAX_BYTES);
  else if (rc == CF_NOMEM)
    rc = cf__node_fail(node, CF_NOMEM, "out of memory");
  if (rc != CF_OK) goto out;
  if (w->delivered && cur.len == w->last.len &&
      (cur.len == 0 || memcmp(cur.p, w->last.p, cur.len) == 0))
    goto out; /* the same result: nothing to tell */
  ptrs = cf__calloc(n ? n : 1, sizeof *ptrs);
  if (ptrs == NULL) {
    rc = cf__node_fail(node, CF_NOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++)
    ptrs[i] = offs[i] < 0 ? NULL : cur.p + offs[i];
  cf_buf swap = w->last;
  w->last = cur;
  cur = swap;
  w->delivered = 1;
  struct cf_rows rows = {ncols, nrows, ptrs, ptrs + ncols};
  w->fn(w->ctx, &rows);
out:
  cf__free(ptrs);
  cf__free(offs);
  cf__buf_free(&cur);
  return rc;
}

int cf__watch_run(struct cf_node *node, uint64_t mask, int any_commit) {
  int rc = CF_OK;
  for (struct cf_watch *w = node->watches; w != NULL; w = w->next) {
    if (w->delivered && !(w->tables & mask) && !(any_commit && w->reads_other)) continue;
    int r = run_watch(w);
    if (rc == CF_OK) rc = r;
  }
  return rc;
}

int64_t cf_rows_count(const cf_rows *rows) { return rows->nrows; }
int cf_rows_column_count(const cf_rows *rows) { return rows->ncols; }

const char *cf_rows_column_name(const cf_rows *rows, int col) {
  if (col < 0 || col >= rows->ncols) return NULL;
  return rows->names[col];
}

const char *cf_rows_text(const cf_rows *rows, int64_t row, int col) {
  if (row < 0 || row >= rows->nrows || col < 0 || col >= rows->ncols) return NULL;
  return rows->cells[row * rows->ncols + col];
}
