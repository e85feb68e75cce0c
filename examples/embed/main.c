/*
** examples/embed/main.c: embedding libclientflow in an app.
**
** Opens a replica for one organization in a fresh directory under $TMPDIR,
** writes two contacts and a deal through the views with plain SQL, reads
** them back, prints the outbox (the changes waiting for the master) and
** closes.  Exits 0 only if every step worked.  See README.md.
*/
/* mkdtemp() is POSIX.1-2008. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clientflow.h"

#define ORG "0190f1a2-0000-7000-8000-00000000a001"
#define USER "0190f1a2-0000-7000-8000-00000000b001"

/* True when the comma-separated list has the column. */
static int has_column(const char *columns, const char *name) {
  size_t n = strlen(name);
  for (const char *p = columns; p && *p;) {
    size_t len = strcspn(p, ",");
    if (len == n && strncmp(p, name, n) == 0) return 1;
    p += len + (p[len] == ',');
  }
  return 0;
}

/* Prints one outbox entry: its place in the queue, and what it does.  An
** insert's columns are all of the row's (the key "id" among them, which no
** update changes), so it is shown as an insert, not as a column list. */
static int print_change(void *ctx, const cf_change_info *c) {
  int *count = ctx;
  (*count)++;
  if (has_column(c->columns, "id"))
    printf("  %d. %-9s %s  insert\n", *count, c->table, c->row_id);
  else
    printf("  %d. %-9s %s  update of %s\n", *count, c->table, c->row_id, c->columns);
  return 0;
}

static int fail(cf_node *node, const char *what, int rc) {
  fprintf(stderr, "embed: %s: %s (%s)\n", what, cf_strerror(rc), cf_node_errmsg(node));
  return 1;
}

int main(void) {
  /* A fresh directory under $TMPDIR (else /tmp), removed at the end. */
  char dir[512], path[560];
  const char *tmp = getenv("TMPDIR");
  if (tmp == NULL || tmp[0] == '\0') tmp = "/tmp";
  if ((size_t)snprintf(dir, sizeof dir, "%s/cf-embed-XXXXXX", tmp) >= sizeof dir) {
    fprintf(stderr, "embed: TMPDIR is too long\n");
    return 1;
  }
  if (mkdtemp(dir) == NULL) {
    fprintf(stderr, "embed: cannot create a directory in %s: %s\n", tmp, strerror(errno));
    return 1;
  }
  snprintf(path, sizeof path, "%s/replica.db", dir);

  cf_node *node = NULL;
  cf_stmt *st = NULL;
  int status = 1, rc, changes = 0;
  if ((rc = cf_node_open(path, ORG, USER, &node)) != CF_OK) {
    status = fail(NULL, "open", rc);
    goto out;
  }
  printf("replica %s\n  node %s, org %s, library %s\n", path, cf_node_id(node),
         cf_node_org_id(node), cf_version());

  /* Writes: plain SQL on the views; the triggers fill id, org_id, timestamps
  ** and versions and log each change in the outbox. */
  rc = cf_node_exec(node,
                    "BEGIN;"
                    "INSERT INTO contacts (first_name, last_name, email, tags)"
                    "  VALUES ('Ada', 'Lovelace', 'ada@example.com', '[\"vip\"]');"
                    "INSERT INTO contacts (first_name, company) VALUES ('Grace', 'Navy');"
                    "COMMIT;");
  if (rc != CF_OK) {
    status = fail(node, "insert contacts", rc);
    goto out;
  }
  if ((rc = cf_node_prepare(
           node,
           "INSERT INTO deals (contact_id, title, value, stage)"
           " SELECT id, ?1, ?2, 'proposal' FROM contacts WHERE email = ?3",
           &st)) != CF_OK ||
      (rc = cf_stmt_bind_text(st, 1, "Analytical engine")) != CF_OK ||
      (rc = cf_stmt_bind_text(st, 2, "1843.5")) != CF_OK ||
      (rc = cf_stmt_bind_text(st, 3, "ada@example.com")) != CF_OK ||
      (rc = cf_stmt_step(st)) != CF_DONE) {
    status = fail(node, "insert deal", rc);
    goto out;
  }
  cf_stmt_finalize(st);
  st = NULL;

  /* Reads: the views show the org's live rows, without sync metadata. */
  if ((rc = cf_node_prepare(
           node,
           "SELECT c.first_name, coalesce(c.email, '-'), d.title, d.value, "
           "d.stage FROM contacts c LEFT JOIN deals d ON d.contact_id = c.id "
           "ORDER BY c.first_name",
           &st)) != CF_OK) {
    status = fail(node, "select", rc);
    goto out;
  }
  int rows = 0;
  printf("contacts and deals:\n");
  while ((rc = cf_stmt_step(st)) == CF_OK) {
    const char *title = cf_stmt_column_text(st, 2);
    printf("  %-6s %-16s %s%s%s %s\n", cf_stmt_column_text(st, 0),
           cf_stmt_column_text(st, 1), title ? title : "(no deal)", title ? " " : "",
           title ? cf_stmt_column_text(st, 3) : "",
           title ? cf_stmt_column_text(st, 4) : "");
    rows++;
  }
  if (rc != CF_DONE) {
    status = fail(node, "select", rc);
    goto out;
  }

  int64_t waiting = 0;
  if ((rc = cf_node_outbox_count(node, &waiting)) != CF_OK) {
    status = fail(node, "outbox count", rc);
    goto out;
  }
  printf("outbox (%lld changes waiting for the master):\n", (long long)waiting);
  if ((rc = cf_node_outbox_list(node, 100, print_change, &changes)) != CF_OK) {
    status = fail(node, "outbox list", rc);
    goto out;
  }
  if (rows != 2 || waiting != 3 || changes != 3) {
    fprintf(stderr, "embed: expected 2 rows and 3 changes, got %d rows, %lld changes\n",
            rows, (long long)waiting);
    goto out;
  }
  status = 0;
out:
  cf_stmt_finalize(st);
  cf_node_close(node);
  char file[600];
  const char *suffix[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    snprintf(file, sizeof file, "%s%s", path, suffix[i]);
    unlink(file);
  }
  rmdir(dir);
  return status;
}
