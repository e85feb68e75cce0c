/*
** core/result.c: names of the result codes (the table is in clientflow.h).
*/
#include "clientflow.h"

const char *cf_strerror(int rc) {
  switch (rc) {
#define CF_X_CASE(name, value, msg)                                                      \
  case value:                                                                            \
    return msg;
    CF_RESULT_TABLE(CF_X_CASE)
#undef CF_X_CASE
  }
  return "unknown result code";
}

const char *cf_version(void) { return CF_VERSION_STRING; }
