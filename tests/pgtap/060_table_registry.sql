-- 060_table_registry.sql: the master's table registry (006_table_registry.sql).
--
-- Proves: cf_sync.tables is shaped and guarded like every cf_sync table (RLS
-- forced, nothing for PUBLIC, anon or authenticated); its numbers are dense
-- and it lists exactly the tables of public; every registered table carries
-- the sync triggers under its registry number, and every org-bound one a
-- cf_seq index; cf_sync.attach_table is for the owner only, and attaching a
-- table shaped like daily_metrics (a toy, rolled back) gives it the very
-- triggers, checks, index, privileges and forced RLS that 001-005 gave
-- daily_metrics, and a user-referencing column the member triggers 005 gave
-- activities.user_id; attach_table refuses a wrong number, a second attach,
-- a table not keyed (org_id, id) and a name whose set_updated_at trigger
-- would fire after the stamp triggers; existing_ids reads the registry.
BEGIN;
\ir support/fixture.sql

SELECT plan(24);

-- The registry table --------------------------------------------------------
SELECT has_table('cf_sync', 'tables', 'cf_sync.tables exists');
SELECT ok((SELECT c.relrowsecurity AND c.relforcerowsecurity FROM pg_catalog.pg_class AS c
           WHERE c.oid = 'cf_sync.tables'::regclass),
          'cf_sync.tables has row level security enabled and forced');
SELECT table_privs_are('cf_sync', 'tables', 'authenticated', '{}'::text[],
                       'authenticated has no privilege on cf_sync.tables');
SELECT table_privs_are('cf_sync', 'tables', 'anon', '{}'::text[],
                       'anon has no privilege on cf_sync.tables');
SELECT is((SELECT array_agg(t.table_no::int ORDER BY t.table_no) FROM cf_sync.tables AS t),
          (SELECT array_agg(n) FROM generate_series(0, (SELECT count(*)::int - 1
                                                         FROM cf_sync.tables)) AS n),
          'table numbers are dense, from 0');
SELECT is((SELECT array_agg(t.name ORDER BY t.name) FROM cf_sync.tables AS t),
          (SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_catalog.pg_class AS c
           WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')),
          'cf_sync.tables lists exactly the tables of public');
SELECT is((SELECT array_agg(t.kind ORDER BY t.table_no) FILTER (WHERE t.table_no < 2)
           FROM cf_sync.tables AS t),
          ARRAY['org', 'user'], 'organizations is the org table, users the user table');

-- Every registered table is attached under its number ----------------------
SELECT is(ARRAY(SELECT t.name FROM cf_sync.tables AS t
                WHERE NOT EXISTS (
                  SELECT 1 FROM pg_catalog.pg_trigger AS g
                  WHERE g.tgrelid = format('public.%I', t.name)::regclass
                    AND g.tgname IN ('zz_cf_sync_stamp', 'zz_cf_sync_stamp_insert')
                    AND split_part(encode(g.tgargs, 'escape'), '\000', 1) = t.table_no::text)
                ORDER BY t.table_no),
          '{}'::text[], 'every registered table stamps rows under its registry number');
SELECT is(ARRAY(SELECT t.name FROM cf_sync.tables AS t
                WHERE t.kind <> 'user'
                  AND (to_regclass(format('public.%I', t.name || '_cf_seq_idx')) IS NULL
                       OR NOT EXISTS (
                         SELECT 1 FROM pg_catalog.pg_trigger AS g
                         WHERE g.tgrelid = format('public.%I', t.name)::regclass
                           AND g.tgname = 'zz_cf_sync_tombstone'
                           AND split_part(encode(g.tgargs, 'escape'), '\000', 1)
                               = t.table_no::text))
                ORDER BY t.table_no),
          '{}'::text[], 'every org-bound table has its tombstone trigger and cf_seq index');

-- attach_table ----------------------------------------------------------------
SELECT function_privs_are('cf_sync', 'attach_table', ARRAY['integer', 'text'], 'authenticated',
                          '{}'::text[], 'authenticated may not attach tables');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc AS p, aclexplode(p.proacl) AS a
                      WHERE p.oid = 'cf_sync.attach_table(integer, text)'::regprocedure
                        AND a.grantee = 0)
          AND (SELECT p.proacl IS NOT NULL FROM pg_catalog.pg_proc AS p
               WHERE p.oid = 'cf_sync.attach_table(integer, text)'::regprocedure),
          'PUBLIC may not execute attach_table');

