-- 040_users.sql: users see, create and update only their own row.
--
-- For every persona: the users table shows exactly one row, their own; another
-- user's row is invisible, cannot be updated, upserted or deleted; their own
-- row can be updated and upserted but not deleted (no DELETE privilege) nor
-- re-keyed to another id; a new user can insert their own row and no other.
BEGIN;
\ir support/fixture.sql

SELECT plan((SELECT count(*)::int FROM cf_test.personas) * 11 + 4);

CREATE FUNCTION cf_test.users_matrix() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  p      cf_test.personas;
  other  uuid := '0193aaaa-0001-7000-8000-000000000009';  -- t_member
  self   uuid;
  what   text;
  anon   boolean;
BEGIN
  FOR p IN SELECT * FROM cf_test.personas ORDER BY name LOOP
    what := 'users: ' || p.name || ' ';
    anon := p.name = 'anon';
    self := coalesce(p.uid, '0193aaaa-0001-7000-8000-000000000001');
    RETURN NEXT cf_test.check(p.name, 'SELECT id FROM public.users',
      CASE WHEN anon THEN 'sqlstate=42501' ELSE 'rows=1' END,
      what || 'sees exactly one user row');
    RETURN NEXT cf_test.check(p.name, format('SELECT 1 FROM public.users WHERE id = %L', self),
      CASE WHEN anon THEN 'sqlstate=42501' ELSE 'rows=1' END,
      what || 'sees their own row');
    RETURN NEXT cf_test.check(p.name, format('SELECT 1 FROM public.users WHERE id = %L', other),
      CASE WHEN anon THEN 'sqlstate=42501' ELSE 'rows=0' END,
      what || 'does not see another user''s row');
    RETURN NEXT cf_test.check(p.name,
      format($q$UPDATE public.users SET full_name = 'Me' WHERE id = %L$q$, self),
      CASE WHEN anon THEN 'sqlstate=42501' ELSE 'rows=1' END,
      what || 'updates their own row');
    RETURN NEXT cf_test.check(p.name,
      format($q$UPDATE public.users SET full_name = 'Hijacked' WHERE id = %L$q$, other),
      CASE WHEN anon THEN 'sqlstate=42501' ELSE 'rows=0' END,
      what || 'cannot update another user''s row');
    -- RLS alone (later migrations also forbid key changes with a trigger).
    PERFORM cf_test.set_user_triggers(false);
    RETURN NEXT cf_test.check(p.name,
      format($q$UPDATE public.users SET id = gen_random_uuid() WHERE id = %L$q$, self),
      'sqlstate=42501',
      what || 'cannot re-key their own row to another id');
    RETURN NEXT cf_test.check(p.name, 'UPDATE public.users SET id = gen_random_uuid()',
      'sqlstate=42501',
      what || 'cannot re-key their row with an update that reads no column');
    PERFORM cf_test.set_user_triggers(true);
    RETURN NEXT cf_test.check(p.name, 'UPDATE public.users SET updated_at = now()',
      CASE WHEN anon THEN 'sqlstate=42501' ELSE 'rows=1' END,
      what || 'an update without a WHERE reaches only their own row');
    RETURN NEXT cf_test.check(p.name,
      format($q$INSERT INTO public.users (id, email) VALUES (%L, 'x@rls.test')
                ON CONFLICT (id) DO UPDATE SET full_name = 'Upserted'$q$, self),
      CASE WHEN anon THEN 'sqlstate=42501' ELSE 'rows=1' END,
      what || 'upserts their own row');
    RETURN NEXT cf_test.check(p.name,
      format($q$INSERT INTO public.users (id, email) VALUES (%L, 'x@rls.test')
                ON CONFLICT (id) DO UPDATE SET full_name = 'Hijacked'$q$, other),
      'sqlstate=42501',
      what || 'cannot upsert another user''s row');
    RETURN NEXT cf_test.check(p.name,
      format('DELETE FROM public.users WHERE id = %L', self),
      'sqlstate=42501',
      what || 'cannot delete their own row (no DELETE privilege)');
  END LOOP;
END $$;

SELECT * FROM cf_test.users_matrix();

-- A brand-new user (no row yet) signs up.
SET LOCAL request.jwt.claims = '{"sub": "0193aaaa-0001-7000-8000-0000000000ff"}';
SET LOCAL ROLE authenticated;
SELECT throws_ok($$INSERT INTO public.users (id, email) VALUES
                   ('0193aaaa-0001-7000-8000-0000000000fe', 'someone-else@rls.test')$$,
                 '42501', NULL, 'a new user cannot create a row with another id');
SELECT throws_ok($$INSERT INTO public.users (email) VALUES ('random-id@rls.test')$$,
                 '42501', NULL, 'a new user cannot create a row with a generated id');
SELECT lives_ok($$INSERT INTO public.users (id, email) VALUES
                  ('0193aaaa-0001-7000-8000-0000000000ff', 'newcomer@rls.test')$$,
                'a new user creates their own row');
SELECT results_eq($$SELECT id FROM public.users$$,
                  $$VALUES ('0193aaaa-0001-7000-8000-0000000000ff'::uuid)$$,
                  'the new user sees only their own row');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
