/*
** core/outcome.c: names, meanings and result codes of push outcomes, from
** the tables of core/outcome.h.
*/
#include "core/outcome.h"

const char *cf__push_status_name(unsigned status) {
  switch (status) {
#define CF_X_(name, value, text, meaning)                                                \
  case value:                                                                            \
    return text;
    CF_PUSH_STATUS_TABLE(CF_X_)
#undef CF_X_
  }
  return "unknown";
}

const char *cf__reject_reason_name(unsigned reason) {
  switch (reason) {
#define CF_X_(name, value, rc, text, meaning)                                            \
  case value:                                                                            \
    return text;
    CF_REJECT_REASON_TABLE(CF_X_)
#undef CF_X_
  }
  return "unknown";
}

const char *cf__reject_reason_meaning(unsigned reason) {
  switch (reason) {
#define CF_X_(name, value, rc, text, meaning)                                            \
  case value:                                                                            \
    return meaning;
    CF_REJECT_REASON_TABLE(CF_X_)
#undef CF_X_
  }
  return "";
}

int cf__reject_reason_result(unsigned reason) {
  switch (reason) {
#define CF_X_(name, value, rc, text, meaning)                                            \
  case value:                                                                            \
    return rc;
    CF_REJECT_REASON_TABLE(CF_X_)
#undef CF_X_
  }
  return CF_ERROR;
}
