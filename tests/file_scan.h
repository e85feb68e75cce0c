/*
** tests/file_scan.h: looking for a known value in the bytes of files, for
** the tests that prove a value does not survive in a replica's files
** (encryption at rest, the wipe on revocation; docs/encryption.md).
** memmem(3) needs _GNU_SOURCE defined before the first #include.
*/
#ifndef CF_TESTS_FILE_SCAN_H
#define CF_TESTS_FILE_SCAN_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "cf_test.h"
#include "platform/platform.h"

/* 1 if needle occurs in the file at path (0 also when it cannot be read). */
static inline int fscan_file_has(const char *path, const char *needle) {
  char *data = NULL;
  size_t len = 0;
  if (cf__file_read_all(path, (size_t)1 << 30, &data, &len) != CF_OK) return 0;
  int found = memmem(data, len, needle, strlen(needle)) != NULL;
  cf__free(data);
  return found;
}

/* The name of a file of dir (not a dot file) holding needle, or NULL.
** Static storage, overwritten by the next call. */
static inline const char *fscan_dir_has(const char *dir, const char *needle) {
  static char found[256];
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  const char *hit = NULL;
  struct dirent *e;
  while (hit == NULL && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char path[8192];
    int n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    CHECK(n > 0 && (size_t)n < sizeof path);
    if (fscan_file_has(path, needle)) {
      snprintf(found, sizeof found, "%s", e->d_name);
      hit = found;
    }
  }
  closedir(d);
  return hit;
}

#endif
