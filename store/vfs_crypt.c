/*
** store/vfs_crypt.c: the replica's encrypting SQLite VFS.  Contract:
** store/vfs_crypt.h; the format and its reasons: docs/encryption.md.
**
** An instance wraps the default VFS.  Files keyed CF_KEY_NONE pass through
** untouched.  In an encrypted file every page of 4096 bytes is sealed with
** AES-256-GCM under a fresh random nonce; the last 32 bytes of each page
** (SQLite's "reserved bytes", header byte 20, which SQLite never touches)
** hold the nonce, the tag and a key check:
**
**   page offset  size  holds
**   0            16    page 1 of the database file only: the file's salt
**                      (plain; "SQLite format 3\0" is put back on read)
**   0 or 16      ...   ciphertext of the page up to offset 4064
**   4064         12    nonce (random, new at every write of the page)
**   4076         16    GCM tag over the ciphertext and the associated data
**   4092         4     key check: HMAC-SHA256(file key, "clientflow page
**                      check")[0..4), the same on every page
**
** The associated data binds a page to its place, so that a page copied to
** another page number, another WAL frame, another journal slot or another
** file fails its tag (all integers big-endian):
**
**   database page  'D' 1 0 0 | pgno u32 | salt[16]                      24 bytes
**   WAL frame      'W' 1 0 0 | frame number u32 (1-based) | frame header
**                  bytes 0..16 (page number, commit size, salt-1, salt-2)
**                  | salt[16]                                           40 bytes
**   journal page   'J' 1 0 0 0 0 0 0 | file offset u64 | salt[16]        32 bytes
**
** The WAL header (32 bytes), the frame headers (24 bytes) and the journal's
** headers, page numbers and checksums stay plain: SQLite reads them to
** find its way and they hold no row data (docs/encryption.md lists what
** they reveal).  Temporary files are refused: the connection keeps them in
** memory (temp_store=MEMORY).
*/
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "platform/platform.h"
#include "store/vfs_crypt.h"

#define PS CF_CRYPT_PAGE
#define BODY (CF_CRYPT_PAGE - CF_CRYPT_RESERVE) /* offset of the nonce */
#define TAG_AT (BODY + CF_AEAD_NONCE_LEN)       /* offset of the tag */
#define CHECK_AT (TAG_AT + CF_AEAD_TAG_LEN)     /* offset of the key check */
#define CHECK_LEN 4
#define WAL_HDR 32
#define FRAME_HDR 24
#define FRAME (FRAME_HDR + PS)
#define SALT CF_CRYPT_SALT_LEN

static const char sqlite_magic[SALT] = "SQLite format 3";

/* What kind of file an open handle is. */
enum { F_PLAIN, F_DB, F_WAL, F_JOURNAL };

/* The key material of one encrypted database file, shared with its WAL and
** journal (reference-counted: SQLite closes them in any order). */
typedef struct fkey {
  int refs;                       /* handles using it */
  cf__aead *aead;                 /* AES-256-GCM under the file key */
  unsigned char salt[SALT];       /* the file's salt (page 1, offset 0) */
  unsigned char check[CHECK_LEN]; /* the key check every page carries */
} fkey;

typedef struct cfile {
  sqlite3_file base;            /* pMethods: &crypt_io */
  cf__crypt *c;                 /* the VFS instance */
  sqlite3_file *real;           /* the wrapped file, right after this struct */
  int kind;                     /* F_PLAIN, F_DB, F_WAL, F_JOURNAL */
  fkey *key;                    /* NULL for F_PLAIN */
  const char *name;             /* F_DB: the path SQLite opened (valid until close) */
  struct cfile *next_db;        /* F_DB: next open database file of c */
  sqlite3_int64 hdr_off;        /* F_WAL: offset of the frame header in hdr, or -1 */
  unsigned char hdr[FRAME_HDR]; /* F_WAL: the last frame header written */
  unsigned char buf[FRAME + 8]; /* scratch: one frame or one page */
} cfile;

#define ROUND8(n) (((n) + 7) & ~(size_t)7)

struct cf__crypt {
  sqlite3_vfs vfs;    /* registered under name; pAppData = this */
  sqlite3_vfs *base;  /* the default VFS this one wraps */
  char name[48];      /* "cf-crypt-<address>" */
  cf__keyspec main;   /* the key of every file but the target */
  cf__keyspec target; /* the key of target_path */
  char *target_path;  /* a rekey's output file, or NULL */
  cfile *dbs;         /* open database files (for their WAL and journal) */
  int registered;     /* 1 once sqlite3_vfs_register succeeded */
  int nfiles;         /* files open through this instance */
  int doomed;         /* cf__crypt_free was called: free at the last close */
  int err;            /* CF_AUTH, CF_CORRUPT or 0 (cf__crypt_take_error) */
  char detail[256];   /* what err is about */
};

