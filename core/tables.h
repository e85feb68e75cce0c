/*
** core/tables.h: the registry of the CRM tables -- ONE list, from which
** every other spelling of "the tables" derives (internal).
**
** CF_TABLE_LIST(X) expands X(number, name, kind) once per table, in
** number order:
**
**   number  the stable table number, 0..CF_TABLE_COUNT-1, dense.  It names
**           the table in the outbox, on the wire and in cf_sync.tombstones,
**           so it never changes and is never reused; a new table takes the
**           next one.  Number order is also a parent-before-child order for
**           the foreign keys.
**   name    the table's name in schema public, as a bare identifier (the
**           descriptor pastes it: core/schema.c's name##_cols holds its
**           columns).
**   kind    ORG (organizations: a row is an org), USER (users: belongs to no
**           org), or TENANT (carries org_id, keyed (org_id, id)).  Every
**           new table is a TENANT table.
**
** Who derives what (docs/architecture.md, "Adding a table"):
**   - core/schema.c: the descriptor (cf__schema_table), with the columns;
**   - the master: sql/postgres/006_table_registry.sql keeps the same rows
**     in cf_sync.tables, written by cf_sync.attach_table in the migration
**     that creates a table; `clientflow migrate up` and `clientflow doctor`
**     compare them with this list (sync/master/registry.c), and every SQL
**     function that needs the list reads cf_sync.tables;
**   - the master administration (doctor, the role check, seed's row counts)
**     and the tests: through cf__schema_table or cf_sync.tables.
*/
#ifndef CF_CORE_TABLES_H
#define CF_CORE_TABLES_H

#define CF_TABLE_LIST(X)                                                                 \
  X(0, organizations, ORG)                                                               \
  X(1, users, USER)                                                                      \
  X(2, memberships, TENANT)                                                              \
  X(3, contacts, TENANT)                                                                 \
  X(4, deals, TENANT)                                                                    \
  X(5, activities, TENANT)                                                               \
  X(6, appointments, TENANT)                                                             \
  X(7, messages, TENANT)                                                                 \
  X(8, automations, TENANT)                                                              \
  X(9, daily_metrics, TENANT)

/* What kind of table it is (the kind column of CF_TABLE_LIST). */
typedef enum cf_table_kind {
  CF_TABLE_KIND_ORG = 0,   /* organizations: keyed id; the row is its own org */
  CF_TABLE_KIND_USER = 1,  /* users: keyed id; in no org (cf_sync.user_seqs) */
  CF_TABLE_KIND_TENANT = 2 /* org_id first, keyed (org_id, id) */
} cf_table_kind;

/* The kind as cf_sync.tables.kind spells it: "org", "user", "tenant". */
#define CF_TABLE_KIND_NAME_ORG "org"
#define CF_TABLE_KIND_NAME_USER "user"
#define CF_TABLE_KIND_NAME_TENANT "tenant"

/* The number of tables, an integer constant expression. */
#define CF__TABLE_PLUS_ONE(number, name, kind) +1
#define CF_TABLE_COUNT (0 CF_TABLE_LIST(CF__TABLE_PLUS_ONE))

#endif /* CF_CORE_TABLES_H */
