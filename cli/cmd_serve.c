/*
** cli/cmd_serve.c: `clientflow serve`, the sync server.
**
**   clientflow serve [--database-url URL] [--host H] [--port N] [--workers N]
**                    [--dev-user-header]
**
** Serves the WebSocket sync channel on /sync, /health and the REST API
** /api/crm/... (docs/rest-api.md) on one port
** (PORT, default 4000) against the master at DATABASE_URL, whose role must
** not be a superuser, own the tables or have BYPASSRLS.  Tokens are checked
** with JWT_SECRET / JWT_ES256_PUBLIC_KEY_FILE / JWT_JWKS_FILE (docs/auth.md).
** SIGTERM or SIGINT: in-flight transactions finish, sockets close cleanly,
** exit 0.
*/
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "clientflow.h"
#include "cli/cli.h"
#include "cli/master_cli.h"

static cf_server *running; /* the server a signal stops */

static void on_signal(int sig) {
  (void)sig;
  if (running) cf_server_stop(running);
}

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: clientflow serve [--database-url URL] [--host H] [--port N] [--workers N]\n"
      "                        [--dev-user-header]\n"
      "\n"
      "Runs the sync server: WebSocket /sync, GET /health and the REST API\n"
      "GET /api/crm/* (docs/rest-api.md) on one port.\n"
      "\n"
      "  --database-url URL  the master (default DATABASE_URL); its role must not be\n"
      "                      a superuser, own the tables or have BYPASSRLS\n"
      "  --listen-database-url URL\n"
      "                      a direct (session) connection for LISTEN/NOTIFY when\n"
      "                      DATABASE_URL goes through PgBouncer in transaction mode\n"
      "                      (default LISTEN_DATABASE_URL, else DATABASE_URL)\n"
      "  --host H            address to listen on (default 127.0.0.1)\n"
      "  --port N            port (default PORT, else 4000; 0 picks a free one)\n"
      "  --workers N         database workers per kind (1..32, default 4): one pool\n"
      "                      of 2N threads runs at most N sync jobs and at most N\n"
      "                      REST requests at once (docs/operations.md)\n"
      "  --dev-user-header   DEVELOPMENT ONLY: the REST API takes the caller's\n"
      "                      identity from an x-user-id header when a request\n"
      "                      has no Authorization header (logs a warning)\n"
      "\n"
      "Tokens: JWT_SECRET, JWT_ES256_PUBLIC_KEY_FILE, JWT_JWKS_FILE, JWT_AUDIENCE\n"
      "(see docs/auth.md).  SIGTERM/SIGINT stop it cleanly.\n");
}

static int parse_int(const char *s, int lo, int hi, int *out) {
  char *end = NULL;
  long v = strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < lo || v > hi) return 0;
  *out = (int)v;
  return 1;
}

int cf_cmd_serve(int argc, char **argv) {
  const char *host = NULL;
  int port = -1, workers = 4;
  unsigned rest_flags = 0;
  for (int i = 1; i < argc; i++) {
    int r = cf_cli_database_url_option("serve", argc, argv, &i);
    if (r < 0) return 2;
    if (r > 0) continue;
    if (cf_cli_is_help(argv[i])) {
      usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "--listen-database-url") == 0 && i + 1 < argc) {
      cf_cli_config_set("LISTEN_DATABASE_URL", argv[++i]);
    } else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
      host = argv[++i];
    } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      if (!parse_int(argv[++i], 0, 65535, &port))
        return cf_cli_fail("serve", "--port must be 0..65535");
    } else if (strcmp(argv[i], "--dev-user-header") == 0) {
      rest_flags |= CF_REST_DEV_USER_HEADER;
    } else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
      if (!parse_int(argv[++i], 1, 32, &workers))
        return cf_cli_fail("serve", "--workers must be 1..32");
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (port < 0) {
    const char *p = cf_cli_config("PORT");
    port = 4000;
    if (p != NULL && !parse_int(p, 0, 65535, &port))
      return cf_cli_fail("serve", "PORT must be 0..65535");
  }
  const char *url = cf_cli_config("DATABASE_URL");
  if (url == NULL)
    return cf_cli_fail("serve", "DATABASE_URL is not set (pass --database-url, set it in "
                                "the environment or in ./.env)");

  cf_auth *auth = NULL;
  int rc = cf_auth_new(&auth);
  if (rc == CF_OK && cf_auth_configure(auth, cf_cli_config) != CF_OK) {
    int code = cf_cli_fail("serve", "token settings: %s", cf_auth_errmsg(auth));
    cf_auth_free(auth);
    return code;
  }
  cf_server *srv = NULL;
  if (rc == CF_OK) rc = cf_server_new(&srv);
  if (rc != CF_OK) {
    cf_auth_free(auth);
    return cf_cli_fail("serve", "%s", cf_strerror(rc));
  }
  cf_server_set_auth(srv, auth);
  rc = cf_server_set_database(srv, url);
  if (rc == CF_OK && cf_cli_config("LISTEN_DATABASE_URL") != NULL)
    rc = cf_server_set_listen_database(srv, cf_cli_config("LISTEN_DATABASE_URL"));
  if (rc == CF_OK) rc = cf_server_set_listen(srv, host, port);
  if (rc == CF_OK) rc = cf_server_set_workers(srv, workers);
  if (rc == CF_OK) rc = cf_server_enable_rest(srv, workers, rest_flags);
  if (rc == CF_OK) rc = cf_server_start(srv);
  if (rc != CF_OK) {
    int code =
        cf_cli_fail("serve", "%s",
                    cf_server_errmsg(srv)[0] ? cf_server_errmsg(srv) : cf_strerror(rc));
    cf_server_free(srv);
    return code;
  }
  /* Tests and scripts read the chosen port from this line. */
  printf("listening on %s:%d\n", host ? host : "127.0.0.1", cf_server_port(srv));
  fflush(stdout);
  running = srv;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  rc = cf_server_run(srv);
  running = NULL;
  cf_server_free(srv);
  if (rc != CF_OK) return cf_cli_fail("serve", "event loop failed: %s", cf_strerror(rc));
  return 0;
}
