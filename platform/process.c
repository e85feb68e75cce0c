/*
** platform/process.c: child processes, directories and ports (see
** platform/process.h).  POSIX; the only file of the project that forks.
*/
#include "platform/process.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "platform/platform.h"

/* Longest argument vector cf__proc_run accepts (plus the runuser prefix). */
#define MAX_ARGS 64

int cf__proc_is_root(void) { return geteuid() == 0; }

const char *cf__tmp_dir(void) {
  const char *t = getenv("TMPDIR");
  return (t != NULL && *t == '/') ? t : "/tmp";
}

int cf__file_is_executable(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* In the child: wire up stdio and exec; never returns. */
static void exec_child(const char *const *argv, const char *log_path) {
  int in = open("/dev/null", O_RDONLY);
  int out = log_path ? open(log_path, O_WRONLY | O_APPEND | O_CREAT, 0644)
                     : open("/dev/null", O_WRONLY);
  if (in < 0 || out < 0) _exit(127);
  if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
      dup2(out, STDERR_FILENO) < 0)
    _exit(127);
  close(in);
  close(out);
  /* execvp: argv is not modified by exec; the cast drops const only. */
  execvp(argv[0], (char *const *)argv);
  _exit(127);
}

int cf__proc_run(const char *const *argv, const char *as_user, const char *log_path,
                 int *exit_status) {
  const char *full[MAX_ARGS + 5];
  size_t n = 0, k = 0;
  *exit_status = -1;
  while (argv[n] != NULL)
    n++;
  if (n == 0 || n > MAX_ARGS) return CF_INVALID;
  if (as_user != NULL && cf__proc_is_root()) {
    full[k++] = "runuser";
    full[k++] = "-u";
    full[k++] = as_user;
    full[k++] = "--";
  }
  for (size_t i = 0; i < n; i++)
    full[k++] = argv[i];
  full[k] = NULL;

  pid_t pid = fork();
  if (pid < 0) return CF_IO;
  if (pid == 0) exec_child(full, log_path);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return CF_IO;
  }
  if (WIFEXITED(status))
    *exit_status = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    *exit_status = 128 + WTERMSIG(status);
  /* 127: exec failed (no such program) as the shell reports it. */
  return *exit_status == 127 ? CF_IO : CF_OK;
}

int cf__dir_make_temp(const char *parent, const char *prefix, char **out, char *err,
                      size_t errlen) {
  *out = NULL;
  char *path = cf__mprintf("%s/%sXXXXXX", parent, prefix);
  if (path == NULL) return CF_NOMEM;
  if (mkdtemp(path) == NULL) {
    if (err != NULL)
      snprintf(err, errlen, "cannot create a directory in %s: %s", parent,
               strerror(errno));
    cf__free(path);
    return CF_IO;
  }
  *out = path;
  return CF_OK;
}

int cf__dir_make(const char *path) { return mkdir(path, 0700) == 0 ? CF_OK : CF_IO; }

int cf__path_give_to_user(const char *path, const char *user) {
  struct passwd pw, *found = NULL;
  char buf[4096];
  if (getpwnam_r(user, &pw, buf, sizeof buf, &found) != 0 || found == NULL)
    return CF_NOTFOUND;
  return chown(path, pw.pw_uid, pw.pw_gid) == 0 ? CF_OK : CF_IO;
}

int cf__tree_remove(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? CF_OK : CF_IO;
  if (!S_ISDIR(st.st_mode)) return unlink(path) == 0 ? CF_OK : CF_IO;
  int rc = CF_OK;
  DIR *d = opendir(path);
  if (d == NULL) return CF_IO;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char *child = cf__mprintf("%s/%s", path, e->d_name);
    if (child == NULL) {
      rc = CF_NOMEM;
      break;
    }
    if (cf__tree_remove(child) != CF_OK) rc = CF_IO;
    cf__free(child);
  }
  closedir(d);
  if (rc == CF_OK && rmdir(path) != 0) rc = CF_IO;
  return rc;
}

int cf__port_free_loopback(int *port) {
  *port = 0;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return CF_IO;
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int rc = CF_IO;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
      getsockname(fd, (struct sockaddr *)&addr, &len) == 0) {
    *port = ntohs(addr.sin_port);
    rc = CF_OK;
  }
  close(fd);
  return rc;
}

void cf__file_last_line(const char *path, char *buf, size_t len) {
  char tail[4096];
  if (len == 0) return;
  buf[0] = '\0';
  FILE *f = fopen(path, "r");
  if (f == NULL) return;
  if (fseek(f, 0, SEEK_END) == 0) {
    long size = ftell(f);
    long from = size > (long)sizeof tail - 1 ? size - (long)sizeof tail + 1 : 0;
    if (fseek(f, from, SEEK_SET) != 0) from = -1;
    size_t n = from < 0 ? 0 : fread(tail, 1, sizeof tail - 1, f);
    tail[n] = '\0';
    while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == '\r' || tail[n - 1] == ' '))
      tail[--n] = '\0';
    char *start = strrchr(tail, '\n');
    snprintf(buf, len, "%s", start ? start + 1 : tail);
  }
  fclose(f);
}

static volatile sig_atomic_t caught; /* the signal caught, 0 if none */

static void on_signal(int sig) { caught = sig; }

void cf__interrupt_catch(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  /* A closed stdout (`clientflow demo | head`) must not kill the cleanup. */
  sigaction(SIGPIPE, &sa, NULL);
}

int cf__interrupted(void) { return (int)caught; }

int cf__proc_spawn_detached(const char *const *argv, const char *const *env_add,
                            const char *log_path, int *pid_out) {
  *pid_out = 0;
  pid_t pid = fork();
  if (pid < 0) return CF_IO;
  if (pid == 0) {
    /* A session of its own: it outlives this process and its terminal. */
    if (setsid() < 0) _exit(127);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    for (size_t i = 0; env_add != NULL && env_add[i] != NULL; i++) {
      const char *eq = strchr(env_add[i], '=');
      if (eq == NULL) continue;
      char name[128];
      size_t n = (size_t)(eq - env_add[i]);
      if (n >= sizeof name) continue;
      memcpy(name, env_add[i], n);
      name[n] = '\0';
      setenv(name, eq + 1, 1);
    }
    exec_child(argv, log_path);
  }
  *pid_out = (int)pid;
  return CF_OK;
}

const char *cf__self_exe(void) {
  static char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return NULL;
  path[n] = '\0';
  return path;
}