static void set_err(cf__crypt *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(cf__crypt *c, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->detail, sizeof c->detail, fmt, ap);
  va_end(ap);
  c->err = rc;
}

static void put32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

/* --- keys ------------------------------------------------------------------ */

int cf__keyspec_copy(cf__keyspec *dst, const cf__keyspec *src) {
  cf__keyspec_clear(dst);
  if (src == NULL) return CF_OK;
  dst->kind = src->kind;
  memcpy(dst->key, src->key, sizeof dst->key);
  if (src->kind == CF_KEY_PASSPHRASE) {
    dst->pass = cf__malloc(src->pass_len + 1);
    if (dst->pass == NULL) {
      cf__keyspec_clear(dst);
      return CF_NOMEM;
    }
    memcpy(dst->pass, src->pass, src->pass_len);
    dst->pass[src->pass_len] = '\0';
    dst->pass_len = src->pass_len;
  }
  return CF_OK;
}

void cf__keyspec_clear(cf__keyspec *ks) {
  if (ks->pass != NULL) {
    cf__wipe(ks->pass, ks->pass_len);
    cf__free(ks->pass);
  }
  cf__wipe(ks, sizeof *ks);
  ks->pass = NULL;
  ks->kind = CF_KEY_NONE;
}

static void fkey_release(fkey *k) {
  if (k == NULL || --k->refs > 0) return;
  cf__aead_free(k->aead);
  cf__wipe(k, sizeof *k);
  cf__free(k);
}

/* The file key from ks and salt (the raw key, or PBKDF2 of the passphrase),
** its AEAD and key check.  OUT: *out.  CF_OK, CF_NOMEM, CF_IO, CF_ERROR. */
static int fkey_make(const cf__keyspec *ks, const unsigned char salt[SALT], fkey **out) {
  static const char check_label[] = "clientflow page check";
  unsigned char key[CF_AEAD_KEY_LEN], mac[CF_HMAC_SHA256_LEN];
  int rc = CF_OK;
  *out = NULL;
  fkey *k = cf__calloc(1, sizeof *k);
  if (k == NULL) return CF_NOMEM;
  k->refs = 1;
  memcpy(k->salt, salt, SALT);
  if (ks->kind == CF_KEY_RAW)
    memcpy(key, ks->key, sizeof key);
  else
    rc = cf__pbkdf2_sha256(ks->pass, ks->pass_len, salt, SALT, CF_CRYPT_KDF_ITERATIONS,
                           key, sizeof key);
  if (rc == CF_OK)
    rc = cf__hmac_sha256(key, sizeof key, check_label, sizeof check_label - 1, mac);
  if (rc == CF_OK) rc = cf__aead_new(key, &k->aead);
  memcpy(k->check, mac, CHECK_LEN);
  cf__wipe(key, sizeof key);
  cf__wipe(mac, sizeof mac);
  if (rc != CF_OK) {
    fkey_release(k);
    return rc;
  }
  *out = k;
  return CF_OK;
}

/* --- sealing and opening one page ------------------------------------------ */

/* Seals page[skip..BODY) in place under a fresh nonce, with ad. */
static int seal_page(fkey *k, unsigned char *page, size_t skip, const unsigned char *ad,
                     size_t ad_len) {
  if (cf__aead_nonce(k->aead, page + BODY) != CF_OK) return SQLITE_IOERR_WRITE;
  if (cf__aead_seal(k->aead, page + BODY, ad, ad_len, page + skip, page + skip,
                    BODY - skip, page + TAG_AT) != CF_OK)
    return SQLITE_IOERR_WRITE;
  memcpy(page + CHECK_AT, k->check, CHECK_LEN);
  return SQLITE_OK;
}

