-- 006_table_registry.sql: the master's copy of the table registry, and one
-- function that gives a new table everything sync needs.
-- docs/architecture.md ("Adding a table") is the recipe; core/tables.h is
-- the registry this copies.
--
-- cf_sync.tables holds one row per CRM table: its stable number (the
-- core/tables.h number: outbox, wire, cf_sync.tombstones.table_no), its
-- name in public, and its kind ('org': organizations; 'user': users;
-- 'tenant': org_id first, keyed (org_id, id)).  SQL that needs the list
-- reads it from here (cf_sync.existing_ids below; the pgTAP suite); the C
-- code reads core/tables.h.  The two are held together by
-- `clientflow migrate up` and `clientflow doctor` (sync/master/registry.c),
-- which refuse a master whose rows differ from the build's registry.  The
-- rows are written by migrations only, never generated at run time:
-- migrations are the master's history, checksummed and applied once, so the
-- row of a table comes with the migration that creates it.
--
-- cf_sync.attach_table(table_no, name) does for one new tenant table what
-- 003's loop (and 005's additions) did for the first ten, and registers it.
-- A migration that adds a table is therefore:
--
--   CREATE TABLE public.notes (org_id uuid NOT NULL REFERENCES ..., id uuid
--     NOT NULL DEFAULT gen_random_uuid(), ..., created_at timestamptz NOT
--     NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
--     PRIMARY KEY (org_id, id));
--   CREATE POLICY notes_select ON public.notes ...;   -- and the others
--   SELECT cf_sync.attach_table(10, 'notes');

CREATE TABLE cf_sync.tables (
  table_no  smallint PRIMARY KEY CHECK (table_no >= 0),
  name      text NOT NULL UNIQUE,
  kind      text NOT NULL CHECK (kind IN ('org', 'user', 'tenant'))
);
-- The first ten, attached by 003 and 005.  Their numbers are core/tables.h's.
INSERT INTO cf_sync.tables (table_no, name, kind) VALUES
  (0, 'organizations', 'org'), (1, 'users', 'user'), (2, 'memberships', 'tenant'),
  (3, 'contacts', 'tenant'), (4, 'deals', 'tenant'), (5, 'activities', 'tenant'),
  (6, 'appointments', 'tenant'), (7, 'messages', 'tenant'), (8, 'automations', 'tenant'),
  (9, 'daily_metrics', 'tenant');

-- Like every cf_sync table: nothing for PUBLIC, RLS enabled and forced.  The
-- list is no secret (pg_class shows the tables to everyone): the policy
-- lets whoever holds SELECT (the owner) read it under forced RLS.
REVOKE ALL ON cf_sync.tables FROM PUBLIC;
ALTER TABLE cf_sync.tables ENABLE ROW LEVEL SECURITY;
ALTER TABLE cf_sync.tables FORCE ROW LEVEL SECURITY;
CREATE POLICY tables_read ON cf_sync.tables FOR SELECT USING (true);

-- Each registered table is sync-ready: the stamp triggers of 003 carry its
-- number.  A mismatch here means a hand-edited master; stop before
-- anything relies on the list.
DO $$
DECLARE
  bad text;
BEGIN
  SELECT string_agg(t.name, ', ' ORDER BY t.table_no) INTO bad
  FROM cf_sync.tables AS t
  WHERE NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_trigger AS g
    WHERE g.tgrelid = format('public.%I', t.name)::regclass
      AND g.tgname IN ('zz_cf_sync_stamp', 'zz_cf_sync_stamp_insert')
      AND split_part(encode(g.tgargs, 'escape'), '\000', 1) = t.table_no::text);
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'clientflow: tables not attached under their registry number: %', bad;
  END IF;
END $$;

