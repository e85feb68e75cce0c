/*
** sync/server/job_run.h: runs a sync session's job (sync/session/job.h) on
** the master and encodes the reply frame (internal).  The sync server's
** workers call it; so does the simulation harness, in-process.
*/
#ifndef CF_SYNC_SERVER_JOB_RUN_H
#define CF_SYNC_SERVER_JOB_RUN_H

#include "sync/master/pg.h"
#include "sync/server/pool.h"
#include "sync/session/job.h"

/*
** METHOD.  Runs j on pg as the job's user and fills its answer: out (and
** extra), close_code, ok, db_rc.  Every failure becomes an ERROR frame in
** out; db_rc == CF_UNREACHABLE says the connection itself failed (the
** caller may run the job again on a fresh one: every job is safe to
** repeat, a committed PUSH is answered from its record).
*/
void cf__sjob_run(cf__pg *pg, const cf__sjob_limits *lim, cf__sjob *j);

/* METHOD.  Answers j as cf__sjob_run does when the database cannot be
** reached (no connection to run it on): ERROR busy, db_rc CF_UNREACHABLE. */
void cf__sjob_fail_unreachable(cf__sjob *j);

/* METHOD.  A worker's run of j (sync/server/pool.h): clears any earlier
** answer, runs j on pg (or answers it unreachable when pg is NULL), stamps
** t_start_ns/t_done_ns, and says what becomes of the connection: LOST when
** it failed (the pool runs the job once more on a fresh one), DISCARD after
** a failed FEED or a TRY_LATER close, KEEP otherwise. */
cf__pool_conn cf__sjob_run_pooled(cf__pg *pg, const cf__sjob_limits *lim, cf__sjob *j);

#endif