/* Opens page[skip..BODY) in place.  CF_OK; CF_AUTH when the key check and
** the tag both fail (another key); CF_CORRUPT when only one does (the page
** was altered).  The page is zeroed on failure. */
static int open_page(fkey *k, unsigned char *page, size_t skip, const unsigned char *ad,
                     size_t ad_len) {
  int check_ok = cf__ct_equal(page + CHECK_AT, k->check, CHECK_LEN);
  int rc = cf__aead_open(k->aead, page + BODY, ad, ad_len, page + skip, page + skip,
                         BODY - skip, page + TAG_AT);
  if (rc == CF_OK && check_ok) {
    /* SQLite sees zeros where the nonce, tag and check are: it never
    ** writes there, but the WAL's checksums cover the whole page, so what
    ** it reads back must be what it wrote. */
    memset(page + BODY, 0, CF_CRYPT_RESERVE);
    return CF_OK;
  }
  memset(page, 0, PS);
  if (rc != CF_OK && rc != CF_AUTH) return rc;
  return rc == CF_AUTH && !check_ok ? CF_AUTH : CF_CORRUPT;
}

static size_t ad_db(unsigned char ad[24], const fkey *k, uint32_t pgno) {
  memset(ad, 0, 8);
  ad[0] = 'D';
  ad[1] = 1;
  put32(ad + 4, pgno);
  memcpy(ad + 8, k->salt, SALT);
  return 24;
}

static size_t ad_wal(unsigned char ad[40], const fkey *k, uint32_t frame,
                     const unsigned char *fh) {
  memset(ad, 0, 4);
  ad[0] = 'W';
  ad[1] = 1;
  put32(ad + 4, frame);
  memcpy(ad + 8, fh, 16); /* page number, commit size, salt-1, salt-2 */
  memcpy(ad + 24, k->salt, SALT);
  return 40;
}

static size_t ad_journal(unsigned char ad[32], const fkey *k, sqlite3_int64 off) {
  memset(ad, 0, 8);
  ad[0] = 'J';
  ad[1] = 1;
  put32(ad + 8, (uint32_t)((uint64_t)off >> 32));
  put32(ad + 12, (uint32_t)off);
  memcpy(ad + 16, k->salt, SALT);
  return 32;
}

/* Records an open failure for the node and returns SQLite's code for it. */
static int page_failure(cfile *f, int rc, const char *what, sqlite3_int64 where) {
  if (rc == CF_AUTH)
    set_err(f->c, CF_AUTH,
            "wrong key for the encrypted replica (%s %lld does not open "
            "under it)",
            what, (long long)where);
  else
    set_err(f->c, CF_CORRUPT,
            "the encrypted replica's %s %lld fails authentication: it "
            "was altered or damaged",
            what, (long long)where);
  return SQLITE_IOERR_AUTH;
}

/* --- the database file ----------------------------------------------------- */

static int real_read(cfile *f, void *p, int n, sqlite3_int64 off) {
  return f->real->pMethods->xRead(f->real, p, n, off);
}
static int real_write(cfile *f, const void *p, int n, sqlite3_int64 off) {
  return f->real->pMethods->xWrite(f->real, p, n, off);
}

/* A short read of the page at off: nothing there (zeros, as SQLite expects
** past the end) or a page cut short (damage). */
static int short_page(cfile *f, void *out, int amt, sqlite3_int64 page_off,
                      const char *what) {
  sqlite3_int64 size = 0;
  memset(out, 0, (size_t)amt);
  if (f->real->pMethods->xFileSize(f->real, &size) != SQLITE_OK || size <= page_off)
    return SQLITE_IOERR_SHORT_READ;
  return page_failure(f, CF_CORRUPT, what, page_off);
}

static int db_read(cfile *f, void *out, int amt, sqlite3_int64 off) {
  sqlite3_int64 page_off = off - off % PS;
  int in = (int)(off % PS);
  if (in + amt > PS) {
    set_err(f->c, CF_CORRUPT, "a read across pages of an encrypted file");
    return SQLITE_IOERR_READ;
  }
  unsigned char *page = amt == PS ? out : f->buf;
  int rc = real_read(f, page, PS, page_off);
  if (rc == SQLITE_IOERR_SHORT_READ) return short_page(f, out, amt, page_off, "page at");
  if (rc != SQLITE_OK) return rc;
  uint32_t pgno = (uint32_t)(page_off / PS) + 1;
  unsigned char ad[24];
  size_t ad_len = ad_db(ad, f->key, pgno);
  size_t skip = pgno == 1 ? SALT : 0;
  if (pgno == 1 && memcmp(page, f->key->salt, SALT) != 0) {
    memset(page, 0, PS);
    return page_failure(f, CF_CORRUPT, "salt of page", 1);
  }
  int crc = open_page(f->key, page, skip, ad, ad_len);
  if (crc != CF_OK) {
    if (page != out) memset(out, 0, (size_t)amt);
    return page_failure(f, crc, "page", pgno);
  }
  if (pgno == 1) memcpy(page, sqlite_magic, SALT);
  if (page != out) memcpy(out, page + in, (size_t)amt);
  return SQLITE_OK;
}

