-- 030_organizations.sql: the RLS matrix of organizations.
--
-- Every persona x orgs A and B x select, update, delete, upsert of the
-- existing row; plus creating a new organization by INSERT, by INSERT .. ON
-- CONFLICT DO NOTHING, by upsert and with RETURNING.  Members read their
-- orgs; owners and admins update; only owners delete; any signed-in user
-- creates.  A new organization is invisible to its creator until they claim
-- it (020_memberships), so an upsert or RETURNING that must read it back is
-- refused: clients create organizations with a plain INSERT and their own id.
BEGIN;
\ir support/fixture.sql

SELECT plan((SELECT count(*)::int FROM cf_test.personas) * 14 + 2 + 4);

CREATE FUNCTION cf_test.org_matrix() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  p       cf_test.personas;
  letter  text;
  org     uuid;
  have    int;
  what    text;
BEGIN
  FOR p IN SELECT * FROM cf_test.personas ORDER BY name LOOP
    what := format('organizations: %s (A:%s B:%s) ', p.name,
                   coalesce(p.role_a, '-'), coalesce(p.role_b, '-'));
    FOREACH letter IN ARRAY ARRAY['a', 'b'] LOOP
      org := cf_test.org(letter);
      have := cf_test.rank(CASE letter WHEN 'a' THEN p.role_a ELSE p.role_b END);
      RETURN NEXT cf_test.check(p.name,
        format('SELECT 1 FROM public.organizations WHERE id = %L', org),
        cf_test.expect(p.name, have, 1, 'rows=1', 'rows=0'),
        what || 'select org ' || upper(letter));
      RETURN NEXT cf_test.check(p.name,
        format($q$UPDATE public.organizations SET name = 'Renamed' WHERE id = %L$q$, org),
        cf_test.expect(p.name, have, 2, 'rows=1', 'rows=0'),
        what || 'update org ' || upper(letter));
      RETURN NEXT cf_test.check(p.name,
        format('DELETE FROM public.organizations WHERE id = %L', org),
        cf_test.expect(p.name, have, 3, 'rows=1', 'rows=0'),
        what || 'delete org ' || upper(letter));
      RETURN NEXT cf_test.check(p.name,
        format($q$INSERT INTO public.organizations (id, name, slug) VALUES (%L, 'Upserted', 'rls-upserted')
                  ON CONFLICT (id) DO UPDATE SET name = excluded.name$q$, org),
        cf_test.expect(p.name, have, 2, 'rows=1', 'sqlstate=42501'),
        what || 'upsert org ' || upper(letter));
      RETURN NEXT cf_test.check(p.name,
        format($q$UPDATE public.organizations SET slug = 'rls-moved' WHERE id = %L$q$, org),
        cf_test.expect(p.name, have, 2, 'rows=1', 'rows=0'),
        what || 'change the slug of org ' || upper(letter));
    END LOOP;
    RETURN NEXT cf_test.check(p.name,
      $q$SELECT 1 FROM public.organizations WHERE id = '0193aaaa-0000-7000-8000-00000000000c'$q$,
      CASE WHEN p.name = 'anon' THEN 'sqlstate=42501' ELSE 'rows=0' END,
      what || 'select an org without members');
    RETURN NEXT cf_test.check(p.name,
      $q$INSERT INTO public.organizations (name, slug) VALUES ('Mine', 'rls-mine')$q$,
      CASE WHEN p.name = 'anon' THEN 'sqlstate=42501' ELSE 'rows=1' END,
      what || 'create an org');
    RETURN NEXT cf_test.check(p.name,
      $q$INSERT INTO public.organizations (name, slug) VALUES ('Mine', 'rls-mine')
         ON CONFLICT DO NOTHING$q$,
      CASE WHEN p.name = 'anon' THEN 'sqlstate=42501' ELSE 'rows=1' END,
      what || 'create an org with ON CONFLICT DO NOTHING');
    RETURN NEXT cf_test.check(p.name,
      $q$INSERT INTO public.organizations (name, slug) VALUES ('Mine', 'rls-mine')
         ON CONFLICT (id) DO UPDATE SET name = excluded.name$q$,
      'sqlstate=42501',
      what || 'create an org by upsert (must read back a row it cannot see yet)');
  END LOOP;
END $$;

SELECT * FROM cf_test.org_matrix();

-- Updates and deletes that read no column: only USING of UPDATE/DELETE guards.
SELECT cf_test.check('outsider', 'UPDATE public.organizations SET updated_at = now()', 'rows=0',
                     'organizations: a non-member updating without a WHERE reaches no org');
SELECT cf_test.check('outsider', 'DELETE FROM public.organizations', 'rows=0',
                     'organizations: a non-member deleting without a WHERE reaches no org');
SELECT cf_test.check('a_admin', 'UPDATE public.organizations SET updated_at = now()', 'rows=1',
                     'organizations: an admin of A updating without a WHERE reaches only A');
SELECT cf_test.check('a_admin', 'DELETE FROM public.organizations', 'rows=0',
                     'organizations: an admin deleting without a WHERE reaches no org');

-- Without a user (authenticated, no claims) nothing is visible or creatable.
SET LOCAL ROLE authenticated;
SELECT throws_ok($$INSERT INTO public.organizations (name, slug) VALUES ('Nobody', 'rls-nobody')$$,
                 '42501', NULL, 'authenticated without a sub claim cannot create an org');
SELECT is((SELECT count(*)::int FROM public.organizations), 0,
          'authenticated without a sub claim sees no org');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
