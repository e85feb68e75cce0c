-- 002_rls.sql: the auth layer and Row Level Security of the master.
--
-- docs/security.md explains the model and lists every policy; the pgTAP suite
-- in tests/pgtap/ proves it.  In short:
--
--   * A Supabase-compatible auth layer, created only where it is missing:
--     schema `auth`, `auth.uid()` (the `sub` claim of `request.jwt.claims`),
--     roles anon, authenticated, service_role (BYPASSRLS) and authenticator.
--     On Supabase all of these already exist and are left alone, so the same
--     file runs there and on plain PostgreSQL.
--   * Membership helpers in schema `cf_private`, which no API exposes: they are
--     SECURITY DEFINER (they read memberships past RLS), STABLE, with a pinned
--     search_path.  Policies call them wrapped in `(SELECT ...)`, so the planner
--     runs each once per statement (an InitPlan), not once per row.
--   * RLS enabled AND forced on all ten tables; every policy is `TO
--     authenticated`; every INSERT and UPDATE policy has a WITH CHECK, so no row
--     can be written into, or moved to, an organization the user may not write.
--
-- Who may do what (org = the row's org_id; "member" = any role in it):
--
--   table                      select   insert         update         delete
--   organizations              member   any signed-in  owner, admin   owner
--   users                      self     self           self           nobody
--   memberships                member   owner, admin   owner, admin   owner, admin
--   contacts, deals,
--   activities, appointments,
--   messages                   member   member         member         member
--   automations, daily_metrics member   owner, admin   owner, admin   owner, admin
--
-- Membership rows whose role is (or becomes) 'owner' are written only by an
-- owner of that org.  A brand-new organization gets its first owner through
-- the "first owner" insert policy: only the user who created the organization
-- (recorded by a trigger in cf_private.org_creators) may insert a membership
-- making themselves its owner, and only while it has no memberships at all.
--
-- Requirement: this file (and the seed) must run as a superuser or a role with
-- BYPASSRLS (Supabase's `postgres` has it).  FORCE ROW LEVEL SECURITY applies
-- to the table owner, and the SECURITY DEFINER helpers run as that owner: an
-- owner subject to RLS would find no memberships and every policy would deny.

-- ---------------------------------------------------------------------------
-- The migrating role must bypass RLS (see above).  Fail loudly, not closed.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                 WHERE rolname = current_user AND (rolsuper OR rolbypassrls)) THEN
    RAISE EXCEPTION 'clientflow: migration role "%" must be a superuser or have BYPASSRLS',
      current_user
      USING HINT = 'FORCE ROW LEVEL SECURITY applies to the table owner; the '
                   'membership helpers and the seed read and write as that owner.';
  END IF;
END $$;

-- ---------------------------------------------------------------------------
-- Roles.  Roles are cluster-global and many databases in one cluster run this
-- migration, possibly at the same time: each CREATE/GRANT checks first and
-- tolerates losing a race to a concurrent migration.
DO $$
DECLARE
  spec record;
BEGIN
  FOR spec IN
    SELECT * FROM (VALUES
      ('anon',          'NOLOGIN NOINHERIT'),
      ('authenticated', 'NOLOGIN NOINHERIT'),
      ('service_role',  'NOLOGIN NOINHERIT BYPASSRLS'),
      ('authenticator', 'NOLOGIN NOINHERIT')) AS r(name, attrs)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = spec.name) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I %s', spec.name, spec.attrs);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;  -- a concurrent migration created it first
      END;
    END IF;
  END LOOP;

  -- The sync server logs in as (a member of) authenticator and switches to
  -- `authenticated` per transaction (SET LOCAL ROLE).  It is deliberately NOT
  -- granted service_role: the server never bypasses RLS.
  FOR spec IN SELECT * FROM (VALUES ('anon'), ('authenticated')) AS r(name) LOOP
    IF NOT pg_catalog.pg_has_role('authenticator', spec.name, 'MEMBER') THEN
      BEGIN
        EXECUTE format('GRANT %I TO authenticator', spec.name);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
      END;
    END IF;
  END LOOP;
END $$;

-- ---------------------------------------------------------------------------
-- auth.uid(): the caller's user id, from the `sub` claim that the server (or
-- PostgREST on Supabase) puts into request.jwt.claims for the transaction.
-- NULL when no claims are set, the setting is empty (it reads '' after a
-- SET LOCAL ended), there is no `sub`, or `sub` is not a UUID: a NULL uid
-- matches no policy.
CREATE SCHEMA IF NOT EXISTS auth;