static int db_write(cfile *f, const void *in, int amt, sqlite3_int64 off) {
  if (amt != PS || off % PS != 0) {
    set_err(f->c, CF_CORRUPT,
            "a write of %d bytes at %lld: an encrypted file takes "
            "whole pages",
            amt, (long long)off);
    return SQLITE_IOERR_WRITE;
  }
  const unsigned char *p = in;
  uint32_t pgno = (uint32_t)(off / PS) + 1;
  if (pgno == 1 &&
      (p[16] != PS >> 8 || p[17] != (PS & 0xff) || p[20] < CF_CRYPT_RESERVE)) {
    set_err(
        f->c, CF_CORRUPT,
        "an encrypted replica needs page size %d and %d reserved bytes (found %u, %u)",
        PS, CF_CRYPT_RESERVE, (unsigned)(p[16] << 8 | p[17]), (unsigned)p[20]);
    return SQLITE_IOERR_WRITE;
  }
  memcpy(f->buf, p, PS);
  if (pgno == 1) memcpy(f->buf, f->key->salt, SALT);
  unsigned char ad[24];
  size_t ad_len = ad_db(ad, f->key, pgno);
  int rc = seal_page(f->key, f->buf, pgno == 1 ? SALT : 0, ad, ad_len);
  if (rc == SQLITE_OK) rc = real_write(f, f->buf, PS, off);
  return rc;
}

/* --- the WAL --------------------------------------------------------------- */

/* 1-based frame number whose frame starts at off, or 0 if none does. */
static uint32_t frame_at(sqlite3_int64 off) {
  if (off < WAL_HDR || (off - WAL_HDR) % FRAME != 0) return 0;
  return (uint32_t)((off - WAL_HDR) / FRAME) + 1;
}

static int frame_open(cfile *f, unsigned char *frame, uint32_t n) {
  unsigned char ad[40];
  size_t ad_len = ad_wal(ad, f->key, n, frame);
  return open_page(f->key, frame + FRAME_HDR, 0, ad, ad_len);
}

/*
** A whole frame that fails authentication while SQLite recovers the WAL:
** 1 if it may be a frame torn by a crash (no commit frame of the current
** generation after it: SQLite's own checksums end the log there, as they
** do for a torn frame of a plain WAL), 0 if a committed frame follows, so
** it was altered.
*/
static int frame_may_be_torn(cfile *f, sqlite3_int64 off) {
  unsigned char wh[WAL_HDR], h[FRAME_HDR];
  sqlite3_int64 size = 0;
  /* A generation's frames are a prefix of the file: a commit frame of the
  ** current generation after this one means this one was committed too. */
  if (real_read(f, wh, WAL_HDR, 0) != SQLITE_OK) return 0;
  if (f->real->pMethods->xFileSize(f->real, &size) != SQLITE_OK) return 0;
  for (sqlite3_int64 o = off + FRAME; o + FRAME <= size; o += FRAME) {
    if (real_read(f, h, FRAME_HDR, o) != SQLITE_OK) return 0;
    if (memcmp(h + 8, wh + 16, 8) == 0 && memcmp(h + 4, "\0\0\0\0", 4) != 0) return 0;
  }
  return 1;
}

static int wal_read(cfile *f, void *out, int amt, sqlite3_int64 off) {
  uint32_t n;
  if (amt == FRAME && (n = frame_at(off)) != 0) {
    int rc = real_read(f, out, FRAME, off);
    if (rc != SQLITE_OK) return rc;
    unsigned char *fr = out;
    unsigned char fh[FRAME_HDR];
    memcpy(fh, fr, FRAME_HDR);
    int crc = frame_open(f, fr, n);
    if (crc == CF_OK) return SQLITE_OK;
    memcpy(fr, fh, FRAME_HDR);
    if (frame_may_be_torn(f, off)) return SQLITE_OK; /* page zeroed: log ends */
    return page_failure(f, crc, "WAL frame", n);
  }
  if (amt == PS && (n = frame_at(off - FRAME_HDR)) != 0) {
    int rc = real_read(f, f->buf, FRAME, off - FRAME_HDR);
    if (rc == SQLITE_IOERR_SHORT_READ)
      return short_page(f, out, amt, off, "WAL frame at");
    if (rc != SQLITE_OK) return rc;
    int crc = frame_open(f, f->buf, n);
    if (crc != CF_OK) {
      memset(out, 0, (size_t)amt);
      return page_failure(f, crc, "WAL frame", n);
    }
    memcpy(out, f->buf + FRAME_HDR, PS);
    return SQLITE_OK;
  }
  if (amt > FRAME_HDR && !(off == 0 && amt <= WAL_HDR)) {
    set_err(f->c, CF_CORRUPT, "an unexpected WAL read (%d bytes at %lld)", amt,
            (long long)off);
    return SQLITE_IOERR_READ;
  }
  return real_read(f, out, amt, off);
}

