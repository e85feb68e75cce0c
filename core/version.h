/*
** core/version.h: node ids and column versions (internal).  Design:
** docs/sync.md, "Versions".
**
** Every column of every row carries the version of the write that set it: the
** writer's HLC timestamp and the writer's node id.  A version is kept and
** sent in one 24-byte form:
**
**   offset  size  field
**   0       8     HLC timestamp, big-endian (core/hlc.h)
**   8       16    node id (random UUID bytes)
**
** so comparing two encoded versions with memcmp() orders them by HLC, ties
** broken by node id, which is exactly the last-writer-wins order.  The all-zero
** version is "never written" and orders before every real version.  cf_ver
** holds the encoded bytes, so a version read from SQLite or the wire is used as
** it is, without decoding.
*/
#ifndef CF_VERSION_H
#define CF_VERSION_H

#include <stddef.h>
#include <stdint.h>

#include "clientflow.h"
#include "core/hlc.h"

#define CF_NODE_ID_LEN 16
#define CF_VER_LEN 24
/* Room for cf__ver_format: 16 hex digits, '-', 32 hex digits, NUL. */
#define CF_VER_TEXT_LEN 50
/* Room for cf__node_id_format: canonical UUID text plus NUL. */
#define CF_NODE_ID_TEXT_LEN 37

/* A node id: 16 random bytes, shown as a UUID. */
typedef struct cf_nodeid {
  unsigned char b[CF_NODE_ID_LEN]; /* the id's bytes */
} cf_nodeid;

/* A column version in its storage/wire form (layout above). */
typedef struct cf_ver {
  unsigned char b[CF_VER_LEN]; /* 8-byte big-endian HLC, then the node id */
} cf_ver;

/* CONSTRUCTOR.  A new random node id (a version-4 UUID from cf__random).
** OUT: *out.  CF_OK or CF_IO if the random source failed. */
int cf__node_id_generate(cf_nodeid *out) CF_WARN_UNUSED;

/* Canonical lowercase UUID text of id into out[CF_NODE_ID_TEXT_LEN]. */
void cf__node_id_format(const cf_nodeid *id, char out[CF_NODE_ID_TEXT_LEN]);

/* Parses canonical UUID text (s[0..len), see cf__uuid_parse).  CF_OK or
** CF_INVALID.  OUT: *out. */
int cf__node_id_parse(const char *s, size_t len, cf_nodeid *out) CF_WARN_UNUSED;

/* The version (hlc, node).  OUT: *out. */
void cf__ver_make(cf_hlc hlc, const cf_nodeid *node, cf_ver *out);

/* The HLC part and the node part of v.  OUT: node (may be NULL). */
cf_hlc cf__ver_hlc(const cf_ver *v);
void cf__ver_node(const cf_ver *v, cf_nodeid *node);

/* Encodes/decodes the 24-byte form (a plain copy, given for symmetry with
** callers holding raw bytes).  cf__ver_decode returns CF_INVALID if len is
** not CF_VER_LEN. */
void cf__ver_encode(const cf_ver *v, unsigned char out[CF_VER_LEN]);
int cf__ver_decode(const void *bytes, size_t len, cf_ver *out) CF_WARN_UNUSED;

/* Orders versions: <0, 0, >0 as a is older than, the same as, or newer than
** b.  Same as memcmp of the encoded forms. */
int cf__ver_cmp(const cf_ver *a, const cf_ver *b);

/* Non-zero if v is the all-zero "never written" version. */
int cf__ver_is_zero(const cf_ver *v);

/* The oldest real version: HLC 1, node all zero.  The master gives it to a
** stored cell that has no usable version (docs/master-sync.md, "Pull"), so
** every replica receives the same cell and any real write wins over it. */
cf_ver cf__ver_floor(void);

/* Debugging text "<16 hex HLC>-<32 hex node>" into out[CF_VER_TEXT_LEN],
** which orders like the version.  Returns out. */
char *cf__ver_format(const cf_ver *v, char out[CF_VER_TEXT_LEN]);

/* Parses the cf__ver_format text (hex digits in either case).  CF_OK or
** CF_INVALID.  OUT: *out. */
int cf__ver_parse(const char *s, size_t len, cf_ver *out) CF_WARN_UNUSED;

#endif /* CF_VERSION_H */
