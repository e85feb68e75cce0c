/*
** sim/dbpool.c: the helper thread that clones and drops databases ahead of
** the runs (sim/dbpool.h).
*/
#include "sim/dbpool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/lib.h"

#define AHEAD 2 /* clones kept ready */
#define QMAX 64 /* drops waiting */

struct sim_dbpool {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  cf__pg *conn; /* the thread's connection */
  char tmpl[64];
  char prefix[64];
  unsigned long next;    /* clone number */
  char ready[AHEAD][64]; /* cloned, not taken */
  int nready;
  char drops[QMAX][64]; /* to drop */
  int ndrops;
  int stop;
  char err[256]; /* the clone failure, "" if none */
};

/* Runs a DROP DATABASE; a failure leaves a database behind, which is said
** but stops nothing (a clone of the same name says more if it matters). */
static void drop_quietly(cf__pg *pg, const char *sql) {
  if (cf__pg_exec(pg, sql) != CF_OK)
    fprintf(stderr, "clientflow sim: %s: %s\n", sql, cf__pg_errmsg(pg));
}

static void *pool_main(void *arg) {
  sim_dbpool *p = arg;
  char sql[256], name[64];
  pthread_mutex_lock(&p->mu);
  while (!p->stop || p->ndrops > 0) {
    if (p->ndrops > 0) {
      snprintf(name, sizeof name, "%s", p->drops[--p->ndrops]);
      pthread_mutex_unlock(&p->mu);
      snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
      drop_quietly(p->conn, sql);
      pthread_mutex_lock(&p->mu);
      continue;
    }
    if (!p->stop && p->nready < AHEAD && !p->err[0]) {
      snprintf(name, sizeof name, "%.40s_%lu", p->prefix, ++p->next);
      pthread_mutex_unlock(&p->mu);
      snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
      drop_quietly(p->conn, sql);
      snprintf(sql, sizeof sql, "CREATE DATABASE %s TEMPLATE %s", name, p->tmpl);
      int ok = cf__pg_exec(p->conn, sql) == CF_OK;
      pthread_mutex_lock(&p->mu);
      if (ok)
        snprintf(p->ready[p->nready++], 64, "%s", name);
      else
        snprintf(p->err, sizeof p->err, "clone %s: %s", name, cf__pg_errmsg(p->conn));
      pthread_cond_broadcast(&p->cv);
      continue;
    }
    pthread_cond_wait(&p->cv, &p->mu);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

int sim_dbpool_start(const char *admin_url, const char *tmpl, const char *prefix,
                     sim_dbpool **out, char *err, size_t errlen) {
  *out = NULL;
  sim_dbpool *p = calloc(1, sizeof *p);
  if (p == NULL) return snprintf(err, errlen, "out of memory"), -1;
  char why[256];
  if (cf__pg_connect(admin_url, &p->conn, why, sizeof why) != CF_OK) {
    snprintf(err, errlen, "connect: %s", why);
    free(p);
    return -1;
  }
  if (cf__pg_exec(p->conn, "SET client_min_messages = warning") != CF_OK) {
    snprintf(err, errlen, "%s", cf__pg_errmsg(p->conn));
    cf__pg_close(p->conn);
    free(p);
    return -1;
  }
  snprintf(p->tmpl, sizeof p->tmpl, "%s", tmpl);
  snprintf(p->prefix, sizeof p->prefix, "%s", prefix);
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  if (pthread_create(&p->thread, NULL, pool_main, p) != 0) {
    cf__pg_close(p->conn);
    free(p);
    return snprintf(err, errlen, "pthread_create"), -1;
  }
  *out = p;
  return 0;
}

int sim_dbpool_take(sim_dbpool *p, char *name, size_t cap, char *err, size_t errlen) {
  pthread_mutex_lock(&p->mu);
  while (p->nready == 0 && !p->err[0])
    pthread_cond_wait(&p->cv, &p->mu);
  int rc = 0;
  if (p->nready > 0) {
    snprintf(name, cap, "%s", p->ready[0]);
    memmove(p->ready[0], p->ready[1], sizeof p->ready[0] * (AHEAD - 1));
    p->nready--;
  } else {
    snprintf(err, errlen, "%s", p->err);
    rc = -1;
  }
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  return rc;
}

void sim_dbpool_drop(sim_dbpool *p, const char *name) {
  pthread_mutex_lock(&p->mu);
  if (p->ndrops < QMAX) snprintf(p->drops[p->ndrops++], 64, "%s", name);
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

void sim_dbpool_stop(sim_dbpool *p) {
  if (p == NULL) return;
  pthread_mutex_lock(&p->mu);
  for (int i = 0; i < p->nready && p->ndrops < QMAX; i++)
    snprintf(p->drops[p->ndrops++], 64, "%s", p->ready[i]);
  p->nready = 0;
  p->stop = 1;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  pthread_join(p->thread, NULL);
  cf__pg_close(p->conn);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p);
}
