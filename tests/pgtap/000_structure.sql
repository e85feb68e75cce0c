-- 000_structure.sql: the shape of the security layer, pinned.
--
-- Proves: the ten tables and nothing else live in `public` (the table lists
-- below are read from the registry, cf_sync.tables; 060_table_registry.sql
-- holds the registry to the tables); every table in
-- `public` has RLS enabled AND forced; the whole policy inventory (names,
-- commands, roles, permissive); every INSERT/UPDATE policy has a WITH CHECK;
-- helper calls are wrapped in (SELECT ...) and planned as InitPlans (once per
-- statement); the helpers are SECURITY DEFINER, STABLE, search_path pinned, in
-- a schema only `authenticated` may use; roles and their attributes; table
-- privileges (anon has none, authenticated has no TRUNCATE); auth.uid().
BEGIN;
\ir support/fixture.sql

-- 50 assertions, plus three per table of the registry (the InitPlan and
-- privilege loops below).
SELECT plan(50 + 3 * (SELECT count(*)::int FROM cf_sync.tables));

-- auth.uid() -----------------------------------------------------------------
SELECT has_function('auth', 'uid', '{}'::name[], 'auth.uid() exists');
SELECT is(auth.uid(), NULL, 'auth.uid() is NULL without claims');
SELECT set_config('request.jwt.claims', '', true);
SELECT is(auth.uid(), NULL, 'auth.uid() is NULL when the claims setting is empty');
SELECT set_config('request.jwt.claims', '{"role": "authenticated"}', true);
SELECT is(auth.uid(), NULL, 'auth.uid() is NULL when the claims carry no sub');
SELECT set_config('request.jwt.claims', '{"sub": "not-a-uuid"}', true);
SELECT is(auth.uid(), NULL, 'auth.uid() is NULL when sub is not a UUID');
SELECT set_config('request.jwt.claims', '{"sub": "0193aaaa-0001-7000-8000-000000000003"}', true);
SELECT is(auth.uid(), '0193aaaa-0001-7000-8000-000000000003'::uuid, 'auth.uid() is the sub claim');
SELECT set_config('request.jwt.claims', '', true);


-- Tables and forced RLS ------------------------------------------------------
SELECT tables_are('public', ARRAY(SELECT t.name::name FROM cf_sync.tables AS t ORDER BY t.table_no),
  'public holds exactly the CRM tables of the registry');

SELECT is(ARRAY(SELECT c.relname::text FROM pg_catalog.pg_class AS c
                WHERE c.relnamespace = 'public'::regnamespace
                  AND c.relkind IN ('r', 'p')
                  AND NOT (c.relrowsecurity AND c.relforcerowsecurity)
                ORDER BY 1),
          '{}'::text[],
          'every table in public has row level security enabled and forced');

SELECT is((SELECT count(*)::int FROM pg_catalog.pg_class AS c
           WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
             AND c.relrowsecurity AND c.relforcerowsecurity),
          (SELECT count(*)::int FROM cf_sync.tables), 'every registered table has forced RLS');

-- Policy inventory -----------------------------------------------------------
SELECT policies_are('public', 'organizations', ARRAY['organizations_select',
  'organizations_insert', 'organizations_update', 'organizations_delete']);
SELECT policies_are('public', 'users', ARRAY['users_select', 'users_insert', 'users_update']);
SELECT policies_are('public', 'memberships', ARRAY['memberships_select', 'memberships_insert',
  'memberships_insert_first_owner', 'memberships_update', 'memberships_delete']);
SELECT policies_are('public', 'contacts', ARRAY['contacts_select', 'contacts_insert',
  'contacts_update', 'contacts_delete']);
SELECT policies_are('public', 'deals', ARRAY['deals_select', 'deals_insert',
  'deals_update', 'deals_delete']);
SELECT policies_are('public', 'activities', ARRAY['activities_select', 'activities_insert',
  'activities_update', 'activities_delete']);
SELECT policies_are('public', 'appointments', ARRAY['appointments_select',
  'appointments_insert', 'appointments_update', 'appointments_delete']);
SELECT policies_are('public', 'messages', ARRAY['messages_select', 'messages_insert',
  'messages_update', 'messages_delete']);
SELECT policies_are('public', 'automations', ARRAY['automations_select',
  'automations_insert', 'automations_update', 'automations_delete']);
SELECT policies_are('public', 'daily_metrics', ARRAY['daily_metrics_select',
  'daily_metrics_insert', 'daily_metrics_update', 'daily_metrics_delete']);

