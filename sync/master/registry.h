/*
** sync/master/registry.h: the table registry (core/tables.h) as the master
** sees it (internal).  Design: docs/architecture.md, "Adding a table".
**
** The C code knows the tables from core/tables.h; the master keeps the same
** rows in cf_sync.tables (sql/postgres/006_table_registry.sql), written by
** the migration that creates each table.  Statements that take "the tables"
** as a parameter get cf__master_tables_literal; `clientflow migrate up` and
** `clientflow doctor` compare the master's rows with the build's through
** cf__master_compare_registry.
*/
#ifndef CF_SYNC_MASTER_REGISTRY_H
#define CF_SYNC_MASTER_REGISTRY_H

#include <stddef.h>

#include "clientflow.h"
#include "core/tables.h"
#include "sync/master/master.h"

/* Room for the literal of every table name (CF_TABLE_COUNT names of at most
** 63 bytes, commas, braces, NUL). */
#define CF_MASTER_TABLES_LITERAL_MAX (CF_TABLE_COUNT * 64 + 3)

/*
** The registry's table names, in number order, as a Postgres text[]
** literal: "{organizations,users,...}".  OUT: buf (capacity cap,
** NUL-terminated).  CF_OK, or CF_TOOBIG when cap is too small (buf then
** holds "").  Names are plain identifiers, so nothing needs quoting.
*/
int cf__master_tables_literal(char *buf, size_t cap) CF_WARN_UNUSED;

/* What cf__master_compare_registry found. */
typedef enum cf__registry_state {
  CF__REGISTRY_SAME = 0,      /* cf_sync.tables equals core/tables.h */
  CF__REGISTRY_ABSENT = 1,    /* no cf_sync.tables (migrations pending) */
  CF__REGISTRY_UNREADABLE = 2 /* the connected role may not read it */
} cf__registry_state;

/*
** Compares cf_sync.tables with core/tables.h: same numbers, names and
** kinds, nothing more on either side.  OUT: *state.  CF_OK when they agree
** or the master's copy cannot be read (see *state); CF_CORRUPT when they
** differ, with m's errmsg naming the first difference and the fix; another
** code when a query fails.  Runs outside or inside a transaction.
*/
int cf__master_compare_registry(cf_master *m, cf__registry_state *state) CF_WARN_UNUSED;

#endif /* CF_SYNC_MASTER_REGISTRY_H */