DO $$
BEGIN
  IF pg_catalog.to_regprocedure('auth.uid()') IS NULL THEN
    CREATE FUNCTION auth.uid() RETURNS uuid
    LANGUAGE sql STABLE
    SET search_path = pg_catalog
    AS $fn$
      SELECT CASE
               WHEN sub ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
               THEN sub::uuid
             END
      FROM (SELECT NULLIF(current_setting('request.jwt.claims', true), '')::jsonb
                     ->> 'sub' AS sub) AS claims
    $fn$;
    COMMENT ON FUNCTION auth.uid() IS
      'ClientFlow: Supabase-compatible auth.uid(), the sub claim of request.jwt.claims';
  END IF;
END $$;

-- Grants on the auth layer only where this migration owns it: on Supabase the
-- auth schema belongs to supabase_auth_admin and is already granted.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace
             WHERE nspname = 'auth' AND pg_catalog.pg_has_role(nspowner, 'USAGE')) THEN
    GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_proc
             WHERE oid = 'auth.uid()'::regprocedure AND pg_catalog.pg_has_role(proowner, 'USAGE')) THEN
    GRANT EXECUTE ON FUNCTION auth.uid() TO anon, authenticated, service_role;
  END IF;
END $$;

-- ---------------------------------------------------------------------------
-- cf_private: the membership helpers.  No API exposes this schema (PostgREST
-- serves `public` only) and only `authenticated` may use it, because only its
-- policies call these functions.
CREATE SCHEMA cf_private;
REVOKE ALL ON SCHEMA cf_private FROM PUBLIC;
GRANT USAGE ON SCHEMA cf_private TO authenticated;

