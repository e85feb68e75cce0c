-- 050_seed.sql: the demo data of sql/seed/demo.sql, and isolation on it.
--
-- Proves: the seed writes exactly the seed's demo data for "ClientFlow Demo"
-- plus a second member rep, and a second organization "Northwind Field Sales"
-- with data in every tenant table; the fixed ids that docs/seed.md lists;
-- running it a second time raises no error and changes nothing; under RLS
-- each organization's people see their organization's rows and none of the
-- other's.
BEGIN;
\ir ../../sql/seed/demo.sql

SELECT plan(27);

CREATE TEMP TABLE seed_orgs (slug text PRIMARY KEY, id uuid NOT NULL);
INSERT INTO seed_orgs VALUES ('clientflow-demo', '01936b2a-0000-7000-8000-100000000001'),
                             ('northwind', '01936b2a-0000-7000-8000-200000000001');

-- A digest of every row of every table, to compare before and after a re-run.
CREATE FUNCTION pg_temp.seed_digest() RETURNS text LANGUAGE sql AS $$
  SELECT md5(string_agg(x, E'\n' ORDER BY x)) FROM (
    SELECT 'o' || t::text AS x FROM public.organizations AS t UNION ALL
    SELECT 'u' || t::text FROM public.users AS t UNION ALL
    SELECT 'm' || t::text FROM public.memberships AS t UNION ALL
    SELECT 'c' || t::text FROM public.contacts AS t UNION ALL
    SELECT 'd' || t::text FROM public.deals AS t UNION ALL
    SELECT 'a' || t::text FROM public.activities AS t UNION ALL
    SELECT 'p' || t::text FROM public.appointments AS t UNION ALL
    SELECT 's' || t::text FROM public.messages AS t UNION ALL
    SELECT 'z' || t::text FROM public.automations AS t UNION ALL
    SELECT 'q' || t::text FROM public.daily_metrics AS t) AS rows
$$;
CREATE TEMP TABLE seed_first AS SELECT pg_temp.seed_digest() AS digest;

-- ClientFlow Demo: exactly the seed's data --------------------------------------
SELECT results_eq($$SELECT id, name FROM public.organizations WHERE slug = 'clientflow-demo'$$,
                  $$VALUES ('01936b2a-0000-7000-8000-100000000001'::uuid, 'ClientFlow Demo')$$,
                  'organization ClientFlow Demo (clientflow-demo) with its fixed id');
SELECT results_eq($$SELECT u.email, m.role FROM public.memberships AS m
                    JOIN public.users AS u ON u.id = m.user_id
                    WHERE m.org_id = '01936b2a-0000-7000-8000-100000000001' ORDER BY 1$$,
                  $$VALUES ('demo@clientflow.test', 'owner'), ('rep@clientflow.test', 'member')$$,
                  'demo@clientflow.test owns ClientFlow Demo; rep@clientflow.test is a member');
SELECT is((SELECT count(*)::int FROM public.contacts
           WHERE org_id = '01936b2a-0000-7000-8000-100000000001' AND cardinality(tags) > 0),
          10, '10 contacts, all tagged');
SELECT results_eq($$SELECT stage FROM public.deals
                    WHERE org_id = '01936b2a-0000-7000-8000-100000000001' AND value > 0 ORDER BY 1$$,
                  $$VALUES ('lead'), ('lost'), ('proposal'), ('qualified'), ('won')$$,
                  '5 deals with values, one per stage');
SELECT is((SELECT count(*)::int FROM public.appointments
           WHERE org_id = '01936b2a-0000-7000-8000-100000000001' AND starts_at > now()),
          5, '5 future appointments');
SELECT is((SELECT count(*)::int FROM public.appointments
           WHERE org_id = '01936b2a-0000-7000-8000-100000000001'),
          5, 'and no other appointment');
SELECT results_eq($$SELECT name, trigger, action FROM public.automations
                    WHERE org_id = '01936b2a-0000-7000-8000-100000000001' ORDER BY 1$$,
                  $$VALUES ('Booking confirmation', 'appointment_booked', 'send_email'),
                           ('Follow-up reminder', 'appointment_reminder', 'send_sms')$$,
                  '2 automations: booking confirmation and follow-up reminder');
SELECT results_eq($$SELECT kind FROM public.activities
                    WHERE org_id = '01936b2a-0000-7000-8000-100000000001' ORDER BY 1$$,
                  $$VALUES ('call'), ('email'), ('note')$$,
                  '3 activities: a call, an email, a note');
SELECT results_eq($$SELECT day FROM public.daily_metrics
                    WHERE org_id = '01936b2a-0000-7000-8000-100000000001' ORDER BY 1$$,
                  $$SELECT (current_date - d)::date FROM generate_series(6, 0, -1) AS d$$,
                  '7 daily metrics, one per day of the last seven days');
SELECT is((SELECT count(*)::int FROM public.messages
           WHERE org_id = '01936b2a-0000-7000-8000-100000000001'),
          0, 'no messages (the seed has none)');

