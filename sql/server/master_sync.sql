-- sql/server/master_sync.sql: the fixed statements of sync/master_sync.c
-- (push, pull, role check).  Each starts at a "-- @name NAME" line.  The
-- per-table statements (select/insert/update/delete of rows) are generated
-- from the schema descriptor (core/schema.c) by sync/master_sync.c.
-- docs/master-sync.md explains the design; sql/postgres/003_sync.sql holds
-- the functions called here.

-- @name as_user
-- $1 claims JSON.  Run right after BEGIN: the transaction's role, claims and
-- output formats (all transaction-local).
SELECT set_config('role', 'authenticated', true),
       set_config('request.jwt.claims', $1, true),
       set_config('TimeZone', 'UTC', true),
       set_config('DateStyle', 'ISO, YMD', true),
       set_config('bytea_output', 'hex', true)

-- @name push_plans
-- Run right after as_user by a push (cf__master_begin_push): its
-- statements look rows up by key, a batch of up to 10,000 keys into an org
-- of any size, and a probe of the primary key per key is the plan for them
-- (docs/master-sync.md, "Since issue 13's third round"); the planner,
-- costing the probes as reads from disk, hashed a scan of the whole org
-- instead when the batch was a tenth of it.  Plans only, transaction-local.
SELECT set_config('enable_hashjoin', 'off', true),
       set_config('enable_mergejoin', 'off', true)

-- @name push_begin
-- $1 org, $2 node, $3 batch seq, $4 batch digest (hex).  Membership, the
-- org clock lock and what the batch is (005_push_hardening.sql).
SELECT b.member, b.outcome, b.last_batch, b.results
FROM cf_sync.push_begin($1::uuid, $2::uuid, $3::bigint, decode($4, 'hex')) AS b

-- @name push_reserve
-- $1 org, $2 rows to write, $3 greatest HLC of the batch.  The org clock
-- adopts the HLC (007); n > 0 positions are reserved and the first one is
-- published for the stamp triggers.
SELECT r.lo, set_config('cf.push_seq_lo', coalesce(r.lo::text, ''), true)
FROM cf_sync.push_reserve($1::uuid, $2::integer, $3::bigint) AS r(lo)

-- @name push_record
-- $1 org, $2 node, $3 batch seq, $4 batch digest (hex), $5 results text.
SELECT cf_sync.push_record($1::uuid, $2::uuid, $3::bigint, decode($4, 'hex'), $5)

-- @name pull_start
-- $1 org, $2 cursor.  Membership, head and purge horizon, and the bit mask
-- of the sources holding a change after the cursor (013_pull_sources.sql).
SELECT p.member, p.head_seq, p.purged_seq, p.sources
FROM cf_sync.pull_start($1::uuid, $2::bigint) AS p

-- @name pull_tombstones
-- $1 org, $2 cursor, $3 limit.  Run with binary results (sync/master/pull.c):
-- every column text but the version, which comes as its raw bytes.
SELECT t.cf_seq::text, t.table_no::text, t.id::text, t.deleted_version
FROM cf_sync.tombstones AS t
WHERE t.org_id = $1::uuid AND t.cf_seq > $2::bigint
ORDER BY t.cf_seq
LIMIT $3::integer

-- @name tombstones_for_keys
-- $1 org, $2 table number, $3 ids (text[] literal).
SELECT t.id::text, encode(t.deleted_version, 'hex')
FROM cf_sync.tombstones AS t
WHERE t.org_id = $1::uuid AND t.table_no = $2::smallint AND t.id = ANY ($3::uuid[])

-- @name existing_ids
-- $1 org, $2 table number, $3 ids (text[] literal): which exist at all.
SELECT e::text FROM cf_sync.existing_ids($1::uuid, $2::integer, $3::uuid[]) AS e

-- @name check_role
-- $1 the registry's table names (text[] literal, core/tables.h).  The
-- connected role's attributes, for cf__master_check_role, and whether the
-- master has the newest function this server calls (013_pull_sources.sql):
-- a server started before `migrate up` would fail every pull.  (The
-- catalogue, not to_regprocedure: the login role has no USAGE on cf_sync.)
SELECT current_user,
       r.rolsuper,
       r.rolbypassrls,
       pg_has_role(current_user, 'authenticated', 'MEMBER'),
       CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cf_sync_server')
            THEN pg_has_role(current_user, 'cf_sync_server', 'MEMBER') ELSE false END,
       (SELECT string_agg(c.relname, ', ' ORDER BY c.relname)
        FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public'
          AND c.relname = ANY ($1::text[])
          AND pg_has_role(current_user, c.relowner, 'MEMBER')),
       EXISTS (SELECT 1 FROM pg_proc AS p
               JOIN pg_namespace AS n ON n.oid = p.pronamespace
               WHERE n.nspname = 'cf_sync' AND p.proname = 'pull_start')
FROM pg_roles AS r
WHERE r.rolname = current_user
