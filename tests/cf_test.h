/*
** tests/cf_test.h: the test runner shared by every test executable.
**
** A test file defines tests with CF_TEST(name) { ... }.  The build (see
** cmake/tests.cmake) finds every CF_TEST(name) in the file and registers one
** ctest test per name that runs `<exe> <name>`; run the executable with no
** argument to run all of its tests.  Checks abort the current test on the
** first failure with file, line and the failed expression.
**
** Randomised tests take their seed from cf_test_seed(), which reads
** CF_TEST_SEED from the environment or picks one, and always prints it, so a
** failure can be replayed with CF_TEST_SEED=<seed>.
*/
#ifndef CF_TEST_H
#define CF_TEST_H

#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct cf_test_case {
  const char *name;          /* the test's name, as ctest shows it */
  void (*fn)(void);          /* the test body */
  struct cf_test_case *next; /* registration list */
} cf_test_case;

void cf_test_register(cf_test_case *tc);
void cf_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

#define CF_TEST(name)                                                                    \
  static void name(void);                                                                \
  static cf_test_case name##_case = {#name, name, NULL};                                 \
  __attribute__((constructor)) static void name##_register(void) {                       \
    cf_test_register(&name##_case);                                                      \
  }                                                                                      \
  static void name(void)

#define CHECK(cond)                                                                      \
  do {                                                                                   \
    if (!(cond)) cf_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                   \
  } while (0)

#define CHECK_MSG(cond, ...)                                                             \
  do {                                                                                   \
    if (!(cond)) cf_test_fail(__FILE__, __LINE__, __VA_ARGS__);                          \
  } while (0)

#define CHECK_EQ(a, b)                                                                   \
  do {                                                                                   \
    long long cf_a_ = (long long)(a), cf_b_ = (long long)(b);                            \
    if (cf_a_ != cf_b_)                                                                  \
      cf_test_fail(__FILE__, __LINE__, "CHECK_EQ(%s, %s): %lld != %lld", #a, #b, cf_a_,  \
                   cf_b_);                                                               \
  } while (0)

#define CHECK_STR(a, b)                                                                  \
  do {                                                                                   \
    const char *cf_a_ = (a), *cf_b_ = (b);                                               \
    if (cf_a_ == NULL || cf_b_ == NULL || strcmp(cf_a_, cf_b_) != 0)                     \
      cf_test_fail(__FILE__, __LINE__, "CHECK_STR(%s, %s): \"%s\" != \"%s\"", #a, #b,    \
                   cf_a_ ? cf_a_ : "(null)", cf_b_ ? cf_b_ : "(null)");                  \
  } while (0)

/* rc must be CF_OK; prints the code's name otherwise. */
#define CHECK_OK(expr)                                                                   \
  do {                                                                                   \
    int cf_rc_ = (expr);                                                                 \
    if (cf_rc_ != 0)                                                                     \
      cf_test_fail(__FILE__, __LINE__, "%s returned %d (%s)", #expr, cf_rc_,             \
                   cf_strerror(cf_rc_));                                                 \
  } while (0)

/* The seed for this run (CF_TEST_SEED or a fresh one), printed once. */
uint64_t cf_test_seed(void);
/* A small deterministic generator (splitmix64) for randomised tests. */
uint64_t cf_test_rand(uint64_t *state);

/*
** A fresh empty directory for this test under the build tree (or TMPDIR),
** removed with its contents when the test passes.  Static storage, valid for
** the rest of the test.
*/
const char *cf_test_tmpdir(void);

/*
** PostgreSQL for integration tests.  cf_test_pg_createdb makes a new database
** named after the running test from the migrated template, returns its
** connection string (static storage, valid until the next call) and drops it
** when the test ends.  cf_test_pg_conninfo names an existing database.
*/
const char *cf_test_pg_createdb(void);
const char *cf_test_pg_conninfo(const char *dbname);

/* The name of the running test. */
const char *cf_test_name(void);

#endif /* CF_TEST_H */
