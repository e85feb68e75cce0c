-- support/fixture.sql: the shared fixture and case runner of the RLS suite.
--
-- Included (\ir) by every tests/pgtap/*.sql file right after its BEGIN; it is
-- rolled back with the file's transaction.  It runs as the superuser postgres,
-- which bypasses RLS (FORCE RLS would bind the tables' owner).
--
-- Two organizations A and B, one row of each tenant table in each, plus one
-- unreferenced "movable" row in A per table.  Personas (fixed ids):
--
--   persona    role in A  role in B  note
--   a_owner    owner      -
--   a_admin    admin      -
--   a_member   member     -
--   ab_member  member     member
--   b_member   -          member
--   b_owner    -          owner
--   outsider   -          -          has a user row, no membership
--   removed    -          -          was a member of A, membership deleted
--   anon       -          -          the `anon` role, no claims
--
-- cf_test.outcome(persona, sql) runs one statement as the persona inside a
-- subtransaction that is always rolled back, and reports what happened as
-- text: 'rows=N' (rows returned or affected) or 'sqlstate=XXXXX'.  The
-- assertions compare that text with the expected outcome, so each case is an
-- ordinary pgTAP is() and every case starts from the same fixture.

CREATE SCHEMA cf_test;

CREATE TABLE cf_test.personas (
  name    text PRIMARY KEY,
  uid     uuid,           -- NULL for anon
  role_a  text,           -- role in org A, NULL if none
  role_b  text            -- role in org B, NULL if none
);
INSERT INTO cf_test.personas VALUES
  ('a_owner',   '0193aaaa-0001-7000-8000-000000000001', 'owner',  NULL),
  ('a_admin',   '0193aaaa-0001-7000-8000-000000000002', 'admin',  NULL),
  ('a_member',  '0193aaaa-0001-7000-8000-000000000003', 'member', NULL),
  ('ab_member', '0193aaaa-0001-7000-8000-000000000004', 'member', 'member'),
  ('b_member',  '0193aaaa-0001-7000-8000-000000000005', NULL,     'member'),
  ('b_owner',   '0193aaaa-0001-7000-8000-000000000006', NULL,     'owner'),
  ('outsider',  '0193aaaa-0001-7000-8000-000000000007', NULL,     NULL),
  ('removed',   '0193aaaa-0001-7000-8000-000000000008', NULL,     NULL),
  ('anon',      NULL,                                   NULL,     NULL);

-- Users that are targets rather than actors.
--   09 t_member   member of A and B (the membership rows the matrix updates)
--   10 u_new      no membership (the user the matrix adds)
--   11 u_move     member of A through the movable membership row
--   12 creator    creates an organization in 020_memberships
--   13 a_member2  member of A, revoked mid-transaction in 020_memberships
INSERT INTO public.users (id, email, full_name)
SELECT p.uid, p.name || '@rls.test', p.name FROM cf_test.personas AS p WHERE p.uid IS NOT NULL
UNION ALL
SELECT ('0193aaaa-0001-7000-8000-0000000000' || n)::uuid, u || '@rls.test', u
FROM (VALUES ('09', 't_member'), ('10', 'u_new'), ('11', 'u_move'),
             ('12', 'creator'), ('13', 'a_member2')) AS t(n, u);

INSERT INTO public.organizations (id, name, slug) VALUES
  ('0193aaaa-0000-7000-8000-00000000000a', 'Org A', 'rls-org-a'),
  ('0193aaaa-0000-7000-8000-00000000000b', 'Org B', 'rls-org-b'),
  ('0193aaaa-0000-7000-8000-00000000000c', 'Orphan (no members, no creator)', 'rls-orphan');

CREATE FUNCTION cf_test.org(letter text) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
  SELECT ('0193aaaa-0000-7000-8000-00000000000' || lower(letter))::uuid
$$;
CREATE FUNCTION cf_test.uid(persona text) RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT uid FROM cf_test.personas WHERE name = persona
$$;
-- Id of fixture row `n` of table kind `kind` in org `letter`:
-- n = 1 the ordinary row, n = 2 the movable row.
CREATE FUNCTION cf_test.row_id(kind text, letter text, n int) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
  SELECT ('0193aaaa-00' || kind || '-7000-8000-' || lower(letter) || '0000000000' || n)::uuid
$$;

INSERT INTO public.memberships (org_id, user_id, role)
SELECT cf_test.org('a'), uid, role_a FROM cf_test.personas WHERE role_a IS NOT NULL
UNION ALL
SELECT cf_test.org('b'), uid, role_b FROM cf_test.personas WHERE role_b IS NOT NULL
UNION ALL
SELECT cf_test.org('a'), '0193aaaa-0001-7000-8000-000000000013', 'member';
-- The membership rows the matrix works on.
INSERT INTO public.memberships (org_id, id, user_id, role) VALUES
  (cf_test.org('a'), cf_test.row_id('02', 'a', 1), '0193aaaa-0001-7000-8000-000000000009', 'member'),
  (cf_test.org('b'), cf_test.row_id('02', 'b', 1), '0193aaaa-0001-7000-8000-000000000009', 'member'),
  (cf_test.org('a'), cf_test.row_id('02', 'a', 2), '0193aaaa-0001-7000-8000-000000000011', 'member');
-- "removed": a member of A whose membership was just deleted.
INSERT INTO public.memberships (org_id, user_id, role)
  VALUES (cf_test.org('a'), cf_test.uid('removed'), 'member');
DELETE FROM public.memberships
  WHERE org_id = cf_test.org('a') AND user_id = cf_test.uid('removed');

-- One row per tenant table in A and in B (n = 1), one movable row in A (n = 2).
INSERT INTO public.contacts (org_id, id, first_name, email)
SELECT cf_test.org(l), cf_test.row_id('03', l, n), 'Contact ' || l || n, 'c' || n || '@' || l || '.test'
FROM (VALUES ('a', 1), ('b', 1), ('a', 2)) AS r(l, n);
INSERT INTO public.deals (org_id, id, contact_id, title)
SELECT cf_test.org(l), cf_test.row_id('04', l, n),
       CASE WHEN n = 1 THEN cf_test.row_id('03', l, 1) END, 'Deal ' || l || n
FROM (VALUES ('a', 1), ('b', 1), ('a', 2)) AS r(l, n);
INSERT INTO public.activities (org_id, id, kind, subject, contact_id, deal_id)
SELECT cf_test.org(l), cf_test.row_id('05', l, n), 'note', 'Activity ' || l || n,
       CASE WHEN n = 1 THEN cf_test.row_id('03', l, 1) END,
       CASE WHEN n = 1 THEN cf_test.row_id('04', l, 1) END
FROM (VALUES ('a', 1), ('b', 1), ('a', 2)) AS r(l, n);
INSERT INTO public.appointments (org_id, id, contact_id, title, starts_at, ends_at)
SELECT cf_test.org(l), cf_test.row_id('06', l, n),
       CASE WHEN n = 1 THEN cf_test.row_id('03', l, 1) END, 'Appointment ' || l || n,
       now() + interval '1 day', now() + interval '1 day 1 hour'
FROM (VALUES ('a', 1), ('b', 1), ('a', 2)) AS r(l, n);
INSERT INTO public.messages (org_id, id, contact_id, channel, direction, body)
SELECT cf_test.org(l), cf_test.row_id('07', l, n),
       CASE WHEN n = 1 THEN cf_test.row_id('03', l, 1) END, 'sms', 'outbound', 'Message ' || l || n
FROM (VALUES ('a', 1), ('b', 1), ('a', 2)) AS r(l, n);
INSERT INTO public.automations (org_id, id, name, trigger, action)
SELECT cf_test.org(l), cf_test.row_id('08', l, n), 'Automation ' || l || n,
       'contact_created', 'webhook'
FROM (VALUES ('a', 1), ('b', 1), ('a', 2)) AS r(l, n);
INSERT INTO public.daily_metrics (org_id, id, day)
SELECT cf_test.org(l), cf_test.row_id('09', l, n), date '2020-01-01' + n
FROM (VALUES ('a', 1), ('b', 1), ('a', 2)) AS r(l, n);

-- Become a persona for the rest of the current (sub)transaction.
CREATE FUNCTION cf_test.become(persona text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF persona = 'anon' THEN
    PERFORM set_config('request.jwt.claims', '', true);
    SET LOCAL ROLE anon;
  ELSE
    IF cf_test.uid(persona) IS NULL THEN
      RAISE EXCEPTION 'cf_test: unknown persona %', persona;
    END IF;
    PERFORM set_config('request.jwt.claims',
                       json_build_object('sub', cf_test.uid(persona))::text, true);
    SET LOCAL ROLE authenticated;
  END IF;
END $$;

-- Run stmt as persona in a subtransaction that is always rolled back.
-- OUT: 'rows=N' or 'sqlstate=XXXXX'.
CREATE FUNCTION cf_test.outcome(persona text, stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  n       bigint;
  result  text;
BEGIN
  BEGIN
    PERFORM cf_test.become(persona);
    EXECUTE stmt;
    GET DIAGNOSTICS n = ROW_COUNT;
    result := 'rows=' || n;
    RAISE EXCEPTION USING ERRCODE = 'CFTST', MESSAGE = 'cf_test rollback';
  EXCEPTION
    WHEN SQLSTATE 'CFTST' THEN NULL;
    WHEN OTHERS THEN result := 'sqlstate=' || SQLSTATE;
  END;
  RETURN result;
END $$;

-- Disable or re-enable the user triggers of the registry's tables
-- (cf_sync.tables; foreign keys stay).  Later migrations (003_sync) forbid key changes with a BEFORE
-- trigger, which fires before RLS's WITH CHECK; the tests that prove WITH
-- CHECK itself stops a row moving to another org run with triggers off.
CREATE FUNCTION cf_test.set_user_triggers(enabled boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  t text;
BEGIN
  FOR t IN SELECT r.name FROM cf_sync.tables AS r ORDER BY r.table_no LOOP
    EXECUTE format('ALTER TABLE public.%I %s TRIGGER USER', t,
                   CASE WHEN enabled THEN 'ENABLE' ELSE 'DISABLE' END);
  END LOOP;
END $$;

-- Rank of a role: what it may do.  NULL role (not a member) is 0.
CREATE FUNCTION cf_test.rank(role text) RETURNS int LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE role WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 WHEN 'member' THEN 1 ELSE 0 END
$$;

-- What each org-scoped table requires (a rank) per command, and how to write
-- each statement.  In the templates %1$L is the org id, %2$L a row id, %3$L a
-- fresh id, %4$L (memberships only) the user of the proposed row: the
-- existing row's user when upserting it, a user without membership otherwise.  insert_sql adds a new row; update_sql changes a harmless column
-- of row %2$L; upsert_sql proposes row %2$L and updates it on conflict.
CREATE TABLE cf_test.tables (
  name        text PRIMARY KEY,
  kind        text NOT NULL,  -- the id block of cf_test.row_id
  req_select  int NOT NULL,
  req_insert  int NOT NULL,
  req_update  int NOT NULL,
  req_delete  int NOT NULL,
  insert_sql  text NOT NULL,
  update_sql  text NOT NULL,
  upsert_sql  text NOT NULL
);
INSERT INTO cf_test.tables VALUES
  ('memberships', '02', 1, 2, 2, 2,
   $q$INSERT INTO public.memberships (org_id, id, user_id, role)
      VALUES (%1$L, %3$L, '0193aaaa-0001-7000-8000-000000000010', 'member')$q$,
   $q$UPDATE public.memberships SET role = 'admin' WHERE org_id = %1$L AND id = %2$L$q$,
   $q$INSERT INTO public.memberships (org_id, id, user_id, role)
      VALUES (%1$L, %2$L, %4$L, 'member')
      ON CONFLICT (org_id, id) DO UPDATE SET role = 'admin'$q$),
  ('contacts', '03', 1, 1, 1, 1,
   $q$INSERT INTO public.contacts (org_id, id, first_name) VALUES (%1$L, %3$L, 'New')$q$,
   $q$UPDATE public.contacts SET last_name = 'Changed' WHERE org_id = %1$L AND id = %2$L$q$,
   $q$INSERT INTO public.contacts (org_id, id, first_name) VALUES (%1$L, %2$L, 'Upserted')
      ON CONFLICT (org_id, id) DO UPDATE SET first_name = excluded.first_name$q$),
  ('deals', '04', 1, 1, 1, 1,
   $q$INSERT INTO public.deals (org_id, id, title) VALUES (%1$L, %3$L, 'New')$q$,
   $q$UPDATE public.deals SET value = value + 1 WHERE org_id = %1$L AND id = %2$L$q$,
   $q$INSERT INTO public.deals (org_id, id, title) VALUES (%1$L, %2$L, 'Upserted')
      ON CONFLICT (org_id, id) DO UPDATE SET title = excluded.title$q$),
  ('activities', '05', 1, 1, 1, 1,
   $q$INSERT INTO public.activities (org_id, id, kind, subject) VALUES (%1$L, %3$L, 'call', 'New')$q$,
   $q$UPDATE public.activities SET subject = 'Changed' WHERE org_id = %1$L AND id = %2$L$q$,
   $q$INSERT INTO public.activities (org_id, id, kind, subject) VALUES (%1$L, %2$L, 'call', 'Upserted')
      ON CONFLICT (org_id, id) DO UPDATE SET subject = excluded.subject$q$),
  ('appointments', '06', 1, 1, 1, 1,
   $q$INSERT INTO public.appointments (org_id, id, title, starts_at, ends_at)
      VALUES (%1$L, %3$L, 'New', now(), now() + interval '1 hour')$q$,
   $q$UPDATE public.appointments SET title = 'Changed' WHERE org_id = %1$L AND id = %2$L$q$,
   $q$INSERT INTO public.appointments (org_id, id, title, starts_at, ends_at)
      VALUES (%1$L, %2$L, 'Upserted', now(), now() + interval '1 hour')
      ON CONFLICT (org_id, id) DO UPDATE SET title = excluded.title$q$),
  ('messages', '07', 1, 1, 1, 1,
   $q$INSERT INTO public.messages (org_id, id, channel, direction, body)
      VALUES (%1$L, %3$L, 'email', 'inbound', 'New')$q$,
   $q$UPDATE public.messages SET body = 'Changed' WHERE org_id = %1$L AND id = %2$L$q$,
   $q$INSERT INTO public.messages (org_id, id, channel, direction, body)
      VALUES (%1$L, %2$L, 'email', 'inbound', 'Upserted')
      ON CONFLICT (org_id, id) DO UPDATE SET body = excluded.body$q$),
  ('automations', '08', 1, 2, 2, 2,
   $q$INSERT INTO public.automations (org_id, id, name, trigger, action)
      VALUES (%1$L, %3$L, 'New', 'message_received', 'send_email')$q$,
   $q$UPDATE public.automations SET enabled = NOT enabled WHERE org_id = %1$L AND id = %2$L$q$,
   $q$INSERT INTO public.automations (org_id, id, name, trigger, action)
      VALUES (%1$L, %2$L, 'Upserted', 'message_received', 'send_email')
      ON CONFLICT (org_id, id) DO UPDATE SET name = excluded.name$q$),
  ('daily_metrics', '09', 1, 2, 2, 2,
   $q$INSERT INTO public.daily_metrics (org_id, id, day) VALUES (%1$L, %3$L, date '2019-06-01')$q$,
   $q$UPDATE public.daily_metrics SET messages_sent = messages_sent + 1
      WHERE org_id = %1$L AND id = %2$L$q$,
   $q$INSERT INTO public.daily_metrics (org_id, id, day, messages_sent)
      VALUES (%1$L, %2$L, date '2019-06-02', 7)
      ON CONFLICT (org_id, id) DO UPDATE SET messages_sent = excluded.messages_sent$q$);

-- Expected outcome of a command needing rank `req` for a persona holding
-- rank `have`, when denial shows as `denied` ('rows=0' or 'sqlstate=42501').
-- anon has no privilege at all: always 42501.
CREATE FUNCTION cf_test.expect(persona text, have int, req int, allowed text, denied text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN persona = 'anon' THEN 'sqlstate=42501'
              WHEN have >= req THEN allowed
              ELSE denied END
$$;

-- One case: run stmt as persona and compare the outcome with `expected`; the
-- description ends with the expected outcome.
CREATE FUNCTION cf_test.check(persona text, stmt text, expected text, what text)
RETURNS text LANGUAGE sql AS $$
  SELECT is(cf_test.outcome(persona, stmt), expected, what || ' => ' || expected)
$$;

-- The matrix for one org-scoped table: every persona x {A, B} x
-- {select, insert, update, delete, upsert of an existing row, upsert of a new
-- row}: 12 cases per persona.
CREATE FUNCTION cf_test.matrix(tbl text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  t       cf_test.tables;
  p       cf_test.personas;
  letter  text;
  org     uuid;
  rid     uuid;
  have    int;
  have_b  int;
  what    text;
BEGIN
  SELECT * INTO STRICT t FROM cf_test.tables WHERE name = tbl;
  FOR p IN SELECT * FROM cf_test.personas ORDER BY name LOOP
    what := format('%s: %s (A:%s B:%s) ', tbl, p.name,
                   coalesce(p.role_a, '-'), coalesce(p.role_b, '-'));
    FOREACH letter IN ARRAY ARRAY['a', 'b'] LOOP
      org := cf_test.org(letter);
      rid := cf_test.row_id(t.kind, letter, 1);
      have := cf_test.rank(CASE letter WHEN 'a' THEN p.role_a ELSE p.role_b END);

      RETURN NEXT cf_test.check(p.name,
        format('SELECT 1 FROM public.%I WHERE org_id = %L AND id = %L', tbl, org, rid),
        cf_test.expect(p.name, have, t.req_select, 'rows=1', 'rows=0'),
        what || 'select row of org ' || upper(letter));
      RETURN NEXT cf_test.check(p.name,
        format(t.insert_sql, org, rid, gen_random_uuid()),
        cf_test.expect(p.name, have, t.req_insert, 'rows=1', 'sqlstate=42501'),
        what || 'insert into org ' || upper(letter));
      RETURN NEXT cf_test.check(p.name,
        format(t.update_sql, org, rid),
        cf_test.expect(p.name, have, t.req_update, 'rows=1', 'rows=0'),
        what || 'update row of org ' || upper(letter));
      RETURN NEXT cf_test.check(p.name,
        format('DELETE FROM public.%I WHERE org_id = %L AND id = %L', tbl, org, rid),
        cf_test.expect(p.name, have, t.req_delete, 'rows=1', 'rows=0'),
        what || 'delete row of org ' || upper(letter));
      RETURN NEXT cf_test.check(p.name,
        format(t.upsert_sql, org, rid, NULL, '0193aaaa-0001-7000-8000-000000000009'),
        cf_test.expect(p.name, have, greatest(t.req_select, t.req_insert, t.req_update),
                       'rows=1', 'sqlstate=42501'),
        what || 'upsert existing row of org ' || upper(letter));
      RETURN NEXT cf_test.check(p.name,
        format(t.upsert_sql, org, gen_random_uuid(), NULL, '0193aaaa-0001-7000-8000-000000000010'),
        cf_test.expect(p.name, have, greatest(t.req_select, t.req_insert),
                       'rows=1', 'sqlstate=42501'),
        what || 'upsert new row into org ' || upper(letter));
    END LOOP;

  END LOOP;
END $$;

-- Moving the movable row of table tbl from A to B, for every persona: needs
-- update rights in A (else the row is not even found: rows=0) and in B (else
-- WITH CHECK refuses: 42501).  Run with user triggers off (see
-- cf_test.set_user_triggers) so that RLS alone is judged.
CREATE FUNCTION cf_test.moves(tbl text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  t       cf_test.tables;
  p       cf_test.personas;
  have    int;
  have_b  int;
  what    text;
BEGIN
  SELECT * INTO STRICT t FROM cf_test.tables WHERE name = tbl;
  FOR p IN SELECT * FROM cf_test.personas ORDER BY name LOOP
    what := format('%s: %s (A:%s B:%s) ', tbl, p.name,
                   coalesce(p.role_a, '-'), coalesce(p.role_b, '-'));
    have := cf_test.rank(p.role_a);
    have_b := cf_test.rank(p.role_b);
    RETURN NEXT cf_test.check(p.name,
      format('UPDATE public.%I SET org_id = %L WHERE org_id = %L AND id = %L',
             tbl, cf_test.org('b'), cf_test.org('a'), cf_test.row_id(t.kind, 'a', 2)),
      cf_test.expect(p.name, have, t.req_update,
                     CASE WHEN have_b >= t.req_update THEN 'rows=1' ELSE 'sqlstate=42501' END,
                     'rows=0'),
      what || 'move a row from org A to org B');
  END LOOP;
END $$;

-- Writes that read no column (no WHERE): only the UPDATE and DELETE policies'
-- USING stands between them and every row of every org, since no SELECT
-- policy is involved.  A non-member must reach nothing; a member of A only
-- the rows of A it may write (2 per table in A: the fixture row and the
-- movable row), for a table whose writes need more than a member: nothing.
CREATE FUNCTION cf_test.blind_writes(tbl text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  t  cf_test.tables;
BEGIN
  SELECT * INTO STRICT t FROM cf_test.tables WHERE name = tbl;
  RETURN NEXT cf_test.check('outsider', format('UPDATE public.%I SET updated_at = now()', tbl),
    'rows=0', tbl || ': a non-member updating without a WHERE reaches no row');
  RETURN NEXT cf_test.check('outsider', format('DELETE FROM public.%I', tbl),
    'rows=0', tbl || ': a non-member deleting without a WHERE reaches no row');
  RETURN NEXT cf_test.check('a_member', format('UPDATE public.%I SET updated_at = now()', tbl),
    CASE WHEN t.req_update <= 1 THEN 'rows=2' ELSE 'rows=0' END,
    tbl || ': a member of A updating without a WHERE reaches only what it may write in A');
  RETURN NEXT cf_test.check('a_member', format('DELETE FROM public.%I', tbl),
    CASE WHEN t.req_delete <= 1 THEN 'rows=2' ELSE 'rows=0' END,
    tbl || ': a member of A deleting without a WHERE reaches only what it may write in A');
END $$;
