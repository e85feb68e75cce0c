/*
** platform/thread.h: threads, mutexes and condition variables (internal).
**
** The sync server runs its Postgres work on a few worker threads so that one
** slow transaction never stalls the event loop; these thin wrappers keep the
** OS calls in platform/.
*/
#ifndef CF_THREAD_H
#define CF_THREAD_H

#include <stdint.h>

#include "clientflow.h"

typedef struct cf__thread cf__thread; /* a joinable thread */
typedef struct cf__mutex cf__mutex;   /* a non-recursive mutex */
typedef struct cf__cond cf__cond;     /* a condition variable */

/* CONSTRUCTOR.  Starts fn(arg) on a new thread.  OUT: *out, joined and
** freed by cf__thread_join.  CF_OK, CF_NOMEM, CF_IO. */
int cf__thread_start(void (*fn)(void *arg), void *arg, cf__thread **out) CF_WARN_UNUSED;
/* DESTRUCTOR.  Waits for the thread to return and frees it.  NULL is fine. */
void cf__thread_join(cf__thread *t);

/* CONSTRUCTOR/DESTRUCTOR of a mutex.  OUT: *out.  CF_OK, CF_NOMEM. */
int cf__mutex_new(cf__mutex **out) CF_WARN_UNUSED;
void cf__mutex_free(cf__mutex *m);
void cf__mutex_lock(cf__mutex *m);
void cf__mutex_unlock(cf__mutex *m);

/* CONSTRUCTOR/DESTRUCTOR of a condition variable.  OUT: *out. */
int cf__cond_new(cf__cond **out) CF_WARN_UNUSED;
void cf__cond_free(cf__cond *c);
/* Waits on c, which releases m while waiting; spurious wake-ups happen. */
void cf__cond_wait(cf__cond *c, cf__mutex *m);
void cf__cond_signal(cf__cond *c);
void cf__cond_broadcast(cf__cond *c);

/*
** The process-wide commit beacon: a counter every replica connection bumps
** after it committed a transaction, and a wait for it to move.  It lets a
** UI thread sleep until another thread's handle on a replica commits
** (cf_node_wait, store/notify.c).  Wake-ups are not per file: a waiter
** checks what changed itself.
*/
/* Bumps the counter and wakes every waiter.  Safe from any thread. */
void cf__beacon_bump(void);
/* The counter now. */
uint64_t cf__beacon_value(void);
/* Waits until the counter differs from seen or timeout_ms passed
** (timeout_ms < 0: no limit).  Returns the counter then. */
uint64_t cf__beacon_wait(uint64_t seen, int timeout_ms);
#endif
