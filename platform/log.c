/*
** platform/log.c: structured log lines on stderr.
**
** One line per event: `ts=... level=... ` followed by the caller's text, which
** by convention is `msg="..." key=value ...` so that operators can grep and
** parse it.  Lines are written with one write so concurrent processes do not
** interleave within a line.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "platform/platform.h"

static int level_set;                        /* set explicitly or from env */
static cf_log_level min_level = CF_LOG_INFO; /* lines below are dropped */

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void cf__log_set_level(cf_log_level level) {
  min_level = level;
  level_set = 1;
}

static void init_level_from_env(void) {
  level_set = 1;
  const char *env = getenv("CF_LOG_LEVEL");
  if (env == NULL) return;
  for (int i = 0; i < 4; i++)
    if (strcmp(env, level_names[i]) == 0) min_level = (cf_log_level)i;
}

void cf__log(cf_log_level level, const char *fmt, ...) {
  if (!level_set) init_level_from_env();
  if (level < min_level) return;
  char line[2048];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, ts.tv_nsec / 1000000, level_names[level]);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, len);
  (void)w;
}
