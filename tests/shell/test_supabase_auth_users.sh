#!/usr/bin/env bash
# tests/shell/test_supabase_auth_users.sh: migration 009 on a database set up
# like Supabase links auth.users to public.users, and changes nothing on
# plain PostgreSQL (docs/schema.md, "Supabase Auth users").
#
# The Supabase-like database: schema `auth` owned by supabase_auth_admin
# (Supabase's Auth role, not a superuser), auth.users with Supabase's columns,
# Supabase's own auth.uid(), auth.role() and auth.jwt(), the roles anon,
# authenticated, service_role and authenticator, and an owner role like
# Supabase's `postgres`: not a superuser, BYPASSRLS, CREATEROLE, granted what
# Supabase grants it on auth.users.  `clientflow migrate up` runs as that
# owner; sign-ups and email changes are written as supabase_auth_admin, the
# way Supabase Auth writes them.
. "$(dirname "$0")/cli_lib.sh"

owner=cf_test_supa_owner
auth_admin=supabase_auth_admin
psql_admin -d postgres >/dev/null <<SQL
DO \$\$
DECLARE r text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$owner') THEN
    CREATE ROLE $owner LOGIN NOSUPERUSER BYPASSRLS CREATEROLE CREATEDB;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$auth_admin') THEN
    CREATE ROLE $auth_admin LOGIN NOSUPERUSER NOINHERIT CREATEROLE;
  END IF;
  FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'authenticator'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', r);
    END IF;
  END LOOP;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
  END IF;
END \$\$;
SQL
cf_roles+=("$owner" "$auth_admin")

# --- the Supabase-like database ------------------------------------------------
db=$(new_db cli_supabase)
psql_admin -d "$db" >/dev/null <<SQL
ALTER DATABASE "$db" OWNER TO $owner;
CREATE SCHEMA auth AUTHORIZATION $auth_admin;
SET ROLE $auth_admin;
-- Supabase Auth's users table (its columns as GoTrue v2 creates them).
CREATE TABLE auth.users (
  instance_id uuid, id uuid NOT NULL PRIMARY KEY, aud varchar(255), role varchar(255),
  email varchar(255), encrypted_password varchar(255), email_confirmed_at timestamptz,
  invited_at timestamptz, confirmation_token varchar(255), confirmation_sent_at timestamptz,
  recovery_token varchar(255), recovery_sent_at timestamptz,
  email_change_token_new varchar(255), email_change varchar(255),
  email_change_sent_at timestamptz, last_sign_in_at timestamptz,
  raw_app_meta_data jsonb, raw_user_meta_data jsonb, is_super_admin boolean,
  created_at timestamptz, updated_at timestamptz, phone text UNIQUE DEFAULT NULL,
  phone_confirmed_at timestamptz, phone_change text DEFAULT '',
  phone_change_token varchar(255) DEFAULT '', phone_change_sent_at timestamptz,
  confirmed_at timestamptz GENERATED ALWAYS AS (LEAST(email_confirmed_at, phone_confirmed_at)) STORED,
  email_change_token_current varchar(255) DEFAULT '', email_change_confirm_status smallint DEFAULT 0,
  banned_until timestamptz, reauthentication_token varchar(255) DEFAULT '',
  reauthentication_sent_at timestamptz, is_sso_user boolean NOT NULL DEFAULT false,
  deleted_at timestamptz, is_anonymous boolean NOT NULL DEFAULT false
);
-- Supabase's own auth helpers (they read the older per-claim setting too).
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS \$f\$
  SELECT coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid
