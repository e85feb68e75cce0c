-- 020_memberships.sql: who may join, promote, remove; creating an org;
-- losing access.
--
-- Proves: a member cannot add themselves to another org nor promote
-- themselves (by update or upsert); an admin manages members and admins but
-- cannot create, promote to, demote or remove an owner; an owner can; a new
-- organization is claimed as first owner by its creator only, and only while
-- it has no members; an organization written without a user (seed, operator)
-- cannot be claimed; a member removed mid-transaction loses access at the
-- next statement.  Personas act at top level with SET LOCAL ROLE and claims.
BEGIN;
\ir support/fixture.sql

SELECT plan(39);

-- a_member --------------------------------------------------------------------
SET LOCAL request.jwt.claims = '{"sub": "0193aaaa-0001-7000-8000-000000000003"}';
SET LOCAL ROLE authenticated;

SELECT is((SELECT count(*)::int FROM public.memberships WHERE org_id = '0193aaaa-0000-7000-8000-00000000000a'),
          7, 'a member sees every membership of their org');
SELECT is((SELECT count(*)::int FROM public.memberships WHERE org_id = '0193aaaa-0000-7000-8000-00000000000b'),
          0, 'a member sees no membership of another org');
SELECT throws_ok($$INSERT INTO public.memberships (org_id, user_id, role) VALUES
                   ('0193aaaa-0000-7000-8000-00000000000b', '0193aaaa-0001-7000-8000-000000000003', 'member')$$,
                 '42501', NULL, 'a member cannot add themselves to another org');
SELECT throws_ok($$INSERT INTO public.memberships (org_id, user_id, role) VALUES
                   ('0193aaaa-0000-7000-8000-00000000000b', '0193aaaa-0001-7000-8000-000000000003', 'owner')$$,
                 '42501', NULL, 'a member cannot make themselves owner of another org');
SELECT throws_ok($$INSERT INTO public.memberships (org_id, user_id, role) VALUES
                   ('0193aaaa-0000-7000-8000-00000000000c', '0193aaaa-0001-7000-8000-000000000003', 'owner')$$,
                 '42501', NULL, 'a member cannot claim an organization without members');
WITH u AS (UPDATE public.memberships SET role = 'admin'
                      WHERE user_id = '0193aaaa-0001-7000-8000-000000000003' RETURNING 1)
SELECT is(count(*)::int, 0, 'a member cannot promote themselves to admin') FROM u;
WITH u AS (UPDATE public.memberships SET role = 'owner'
                      WHERE user_id = '0193aaaa-0001-7000-8000-000000000003' RETURNING 1)
SELECT is(count(*)::int, 0, 'a member cannot promote themselves to owner') FROM u;
SELECT throws_ok($$INSERT INTO public.memberships (org_id, id, user_id, role)
                   SELECT org_id, id, user_id, 'owner' FROM public.memberships
                   WHERE user_id = '0193aaaa-0001-7000-8000-000000000003'
                   ON CONFLICT (org_id, id) DO UPDATE SET role = 'owner'$$,
                 '42501', NULL, 'a member cannot promote themselves by upsert');
WITH d AS (DELETE FROM public.memberships
                      WHERE user_id = '0193aaaa-0001-7000-8000-000000000009' RETURNING 1)
SELECT is(count(*)::int, 0, 'a member cannot remove another member') FROM d;
SELECT is((SELECT role FROM public.memberships WHERE user_id = '0193aaaa-0001-7000-8000-000000000003'),
          'member', 'the member is still a plain member');

-- a_admin ---------------------------------------------------------------------
RESET ROLE;
SET LOCAL request.jwt.claims = '{"sub": "0193aaaa-0001-7000-8000-000000000002"}';
SET LOCAL ROLE authenticated;

SELECT lives_ok($$INSERT INTO public.memberships (org_id, id, user_id, role) VALUES
                  ('0193aaaa-0000-7000-8000-00000000000a', '0193aaaa-0002-7000-8000-e00000000001',
                   '0193aaaa-0001-7000-8000-000000000010', 'member')$$,
                'an admin adds a member');
WITH u AS (UPDATE public.memberships SET role = 'admin'
                      WHERE id = '0193aaaa-0002-7000-8000-e00000000001' RETURNING 1)
