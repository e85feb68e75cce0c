/*
** platform/assets.c: lookup in the table of embedded SQL files.
*/
#include <string.h>

#include "platform/assets.h"

const cf__asset *cf__asset_find(const char *path) {
  for (const cf__asset *a = cf__assets; a->path != NULL; a++)
    if (strcmp(a->path, path) == 0) return a;
  return NULL;
}