-- Every policy: the command its name says, permissive, TO authenticated only.
SELECT is(ARRAY(SELECT tablename || '.' || policyname FROM pg_catalog.pg_policies
                WHERE schemaname = 'public'
                  AND (roles <> '{authenticated}'::name[]
                       OR permissive <> 'PERMISSIVE'
                       OR cmd <> upper(split_part(substr(policyname, length(tablename) + 2), '_', 1)))
                ORDER BY 1),
          '{}'::text[],
          'every policy is permissive, TO authenticated, for the command in its name');
SELECT is((SELECT count(*)::int FROM pg_catalog.pg_policies WHERE schemaname = 'public'),
          40, 'forty policies in all');

SELECT is(ARRAY(SELECT tablename || '.' || policyname FROM pg_catalog.pg_policies
                WHERE schemaname = 'public' AND cmd IN ('INSERT', 'UPDATE')
                  AND with_check IS NULL ORDER BY 1),
          '{}'::text[], 'every INSERT and UPDATE policy has a WITH CHECK');
SELECT is(ARRAY(SELECT tablename || '.' || policyname FROM pg_catalog.pg_policies
                WHERE schemaname = 'public' AND cmd IN ('SELECT', 'UPDATE', 'DELETE')
                  AND qual IS NULL ORDER BY 1),
          '{}'::text[], 'every SELECT, UPDATE and DELETE policy has a USING');

-- Helper calls wrapped: after removing every "( SELECT helper(" no per-row
-- call of a membership helper or auth.uid() is left.  (may_claim_org takes
-- the row's org_id and is per row by design; it only runs for owner rows.)
SELECT is(ARRAY(SELECT tablename || '.' || policyname FROM pg_catalog.pg_policies
                WHERE schemaname = 'public'
                  AND regexp_replace(coalesce(qual, '') || ' ' || coalesce(with_check, ''),
                                     '\( SELECT (cf_private\.[a-z_]+|auth\.uid)\(', '', 'g')
                      ~ '(org_ids_for_user|auth\.uid)\('
                ORDER BY 1),
          '{}'::text[], 'every helper call in a policy is wrapped in (SELECT ...)');

-- ... and planned once per statement: an InitPlan, never a per-row SubPlan.
CREATE FUNCTION cf_test.plan_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  line  text;
  plan  text := '';
BEGIN
  PERFORM cf_test.become('a_member');
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || stmt LOOP
    plan := plan || line || E'\n';
  END LOOP;
  EXECUTE 'RESET ROLE';
  PERFORM set_config('request.jwt.claims', '', true);
  RETURN plan;
END $$;
SELECT ok(p ~ 'InitPlan' AND p !~ 'SubPlan', 'select on ' || t || ' evaluates the helper once (InitPlan)')
FROM (SELECT t, cf_test.plan_of(format('SELECT * FROM public.%I', t)) AS p
      FROM (SELECT r.name AS t FROM cf_sync.tables AS r) AS tables) AS plans
ORDER BY t;
SELECT ok(cf_test.plan_of($$UPDATE public.contacts SET tags = '{x}'$$) !~ 'SubPlan',
          'update on contacts evaluates the helpers once');

-- Helpers --------------------------------------------------------------------
SELECT is_definer('cf_private', 'org_ids_for_user', ARRAY['uuid'], 'org_ids_for_user is SECURITY DEFINER');
SELECT is_definer('cf_private', 'admin_org_ids_for_user', ARRAY['uuid'], 'admin_org_ids_for_user is SECURITY DEFINER');
SELECT is_definer('cf_private', 'owner_org_ids_for_user', ARRAY['uuid'], 'owner_org_ids_for_user is SECURITY DEFINER');
SELECT is_definer('cf_private', 'may_claim_org', ARRAY['uuid', 'uuid'], 'may_claim_org is SECURITY DEFINER');
SELECT volatility_is('cf_private', 'org_ids_for_user', ARRAY['uuid'], 'stable', 'org_ids_for_user is STABLE');
SELECT volatility_is('cf_private', 'admin_org_ids_for_user', ARRAY['uuid'], 'stable', 'admin_org_ids_for_user is STABLE');
SELECT volatility_is('cf_private', 'owner_org_ids_for_user', ARRAY['uuid'], 'stable', 'owner_org_ids_for_user is STABLE');
SELECT volatility_is('cf_private', 'may_claim_org', ARRAY['uuid', 'uuid'], 'stable', 'may_claim_org is STABLE');
SELECT function_returns('cf_private', 'org_ids_for_user', ARRAY['uuid'], 'uuid[]',
                        'org_ids_for_user(uid uuid) returns uuid[]');
SELECT is(ARRAY(SELECT p.proname::text FROM pg_catalog.pg_proc AS p
                WHERE p.pronamespace = 'cf_private'::regnamespace
                  AND NOT coalesce(p.proconfig @> '{"search_path=pg_catalog, public"}', false)
                ORDER BY 1),
          '{}'::text[], 'every cf_private function pins search_path = pg_catalog, public');
SELECT is(ARRAY(SELECT p.proname::text FROM pg_catalog.pg_proc AS p
                WHERE p.pronamespace = 'cf_private'::regnamespace
                  AND (p.proacl IS NULL
                       OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) AS a WHERE a.grantee = 0))
                ORDER BY 1),
          '{}'::text[], 'PUBLIC may execute no cf_private function');