static int wal_write(cfile *f, const void *in, int amt, sqlite3_int64 off) {
  uint32_t n;
  const unsigned char *p = in;
  if (amt == FRAME_HDR && frame_at(off) != 0) {
    memcpy(f->hdr, p, FRAME_HDR);
    f->hdr_off = off;
    return real_write(f, in, amt, off);
  }
  if (amt == FRAME && (n = frame_at(off)) != 0) {
    memcpy(f->buf, p, FRAME);
  } else if (amt == PS && (n = frame_at(off - FRAME_HDR)) != 0) {
    off -= FRAME_HDR;
    if (f->hdr_off == off) {
      memcpy(f->buf, f->hdr, FRAME_HDR);
    } else {
      int rc = real_read(f, f->buf, FRAME_HDR, off);
      if (rc != SQLITE_OK) return rc == SQLITE_IOERR_SHORT_READ ? SQLITE_IOERR_WRITE : rc;
    }
    memcpy(f->buf + FRAME_HDR, p, PS);
  } else if (off == 0 && amt <= WAL_HDR) {
    return real_write(f, in, amt, off);
  } else {
    set_err(f->c, CF_CORRUPT, "an unexpected WAL write (%d bytes at %lld)", amt,
            (long long)off);
    return SQLITE_IOERR_WRITE;
  }
  static const unsigned char zeros[CF_CRYPT_RESERVE];
  if (memcmp(f->buf + FRAME_HDR + BODY, zeros, CF_CRYPT_RESERVE) != 0) {
    /* The frame's checksum covers these bytes, which sealing replaces: the
    ** frame would not survive recovery.  Fail loudly instead. */
    set_err(f->c, CF_CORRUPT, "a WAL page with data in its reserved bytes (frame %u)", n);
    return SQLITE_IOERR_WRITE;
  }
  unsigned char ad[40];
  size_t ad_len = ad_wal(ad, f->key, n, f->buf);
  int rc = seal_page(f->key, f->buf + FRAME_HDR, 0, ad, ad_len);
  if (rc != SQLITE_OK) return rc;
  if (amt == FRAME) return real_write(f, f->buf, FRAME, off);
  return real_write(f, f->buf + FRAME_HDR, PS, off + FRAME_HDR);
}

/* --- the rollback journal -------------------------------------------------- */

/* A page record's data is the only page-sized access at an offset that is
** not a multiple of 512 (headers start at sector boundaries, page data 4
** bytes after a record's start). */
static int journal_page(int amt, sqlite3_int64 off) {
  return amt == PS && off % 512 != 0;
}

static int journal_read(cfile *f, void *out, int amt, sqlite3_int64 off) {
  int rc = real_read(f, out, amt, off);
  if (rc != SQLITE_OK || !journal_page(amt, off)) return rc;
  unsigned char ad[32];
  size_t ad_len = ad_journal(ad, f->key, off);
  int crc = open_page(f->key, out, 0, ad, ad_len);
  return crc == CF_OK ? SQLITE_OK : page_failure(f, crc, "journal page at", off);
}

static int journal_write(cfile *f, const void *in, int amt, sqlite3_int64 off) {
  if (!journal_page(amt, off)) return real_write(f, in, amt, off);
  memcpy(f->buf, in, PS);
  unsigned char ad[32];
  size_t ad_len = ad_journal(ad, f->key, off);
  int rc = seal_page(f->key, f->buf, 0, ad, ad_len);
  return rc == SQLITE_OK ? real_write(f, f->buf, PS, off) : rc;
}

/* --- io methods ------------------------------------------------------------ */

static int x_read(sqlite3_file *file, void *out, int amt, sqlite3_int64 off) {
  cfile *f = (cfile *)file;
  switch (f->kind) {
    case F_DB:
      return db_read(f, out, amt, off);
    case F_WAL:
      return wal_read(f, out, amt, off);
    case F_JOURNAL:
      return journal_read(f, out, amt, off);
    default:
      return real_read(f, out, amt, off);
  }
}

