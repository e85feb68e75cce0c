/*
** sim/lib.h: the one place where the simulation harness includes the
** library's internal headers (sessions, jobs, Postgres access, codec,
** schema, values, the replica's sync API).  When those headers move
** (sync/session/, sync/master/, ...), this file is the one to change.
*/
#ifndef CF_SIM_LIB_H
#define CF_SIM_LIB_H

#include "clientflow.h"
#include "core/buf.h"
#include "core/codec.h"
#include "core/row.h"
#include "core/schema.h"
#include "core/uuid.h"
#include "core/value.h"
#include "core/version.h"
#include "platform/platform.h"
#include "platform/process.h"
#include "store/store.h"
#include "sync/session/client_session.h"
#include "sync/master/pg.h"
#include "sync/server/job_run.h"
#include "sync/session/server_session.h"

#endif