-- A toy with daily_metrics' columns, attached as the next table.
CREATE TABLE public.toy_metrics (
  org_id               uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
  id                   uuid NOT NULL DEFAULT gen_random_uuid(),
  day                  date NOT NULL,
  new_contacts         integer NOT NULL DEFAULT 0 CHECK (new_contacts >= 0),
  deals_won            integer NOT NULL DEFAULT 0 CHECK (deals_won >= 0),
  revenue              numeric(14, 2) NOT NULL DEFAULT 0,
  appointments_booked  integer NOT NULL DEFAULT 0 CHECK (appointments_booked >= 0),
  messages_sent        integer NOT NULL DEFAULT 0 CHECK (messages_sent >= 0),
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id)
);
CREATE TEMP TABLE toy_no AS SELECT count(*)::int AS n FROM cf_sync.tables;

SELECT throws_ok(format('SELECT cf_sync.attach_table(%s, ''toy_metrics'')', (SELECT n + 1 FROM toy_no)),
                 'P0001', NULL, 'attach_table refuses a number that is not the next one');
CREATE TABLE public.toy_unkeyed (id uuid PRIMARY KEY, org_id uuid, updated_at timestamptz);
SELECT throws_ok(format('SELECT cf_sync.attach_table(%s, ''toy_unkeyed'')', (SELECT n FROM toy_no)),
                 'P0001', NULL, 'attach_table refuses a table not keyed (org_id, id)');
DROP TABLE public.toy_unkeyed;
CREATE TABLE public.zz_late (org_id uuid, id uuid, updated_at timestamptz, PRIMARY KEY (org_id, id));
SELECT throws_ok(format('SELECT cf_sync.attach_table(%s, ''zz_late'')', (SELECT n FROM toy_no)),
                 'P0001', NULL, 'attach_table refuses a name whose triggers would fire after the stamp');
DROP TABLE public.zz_late;

SELECT lives_ok(format('SELECT cf_sync.attach_table(%s, ''toy_metrics'')', (SELECT n FROM toy_no)),
                'attach_table attaches a new tenant table');
SELECT is((SELECT t.name || ' ' || t.kind FROM cf_sync.tables AS t
           WHERE t.table_no = (SELECT n FROM toy_no)),
          'toy_metrics tenant', 'attach_table registers it under the next number');
SELECT throws_ok(format('SELECT cf_sync.attach_table(%s, ''toy_metrics'')', (SELECT n + 1 FROM toy_no)),
                 'P0001', NULL, 'attach_table refuses a second attach');

-- Its triggers are daily_metrics' (names, events, WHEN clauses, arguments),
-- but for the table name and number.
CREATE FUNCTION pg_temp.triggers_of(rel regclass, name text, no int) RETURNS text[]
LANGUAGE sql AS $$
  SELECT array_agg(d ORDER BY d)
  FROM (SELECT replace(replace(pg_catalog.pg_get_triggerdef(g.oid), name, 'T'),
                       format('(''%s'',', no), '(''N'',') AS d
        FROM pg_catalog.pg_trigger AS g
        WHERE g.tgrelid = rel AND NOT g.tgisinternal) AS defs
$$;
SELECT is(pg_temp.triggers_of('public.toy_metrics', 'toy_metrics', (SELECT n FROM toy_no)),
          pg_temp.triggers_of('public.daily_metrics', 'daily_metrics', 9),
          'an attached table gets the triggers 001, 003 and 005 gave daily_metrics');

