/*
** store/sqltext.h: named SQL statements of the replica (internal to store/).
**
** The fixed statements live in sql/sqlite/statements.sql, each after a line
** "-- @name <name>" (the format of every named-statement file, read by
** platform/assets.h).  cf__sql_text() finds one in the embedded copy without
** allocating, so the C code names the statements it runs instead of holding
** SQL text.
*/
#ifndef CF_STORE_SQLTEXT_H
#define CF_STORE_SQLTEXT_H

#include <stddef.h>

/* The statement called name: OUT *text points into static storage (not
** NUL-terminated at the statement's end) and *len is its length.  Returns 0,
** or -1 if there is no such statement (a programming error). */
int cf__sql_text(const char *name, const char **text, size_t *len);

/* The whole embedded file sql/<path> (NUL-terminated, static storage), or
** NULL. */
const char *cf__sql_file(const char *path);

#endif