static int x_write(sqlite3_file *file, const void *in, int amt, sqlite3_int64 off) {
  cfile *f = (cfile *)file;
  switch (f->kind) {
    case F_DB:
      return db_write(f, in, amt, off);
    case F_WAL:
      return wal_write(f, in, amt, off);
    case F_JOURNAL:
      return journal_write(f, in, amt, off);
    default:
      return real_write(f, in, amt, off);
  }
}

static void destroy(cf__crypt *c);

static int x_close(sqlite3_file *file) {
  cfile *f = (cfile *)file;
  if (f->kind == F_DB) {
    for (cfile **pp = &f->c->dbs; *pp != NULL; pp = &(*pp)->next_db)
      if (*pp == f) {
        *pp = f->next_db;
        break;
      }
  }
  int rc = f->real->pMethods != NULL ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
  fkey_release(f->key);
  f->key = NULL;
  cf__wipe(f->buf, sizeof f->buf);
  cf__crypt *c = f->c;
  if (--c->nfiles == 0 && c->doomed) destroy(c);
  return rc;
}

#define REAL(file) (((cfile *)(file))->real)
static int x_truncate(sqlite3_file *file, sqlite3_int64 size) {
  return REAL(file)->pMethods->xTruncate(REAL(file), size);
}
static int x_sync(sqlite3_file *file, int flags) {
  return REAL(file)->pMethods->xSync(REAL(file), flags);
}
static int x_file_size(sqlite3_file *file, sqlite3_int64 *size) {
  return REAL(file)->pMethods->xFileSize(REAL(file), size);
}
static int x_lock(sqlite3_file *file, int lock) {
  return REAL(file)->pMethods->xLock(REAL(file), lock);
}
static int x_unlock(sqlite3_file *file, int lock) {
  return REAL(file)->pMethods->xUnlock(REAL(file), lock);
}
static int x_check_reserved(sqlite3_file *file, int *out) {
  return REAL(file)->pMethods->xCheckReservedLock(REAL(file), out);
}
static int x_file_control(sqlite3_file *file, int op, void *arg) {
  return REAL(file)->pMethods->xFileControl(REAL(file), op, arg);
}
static int x_sector_size(sqlite3_file *file) {
  return REAL(file)->pMethods->xSectorSize(REAL(file));
}
static int x_device(sqlite3_file *file) {
  return REAL(file)->pMethods->xDeviceCharacteristics(REAL(file));
}
static int x_shm_map(sqlite3_file *file, int pg, int sz, int extend, void volatile **pp) {
  return REAL(file)->pMethods->xShmMap(REAL(file), pg, sz, extend, pp);
}
static int x_shm_lock(sqlite3_file *file, int offset, int n, int flags) {
  return REAL(file)->pMethods->xShmLock(REAL(file), offset, n, flags);
}
static void x_shm_barrier(sqlite3_file *file) {
  REAL(file)->pMethods->xShmBarrier(REAL(file));
}
static int x_shm_unmap(sqlite3_file *file, int del) {
  return REAL(file)->pMethods->xShmUnmap(REAL(file), del);
}

/* Version 2: no xFetch, so SQLite never memory-maps a file (a mapping would
** hand it ciphertext). */
static const sqlite3_io_methods crypt_io = {
    2,           x_close,   x_read,     x_write,          x_truncate,     x_sync,
    x_file_size, x_lock,    x_unlock,   x_check_reserved, x_file_control, x_sector_size,
    x_device,    x_shm_map, x_shm_lock, x_shm_barrier,    x_shm_unmap,    NULL,
    NULL};

/* --- the VFS --------------------------------------------------------------- */

static const cf__keyspec *keyspec_for(cf__crypt *c, const char *db_path) {
  if (c->target_path != NULL && db_path != NULL && strcmp(db_path, c->target_path) == 0)
    return &c->target;
  return &c->main;
}

/* The key of a new database file (fresh salt) or an existing one (its salt).
** CF_OK; CF_AUTH (a plain file opened with a key), CF_CORRUPT, CF_IO... */
static int db_key(cfile *f, const cf__keyspec *ks, const char *path) {
  sqlite3_int64 size = 0;
  unsigned char salt[SALT];
  int src = f->real->pMethods->xFileSize(f->real, &size);
  if (src != SQLITE_OK) return CF_IO;
  if (size == 0) {
    if (cf__csprng(salt, SALT) != CF_OK) return CF_IO;
  } else {
    src = real_read(f, salt, SALT, 0);
    if (src != SQLITE_OK) {
      set_err(f->c, CF_CORRUPT, "%s is too short to be an encrypted replica", path);
      return CF_CORRUPT;
    }
    if (memcmp(salt, sqlite_magic, SALT) == 0) {
      set_err(f->c, CF_AUTH,
              "%s is not encrypted: open it without a key (cf_node_rekey converts it)",
              path);
      return CF_AUTH;
    }
  }
  int rc = fkey_make(ks, salt, &f->key);
  cf__wipe(salt, sizeof salt);
  return rc;
}

