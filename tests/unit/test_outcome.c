/*
** tests/unit/test_outcome.c: the one table of push outcomes (core/outcome.h)
** gives every spelling -- wire value, name, meaning, the replica's result
** code -- and the codec carries every reason.
*/
#include <string.h>

#include "cf_test.h"
#include "core/codec.h"
#include "core/outcome.h"

CF_TEST(test_outcome_every_reason_has_a_name_meaning_and_result) {
  static const unsigned reasons[] = {
#define X(name, value, rc, text, meaning) value,
      CF_REJECT_REASON_TABLE(X)
#undef X
  };
  for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
    unsigned r = reasons[i];
    CHECK(strcmp(cf__reject_reason_name(r), "unknown") != 0);
    CHECK(cf__reject_reason_meaning(r)[0] != '\0');
    if (r != CF_REASON_NONE) CHECK(cf__reject_reason_result(r) != CF_OK);
    for (size_t k = 0; k < i; k++)
      CHECK(reasons[k] != r); /* values distinct */
  }
  CHECK_STR(cf__reject_reason_name(CF_REASON_FOREIGN_KEY), "foreign_key");
  CHECK_EQ(cf__reject_reason_result(CF_REASON_FOREIGN_KEY), CF_CONSTRAINT);
  CHECK_EQ(cf__reject_reason_result(CF_REASON_REVOKED), CF_PERMISSION);
  CHECK_STR(cf__reject_reason_name(200), "unknown");
  CHECK_EQ(cf__reject_reason_result(200), CF_ERROR);
  CHECK_STR(cf__push_status_name(CF_PUSH_SUPERSEDED), "superseded");
  CHECK_STR(cf__push_status_name(7), "unknown");
}

CF_TEST(test_outcome_push_result_round_trips_every_reason) {
#define X(name, value, rc, text, meaning)                                                \
  if (value != 0) {                                                                      \
    cf_push_result res = {1, CF_PUSH_REJECTED, value, {"m", 1}};                         \
    cf_push_reply reply = {7, 9, &res, 1};                                               \
    cf_buf b;                                                                            \
    cf__buf_init(&b, 4096);                                                              \
    CHECK_OK(cf__encode_push_result(&reply, &b));                                        \
    cf_frame f;                                                                          \
    char err[256];                                                                       \
    CHECK_OK(cf__frame_decode((const uint8_t *)b.p, b.len, NULL, &f, err, sizeof err));  \
    CHECK_EQ(f.u.push_result.results[0].reason, value);                                  \
    cf__frame_free(&f);                                                                  \
    cf__buf_free(&b);                                                                    \
  }
  CF_REJECT_REASON_TABLE(X)
#undef X
}
