/*
** store/vfs_crypt.h: the replica's encrypting SQLite VFS (internal).
** The format, byte by byte, and the reasons behind it: docs/encryption.md;
** the implementation: store/vfs_crypt.c.
**
** Every replica connection is opened through its own instance of this VFS,
** registered under a unique name and wrapping the default VFS.  A file it
** opens is either plain (passed through untouched) or encrypted page by page
** with AES-256-GCM (core/crypto.h), depending on the key the instance holds
** for that file: the "main" key for the replica and everything attached to
** it (the revocation export), and a "target" key for the one file a rekey
** or conversion writes.
*/
#ifndef CF_VFS_CRYPT_H
#define CF_VFS_CRYPT_H

#include <stddef.h>
#include <stdint.h>

#include "clientflow.h"

#define CF_CRYPT_PAGE 4096   /* the only page size of an encrypted file */
#define CF_CRYPT_RESERVE 32  /* bytes at the end of every page: nonce, tag, check */
#define CF_CRYPT_SALT_LEN 16 /* bytes of the per-file salt (file offset 0) */
#define CF_CRYPT_KDF_ITERATIONS 600000u /* PBKDF2-HMAC-SHA256 rounds for a passphrase */

/* How a file is keyed: not at all, a 256-bit key, or a passphrase. */
typedef struct cf__keyspec {
  int kind;              /* CF_KEY_NONE, CF_KEY_RAW or CF_KEY_PASSPHRASE */
  unsigned char key[32]; /* CF_KEY_RAW: the key */
  char *pass;            /* CF_KEY_PASSPHRASE: the passphrase (cf__malloc'd) */
  size_t pass_len;       /* its length in bytes */
} cf__keyspec;

enum { CF_KEY_NONE = 0, CF_KEY_RAW = 1, CF_KEY_PASSPHRASE = 2 };

/* Copies src into dst (the passphrase duplicated).  CF_OK or CF_NOMEM. */
int cf__keyspec_copy(cf__keyspec *dst, const cf__keyspec *src) CF_WARN_UNUSED;
/* Wipes and frees what ks holds; ks becomes CF_KEY_NONE. */
void cf__keyspec_clear(cf__keyspec *ks);

typedef struct cf__crypt cf__crypt;

/*
** CONSTRUCTOR.  Registers a new VFS instance whose main key is a copy of
** main (CF_KEY_NONE: plain files).  OUT: *out, NULL on failure; freed with
** cf__crypt_free after the last connection using it is closed.  CF_OK,
** CF_NOMEM, CF_STORE.
*/
int cf__crypt_new(const cf__keyspec *main, cf__crypt **out) CF_WARN_UNUSED;

/* DESTRUCTOR.  Unregisters the VFS and wipes its keys.  NULL is fine. */
void cf__crypt_free(cf__crypt *c);

/* The name to pass to sqlite3_open_v2; owned by c. */
const char *cf__crypt_vfs_name(const cf__crypt *c);

/*
** METHOD.  Files whose database path is path (a copy is kept; NULL: none)
** are keyed with target from now on instead of the main key.  CF_OK or
** CF_NOMEM.
*/
int cf__crypt_set_target(cf__crypt *c, const char *path,
                         const cf__keyspec *target) CF_WARN_UNUSED;

/* METHOD.  The main key becomes a copy of ks.  CF_OK or CF_NOMEM. */
int cf__crypt_set_main(cf__crypt *c, const cf__keyspec *ks) CF_WARN_UNUSED;

/* 1 if the main key encrypts (raw key or passphrase). */
int cf__crypt_encrypted(const cf__crypt *c);

/*
** METHOD.  The last failure the VFS saw that SQLite can only report as an
** I/O error: CF_AUTH (wrong key, or a plain file opened with a key, or an
** encrypted one without) or CF_CORRUPT (a page that fails authentication
** under the right key), with its detail copied into msg[cap]; 0 when none.
** Clears it.
*/
int cf__crypt_take_error(cf__crypt *c, char *msg, size_t cap);

#endif /* CF_VFS_CRYPT_H */
