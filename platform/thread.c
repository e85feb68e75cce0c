/*
** platform/thread.c: POSIX threads behind platform/thread.h.
*/
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "platform/platform.h"
#include "platform/thread.h"

struct cf__thread {
  pthread_t id;          /* the thread */
  void (*fn)(void *arg); /* its body */
  void *arg;             /* passed to fn */
};

struct cf__mutex {
  pthread_mutex_t m; /* the mutex */
};

struct cf__cond {
  pthread_cond_t c; /* the condition variable */
};

static void *trampoline(void *p) {
  cf__thread *t = p;
  t->fn(t->arg);
  return NULL;
}

int cf__thread_start(void (*fn)(void *arg), void *arg, cf__thread **out) {
  *out = NULL;
  cf__thread *t = cf__calloc(1, sizeof *t);
  if (t == NULL) return CF_NOMEM;
  t->fn = fn;
  t->arg = arg;
  if (pthread_create(&t->id, NULL, trampoline, t) != 0) {
    cf__free(t);
    return CF_IO;
  }
  *out = t;
  return CF_OK;
}

void cf__thread_join(cf__thread *t) {
  if (t == NULL) return;
  pthread_join(t->id, NULL);
  cf__free(t);
}

int cf__mutex_new(cf__mutex **out) {
  *out = cf__calloc(1, sizeof **out);
  if (*out == NULL) return CF_NOMEM;
  pthread_mutex_init(&(*out)->m, NULL);
  return CF_OK;
}

void cf__mutex_free(cf__mutex *m) {
  if (m == NULL) return;
  pthread_mutex_destroy(&m->m);
  cf__free(m);
}

void cf__mutex_lock(cf__mutex *m) { pthread_mutex_lock(&m->m); }
void cf__mutex_unlock(cf__mutex *m) { pthread_mutex_unlock(&m->m); }

int cf__cond_new(cf__cond **out) {
  *out = cf__calloc(1, sizeof **out);
  if (*out == NULL) return CF_NOMEM;
  pthread_cond_init(&(*out)->c, NULL);
  return CF_OK;
}

void cf__cond_free(cf__cond *c) {
  if (c == NULL) return;
  pthread_cond_destroy(&c->c);
  cf__free(c);
}

void cf__cond_wait(cf__cond *c, cf__mutex *m) { pthread_cond_wait(&c->c, &m->m); }
void cf__cond_signal(cf__cond *c) { pthread_cond_signal(&c->c); }
void cf__cond_broadcast(cf__cond *c) { pthread_cond_broadcast(&c->c); }

/* --- the commit beacon ----------------------------------------------------- */

static pthread_mutex_t beacon_mu = PTHREAD_MUTEX_INITIALIZER; /* guards beacon */
static pthread_cond_t beacon_cv = PTHREAD_COND_INITIALIZER;   /* signalled on bump */
static uint64_t beacon;                                       /* commits so far */

void cf__beacon_bump(void) {
  pthread_mutex_lock(&beacon_mu);
  beacon++;
  pthread_cond_broadcast(&beacon_cv);
  pthread_mutex_unlock(&beacon_mu);
}

uint64_t cf__beacon_value(void) {
  pthread_mutex_lock(&beacon_mu);
  uint64_t v = beacon;
  pthread_mutex_unlock(&beacon_mu);
  return v;
}

uint64_t cf__beacon_wait(uint64_t seen, int timeout_ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  if (timeout_ms > 0) {
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
  }
  pthread_mutex_lock(&beacon_mu);
  while (beacon == seen && timeout_ms != 0) {
    if (timeout_ms < 0) {
      pthread_cond_wait(&beacon_cv, &beacon_mu);
    } else if (pthread_cond_timedwait(&beacon_cv, &beacon_mu, &until) == ETIMEDOUT) {
      break;
    }
  }
  uint64_t v = beacon;
  pthread_mutex_unlock(&beacon_mu);
  return v;
}
