/*
** platform/assets.c: lookup in the table of embedded SQL files, and of the
** named statements inside them (the format is in platform/assets.h).
**
** Lookups are linear scans: the files are small and the callers look a
** statement up once per prepared statement or command.
*/
#include <string.h>

#include "platform/assets.h"

const cf__asset *cf__asset_find(const char *path) {
  for (const cf__asset *a = cf__assets; a->path != NULL; a++)
    if (strcmp(a->path, path) == 0) return a;
  return NULL;
}

/* 1 if the line at p (before end) starts with the marker. */
static int is_marker(const char *p, const char *end) {
  size_t mlen = sizeof CF_SQL_NAME_MARKER - 1;
  return (size_t)(end - p) >= mlen && memcmp(p, CF_SQL_NAME_MARKER, mlen) == 0;
}

/* The start of the line after the one at p (end if none). */
static const char *next_line(const char *p, const char *end) {
  const char *nl = memchr(p, '\n', (size_t)(end - p));
  return nl != NULL ? nl + 1 : end;
}

int cf__asset_statement(const char *path, const char *name, const char **text,
                        size_t *len) {
  const cf__asset *a = cf__asset_find(path);
  if (a == NULL) return CF_NOTFOUND;
  size_t name_len = strlen(name), mlen = sizeof CF_SQL_NAME_MARKER - 1;
  const char *end = a->data + a->len;
  for (const char *p = a->data; p < end; p = next_line(p, end)) {
    if (!is_marker(p, end)) continue;
    const char *next = next_line(p, end);
    size_t line_len = (size_t)(next - p) - (next > p && next[-1] == '\n');
    if (line_len != mlen + name_len || memcmp(p + mlen, name, name_len) != 0) continue;
    const char *stop = next;
    while (stop < end && !is_marker(stop, end))
      stop = next_line(stop, end);
    *text = next;
    *len = (size_t)(stop - next);
    return CF_OK;
  }
  return CF_NOTFOUND;
}