-- Northwind Field Sales -------------------------------------------------------
SELECT results_eq($$SELECT u.email, m.role FROM public.memberships AS m
                    JOIN public.users AS u ON u.id = m.user_id
                    WHERE m.org_id = '01936b2a-0000-7000-8000-200000000001' ORDER BY 1$$,
                  $$VALUES ('owner@northwind.test', 'owner'), ('rep@northwind.test', 'member')$$,
                  'Northwind has its own owner and member');
SELECT is(ARRAY(SELECT v.t FROM seed_orgs AS o, LATERAL (VALUES
            ('contacts',      (SELECT count(*) FROM public.contacts WHERE org_id = o.id)),
            ('deals',         (SELECT count(*) FROM public.deals WHERE org_id = o.id)),
            ('activities',    (SELECT count(*) FROM public.activities WHERE org_id = o.id)),
            ('appointments',  (SELECT count(*) FROM public.appointments WHERE org_id = o.id)),
            ('messages',      (SELECT count(*) FROM public.messages WHERE org_id = o.id)),
            ('automations',   (SELECT count(*) FROM public.automations WHERE org_id = o.id)),
            ('daily_metrics', (SELECT count(*) FROM public.daily_metrics WHERE org_id = o.id)))
            AS v(t, n)
                WHERE o.slug = 'northwind' AND v.n = 0),
          '{}'::text[], 'Northwind has rows of its own in every tenant table');
SELECT results_eq($$SELECT email FROM public.users ORDER BY 1$$,
                  $$VALUES ('demo@clientflow.test'), ('owner@northwind.test'),
                           ('rep@clientflow.test'), ('rep@northwind.test')$$,
                  'four users');
SELECT results_eq($$SELECT id FROM public.users ORDER BY id$$,
                  $$VALUES ('01936b2a-0001-7000-8000-000000000001'::uuid),
                           ('01936b2a-0001-7000-8000-000000000002'::uuid),
                           ('01936b2a-0001-7000-8000-000000000003'::uuid),
                           ('01936b2a-0001-7000-8000-000000000004'::uuid)$$,
                  'the users have their fixed ids');

-- Idempotent ------------------------------------------------------------------
\ir ../../sql/seed/demo.sql
SELECT is(pg_temp.seed_digest(), (SELECT digest FROM seed_first),
          'a second run of the seed changes nothing');
SELECT is((SELECT count(*)::int FROM public.contacts), 14, 'still 14 contacts after the second run');

-- Isolation on the seeded data ------------------------------------------------
SET LOCAL request.jwt.claims = '{"sub": "01936b2a-0001-7000-8000-000000000004"}';
SET LOCAL ROLE authenticated;
SELECT results_eq($$SELECT slug FROM public.organizations$$, $$VALUES ('northwind')$$,
                  'rep@northwind.test sees only Northwind');
SELECT is((SELECT count(*)::int FROM public.contacts), 4, 'rep@northwind.test sees the 4 Northwind contacts');
SELECT is((SELECT count(*)::int FROM public.contacts
           WHERE org_id = '01936b2a-0000-7000-8000-100000000001'), 0,
          'rep@northwind.test sees no ClientFlow Demo contact');
SELECT is((SELECT count(*)::int FROM public.deals
           WHERE org_id = '01936b2a-0000-7000-8000-100000000001'), 0,
          'rep@northwind.test sees no ClientFlow Demo deal');
SELECT throws_ok($$INSERT INTO public.contacts (org_id, first_name)
                   VALUES ('01936b2a-0000-7000-8000-100000000001', 'Spy')$$,
                 '42501', NULL, 'rep@northwind.test cannot write into ClientFlow Demo');
RESET ROLE;

SET LOCAL request.jwt.claims = '{"sub": "01936b2a-0001-7000-8000-000000000002"}';
SET LOCAL ROLE authenticated;
SELECT is((SELECT count(*)::int FROM public.contacts), 10, 'rep@clientflow.test sees the 10 demo contacts');
SELECT is((SELECT count(*)::int FROM public.daily_metrics), 7, 'rep@clientflow.test reads the 7 metrics');
SELECT is((SELECT count(*)::int FROM public.messages), 0, 'rep@clientflow.test sees no Northwind message');
SELECT results_eq($$SELECT id FROM public.users$$,
                  $$VALUES ('01936b2a-0001-7000-8000-000000000002'::uuid)$$,
                  'rep@clientflow.test sees only their own user row');
RESET ROLE;

SET LOCAL request.jwt.claims = '{"sub": "01936b2a-0001-7000-8000-000000000001"}';
SET LOCAL ROLE authenticated;
SELECT is((SELECT count(*)::int FROM public.memberships), 2, 'demo@clientflow.test sees both demo memberships');
SELECT is((SELECT count(*)::int FROM public.appointments), 5, 'demo@clientflow.test sees the 5 appointments');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