\$f\$;
CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS \$f\$
  SELECT coalesce(nullif(current_setting('request.jwt.claim.role', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'))::text
\$f\$;
CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS \$f\$
  SELECT coalesce(nullif(current_setting('request.jwt.claim', true), ''),
                  nullif(current_setting('request.jwt.claims', true), ''))::jsonb
\$f\$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role, $owner;
GRANT EXECUTE ON FUNCTION auth.uid(), auth.role(), auth.jwt() TO anon, authenticated, service_role, $owner;
GRANT ALL ON auth.users TO $owner;
RESET ROLE;
SQL

signup() { # signup ID EMAIL-SQL [META-JSON]: Supabase Auth inserts a user
  local meta=${3:-'{}'}
  psql_admin -d "$db" -c "SET ROLE $auth_admin; INSERT INTO auth.users (instance_id, id, aud, role, email,
    raw_user_meta_data, created_at, updated_at) VALUES ('00000000-0000-0000-0000-000000000000',
    '$1', 'authenticated', 'authenticated', $2, '$meta'::jsonb, now(), now())" 2>&1 >/dev/null
}
U0=0190f1a2-0000-7000-8000-0000000005a0
U1=0190f1a2-0000-7000-8000-0000000005a1
U2=0190f1a2-0000-7000-8000-0000000005a2
U3=0190f1a2-0000-7000-8000-0000000005a3
U4=0190f1a2-0000-7000-8000-0000000005a4

# A user who signed up before the migration ran is linked by it.
signup "$U0" "'early@example.com'" >/dev/null

export DATABASE_URL=$(url "$db" "$owner")
run migrate up
expect_rc 0 "migrate up as the Supabase-like owner"; expect_no_err "migrate up"
expect_out "applied 009_supabase_auth_users.sql" "migrate up"
pass "migrate up runs as a non-superuser owner on a Supabase-like database"

[ "$(q "$db" "SELECT email FROM public.users WHERE id = '$U0'")" = early@example.com ] ||
  fail "the auth user who signed up before the migration has no public.users row"
pass "the migration links the auth users that existed before it"

[ "$(q "$db" "SELECT pg_get_userbyid(proowner) || ' ' || (pg_get_functiondef(oid) LIKE '%request.jwt.claim.sub%')
               FROM pg_proc WHERE oid = 'auth.uid()'::regprocedure")" = "$auth_admin true" ] ||
  fail "Supabase's auth.uid() was replaced"
[ "$(q "$db" "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'auth'")" = "$auth_admin" ] ||
  fail "the auth schema changed owner"
pass "Supabase's auth schema and auth.uid() are left as they were"

fn=$(q "$db" "SELECT pg_get_userbyid(p.proowner) || ' ' || p.prosecdef || ' ' || array_to_string(p.proconfig, ',')
              FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
              WHERE t.tgrelid = 'auth.users'::regclass AND t.tgname = 'cf_auth_user_created'")
[ "$fn" = "$owner true search_path=pg_catalog, public" ] ||
  fail "trigger function: '$fn', expected owner $owner, SECURITY DEFINER, search_path=pg_catalog, public"
pass "the trigger function belongs to the owner role, is SECURITY DEFINER with a pinned search_path"

# Sign-ups, as Supabase Auth writes them.
out=$(signup "$U1" "'rep@example.com'" '{"full_name": "Rita Rep", "avatar_url": "https://x.test/r.png"}') ||
  fail "sign-up failed: $out"
[ "$(q "$db" "SELECT email || '|' || full_name || '|' || avatar_url FROM public.users WHERE id = '$U1'")" = \
  "rep@example.com|Rita Rep|https://x.test/r.png" ] || fail "sign-up did not create the public.users row"
[ -n "$(q "$db" "SELECT cf_versions FROM public.users WHERE id = '$U1'")" ] ||
  fail "the new public.users row has no sync versions"
pass "a sign-up creates the public.users row (email, full_name, avatar_url from the metadata), stamped for sync"

psql_admin -d "$db" -c "SET ROLE $auth_admin; UPDATE auth.users SET email = 'rita@example.com' WHERE id = '$U1'" >/dev/null
[ "$(q "$db" "SELECT email FROM public.users WHERE id = '$U1'")" = rita@example.com ] ||
  fail "an email change did not reach public.users"
psql_admin -d "$db" -c "SET ROLE $auth_admin; UPDATE auth.users SET last_sign_in_at = now() WHERE id = '$U1'" >/dev/null
pass "an email change updates public.users"

out=$(signup "$U2" "NULL") || fail "a phone sign-up failed: $out"
[ "$(q "$db" "SELECT count(*) FROM public.users WHERE id = '$U2'")" = 0 ] || fail "a user without email got a row"
psql_admin -d "$db" -c "SET ROLE $auth_admin; UPDATE auth.users SET email = 'phone@example.com' WHERE id = '$U2'" >/dev/null
[ "$(q "$db" "SELECT email FROM public.users WHERE id = '$U2'")" = phone@example.com ] ||
  fail "a user who adds an email later gets no row"
pass "a sign-up without email gets its row when an email is set"

out=$(signup "$U3" "'RITA@example.com'") || fail "a sign-up with a taken email failed: $out"
grep -q "WARNING:.*auth user $U3 has no public.users row" <<<"$out" || fail "no warning for the clashing email: $out"
[ "$(q "$db" "SELECT count(*) FROM auth.users WHERE id = '$U3'")" = 1 ] || fail "the clashing sign-up was lost"
[ "$(q "$db" "SELECT count(*) FROM public.users WHERE id = '$U3'")" = 0 ] || fail "the clashing sign-up got a row"
out=$(signup "$U4" "'not-an-email'") || fail "a sign-up with a bad email failed: $out"
pass "a sign-up whose email public.users refuses still succeeds, with a warning and no row"

# migrate reset re-creates the link and leaves auth.users alone.
run migrate reset --force
expect_rc 0 "migrate reset --force"
[ "$(q "$db" "SELECT count(*) FROM auth.users")" = 5 ] || fail "reset touched auth.users"
[ "$(q "$db" "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'auth.users'::regclass AND NOT tgisinternal")" = 2 ] ||
  fail "reset left other than the two triggers on auth.users"
[ "$(q "$db" "SELECT string_agg(email, ',' ORDER BY email) FROM public.users")" = \
  "early@example.com,phone@example.com,rita@example.com" ] || fail "reset did not relink the auth users"
pass "migrate reset drops and re-creates the link; auth.users is untouched"

# --- plain PostgreSQL: nothing changes ------------------------------------------
plain=$(new_db cli_plain_auth cf_template)
[ "$(q "$plain" "SELECT to_regclass('auth.users') IS NULL")" = t ] || fail "plain: auth.users exists"
[ "$(q "$plain" "SELECT count(*) FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
                 WHERE p.proname = 'sync_auth_user'")" = 0 ] || fail "plain: a trigger uses sync_auth_user"
[ "$(q "$plain" "SELECT cf_private.link_auth_users()")" = 0 ] || fail "plain: link_auth_users did something"
[ "$(q "$plain" "SELECT count(*) FROM public.users")" = 0 ] || fail "plain: public.users changed"
pass "on plain PostgreSQL migration 009 creates no trigger and no row"
