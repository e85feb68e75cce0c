/*
** cli/node_key.c: where `clientflow node` gets a replica's key
** (docs/encryption.md, "The clientflow program").
**
**   --key-file FILE   the key in a file only its owner may read (a file
**                     readable by its group or others is refused)
**   --ask-key         a passphrase typed at the terminal, not echoed
**   CLIENTFLOW_REPLICA_KEY   the environment (or .env)
**
** The text is a key when it is 64 hex digits (32 bytes), else a passphrase
** (one trailing newline dropped).  No source: a plain replica.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/node_key.h"
#include "clientflow.h"

#define MAX_KEY_TEXT 4096

static int hex_val(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Puts text[0..n) into opts as a key (64 hex digits) or a passphrase. */
static int use_text(cf_node_options *opts, const char *text, size_t n, const char *from) {
  while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
    n--;
  if (n == 0) return cf_cli_fail("node", "the key from %s is empty", from);
  if (n == 2 * CF_NODE_KEY_LEN) {
    unsigned char key[CF_NODE_KEY_LEN];
    int ok = 1;
    for (size_t i = 0; ok && i < CF_NODE_KEY_LEN; i++) {
      int hi = hex_val(text[2 * i]), lo = hex_val(text[2 * i + 1]);
      ok = hi >= 0 && lo >= 0;
      key[i] = (unsigned char)(hi << 4 | lo);
    }
    if (ok) {
      int rc = cf_node_options_set_key(opts, key);
      memset(key, 0, sizeof key);
      return rc == CF_OK ? 0 : cf_cli_fail("node", "%s", cf_strerror(rc));
    }
  }
  int rc = cf_node_options_set_passphrase(opts, text, n);
  return rc == CF_OK
             ? 0
             : cf_cli_fail("node", "the passphrase from %s: %s", from, cf_strerror(rc));
}

static int from_file(cf_node_options *opts, const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return cf_cli_fail("node", "cannot open the key file %s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return cf_cli_fail("node", "the key file %s is not a regular file", path);
  }
  if ((st.st_mode & 077) != 0) {
    close(fd);
    return cf_cli_fail("node",
                       "the key file %s is readable by others (mode %03o): chmod 600 it",
                       path, (unsigned)(st.st_mode & 0777));
  }
  char buf[MAX_KEY_TEXT + 1];
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  if (n < 0) return cf_cli_fail("node", "cannot read %s: %s", path, strerror(errno));
  if (n > MAX_KEY_TEXT) return cf_cli_fail("node", "the key file %s is too long", path);
  int code = use_text(opts, buf, (size_t)n, path);
  memset(buf, 0, sizeof buf);
  return code;
}

static int from_terminal(cf_node_options *opts, const char *prompt) {
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0) return cf_cli_fail("node", "no terminal to ask for the passphrase");
  struct termios old, quiet;
  if (tcgetattr(fd, &old) != 0) {
    close(fd);
    return cf_cli_fail("node", "cannot turn echo off on the terminal");
  }
  quiet = old;
  quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
  quiet.c_lflag |= ICANON;
  if (write(fd, prompt, strlen(prompt)) < 0 || tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
    close(fd);
    return cf_cli_fail("node", "cannot turn echo off on the terminal");
  }
  char buf[MAX_KEY_TEXT + 1];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  (void)tcsetattr(fd, TCSAFLUSH, &old);
  if (write(fd, "\n", 1) < 0) {
    /* The newline is cosmetic. */
  }
  close(fd);
  if (n <= 0) return cf_cli_fail("node", "no passphrase typed");
  int code = use_text(opts, buf, (size_t)n, "the terminal");
  memset(buf, 0, sizeof buf);
  return code;
}

int cf_cli_node_key(cf_node_options *opts, const char *key_file, int ask, const char *env,
                    int *keyed) {
  *keyed = 0;
  int sources = (key_file != NULL) + (ask != 0);
  if (sources > 1) return cf_cli_fail("node", "give one key source, not several");
  int code = 0;
  if (key_file != NULL) {
    code = from_file(opts, key_file);
  } else if (ask) {
    code = from_terminal(opts, "Replica passphrase: ");
  } else {
    const char *text = cf_cli_config(env);
    if (text == NULL || *text == '\0') return 0;
    code = use_text(opts, text, strlen(text), env);
  }
  if (code == 0) *keyed = 1;
  return code;
}
