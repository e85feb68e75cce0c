/*
** cli/sqltext.h: just enough of SQLite's lexical rules for `clientflow node
** sql` to split a text into statements and to tell a query from a write
** (cli/sqltext.c).  Not a parser: it knows quotes ('', "", ``, []), comments
** (--, / * * /), parentheses, words and ';'.
*/
#ifndef CF_CLI_SQLTEXT_H
#define CF_CLI_SQLTEXT_H

#include <stddef.h>

/* One statement: text[0..len) of the original string, without the ';'. */
typedef struct cf_cli_sql_span {
  const char *text; /* borrowed from the string split */
  size_t len;       /* bytes */
} cf_cli_sql_span;

/*
** Splits sql at the ';' that end statements: not inside quotes or comments,
** and inside CREATE TRIGGER only after its END.  Statements that hold only
** blanks and comments are dropped.  OUT: out[0..n).  Returns n, or -1 when
** there are more than max statements.  An unterminated quote or comment
** ends the last statement (SQLite then reports the error).
*/
int cf_cli_sql_split(const char *sql, cf_cli_sql_span *out, int max);

/* The statement's first word, uppercased into buf (cap bytes); "" if none. */
void cf_cli_sql_first_word(cf_cli_sql_span st, char *buf, size_t cap);

/* True when the word (case-insensitive) appears outside quotes, comments
** and parentheses. */
int cf_cli_sql_has_word(cf_cli_sql_span st, const char *word);

#endif