-- ... and its checks, cf_seq index, privileges and forced RLS.
SELECT is(ARRAY(SELECT replace(k.conname, 'toy_metrics', 'T') || ' '
                       || replace(pg_catalog.pg_get_constraintdef(k.oid), ' NOT VALID', '')
                FROM pg_catalog.pg_constraint AS k
                WHERE k.conrelid = 'public.toy_metrics'::regclass AND k.contype = 'c'
                ORDER BY 1),
          ARRAY(SELECT replace(k.conname, 'daily_metrics', 'T') || ' '
                       || replace(pg_catalog.pg_get_constraintdef(k.oid), ' NOT VALID', '')
                FROM pg_catalog.pg_constraint AS k
                WHERE k.conrelid = 'public.daily_metrics'::regclass AND k.contype = 'c'
                ORDER BY 1),
          'an attached table gets the *_replicable checks 005 gave daily_metrics');
SELECT is(ARRAY(SELECT replace(pg_catalog.pg_get_indexdef(i.indexrelid), 'toy_metrics', 'T')
                FROM pg_catalog.pg_index AS i
                WHERE i.indrelid = 'public.toy_metrics'::regclass AND NOT i.indisprimary),
          ARRAY(SELECT replace(pg_catalog.pg_get_indexdef(i.indexrelid), 'daily_metrics', 'T')
                FROM pg_catalog.pg_index AS i
                WHERE i.indrelid = 'public.daily_metrics'::regclass AND NOT i.indisprimary
                  AND i.indexrelid = 'public.daily_metrics_cf_seq_idx'::regclass),
          'an attached table gets the (org_id, cf_seq) index');
SELECT is((SELECT array_agg(a.grantee::regrole::text || ':' || a.privilege_type
                            ORDER BY 1)
           FROM pg_catalog.pg_class AS c, aclexplode(c.relacl) AS a
           WHERE c.oid = 'public.toy_metrics'::regclass AND a.grantee <> c.relowner),
          (SELECT array_agg(a.grantee::regrole::text || ':' || a.privilege_type
                            ORDER BY 1)
           FROM pg_catalog.pg_class AS c, aclexplode(c.relacl) AS a
           WHERE c.oid = 'public.daily_metrics'::regclass AND a.grantee <> c.relowner),
          'an attached table gets the privileges 002 gave daily_metrics');
SELECT ok((SELECT c.relrowsecurity AND c.relforcerowsecurity FROM pg_catalog.pg_class AS c
           WHERE c.oid = 'public.toy_metrics'::regclass),
          'an attached table has row level security enabled and forced');

-- A column referencing users gets 005's member triggers, as activities.user_id.
CREATE TABLE public.toy_members (
  org_id      uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  user_id     uuid REFERENCES public.users (id) ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id)
);
SELECT cf_sync.attach_table((SELECT n + 1 FROM toy_no), 'toy_members');
SELECT is(ARRAY(SELECT replace(pg_catalog.pg_get_triggerdef(g.oid), 'toy_members', 'T')
                FROM pg_catalog.pg_trigger AS g
                WHERE g.tgrelid = 'public.toy_members'::regclass AND g.tgname ~ '_member_(insert|update)$'
                ORDER BY g.tgname),
          ARRAY(SELECT replace(pg_catalog.pg_get_triggerdef(g.oid), 'activities', 'T')
                FROM pg_catalog.pg_trigger AS g
                WHERE g.tgrelid = 'public.activities'::regclass AND g.tgname ~ '_member_(insert|update)$'
                ORDER BY g.tgname),
          'a column referencing users gets the member triggers 005 gave activities.user_id');

-- existing_ids finds rows of the attached table (through the registry).
INSERT INTO public.toy_metrics (org_id, id, day)
VALUES ('0193aaaa-0000-7000-8000-00000000000a', '0193aaaa-00ff-7000-8000-000000000001',
        date '2020-01-01');
SELECT set_config('cf_test.toy_no', n::text, true) FROM toy_no;
SELECT cf_test.become('a_member');
SELECT is(ARRAY(SELECT cf_sync.existing_ids('0193aaaa-0000-7000-8000-00000000000a'::uuid,
                                            current_setting('cf_test.toy_no')::int,
                                            ARRAY['0193aaaa-00ff-7000-8000-000000000001',
                                                  '0193aaaa-00ff-7000-8000-000000000002']::uuid[])),
          ARRAY['0193aaaa-00ff-7000-8000-000000000001']::uuid[],
          'existing_ids finds the rows of an attached table (RLS aside)');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
