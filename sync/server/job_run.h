/*
** sync/server/job_run.h: runs a sync session's job (sync/session/job.h) on
** the master and encodes the reply frame (internal).  The sync server's
** workers call it; so does the simulation harness, in-process.
*/
#ifndef CF_SYNC_SERVER_JOB_RUN_H
#define CF_SYNC_SERVER_JOB_RUN_H

#include "sync/master/pg.h"
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

#endif