SELECT function_privs_are('cf_private', 'org_ids_for_user', ARRAY['uuid'], 'anon', '{}'::text[],
                          'anon may not execute org_ids_for_user');
SELECT function_privs_are('cf_private', 'org_ids_for_user', ARRAY['uuid'], 'authenticated',
                          ARRAY['EXECUTE'], 'authenticated may execute org_ids_for_user');
SELECT function_privs_are('cf_private', 'record_org_creator', '{}'::name[], 'authenticated',
                          '{}'::text[], 'authenticated may not call the creator trigger function');
SELECT schema_privs_are('cf_private', 'anon', '{}'::text[], 'anon may not use cf_private');
SELECT schema_privs_are('cf_private', 'authenticated', ARRAY['USAGE'],
                        'authenticated may use (not create in) cf_private');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace AS n, aclexplode(n.nspacl) AS a
                      WHERE n.nspname = 'cf_private' AND a.grantee = 0),
          'PUBLIC has no privilege on cf_private');
SELECT table_privs_are('cf_private', 'org_creators', 'authenticated', '{}'::text[],
                       'authenticated has no privilege on cf_private.org_creators');

-- Roles ----------------------------------------------------------------------
SELECT results_eq(
  $$SELECT rolname, rolcanlogin, rolinherit, rolbypassrls, rolsuper
    FROM pg_catalog.pg_roles
    WHERE rolname IN ('anon', 'authenticated', 'service_role', 'authenticator')
    ORDER BY 1$$,
  $$VALUES ('anon'::name, false, false, false, false),
           ('authenticated', false, false, false, false),
           ('authenticator', false, false, false, false),
           ('service_role', false, false, true, false)$$,
  'roles anon, authenticated, authenticator (NOLOGIN NOINHERIT) and service_role (BYPASSRLS)');
SELECT is_member_of('anon', ARRAY['authenticator'], 'authenticator may become anon');
SELECT is_member_of('authenticated', ARRAY['authenticator'], 'authenticator may become authenticated');
SELECT ok(NOT pg_has_role('authenticator', 'service_role', 'MEMBER'),
          'authenticator may not become service_role (the server never bypasses RLS)');
-- A deployment's login role for the server: GRANT authenticator TO it.
CREATE ROLE cf_test_server_login LOGIN;
GRANT authenticator TO cf_test_server_login;
SELECT ok(pg_has_role('cf_test_server_login', 'authenticated', 'MEMBER'),
          'a login role granted authenticator may SET ROLE authenticated');
SELECT ok(NOT pg_has_role('cf_test_server_login', 'service_role', 'MEMBER'),
          'a login role granted authenticator may not SET ROLE service_role');
SELECT ok(NOT has_table_privilege('cf_test_server_login', 'public.contacts', 'SELECT'),
          'a login role granted authenticator reads no table without switching role');

-- Table privileges -----------------------------------------------------------
SELECT table_privs_are('public', t, 'anon', '{}'::text[], 'anon has no privilege on ' || t)
FROM (SELECT r.name AS t FROM cf_sync.tables AS r) AS tables
ORDER BY t;
SELECT table_privs_are('public', t, 'authenticated',
                       CASE WHEN t = 'users' THEN ARRAY['SELECT', 'INSERT', 'UPDATE']
                            ELSE ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'] END,
                       'authenticated has exactly the commands its policies judge on ' || t)
FROM (SELECT r.name AS t FROM cf_sync.tables AS r) AS tables
ORDER BY t;

SELECT * FROM finish();
ROLLBACK;
