/*
** tests/fuzz/fuzz_inputs.h: the input layouts the fuzz targets share with
** their seed generator (tests/fuzz/corpus_gen.c), so that the checked-in
** seeds mean what the targets read.  Header-only (static inline).  Fuzzing
** is described in docs/testing.md, "Fuzzing".
**
**   target             input
**   fuzz_frame_decode  the frame's bytes
**   fuzz_replica_apply the bytes of a CHANGES frame for the replica of ORG
**   fuzz_jwt_verify    byte 0 % 4 = JWT_MODE_*, then the mode's text
**   fuzz_json_canon    byte 0 < 3: cf_json_expect, then the JSON text;
**                      byte 0 >= 3: value mode: column (byte 0 - 3) % the
**                      number of fuzz_value_column()s, byte 1 % 5 the
**                      cf_value_kind, then the payload (8 bytes big-endian
**                      for INT and REAL, the bytes for TEXT and BLOB)
**   fuzz_rest_params   byte 0 % 7 = REST_* parser, (byte 0 / 7) % 5 the
**                      cursor's list; then the text (cut at its first NUL)
**   fuzz_server_session byte 0 flags (bit 0: a valid HELLO first; bit 1:
**                      jobs fail as if the database were down), then
**                      records: 2-byte big-endian length, that many bytes
**                      (one frame; length 0: the deadline fires)
*/
#ifndef CF_FUZZ_INPUTS_H
#define CF_FUZZ_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/schema.h"

/* The fixed wall clock of every target (2027-01-15T08:00:00Z), in ms. */
#define FUZZ_NOW_MS INT64_C(1800000000000)
/* The org and user of the replica fuzz_replica_apply opens. */
#define FUZZ_ORG "0190f1a2-0000-7000-8000-00000000a001"
#define FUZZ_OTHER_ORG "0190f1a2-0000-7000-8000-00000000a002"
#define FUZZ_USER "0190f1a2-0000-7000-8000-00000000b001"
/* The HS256 secret fuzz_jwt_verify's verifier holds (as in test_jwt.c). */
#define FUZZ_SECRET "super-secret-jwt-token-with-at-least-32-characters-long"
/* The ES256 key it also holds: RFC 7515 appendix A.3's public key. */
#define FUZZ_JWKS                                                                        \
  "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"a3\","                         \
  "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","                               \
  "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}"

/* fuzz_jwt_verify's modes (byte 0 % 4). */
enum {
  JWT_MODE_RAW = 0,     /* the rest is the token text, verified as is */
  JWT_MODE_SIGNED = 1,  /* header JSON, a NUL, payload JSON: signed HS256
                           with FUZZ_SECRET, so the claims are parsed */
  JWT_MODE_PAYLOAD = 2, /* payload JSON under {"alg":"HS256","typ":"JWT"} */
  JWT_MODE_JWKS = 3     /* a JWKS document for cf_auth_add_jwks */
};

/* fuzz_rest_params's parsers (byte 0 % 7). */
enum {
  REST_CURSOR = 0,
  REST_LIMIT = 1,
  REST_DAYS = 2,
  REST_UUID = 3,
  REST_STAGE = 4,
  REST_TIME = 5,
  REST_BEARER = 6
};
#define REST_NPARSERS 7

/* Extra columns of types or parameters no table uses, so the value
** canonicaliser is fuzzed for every type it supports. */
static const cf_column fuzz_extra_columns[] = {
    {"big", CF_TYPE_BIGINT, 0, 0, 1, 0, 0, CF_DEFAULT_NONE, NULL, NULL},
    {"wide", CF_TYPE_NUMERIC, 38, 10, 1, 0, 0, CF_DEFAULT_NONE, NULL, NULL},
    {"whole", CF_TYPE_NUMERIC, 5, 0, 0, 0, 0, CF_DEFAULT_NONE, NULL, NULL},
    {"frac", CF_TYPE_NUMERIC, 3, 3, 1, 0, 0, CF_DEFAULT_NONE, NULL, NULL},
};
#define FUZZ_NEXTRA (sizeof fuzz_extra_columns / sizeof fuzz_extra_columns[0])

/* The number of columns fuzz_value_column() numbers: every column of every
** table in table order, then the extras. */
static inline unsigned fuzz_value_ncolumns(void) {
  unsigned n = 0;
  for (unsigned t = 0; t < CF_SCHEMA_NTABLES; t++)
    n += cf__schema_table(t)->ncols;
  return n + (unsigned)FUZZ_NEXTRA;
}

/* Column i (0..fuzz_value_ncolumns()-1) of that numbering. */
static inline const cf_column *fuzz_value_column(unsigned i) {
  for (unsigned t = 0; t < CF_SCHEMA_NTABLES; t++) {
    const cf_table *tb = cf__schema_table(t);
    if (i < tb->ncols) return &tb->cols[i];
    i -= tb->ncols;
  }
  return &fuzz_extra_columns[i % FUZZ_NEXTRA];
}

#endif /* CF_FUZZ_INPUTS_H */