SELECT is(count(*)::int, 1, 'an admin promotes a member to admin') FROM u;
SELECT throws_ok($$UPDATE public.memberships SET role = 'owner'
                   WHERE id = '0193aaaa-0002-7000-8000-e00000000001'$$,
                 '42501', NULL, 'an admin cannot promote anyone to owner');
SELECT throws_ok($$UPDATE public.memberships SET role = 'owner'
                   WHERE user_id = '0193aaaa-0001-7000-8000-000000000002'$$,
                 '42501', NULL, 'an admin cannot promote themselves to owner');
SELECT throws_ok($$INSERT INTO public.memberships (org_id, user_id, role) VALUES
                   ('0193aaaa-0000-7000-8000-00000000000a', '0193aaaa-0001-7000-8000-000000000012', 'owner')$$,
                 '42501', NULL, 'an admin cannot create an owner membership');
WITH u AS (UPDATE public.memberships SET role = 'member'
                      WHERE user_id = '0193aaaa-0001-7000-8000-000000000001' RETURNING 1)
SELECT is(count(*)::int, 0, 'an admin cannot demote the owner') FROM u;
WITH d AS (DELETE FROM public.memberships
                      WHERE user_id = '0193aaaa-0001-7000-8000-000000000001' RETURNING 1)
SELECT is(count(*)::int, 0, 'an admin cannot remove the owner') FROM d;
SELECT throws_ok($$INSERT INTO public.memberships (org_id, user_id, role) VALUES
                   ('0193aaaa-0000-7000-8000-00000000000b', '0193aaaa-0001-7000-8000-000000000002', 'member')$$,
                 '42501', NULL, 'an admin cannot add themselves to another org');
WITH d AS (DELETE FROM public.memberships
                      WHERE id = '0193aaaa-0002-7000-8000-e00000000001' RETURNING 1)
SELECT is(count(*)::int, 1, 'an admin removes an admin') FROM d;

-- a_owner ---------------------------------------------------------------------
RESET ROLE;
SET LOCAL request.jwt.claims = '{"sub": "0193aaaa-0001-7000-8000-000000000001"}';
SET LOCAL ROLE authenticated;

SELECT lives_ok($$INSERT INTO public.memberships (org_id, user_id, role) VALUES
                  ('0193aaaa-0000-7000-8000-00000000000a', '0193aaaa-0001-7000-8000-000000000010', 'owner')$$,
                'an owner creates an owner membership');
WITH u AS (UPDATE public.memberships SET role = 'owner'
                      WHERE org_id = '0193aaaa-0000-7000-8000-00000000000a'
                        AND user_id = '0193aaaa-0001-7000-8000-000000000002' RETURNING 1)
SELECT is(count(*)::int, 1, 'an owner promotes an admin to owner') FROM u;
WITH u AS (UPDATE public.memberships SET role = 'member'
                      WHERE org_id = '0193aaaa-0000-7000-8000-00000000000a'
                        AND user_id = '0193aaaa-0001-7000-8000-000000000010' RETURNING 1)
SELECT is(count(*)::int, 1, 'an owner demotes another owner') FROM u;
SELECT throws_ok($$INSERT INTO public.memberships (org_id, user_id, role) VALUES
                   ('0193aaaa-0000-7000-8000-00000000000b', '0193aaaa-0001-7000-8000-000000000001', 'owner')$$,
                 '42501', NULL, 'an owner of A cannot make themselves owner of B');

-- Creating an organization ----------------------------------------------------
RESET ROLE;
SET LOCAL request.jwt.claims = '{"sub": "0193aaaa-0001-7000-8000-000000000012"}';
SET LOCAL ROLE authenticated;

SELECT lives_ok($$INSERT INTO public.organizations (id, name, slug) VALUES
                  ('0193aaaa-0000-7000-8000-00000000000d', 'New Org', 'rls-new-org')$$,
                'a signed-in user creates an organization (plain INSERT, id chosen by the client)');
SELECT is((SELECT count(*)::int FROM public.organizations WHERE id = '0193aaaa-0000-7000-8000-00000000000d'),
          0, 'the creator does not see the organization before claiming it');
SELECT throws_ok($$INSERT INTO public.memberships (org_id, user_id, role) VALUES
                   ('0193aaaa-0000-7000-8000-00000000000d', '0193aaaa-0001-7000-8000-000000000012', 'member')$$,
                 '42501', NULL, 'the first membership of a new organization must be owner');

