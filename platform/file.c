/*
** platform/file.c: reading small files whole (key files, JWKS), bounded.
*/
#include <stdio.h>

#include "platform/platform.h"

int cf__file_read_all(const char *path, size_t max, char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL) return CF_IO;
  int rc = CF_OK;
  char *buf = cf__malloc(max + 1);
  if (buf == NULL) {
    rc = CF_NOMEM;
    goto out;
  }
  size_t n = fread(buf, 1, max + 1, f);
  if (ferror(f)) {
    rc = CF_IO;
    goto out;
  }
  if (n > max) {
    rc = CF_TOOBIG;
    goto out;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  buf = NULL;
out:
  fclose(f);
  cf__free(buf);
  return rc;
}