/* A database file without a key whose first bytes are not SQLite's: most
** likely an encrypted replica opened without its key. */
static void note_if_encrypted(cfile *f, const char *path) {
  sqlite3_int64 size = 0;
  unsigned char head[SALT];
  if (f->real->pMethods->xFileSize(f->real, &size) != SQLITE_OK || size < PS) return;
  if (real_read(f, head, SALT, 0) == SQLITE_OK && memcmp(head, sqlite_magic, SALT) != 0)
    set_err(f->c, CF_AUTH, "%s is encrypted (or not a replica): a key is needed", path);
}

static int x_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags,
                  int *out_flags) {
  cf__crypt *c = vfs->pAppData;
  cfile *f = (cfile *)file;
  memset(f, 0, sizeof *f);
  f->c = c;
  f->real = (sqlite3_file *)((char *)f + ROUND8(sizeof *f));
  f->hdr_off = -1;
  int type =
      flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_TEMP_DB | SQLITE_OPEN_TRANSIENT_DB |
               SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_TEMP_JOURNAL |
               SQLITE_OPEN_SUBJOURNAL | SQLITE_OPEN_SUPER_JOURNAL | SQLITE_OPEN_WAL);
  const char *db_path = NULL;
  if (name != NULL && type == SQLITE_OPEN_MAIN_DB) db_path = name;
  if (name != NULL && (type == SQLITE_OPEN_WAL || type == SQLITE_OPEN_MAIN_JOURNAL))
    db_path = sqlite3_filename_database(name);
  const cf__keyspec *ks = keyspec_for(c, db_path);
  cfile *db = NULL;
  if (ks->kind != CF_KEY_NONE && type != SQLITE_OPEN_MAIN_DB) {
    for (db = c->dbs; db != NULL && db_path != NULL; db = db->next_db)
      if (strcmp(db->name, db_path) == 0) break;
    if (db == NULL || db_path == NULL) {
      set_err(c, CF_CORRUPT,
              "an encrypted replica may not use temporary files (flags 0x%x)", type);
      return SQLITE_CANTOPEN;
    }
  }
  int rc = c->base->xOpen(c->base, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) return rc;
  f->base.pMethods = &crypt_io;
  c->nfiles++;
  if (ks->kind == CF_KEY_NONE) {
    f->kind = F_PLAIN;
    if (type == SQLITE_OPEN_MAIN_DB && name != NULL) note_if_encrypted(f, name);
    return SQLITE_OK;
  }
  if (type == SQLITE_OPEN_MAIN_DB) {
    int crc = db_key(f, ks, name);
    if (crc != CF_OK) {
      if (c->err == 0) set_err(c, crc, "cannot derive the key of %s", name);
      x_close(file);
      f->base.pMethods = NULL;
      return crc == CF_NOMEM ? SQLITE_NOMEM : SQLITE_CANTOPEN;
    }
    f->kind = F_DB;
    f->name = name;
    f->next_db = c->dbs;
    c->dbs = f;
    return SQLITE_OK;
  }
  f->kind = type == SQLITE_OPEN_WAL ? F_WAL : F_JOURNAL;
  f->key = db->key;
  f->key->refs++;
  return SQLITE_OK;
}

#define BASE(vfs) (((cf__crypt *)(vfs)->pAppData)->base)
static int x_delete(sqlite3_vfs *vfs, const char *name, int sync) {
  return BASE(vfs)->xDelete(BASE(vfs), name, sync);
}
static int x_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
  return BASE(vfs)->xAccess(BASE(vfs), name, flags, out);
}
static int x_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out) {
  return BASE(vfs)->xFullPathname(BASE(vfs), name, n, out);
}
static void *x_dlopen(sqlite3_vfs *vfs, const char *name) {
  return BASE(vfs)->xDlOpen(BASE(vfs), name);
}
static void x_dlerror(sqlite3_vfs *vfs, int n, char *msg) {
  BASE(vfs)->xDlError(BASE(vfs), n, msg);
}
static void (*x_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void) {
  return BASE(vfs)->xDlSym(BASE(vfs), h, sym);
}
static void x_dlclose(sqlite3_vfs *vfs, void *h) { BASE(vfs)->xDlClose(BASE(vfs), h); }
static int x_randomness(sqlite3_vfs *vfs, int n, char *out) {
  return BASE(vfs)->xRandomness(BASE(vfs), n, out);
}
static int x_sleep(sqlite3_vfs *vfs, int us) { return BASE(vfs)->xSleep(BASE(vfs), us); }
static int x_current_time(sqlite3_vfs *vfs, double *out) {
  return BASE(vfs)->xCurrentTime(BASE(vfs), out);
}
static int x_last_error(sqlite3_vfs *vfs, int n, char *out) {
  return BASE(vfs)->xGetLastError(BASE(vfs), n, out);
}
static int x_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
  return BASE(vfs)->xCurrentTimeInt64(BASE(vfs), out);
}