-- ---------------------------------------------------------------------------
-- Attaches the new tenant table public.<name> as table number table_no (the
-- next free one: numbers are dense and never reused).  The table must exist
-- with org_id and id as its first two columns, keyed (org_id, id), and an
-- updated_at column; it must not be attached yet, and its name must sort
-- before "zz_cf_sync" (trigger order).  Its migration writes the
-- table and its RLS policies (who may do what is the table's own business);
-- this adds, in the same way 001, 002, 003 and 005 did for the first ten:
--   * privileges: none for PUBLIC and anon; SELECT, INSERT, UPDATE, DELETE
--     for authenticated and service_role; RLS enabled and forced;
--   * <name>_set_updated_at, skipped for rows a sync push writes (005);
--   * cf_versions and cf_seq, the stamp triggers zz_cf_sync_stamp_insert and
--     zz_cf_sync_stamp_update (WHEN: not a row of this push, 003), the
--     tombstone trigger zz_cf_sync_tombstone, existing rows stamped, and the
--     index <name>_cf_seq_idx on (org_id, cf_seq);
--   * for each column that references public.users: the triggers
--     <name>_<column>_member_insert/_update (005: a row names only members
--     of its org);
--   * a <name>_<column>_replicable CHECK on every column of a type a replica
--     bounds (005);
--   * its row in cf_sync.tables.
-- Owner only (not granted to anyone).
CREATE FUNCTION cf_sync.attach_table(table_no integer, name text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public AS $$
DECLARE
  rel regclass := to_regclass(format('public.%I', name));
  cols text;
  ncols int;
  first2 text[];
  push_row text;
  pushed text;
  c record;
  expr text;
BEGIN
  IF rel IS NULL THEN
    RAISE EXCEPTION 'clientflow: attach_table: no table public.%', name;
  END IF;
  IF EXISTS (SELECT 1 FROM cf_sync.tables AS t WHERE t.name = attach_table.name) THEN
    RAISE EXCEPTION 'clientflow: attach_table: % is attached already', name;
  END IF;
  -- Triggers fire in name order: <name>_set_updated_at must run before the
  -- stamp triggers (zz_cf_sync_*), which version updated_at as it leaves it.
  IF (name || '_set_updated_at') COLLATE "C" >= 'zz_cf_sync' COLLATE "C" THEN
    RAISE EXCEPTION 'clientflow: attach_table: % sorts after zz_cf_sync: its triggers '
      'would fire in the wrong order', name;
  END IF;
  IF table_no IS DISTINCT FROM (SELECT count(*)::int FROM cf_sync.tables) THEN
    RAISE EXCEPTION 'clientflow: attach_table: % must take table number % (the next one)',
      name, (SELECT count(*) FROM cf_sync.tables);
  END IF;
  -- The column names in table order (= core/schema.c order).
  SELECT string_agg(quote_literal(a.attname), ', ' ORDER BY a.attnum), count(*),
         (array_agg(a.attname::text ORDER BY a.attnum))[1:2]
    INTO cols, ncols, first2
  FROM pg_catalog.pg_attribute AS a
  WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped;
  IF first2 IS DISTINCT FROM ARRAY['org_id', 'id']
     OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index AS i
                    WHERE i.indrelid = rel AND i.indisprimary
                      AND i.indnkeyatts = 2 AND i.indkey[0] = 1 AND i.indkey[1] = 2)
     OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                    WHERE a.attrelid = rel AND a.attname = 'updated_at'
                      AND NOT a.attisdropped) THEN
    RAISE EXCEPTION 'clientflow: attach_table: % must start with org_id, id, be keyed '
      '(org_id, id) and have updated_at', name;
  END IF;

  -- Privileges and forced RLS, as 002 gives every tenant table.
  EXECUTE format('REVOKE ALL ON %s FROM PUBLIC, anon, authenticated, service_role', rel);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO authenticated, service_role',
                 rel);
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', rel);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', rel);

  -- Sync columns and triggers, as 003's loop.  push_row: the row is written
  -- by a sync push of this transaction (login role in cf_sync_server,
  -- cf_seq in the reserved range, full versions): its versions and cf_seq
  -- are kept as given.
  EXECUTE format('ALTER TABLE %s ADD COLUMN cf_versions bytea', rel);
  EXECUTE format('ALTER TABLE %s ADD COLUMN cf_seq bigint', rel);
  push_row := format('coalesce(NEW.cf_seq >= coalesce(nullif(pg_catalog.current_setting('
                     '''cf.push_seq_lo'', true), '''')::bigint, 9223372036854775807) '
                     'AND length(NEW.cf_versions) = %s '
                     'AND pg_catalog.pg_has_role(session_user, ''cf_sync_server'', '
                     '''MEMBER''), false)', (ncols + 1) * 24);
  EXECUTE format('CREATE TRIGGER zz_cf_sync_stamp_insert BEFORE INSERT ON %s '
                 'FOR EACH ROW WHEN (NOT %s) EXECUTE FUNCTION cf_sync.stamp_row(%s, %s)',
                 rel, push_row, table_no, cols);
  EXECUTE format('CREATE TRIGGER zz_cf_sync_stamp_update BEFORE UPDATE ON %s '
                 'FOR EACH ROW WHEN (NOT (%s AND NEW.cf_seq IS DISTINCT FROM OLD.cf_seq)) '
                 'EXECUTE FUNCTION cf_sync.stamp_row(%s, %s)',
                 rel, push_row, table_no, cols);
  EXECUTE format('CREATE TRIGGER zz_cf_sync_tombstone AFTER DELETE ON %s '
                 'FOR EACH ROW EXECUTE FUNCTION cf_sync.record_tombstone(%s, %s)',
                 rel, table_no, cols);
  -- Rows that existed before get master versions now.
  EXECUTE format('UPDATE %s SET cf_seq = NULL', rel);
  EXECUTE format('ALTER TABLE %s ALTER COLUMN cf_versions SET NOT NULL, '
                 'ALTER COLUMN cf_seq SET NOT NULL', rel);
  EXECUTE format('CREATE INDEX %I ON %s (org_id, cf_seq)', name || '_cf_seq_idx', rel);

  -- updated_at moves on direct writes only, as 005 made it (the same test
  -- as push_row, spelled with pg_catalog functions only).
  pushed := format('coalesce(nullif(pg_catalog.current_setting('
                   '''cf.push_seq_lo'', true), '''') IS NOT NULL '
                   'AND pg_catalog.length(NEW.cf_versions) = %s '
                   'AND pg_catalog.pg_has_role(session_user, ''cf_sync_server'', '
                   '''MEMBER'') AND %s, false)',
                   (ncols + 1) * 24,
                   'NEW.cf_seq >= pg_catalog.current_setting(''cf.push_seq_lo'', '
                   'true)::bigint AND NEW.cf_seq IS DISTINCT FROM OLD.cf_seq');
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger AS g
             WHERE g.tgrelid = rel AND g.tgname = name || '_set_updated_at') THEN
    EXECUTE format('DROP TRIGGER %I ON %s', name || '_set_updated_at', rel);
  END IF;
  EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %s FOR EACH ROW '
                 'WHEN (NOT %s) EXECUTE FUNCTION public.set_updated_at()',
                 name || '_set_updated_at', rel, pushed);

  -- Rows name only members of their org (005), for each column that
  -- references users.
  FOR c IN
    SELECT a.attname AS col
    FROM pg_catalog.pg_constraint AS k
    JOIN pg_catalog.pg_attribute AS a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
    WHERE k.conrelid = rel AND k.contype = 'f' AND k.confrelid = 'public.users'::regclass
      AND cardinality(k.conkey) = 1
    ORDER BY a.attnum
  LOOP
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON %s FOR EACH ROW '
                   'WHEN (NEW.%I IS NOT NULL) '
                   'EXECUTE FUNCTION cf_sync.check_user_is_member(%L)',
                   name || '_' || c.col || '_member_insert', rel, c.col, c.col);
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %s FOR EACH ROW '
                   'WHEN (NEW.%I IS NOT NULL AND NEW.%I IS DISTINCT FROM OLD.%I) '
                   'EXECUTE FUNCTION cf_sync.check_user_is_member(%L)',
                   name || '_' || c.col || '_member_update', rel, c.col, c.col, c.col, c.col);
  END LOOP;

  -- Only values a replica can hold (005), checked for every writer.
  FOR c IN
    SELECT a.column_name, a.data_type
    FROM information_schema.columns AS a
    WHERE a.table_schema = 'public' AND a.table_name = attach_table.name
      AND a.column_name NOT IN ('cf_versions', 'cf_seq')
    ORDER BY a.ordinal_position
  LOOP
    expr := CASE
      WHEN c.data_type = 'timestamp with time zone' THEN
        format('%I BETWEEN ''0001-01-01 00:00:00+00'' AND ''9999-12-31 23:59:59.999999+00''',
               c.column_name)
      WHEN c.data_type = 'date' THEN
        format('%I BETWEEN ''0001-01-01'' AND ''9999-12-31''', c.column_name)
      WHEN c.data_type = 'numeric' THEN
        format('%I NOT IN (''NaN'', ''Infinity'', ''-Infinity'')', c.column_name)
      WHEN c.data_type IN ('text', 'jsonb', 'ARRAY') THEN
        format('octet_length(%I::text) <= 1048576', c.column_name)
    END;
    IF expr IS NOT NULL THEN
      EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (%s)',
                     rel, name || '_' || c.column_name || '_replicable', expr);
    END IF;
  END LOOP;

  INSERT INTO cf_sync.tables (table_no, name, kind) VALUES (table_no, name, 'tenant');
