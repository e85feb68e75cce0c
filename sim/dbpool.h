/*
** sim/dbpool.h: databases cloned ahead of time.  Cloning the template
** (CREATE DATABASE ... TEMPLATE) and dropping a finished run's database
** take PostgreSQL a few hundred milliseconds each -- as long as a whole
** run -- but need nothing from the run, so a helper thread with its own
** connection keeps two clones ready and drops finished ones while the
** runs go on (PostgreSQL does that work in another backend, on the other
** core).  Only this thread and plain libpq: it never calls the library.
*/
#ifndef CF_SIM_DBPOOL_H
#define CF_SIM_DBPOOL_H

#include <stddef.h>

typedef struct sim_dbpool sim_dbpool;

/* CONSTRUCTOR.  Clones of tmpl through the superuser URL admin_url, named
** prefix_<n>.  OUT: *out.  0, or -1 with err. */
int sim_dbpool_start(const char *admin_url, const char *tmpl, const char *prefix,
                     sim_dbpool **out, char *err, size_t errlen);
/* A ready database's name into name[cap] (waits if none is ready yet).
** 0, or -1 with err (the clone failed). */
int sim_dbpool_take(sim_dbpool *p, char *name, size_t cap, char *err, size_t errlen);
/* Drops database name in the background. */
void sim_dbpool_drop(sim_dbpool *p, const char *name);
/* DESTRUCTOR.  Drops what is pending and every unused clone. */
void sim_dbpool_stop(sim_dbpool *p);

#endif
