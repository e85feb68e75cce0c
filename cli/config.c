/*
** cli/config.c: configuration of the `clientflow` program.
**
** Precedence: a value set from a flag, then the environment, then ./.env.
** The .env file is read once, bounded (64 KiB, 256 entries), and never
** overrides the environment.
*/
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define MAX_ENTRIES 256
#define MAX_FILE (64 * 1024)

typedef struct entry {
  char name[64]; /* variable name */
  char *value;   /* heap copy, owned here for the process's life */
} entry;

static entry flags[16];           /* values from flags */
static int n_flags;               /* used entries of flags */
static entry dotenv[MAX_ENTRIES]; /* values from ./.env */
static int n_dotenv;              /* used entries of dotenv */
static int dotenv_loaded;         /* ./.env was read (or found absent) */

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t')
    s++;
  size_t n = strlen(s);
  while (n > 0 &&
         (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
    s[--n] = '\0';
  return s;
}

static void load_dotenv(void) {
  dotenv_loaded = 1;
  FILE *f = fopen(".env", "r");
  if (f == NULL) return;
  char *buf = malloc(MAX_FILE + 1);
  if (buf == NULL) {
    fclose(f);
    return;
  }
  size_t len = fread(buf, 1, MAX_FILE, f);
  fclose(f);
  buf[len] = '\0';
  char *save = NULL;
  for (char *line = strtok_r(buf, "\n", &save); line && n_dotenv < MAX_ENTRIES;
       line = strtok_r(NULL, "\n", &save)) {
    line = trim(line);
    if (*line == '#' || *line == '\0') continue;
    if (strncmp(line, "export ", 7) == 0) line = trim(line + 7);
    char *eq = strchr(line, '=');
    if (eq == NULL || eq == line || (size_t)(eq - line) >= sizeof dotenv[0].name)
      continue;
    *eq = '\0';
    char *value = trim(eq + 1);
    size_t vlen = strlen(value);
    if (vlen >= 2 && (value[0] == '"' || value[0] == '\'') &&
        value[vlen - 1] == value[0]) {
      value[vlen - 1] = '\0';
      value++;
    }
    entry *e = &dotenv[n_dotenv];
    snprintf(e->name, sizeof e->name, "%s", trim(line));
    e->value = strdup(value);
    if (e->value != NULL) n_dotenv++;
  }
  free(buf);
}

void cf_cli_config_set(const char *name, const char *value) {
  for (int i = 0; i < n_flags; i++) {
    if (strcmp(flags[i].name, name) == 0) {
      free(flags[i].value);
      flags[i].value = strdup(value);
      return;
    }
  }
  if (n_flags == (int)(sizeof flags / sizeof flags[0])) return;
  snprintf(flags[n_flags].name, sizeof flags[n_flags].name, "%s", name);
  flags[n_flags].value = strdup(value);
  n_flags++;
}

const char *cf_cli_config(const char *name) {
  for (int i = 0; i < n_flags; i++)
    if (strcmp(flags[i].name, name) == 0) return flags[i].value;
  const char *env = getenv(name);
  if (env != NULL && *env) return env;
  if (!dotenv_loaded) load_dotenv();
  for (int i = 0; i < n_dotenv; i++)
    if (strcmp(dotenv[i].name, name) == 0) return dotenv[i].value;
  return NULL;
}

int cf_cli_fail(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "clientflow %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return 1;
}

int cf_cli_is_help(const char *arg) {
  return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}