int cf__crypt_new(const cf__keyspec *main, cf__crypt **out) {
  *out = NULL;
  sqlite3_vfs *base = sqlite3_vfs_find(NULL);
  if (base == NULL || base->iVersion < 2) return CF_STORE;
  cf__crypt *c = cf__calloc(1, sizeof *c);
  if (c == NULL) return CF_NOMEM;
  if (cf__keyspec_copy(&c->main, main) != CF_OK) {
    cf__free(c);
    return CF_NOMEM;
  }
  snprintf(c->name, sizeof c->name, "cf-crypt-%p", (void *)c);
  c->base = base;
  sqlite3_vfs *v = &c->vfs;
  v->iVersion = 2;
  v->szOsFile = (int)(ROUND8(sizeof(cfile)) + (size_t)base->szOsFile);
  v->mxPathname = base->mxPathname;
  v->zName = c->name;
  v->pAppData = c;
  v->xOpen = x_open;
  v->xDelete = x_delete;
  v->xAccess = x_access;
  v->xFullPathname = x_full_pathname;
  v->xDlOpen = x_dlopen;
  v->xDlError = x_dlerror;
  v->xDlSym = x_dlsym;
  v->xDlClose = x_dlclose;
  v->xRandomness = x_randomness;
  v->xSleep = x_sleep;
  v->xCurrentTime = x_current_time;
  v->xGetLastError = x_last_error;
  v->xCurrentTimeInt64 = x_current_time64;
  if (sqlite3_vfs_register(v, 0) != SQLITE_OK) {
    cf__crypt_free(c);
    return CF_STORE;
  }
  c->registered = 1;
  *out = c;
  return CF_OK;
}

/* A connection that still has statements when it is closed lives on as a
** "zombie" until the last one is finalized, and its files with it: the
** instance is freed when both the owner and the last file are done. */
void cf__crypt_free(cf__crypt *c) {
  if (c == NULL) return;
  if (c->registered) sqlite3_vfs_unregister(&c->vfs);
  c->registered = 0;
  c->doomed = 1;
  if (c->nfiles == 0) destroy(c);
}

static void destroy(cf__crypt *c) {
  cf__keyspec_clear(&c->main);
  cf__keyspec_clear(&c->target);
  cf__free(c->target_path);
  cf__wipe(c, sizeof *c);
  cf__free(c);
}

const char *cf__crypt_vfs_name(const cf__crypt *c) { return c->name; }

int cf__crypt_set_target(cf__crypt *c, const char *path, const cf__keyspec *target) {
  cf__free(c->target_path);
  c->target_path = NULL;
  cf__keyspec_clear(&c->target);
  if (path == NULL) return CF_OK;
  /* SQLite opens files by their full path name: compare with that. */
  int cap = c->base->mxPathname + 1;
  c->target_path = cf__malloc((size_t)cap);
  if (c->target_path == NULL) return CF_NOMEM;
  if (c->base->xFullPathname(c->base, path, cap, c->target_path) != SQLITE_OK)
    snprintf(c->target_path, (size_t)cap, "%s", path);
  return cf__keyspec_copy(&c->target, target);
}

int cf__crypt_set_main(cf__crypt *c, const cf__keyspec *ks) {
  return cf__keyspec_copy(&c->main, ks);
}

int cf__crypt_encrypted(const cf__crypt *c) { return c->main.kind != CF_KEY_NONE; }

int cf__crypt_take_error(cf__crypt *c, char *msg, size_t cap) {
  int rc = c->err;
  if (rc != 0 && msg != NULL && cap > 0) snprintf(msg, cap, "%s", c->detail);
  c->err = 0;
  c->detail[0] = '\0';
  return rc;
}
