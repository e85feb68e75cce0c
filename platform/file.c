/*
** platform/file.c: reading small files whole (key files, JWKS), bounded;
** the replica's file modes and renames (store/node_crypt.c).
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

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

int cf__file_make_private(const char *path) {
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return CF_IO;
  struct stat st;
  int rc = fstat(fd, &st) == 0 ? CF_OK : CF_IO;
  if (rc == CF_OK && (st.st_mode & 077) != 0 && fchmod(fd, st.st_mode & 0700) != 0)
    rc = CF_IO;
  close(fd);
  return rc;
}

int cf__file_rename(const char *from, const char *to) {
  return rename(from, to) == 0 ? CF_OK : CF_IO;
}

int cf__file_remove(const char *path) {
  return unlink(path) == 0 || errno == ENOENT ? CF_OK : CF_IO;
}

int cf__file_exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}