-- Who created each organization through the API, so that exactly that user
-- may claim it as its first owner.  Written by a trigger, read by the
-- helpers; nobody else has any privilege on it.
CREATE TABLE cf_private.org_creators (
  org_id      uuid PRIMARY KEY REFERENCES public.organizations (id) ON DELETE CASCADE,
  user_id     uuid NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON cf_private.org_creators FROM PUBLIC;

-- Organizations uid is a member of (any role).  Empty array, never NULL.
CREATE FUNCTION cf_private.org_ids_for_user(uid uuid) RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
  SELECT coalesce(array_agg(m.org_id), '{}'::uuid[])
  FROM public.memberships AS m
  WHERE m.user_id = uid
$$;

-- Organizations uid manages: role owner or admin.
CREATE FUNCTION cf_private.admin_org_ids_for_user(uid uuid) RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
  SELECT coalesce(array_agg(m.org_id), '{}'::uuid[])
  FROM public.memberships AS m
  WHERE m.user_id = uid AND m.role IN ('owner', 'admin')
$$;

-- Organizations uid owns: role owner.
CREATE FUNCTION cf_private.owner_org_ids_for_user(uid uuid) RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
  SELECT coalesce(array_agg(m.org_id), '{}'::uuid[])
  FROM public.memberships AS m
  WHERE m.user_id = uid AND m.role = 'owner'
$$;

-- True when uid created organization org (through the API, as
-- `authenticated`) and the organization has no memberships yet: uid may then
-- insert its first, owner, membership.
CREATE FUNCTION cf_private.may_claim_org(org uuid, uid uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
  SELECT uid IS NOT NULL
     AND EXISTS (SELECT 1 FROM cf_private.org_creators AS c
                 WHERE c.org_id = org AND c.user_id = uid)
     AND NOT EXISTS (SELECT 1 FROM public.memberships AS m WHERE m.org_id = org)
$$;

-- Trigger: remember who created an organization.  Rows written without a
-- user (the seed, operators, service_role) have no creator and can only get
-- members from such privileged writers.
CREATE FUNCTION cf_private.record_org_creator() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
  uid uuid := auth.uid();
BEGIN
  IF uid IS NOT NULL THEN
    INSERT INTO cf_private.org_creators (org_id, user_id) VALUES (NEW.id, uid)
    ON CONFLICT (org_id) DO NOTHING;
  END IF;
  RETURN NULL;
END $$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA cf_private FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cf_private.org_ids_for_user(uuid),
                          cf_private.admin_org_ids_for_user(uuid),
                          cf_private.owner_org_ids_for_user(uuid),
                          cf_private.may_claim_org(uuid, uuid)
  TO authenticated;

CREATE TRIGGER organizations_record_creator
  AFTER INSERT ON public.organizations
  FOR EACH ROW EXECUTE FUNCTION cf_private.record_org_creator();

-- ---------------------------------------------------------------------------
-- Privileges.  Start from nothing (Supabase's default privileges would give
-- anon and authenticated ALL, including TRUNCATE, which ignores RLS), then
-- grant authenticated exactly the commands its policies judge.  An upsert
-- (INSERT .. ON CONFLICT DO UPDATE) needs INSERT, UPDATE and SELECT: all
-- granted.  anon gets nothing.  service_role (BYPASSRLS) gets the four
-- commands, as on Supabase.
REVOKE ALL ON public.organizations, public.users, public.memberships,
              public.contacts, public.deals, public.activities,
              public.appointments, public.messages, public.automations,
              public.daily_metrics
  FROM PUBLIC, anon, authenticated, service_role;
REVOKE ALL ON FUNCTION public.set_updated_at() FROM PUBLIC, anon, authenticated;

GRANT SELECT, INSERT, UPDATE, DELETE
  ON public.organizations, public.memberships, public.contacts, public.deals,
     public.activities, public.appointments, public.messages,
     public.automations, public.daily_metrics
  TO authenticated;
-- users: no DELETE (no policy would allow one; refusing it outright is clearer).
GRANT SELECT, INSERT, UPDATE ON public.users TO authenticated;

GRANT SELECT, INSERT, UPDATE, DELETE
  ON public.organizations, public.users, public.memberships, public.contacts,
     public.deals, public.activities, public.appointments, public.messages,
     public.automations, public.daily_metrics
  TO service_role;

-- ---------------------------------------------------------------------------
-- RLS on, and forced (it then applies to the tables' owner too).
ALTER TABLE public.organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.organizations FORCE ROW LEVEL SECURITY;
ALTER TABLE public.users         ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.users         FORCE ROW LEVEL SECURITY;
ALTER TABLE public.memberships   ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.memberships   FORCE ROW LEVEL SECURITY;
ALTER TABLE public.contacts      ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.contacts      FORCE ROW LEVEL SECURITY;
ALTER TABLE public.deals         ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.deals         FORCE ROW LEVEL SECURITY;
ALTER TABLE public.activities    ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.activities    FORCE ROW LEVEL SECURITY;
ALTER TABLE public.appointments  ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.appointments  FORCE ROW LEVEL SECURITY;
ALTER TABLE public.messages      ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.messages      FORCE ROW LEVEL SECURITY;
ALTER TABLE public.automations   ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.automations   FORCE ROW LEVEL SECURITY;
ALTER TABLE public.daily_metrics ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.daily_metrics FORCE ROW LEVEL SECURITY;

-- ---------------------------------------------------------------------------
-- Policies.  The helper call is written
--   org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[])
-- The cast makes `= ANY` take an array rather than a subquery (PLATFORM-NOTES),
-- and the scalar subqueries become InitPlans: one call per statement.

-- organizations: members read; any signed-in user may create one (and then
-- claim it, see memberships_insert_first_owner); owners and admins update;
-- only owners delete.
CREATE POLICY organizations_select ON public.organizations
  FOR SELECT TO authenticated
  USING (id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY organizations_insert ON public.organizations
  FOR INSERT TO authenticated
  WITH CHECK ((SELECT auth.uid()) IS NOT NULL);
CREATE POLICY organizations_update ON public.organizations
  FOR UPDATE TO authenticated
  USING (id = ANY ((SELECT cf_private.admin_org_ids_for_user((SELECT auth.uid())))::uuid[]))
  WITH CHECK (id = ANY ((SELECT cf_private.admin_org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY organizations_delete ON public.organizations
  FOR DELETE TO authenticated
  USING (id = ANY ((SELECT cf_private.owner_org_ids_for_user((SELECT auth.uid())))::uuid[]));

-- users: each user sees, creates and updates only their own row.
CREATE POLICY users_select ON public.users
  FOR SELECT TO authenticated
  USING (id = (SELECT auth.uid()));
CREATE POLICY users_insert ON public.users
  FOR INSERT TO authenticated
  WITH CHECK (id = (SELECT auth.uid()));
CREATE POLICY users_update ON public.users
  FOR UPDATE TO authenticated
  USING (id = (SELECT auth.uid()))
  WITH CHECK (id = (SELECT auth.uid()));

-- memberships: members see who is in their orgs; owners and admins manage
-- them, but a row whose role is or becomes 'owner' needs an owner.  A member
-- therefore can neither add themselves elsewhere nor promote themselves, and
-- an admin can neither create, promote to, demote nor remove an owner.
CREATE POLICY memberships_select ON public.memberships
  FOR SELECT TO authenticated
  USING (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY memberships_insert ON public.memberships
  FOR INSERT TO authenticated
  WITH CHECK (org_id = ANY ((SELECT cf_private.admin_org_ids_for_user((SELECT auth.uid())))::uuid[])
              AND (role <> 'owner'
                   OR org_id = ANY ((SELECT cf_private.owner_org_ids_for_user((SELECT auth.uid())))::uuid[])));
CREATE POLICY memberships_insert_first_owner ON public.memberships
  FOR INSERT TO authenticated
  WITH CHECK (role = 'owner'
              AND user_id = (SELECT auth.uid())
              AND cf_private.may_claim_org(org_id, (SELECT auth.uid())));
CREATE POLICY memberships_update ON public.memberships
  FOR UPDATE TO authenticated
  USING (org_id = ANY ((SELECT cf_private.admin_org_ids_for_user((SELECT auth.uid())))::uuid[])
         AND (role <> 'owner'
              OR org_id = ANY ((SELECT cf_private.owner_org_ids_for_user((SELECT auth.uid())))::uuid[])))
  WITH CHECK (org_id = ANY ((SELECT cf_private.admin_org_ids_for_user((SELECT auth.uid())))::uuid[])
              AND (role <> 'owner'
                   OR org_id = ANY ((SELECT cf_private.owner_org_ids_for_user((SELECT auth.uid())))::uuid[])));
CREATE POLICY memberships_delete ON public.memberships
  FOR DELETE TO authenticated
  USING (org_id = ANY ((SELECT cf_private.admin_org_ids_for_user((SELECT auth.uid())))::uuid[])
         AND (role <> 'owner'
              OR org_id = ANY ((SELECT cf_private.owner_org_ids_for_user((SELECT auth.uid())))::uuid[])));

-- CRM data: every member of the org has full CRUD.
CREATE POLICY contacts_select ON public.contacts
  FOR SELECT TO authenticated
  USING (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY contacts_insert ON public.contacts
  FOR INSERT TO authenticated
  WITH CHECK (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY contacts_update ON public.contacts
  FOR UPDATE TO authenticated
  USING (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]))
  WITH CHECK (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY contacts_delete ON public.contacts
  FOR DELETE TO authenticated
  USING (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));

CREATE POLICY deals_select ON public.deals
  FOR SELECT TO authenticated
  USING (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY deals_insert ON public.deals
  FOR INSERT TO authenticated
  WITH CHECK (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY deals_update ON public.deals
  FOR UPDATE TO authenticated
  USING (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]))
  WITH CHECK (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY deals_delete ON public.deals
  FOR DELETE TO authenticated
  USING (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));

CREATE POLICY activities_select ON public.activities
  FOR SELECT TO authenticated
  USING (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY activities_insert ON public.activities
  FOR INSERT TO authenticated
  WITH CHECK (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY activities_update ON public.activities
  FOR UPDATE TO authenticated
  USING (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]))
  WITH CHECK (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY activities_delete ON public.activities
  FOR DELETE TO authenticated
  USING (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));

CREATE POLICY appointments_select ON public.appointments
  FOR SELECT TO authenticated
  USING (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY appointments_insert ON public.appointments
  FOR INSERT TO authenticated
  WITH CHECK (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY appointments_update ON public.appointments
  FOR UPDATE TO authenticated
  USING (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]))
  WITH CHECK (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY appointments_delete ON public.appointments
  FOR DELETE TO authenticated
  USING (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));

CREATE POLICY messages_select ON public.messages
  FOR SELECT TO authenticated
  USING (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY messages_insert ON public.messages
  FOR INSERT TO authenticated
  WITH CHECK (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY messages_update ON public.messages
  FOR UPDATE TO authenticated
  USING (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]))
  WITH CHECK (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY messages_delete ON public.messages
  FOR DELETE TO authenticated
  USING (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));

-- automations and daily_metrics: members read; owners and admins write.
CREATE POLICY automations_select ON public.automations
  FOR SELECT TO authenticated
  USING (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY automations_insert ON public.automations
  FOR INSERT TO authenticated
  WITH CHECK (org_id = ANY ((SELECT cf_private.admin_org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY automations_update ON public.automations
  FOR UPDATE TO authenticated
  USING (org_id = ANY ((SELECT cf_private.admin_org_ids_for_user((SELECT auth.uid())))::uuid[]))
  WITH CHECK (org_id = ANY ((SELECT cf_private.admin_org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY automations_delete ON public.automations
  FOR DELETE TO authenticated
  USING (org_id = ANY ((SELECT cf_private.admin_org_ids_for_user((SELECT auth.uid())))::uuid[]));

CREATE POLICY daily_metrics_select ON public.daily_metrics
  FOR SELECT TO authenticated
  USING (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY daily_metrics_insert ON public.daily_metrics
  FOR INSERT TO authenticated
  WITH CHECK (org_id = ANY ((SELECT cf_private.admin_org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY daily_metrics_update ON public.daily_metrics
  FOR UPDATE TO authenticated
  USING (org_id = ANY ((SELECT cf_private.admin_org_ids_for_user((SELECT auth.uid())))::uuid[]))
  WITH CHECK (org_id = ANY ((SELECT cf_private.admin_org_ids_for_user((SELECT auth.uid())))::uuid[]));
CREATE POLICY daily_metrics_delete ON public.daily_metrics
  FOR DELETE TO authenticated
  USING (org_id = ANY ((SELECT cf_private.admin_org_ids_for_user((SELECT auth.uid())))::uuid[]));
