/*
** platform/process.h: child processes, directories and ports (internal).
**
** The OS calls behind `clientflow demo`'s private PostgreSQL (see
** sync/master/pg_cluster.c): fork/exec/wait of a program, optionally as another
** user through runuser(1) when running as root; temporary directories and
** their removal; a free loopback TCP port.  Nothing here knows PostgreSQL.
*/
#ifndef CF_PLATFORM_PROCESS_H
#define CF_PLATFORM_PROCESS_H

#include <stddef.h>

#include "clientflow.h"

/*
** Runs the program at path argv[0] with arguments argv (NULL-terminated)
** and waits for it.  as_user: when not NULL and this process is root, the
** program runs as that user (runuser -u as_user -- ...); otherwise as this
** process's user.  Its standard output and error are appended to log_path
** (created if missing), or discarded when log_path is NULL; standard input
** is /dev/null.  OUT: *exit_status, the exit code, or 128 + the signal that
** ended it.  CF_IO if the program could not be started or waited for.
*/
int cf__proc_run(const char *const *argv, const char *as_user, const char *log_path,
                 int *exit_status) CF_WARN_UNUSED;

/*
** Starts argv[0] (with argv) in a session of its own that outlives this
** process, with env_add ("NAME=value" strings, NULL-terminated; may be NULL)
** added to its environment, stdin from /dev/null and stdout/stderr appended
** to log_path (or discarded).  Does not wait.  OUT: *pid.  CF_OK or CF_IO.
*/
int cf__proc_spawn_detached(const char *const *argv, const char *const *env_add,
                            const char *log_path, int *pid) CF_WARN_UNUSED;

/* The path of this program's executable (static storage), or NULL. */
const char *cf__self_exe(void);

/* True when this process runs as root. */
int cf__proc_is_root(void);

/* The directory for temporary files: $TMPDIR if set, else /tmp (static or env storage).
 */
const char *cf__tmp_dir(void);

/* True if path names an executable regular file. */
int cf__file_is_executable(const char *path);

/*
** Creates a new private directory parent/prefixXXXXXX (mode 0700).  OUT:
** *out, its path (cf__malloc'd; caller frees).  CF_IO with errno's reason
** in err (errlen bytes) on failure.
*/
int cf__dir_make_temp(const char *parent, const char *prefix, char **out, char *err,
                      size_t errlen) CF_WARN_UNUSED;

/* mkdir(path, 0700).  CF_IO on failure. */
int cf__dir_make(const char *path) CF_WARN_UNUSED;

/* Gives path to user (chown to the user's uid and primary gid).  CF_NOTFOUND
** when there is no such user, CF_IO on failure. */
int cf__path_give_to_user(const char *path, const char *user) CF_WARN_UNUSED;

/* Removes path and everything below it (does not follow symlinks).
** Missing is success.  CF_IO if something could not be removed. */
int cf__tree_remove(const char *path);

/* OUT: *port, a TCP port on 127.0.0.1 that was free a moment ago.  CF_IO. */
int cf__port_free_loopback(int *port) CF_WARN_UNUSED;

/* The last non-empty line of the text file at path into buf (len bytes);
** "" when the file is missing or empty. */
void cf__file_last_line(const char *path, char *buf, size_t len);

/*
** Interruption: after cf__interrupt_catch, SIGINT, SIGTERM, SIGHUP and
** SIGPIPE no longer end the process but set a flag that cf__interrupted reports, so a
** program can finish cleaning up (stop a server it started) and then exit.
** Children get the default dispositions back when they exec.
*/
void cf__interrupt_catch(void);
/* The signal caught since cf__interrupt_catch, or 0. */
int cf__interrupted(void);

#endif /* CF_PLATFORM_PROCESS_H */
