-- admin/master.sql: the statements of the master administration
-- (clientflow migrate, seed, doctor; sync/migrate.c, sync/master.c,
-- sync/doctor.c).  Each statement is named by a "-- @name NAME" line and runs
-- to the next one (sync/pg_sql.c).  Not a migration: nothing here runs by
-- itself.
--
-- The migration ledger lives in its own schema, cf_meta, which no API
-- exposes and which is not in public (so "every table in public has forced
-- RLS" stays true):
--
--   cf_meta.schema_migrations
--     version     text         "001": the file name's number, the order
--     name        text         "001_init.sql"
--     checksum    text         SHA-256 of the file's bytes, lowercase hex
--     applied_at  timestamptz  when its transaction committed
--     duration_ms integer      how long it took to apply

-- @name migrate_lock
-- Serialises concurrent `migrate up|reset` runs until the transaction ends.
-- Key: 'CFMG' (0x43464d47) and 1.
SELECT pg_advisory_xact_lock(1128680775, 1);

-- @name ensure_ledger
CREATE SCHEMA IF NOT EXISTS cf_meta;
CREATE TABLE IF NOT EXISTS cf_meta.schema_migrations (
  version      text PRIMARY KEY CHECK (version ~ '^[0-9]+$'),
  name         text NOT NULL UNIQUE,
  checksum     text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
  applied_at   timestamptz NOT NULL DEFAULT now(),
  duration_ms  integer NOT NULL DEFAULT 0 CHECK (duration_ms >= 0)
);
-- Any role may read the ledger (versions and checksums, nothing secret), so
-- `clientflow doctor` works as the sync server's role too; only the owner
-- writes it.
REVOKE ALL ON SCHEMA cf_meta FROM PUBLIC;
GRANT USAGE ON SCHEMA cf_meta TO PUBLIC;
REVOKE ALL ON cf_meta.schema_migrations FROM PUBLIC;
GRANT SELECT ON cf_meta.schema_migrations TO PUBLIC;

-- @name ledger_exists
SELECT to_regclass('cf_meta.schema_migrations') IS NOT NULL;

-- @name applied_migrations
SELECT version, name, checksum,
       to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || 'Z'
FROM cf_meta.schema_migrations
ORDER BY version;

-- @name record_migration
INSERT INTO cf_meta.schema_migrations (version, name, checksum, duration_ms)
VALUES ($1, $2, $3, $4::integer);

-- @name schema_droppable
-- $1 may be dropped by reset: it exists and no extension lives in it.
SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)
   AND NOT EXISTS (SELECT 1 FROM pg_extension e
                   JOIN pg_namespace n ON n.oid = e.extnamespace
                   WHERE n.nspname = $1);

-- @name reset_public
-- Drops what the migrations made in public: every relation, routine and
-- type that no extension owns.  CASCADE takes policies, triggers, indexes
-- and grants along.  Roles are cluster-global and stay.
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT c.relname,
           CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                          WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE'
                          ELSE 'TABLE' END AS kind
    FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace
      AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                        AND d.deptype = 'e')
    ORDER BY c.relkind = 'S', c.relname
  LOOP
    EXECUTE format('DROP %s IF EXISTS public.%I CASCADE', r.kind, r.relname);
  END LOOP;
  FOR r IN
    SELECT format('public.%I(%s)', p.proname,
                  pg_get_function_identity_arguments(p.oid)) AS fn
    FROM pg_proc p
    WHERE p.pronamespace = 'public'::regnamespace
      AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                        AND d.deptype = 'e')
  LOOP
    EXECUTE format('DROP ROUTINE IF EXISTS %s CASCADE', r.fn);
  END LOOP;
  FOR r IN
    SELECT t.typname, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END AS kind
    FROM pg_type t
    WHERE t.typnamespace = 'public'::regnamespace
      AND t.typtype IN ('e', 'd', 'r', 'c')
      AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                        AND d.deptype = 'e')
  LOOP
    EXECUTE format('DROP %s IF EXISTS public.%I CASCADE', r.kind, r.typname);
  END LOOP;
END $$;

-- @name drop_ledger
DROP SCHEMA IF EXISTS cf_meta CASCADE;

-- @name doctor_select_one
SELECT 1 AS test;

-- @name doctor_role
SELECT current_user, current_database(), current_setting('server_version'),
       r.rolsuper, r.rolbypassrls
FROM pg_roles r
WHERE r.rolname = current_user;

-- @name doctor_tables
-- One row per expected table ($1: the registry's names, core/tables.h order): present, RLS enabled, RLS
-- forced, and whether the connected role owns it (directly or by membership).
SELECT t.name,
       c.oid IS NOT NULL,
       coalesce(c.relrowsecurity, false),
       coalesce(c.relforcerowsecurity, false),
       coalesce(pg_has_role(current_user, c.relowner, 'MEMBER'), false)
FROM unnest($1::text[]) WITH ORDINALITY AS t(name, ord)
LEFT JOIN pg_class c
  ON c.oid = to_regclass('public.' || quote_ident(t.name)) AND c.relkind IN ('r', 'p')
ORDER BY t.ord;

-- @name row_counts
-- $1 the registry's table names (text[] literal, core/tables.h order): each
-- with its number of rows.
SELECT t.name,
       (xpath('/row/n/text()',
              query_to_xml(format('SELECT count(*) AS n FROM public.%I', t.name),
                           false, true, '')))[1]::text
FROM unnest($1::text[]) WITH ORDINALITY AS t(name, ord)
ORDER BY t.ord;

-- @name registry_readable
-- Whether cf_sync.tables (006_table_registry.sql) exists, and whether the
-- connected role may read it (sync/master/registry.c).
SELECT c.oid IS NOT NULL,
       coalesce(has_schema_privilege(c.relnamespace, 'USAGE')
                AND has_table_privilege(c.oid, 'SELECT'), false)
FROM (SELECT 1) AS one
LEFT JOIN pg_class AS c
  ON c.relname = 'tables' AND c.relkind = 'r'
 AND c.relnamespace = (SELECT n.oid FROM pg_namespace AS n WHERE n.nspname = 'cf_sync');

-- @name registry_rows
-- The master's table registry, in number order.
SELECT t.table_no, t.name, t.kind FROM cf_sync.tables AS t ORDER BY t.table_no;

-- @name server_role_statements
-- $1 role name, $2 password (NULL: keep).  The statements that make $1 a
-- login the sync server may use: not a superuser, no BYPASSRLS, a member of
-- authenticator (to SET ROLE authenticated) and cf_sync_server (to write
-- pushed versions).  Run each in order.
SELECT s.stmt FROM (VALUES
  (1, CASE WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)
           THEN format('CREATE ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS', $1) END),
  (2, CASE WHEN $2::text IS NOT NULL
           THEN format('ALTER ROLE %I LOGIN PASSWORD %L', $1, $2) END),
  (3, format('GRANT authenticator, cf_sync_server TO %I', $1))
) AS s(n, stmt)
WHERE s.stmt IS NOT NULL
ORDER BY s.n