RESET ROLE;
SET LOCAL request.jwt.claims = '{"sub": "0193aaaa-0001-7000-8000-000000000005"}';
SET LOCAL ROLE authenticated;
SELECT throws_ok($$INSERT INTO public.memberships (org_id, user_id, role) VALUES
                   ('0193aaaa-0000-7000-8000-00000000000d', '0193aaaa-0001-7000-8000-000000000005', 'owner')$$,
                 '42501', NULL, 'another user cannot claim an organization they did not create');

RESET ROLE;
SET LOCAL request.jwt.claims = '{"sub": "0193aaaa-0001-7000-8000-000000000012"}';
SET LOCAL ROLE authenticated;
SELECT throws_ok($$INSERT INTO public.memberships (org_id, user_id, role) VALUES
                   ('0193aaaa-0000-7000-8000-00000000000d', '0193aaaa-0001-7000-8000-000000000005', 'owner')$$,
                 '42501', NULL, 'the creator cannot hand the first ownership to someone else');
SELECT lives_ok($$INSERT INTO public.memberships (org_id, user_id, role) VALUES
                  ('0193aaaa-0000-7000-8000-00000000000d', '0193aaaa-0001-7000-8000-000000000012', 'owner')$$,
                'the creator claims their new organization as its first owner');
SELECT is((SELECT count(*)::int FROM public.organizations WHERE id = '0193aaaa-0000-7000-8000-00000000000d'),
          1, 'the new owner sees the organization');
SELECT lives_ok($$INSERT INTO public.contacts (org_id, first_name) VALUES
                  ('0193aaaa-0000-7000-8000-00000000000d', 'First contact')$$,
                'the new owner works in the organization');
SELECT throws_ok($$INSERT INTO public.memberships (org_id, user_id, role) VALUES
                   ('0193aaaa-0000-7000-8000-00000000000c', '0193aaaa-0001-7000-8000-000000000012', 'owner')$$,
                 '42501', NULL, 'an organization written without a user (seed, operator) cannot be claimed');

RESET ROLE;
SET LOCAL request.jwt.claims = '{"sub": "0193aaaa-0001-7000-8000-000000000007"}';
SET LOCAL ROLE authenticated;
SELECT throws_ok($$INSERT INTO public.memberships (org_id, user_id, role) VALUES
                   ('0193aaaa-0000-7000-8000-00000000000d', '0193aaaa-0001-7000-8000-000000000007', 'owner')$$,
                 '42501', NULL, 'a claimed organization cannot be claimed again');

-- A member removed mid-transaction ------------------------------------------
RESET ROLE;
SET LOCAL request.jwt.claims = '{"sub": "0193aaaa-0001-7000-8000-000000000013"}';
SET LOCAL ROLE authenticated;
SELECT is((SELECT count(*)::int FROM public.contacts), 2, 'before removal the member sees the contacts of A');

RESET ROLE;
SET LOCAL request.jwt.claims = '{"sub": "0193aaaa-0001-7000-8000-000000000002"}';
SET LOCAL ROLE authenticated;
WITH d AS (DELETE FROM public.memberships
                      WHERE user_id = '0193aaaa-0001-7000-8000-000000000013' RETURNING 1)
SELECT is(count(*)::int, 1, 'an admin removes the member') FROM d;

RESET ROLE;
SET LOCAL request.jwt.claims = '{"sub": "0193aaaa-0001-7000-8000-000000000013"}';
SET LOCAL ROLE authenticated;
SELECT is((SELECT count(*)::int FROM public.contacts), 0, 'the removed member sees no contact at the next statement');
WITH u AS (UPDATE public.deals SET title = 'Mine now' RETURNING 1)
SELECT is(count(*)::int, 0, 'the removed member updates nothing') FROM u;
SELECT throws_ok($$INSERT INTO public.messages (org_id, channel, direction, body) VALUES
                   ('0193aaaa-0000-7000-8000-00000000000a', 'sms', 'outbound', 'still here?')$$,
                 '42501', NULL, 'the removed member cannot write into the org');
SELECT is((SELECT count(*)::int FROM public.organizations), 0, 'the removed member no longer sees the org');

RESET ROLE;
SELECT * FROM finish();
ROLLBACK;
