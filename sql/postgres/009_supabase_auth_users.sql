-- 009_supabase_auth_users.sql: on Supabase, every Auth user gets its
-- public.users row (docs/schema.md, "Supabase Auth users").
--
-- Supabase keeps its users in auth.users (written by its Auth server, GoTrue,
-- as role supabase_auth_admin); an app's own profile table is filled by a
-- trigger on auth.users.  This migration installs that trigger where a real
-- auth.users exists, and does nothing on plain PostgreSQL:
--
--   * Telling Supabase apart: 002_rls.sql creates schema `auth` and
--     `auth.uid()` only where they are missing, and no migration ever
--     creates a table in `auth`.  So a table auth.users with columns `id
--     uuid` and `email` is Supabase's (or another GoTrue's).  Without it this
--     file creates the function below and stops.
--   * cf_private.sync_auth_user(): the trigger function, SECURITY DEFINER
--     (it runs as the migrating role, `postgres` on Supabase, which owns
--     public.users and bypasses RLS; supabase_auth_admin has no privilege on
--     public), with search_path pinned to pg_catalog, public like every
--     cf_private function (and every name qualified anyway).  It lives
--     in cf_private, which no API exposes, not in public, where PostgREST
--     would offer it as an RPC.
--   * After INSERT on auth.users: a public.users row with the same id, the
--     email, and full_name / avatar_url from the sign-up metadata
--     (raw_user_meta_data ->> 'full_name' or 'name', ->> 'avatar_url').
--     After UPDATE OF email: the row's email follows (the row is created if
--     it was missing).  A user without an email (phone or anonymous sign-in)
--     gets no row until an email is set: public.users.email is NOT NULL.
--   * A sign-up must never fail because of this trigger (it runs in Auth's
--     transaction): when the row cannot be written (the email is already
--     another public.users row's, or fails the email check) it raises a
--     WARNING, writes nothing, and the sign-up goes on.
--   * cf_private.link_auth_users(): installs the triggers and copies the
--     auth.users that have no public.users row yet (same rules).  Called here;
--     a database where Supabase Auth was installed after this migration ran
--     calls it once by hand (`SELECT cf_private.link_auth_users()`).
--
-- Deleting an Auth user leaves its public.users row (the CRM's history
-- references it; memberships are removed by the app).  `migrate reset` drops
-- cf_private and with it these functions and the triggers on auth.users.

CREATE FUNCTION cf_private.upsert_auth_user(uid uuid, mail text, meta jsonb)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
  IF uid IS NULL OR mail IS NULL OR mail = '' THEN
    RETURN;
  END IF;
  BEGIN
    INSERT INTO public.users AS u (id, email, full_name, avatar_url)
    VALUES (uid, mail,
            coalesce(meta ->> 'full_name', meta ->> 'name'),
            meta ->> 'avatar_url')
    ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email
      WHERE u.email IS DISTINCT FROM EXCLUDED.email;
  EXCEPTION WHEN unique_violation OR check_violation OR not_null_violation THEN
    RAISE WARNING 'clientflow: auth user % has no public.users row: %', uid, SQLERRM
      USING HINT = 'Another public.users row has this email, or it is not a valid address.';
  END;
END $$;

CREATE FUNCTION cf_private.sync_auth_user() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
  PERFORM cf_private.upsert_auth_user(NEW.id, NEW.email::text,
                                      to_jsonb(NEW) -> 'raw_user_meta_data');
  RETURN NULL;
END $$;

CREATE FUNCTION cf_private.link_auth_users() RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
  r record;
  n integer := 0;
BEGIN
  -- to_regclass, never a ::regclass cast: on plain PostgreSQL the table
  -- does not exist and the cast would fail.
  IF (SELECT count(*) FROM pg_catalog.pg_attribute AS a
      WHERE a.attrelid = pg_catalog.to_regclass('auth.users') AND NOT a.attisdropped
        AND ((a.attname = 'id' AND a.atttypid = 'uuid'::regtype)
             OR a.attname = 'email')) <> 2 THEN
    RAISE NOTICE 'clientflow: no Supabase auth.users here; public.users stays as it is';
    RETURN 0;
  END IF;
  DROP TRIGGER IF EXISTS cf_auth_user_created ON auth.users;
  DROP TRIGGER IF EXISTS cf_auth_user_email_changed ON auth.users;
  CREATE TRIGGER cf_auth_user_created AFTER INSERT ON auth.users
    FOR EACH ROW EXECUTE FUNCTION cf_private.sync_auth_user();
  CREATE TRIGGER cf_auth_user_email_changed AFTER UPDATE OF email ON auth.users
    FOR EACH ROW WHEN (OLD.email IS DISTINCT FROM NEW.email)
    EXECUTE FUNCTION cf_private.sync_auth_user();
  FOR r IN SELECT au.id, au.email::text AS email, to_jsonb(au) -> 'raw_user_meta_data' AS meta
           FROM auth.users AS au
           WHERE NOT EXISTS (SELECT 1 FROM public.users AS u WHERE u.id = au.id)
           ORDER BY au.id LOOP
    PERFORM cf_private.upsert_auth_user(r.id, r.email, r.meta);
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;

REVOKE ALL ON FUNCTION cf_private.upsert_auth_user(uuid, text, jsonb),
                       cf_private.sync_auth_user(),
                       cf_private.link_auth_users() FROM PUBLIC;

SELECT cf_private.link_auth_users();
