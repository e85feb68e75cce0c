-- 010_tenant_matrix.sql: the RLS matrix of the eight org-scoped tables.
--
-- For memberships, contacts, deals, activities, appointments, messages,
-- automations and daily_metrics: every persona of support/fixture.sql
-- (member of A, member of A and B, member of B only, owner/admin of A, owner
-- of B, non-member, anon, a member just removed) x rows of org A and of org B
-- x select, insert, update, delete, upsert of an existing row, upsert of a new
-- row; plus moving a row from org A to org B, with and without a WHERE
-- clause (without one, only WITH CHECK guards), judged by RLS alone and then
-- with every migration's triggers in place.  Expected outcomes:
--   allowed               rows=1
--   USING denies          rows=0 (select, update, delete see nothing)
--   WITH CHECK denies     sqlstate=42501 (insert, upsert, update moving a row)
--   anon                  sqlstate=42501 (no privilege on any table)
-- Requirements per command (cf_test.tables): members do everything on CRM
-- data; memberships, automations and daily_metrics are read by members and
-- written by owners and admins.
BEGIN;
\ir support/fixture.sql

SELECT plan((SELECT count(*)::int FROM cf_test.personas) * 13 * 8 + 8 + 8 + 4 * 8);

SELECT * FROM cf_test.matrix('memberships');
SELECT * FROM cf_test.matrix('contacts');
SELECT * FROM cf_test.matrix('deals');
SELECT * FROM cf_test.matrix('activities');
SELECT * FROM cf_test.matrix('appointments');
SELECT * FROM cf_test.matrix('messages');
SELECT * FROM cf_test.matrix('automations');
SELECT * FROM cf_test.matrix('daily_metrics');

-- Updates and deletes that read no column.
SELECT b FROM (SELECT name FROM cf_test.tables ORDER BY name) AS t,
              LATERAL cf_test.blind_writes(t.name) AS b;

-- Moves, judged by RLS alone (user triggers off).
DO $$ BEGIN PERFORM cf_test.set_user_triggers(false); END $$;
SELECT * FROM cf_test.moves('memberships');
SELECT * FROM cf_test.moves('contacts');
SELECT * FROM cf_test.moves('deals');
SELECT * FROM cf_test.moves('activities');
SELECT * FROM cf_test.moves('appointments');
SELECT * FROM cf_test.moves('messages');
SELECT * FROM cf_test.moves('automations');
SELECT * FROM cf_test.moves('daily_metrics');

-- Moving rows with a statement that reads no column: no SELECT policy is
-- involved, so only the UPDATE policy's WITH CHECK stands between the rows
-- and org B.  (Members of A for CRM data; an admin of A for the rest.)
SELECT cf_test.check(CASE WHEN t.req_update > 1 THEN 'a_admin' ELSE 'a_member' END,
                     format('UPDATE public.%I SET org_id = %L', t.name, cf_test.org('b')),
                     'sqlstate=42501',
                     t.name || ': moving every visible row to org B without reading a column')
FROM cf_test.tables AS t ORDER BY t.name;
DO $$ BEGIN PERFORM cf_test.set_user_triggers(true); END $$;

-- With every trigger of every migration in place the move is refused too
-- (by RLS, or earlier by a trigger that keeps keys immutable: 23514).
SELECT ok(cf_test.outcome(CASE WHEN t.req_update > 1 THEN 'a_admin' ELSE 'a_member' END,
                          format('UPDATE public.%I SET org_id = %L WHERE id = %L', t.name,
                                 cf_test.org('b'), cf_test.row_id(t.kind, 'a', 2)))
            IN ('sqlstate=42501', 'sqlstate=23514'),
          t.name || ': with all migrations'' triggers, a row of A still cannot move to B')
FROM cf_test.tables AS t ORDER BY t.name;

SELECT * FROM finish();
ROLLBACK;