END $$;
REVOKE ALL ON FUNCTION cf_sync.attach_table(integer, text) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- 003's existing_ids, reading the list instead of spelling it (same
-- signature, so its grant to authenticated stays).
CREATE OR REPLACE FUNCTION cf_sync.existing_ids(org uuid, table_no integer, ids uuid[])
RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  t record;
BEGIN
  SELECT r.name, r.kind INTO t FROM cf_sync.tables AS r WHERE r.table_no = existing_ids.table_no;
  IF NOT FOUND OR NOT EXISTS (
       SELECT 1 FROM public.memberships AS m WHERE m.org_id = org AND m.user_id = auth.uid()) THEN
    RETURN;
  END IF;
  IF t.kind = 'org' THEN
    RETURN QUERY EXECUTE format('SELECT o.id FROM public.%I AS o WHERE o.id = $1 '
                                'AND o.id = ANY ($2)', t.name)
      USING org, ids;
  ELSIF t.kind = 'user' THEN
    RETURN QUERY EXECUTE format('SELECT u.id FROM public.%I AS u WHERE u.id = ANY ($1)',
                                t.name)
      USING ids;
  ELSE
    RETURN QUERY EXECUTE format('SELECT t.id FROM public.%I AS t WHERE t.org_id = $1 '
                                'AND t.id = ANY ($2)', t.name)
      USING org, ids;
  END IF;
END $$;
