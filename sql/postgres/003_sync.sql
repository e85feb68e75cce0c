-- 003_sync.sql: sync support on the master (versions, change cursor,
-- tombstones, push bookkeeping).  docs/master-sync.md explains the design;
-- sync/master_sync.c is the code that pushes and pulls through it.
--
-- Per-column versions.  Every one of the ten tables gets two columns that the
-- app-facing SQL (REST API, RLS policies) never needs to look at:
--
--   cf_versions bytea   (ncols + 1) x 24 bytes: the version of each column
--                       in core/schema.c order, then the version of the
--                       "deleted" pseudo-column; a version is an 8-byte
--                       big-endian HLC then the 16-byte writer node id
--                       (core/version.h); key columns hold 24 zero bytes
--   cf_seq bigint       position of the row's last change in its org's
--                       change cursor (tenant tables and organizations;
--                       users rows are sequenced per org in
--                       cf_sync.user_seqs instead, see below)
--
-- The change cursor.  cf_sync.org_clock holds one row per org: head_seq (the
-- last sequence number handed out) and last_hlc (the master's hybrid clock
-- for that org).  Every transaction that writes an org's rows updates that
-- row first (through the stamp triggers or cf_sync.push_begin), so its row
-- lock orders the org's writers: sequence numbers are handed out in commit
-- order, and a reader whose snapshot shows head_seq = H sees every change
-- numbered <= H and none above.  Numbers may have holes (a push reserves one
-- per change and may write fewer); they never go back.
--
-- Writers.
--   * Direct SQL (any app, the REST API, psql): the BEFORE trigger stamps
--     the columns whose values changed with a version from the org's clock
--     and the fixed master node id (cf_sync.config), and a new cf_seq.
--   * A sync push (sync/master_sync.c): the server reserves a range of
--     sequence numbers with cf_sync.push_begin, publishes the range start in
--     the transaction-local setting cf.push_seq_lo, and writes the merged
--     rows with their versions and a cf_seq from the range.  Such rows are
--     kept as given -- only when the session's login role is a member of
--     cf_sync_server (so an app that sets cf.push_seq_lo itself still gets
--     master versions) and only for rows whose cf_seq is in the range (rows
--     changed by cascades get master versions).  The test is the stamp
--     triggers' WHEN clause, evaluated by the executor without calling
--     PL/pgSQL, so a pushed row costs no trigger call (zz_cf_sync_keep_
--     updated_at only fires when set_updated_at must be undone).
--   * Deletes are hard deletes; an AFTER DELETE trigger writes a tombstone
--     (org, table number, id, version of the delete, cf_seq) so deletes
--     made with SQL or by cascades sync too.  cf_sync.purge_tombstones drops
--     old ones and raises the org's purged_seq: a node whose cursor is below
--     it must bootstrap again.
--   * Key columns never change (a row cannot move to another org).
--
-- users rows belong to no org: a replica of an org holds the users rows of
-- that org's members, read through cf_sync.pull_users (SECURITY DEFINER:
-- members see each other's profiles there, not through the users table).
-- cf_sync.user_seqs gives each (org, member) a cf_seq in the org's cursor,
-- bumped when the user's row changes and when the membership is created.
--
-- Security: RLS is enabled and forced on every cf_sync table; authenticated
-- may only SELECT its orgs' tombstones; everything else goes through the
-- SECURITY DEFINER functions below, which check auth.uid()'s membership.

-- ---------------------------------------------------------------------------
-- The role whose members may write pushed versions (the sync server's login
-- role is GRANTed it together with authenticator).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'cf_sync_server') THEN
    BEGIN
      CREATE ROLE cf_sync_server NOLOGIN NOINHERIT;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END IF;
END $$;

CREATE SCHEMA cf_sync;
REVOKE ALL ON SCHEMA cf_sync FROM PUBLIC;
GRANT USAGE ON SCHEMA cf_sync TO authenticated;

-- The master's node id: the writer id in versions of direct SQL writes.
CREATE TABLE cf_sync.config (
  one          boolean PRIMARY KEY DEFAULT true CHECK (one),
  master_node  uuid NOT NULL DEFAULT gen_random_uuid()
);
INSERT INTO cf_sync.config DEFAULT VALUES;

-- One row per org: its change cursor and clock.
CREATE TABLE cf_sync.org_clock (
  org_id      uuid PRIMARY KEY,
  head_seq    bigint NOT NULL DEFAULT 0,  -- last sequence number handed out
  last_hlc    bigint NOT NULL DEFAULT 0,  -- greatest HLC issued or adopted
  purged_seq  bigint NOT NULL DEFAULT 0   -- tombstones <= this are gone
);

-- Deleted rows.
CREATE TABLE cf_sync.tombstones (
  org_id           uuid NOT NULL,
  table_no         smallint NOT NULL,     -- core/schema.h table number
  id               uuid NOT NULL,
  deleted_version  bytea NOT NULL CHECK (length(deleted_version) = 24),
  cf_seq           bigint NOT NULL,
  deleted_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, table_no, id)
);
CREATE INDEX tombstones_org_seq_idx ON cf_sync.tombstones (org_id, cf_seq);

-- Each (org, member)'s users row position in the org's cursor.
CREATE TABLE cf_sync.user_seqs (
  org_id   uuid NOT NULL,
  user_id  uuid NOT NULL,
  cf_seq   bigint NOT NULL,
  PRIMARY KEY (org_id, user_id)
);
CREATE INDEX user_seqs_org_seq_idx ON cf_sync.user_seqs (org_id, cf_seq);

-- The last batch each node pushed, with its results, for idempotent retries.
CREATE TABLE cf_sync.node_batches (
  org_id      uuid NOT NULL,
  node_id     uuid NOT NULL,
  user_id     uuid NOT NULL,
  batch_seq   bigint NOT NULL,
  results     text NOT NULL,
  pushed_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, node_id, user_id)
);

REVOKE ALL ON cf_sync.config, cf_sync.org_clock, cf_sync.tombstones,
              cf_sync.user_seqs, cf_sync.node_batches FROM PUBLIC;
ALTER TABLE cf_sync.config       ENABLE ROW LEVEL SECURITY;
ALTER TABLE cf_sync.config       FORCE ROW LEVEL SECURITY;
ALTER TABLE cf_sync.org_clock    ENABLE ROW LEVEL SECURITY;
ALTER TABLE cf_sync.org_clock    FORCE ROW LEVEL SECURITY;
ALTER TABLE cf_sync.tombstones   ENABLE ROW LEVEL SECURITY;
ALTER TABLE cf_sync.tombstones   FORCE ROW LEVEL SECURITY;
ALTER TABLE cf_sync.user_seqs    ENABLE ROW LEVEL SECURITY;
ALTER TABLE cf_sync.user_seqs    FORCE ROW LEVEL SECURITY;
ALTER TABLE cf_sync.node_batches ENABLE ROW LEVEL SECURITY;
ALTER TABLE cf_sync.node_batches FORCE ROW LEVEL SECURITY;
GRANT SELECT ON cf_sync.tombstones TO authenticated;
CREATE POLICY tombstones_select ON cf_sync.tombstones
  FOR SELECT TO authenticated
  USING (org_id = ANY ((SELECT cf_private.org_ids_for_user((SELECT auth.uid())))::uuid[]));

-- ---------------------------------------------------------------------------
-- Clock helpers.

-- The wall clock as an HLC with counter 0 (core/hlc.h layout).
CREATE FUNCTION cf_sync.wall_hlc() RETURNS bigint
LANGUAGE sql VOLATILE SET search_path = pg_catalog AS $$
  SELECT (floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) << 16
$$;

-- Takes the next sequence number and HLC of org (locking its clock row until
-- the transaction ends).  A transaction that writes many rows of one org
-- directly (a bulk UPDATE, an import) must not update the clock row once per
-- row -- each update adds a row version the next one has to step over, so the
-- cost per row grows with the transaction.  So the clock hands out blocks:
-- the first tick of a transaction reserves 1 number (and 1 HLC), each later
-- reservation twice the last (at most 4096), and the ticks in between are
-- served from the reservation kept in a transaction-local setting.  Both
-- ranges are written to the clock row when reserved, so no other transaction
-- can hand out the same sequence number or HLC; unused numbers are holes,
-- which the cursor allows.  A rolled-back savepoint rolls back the setting
-- together with the reservation.
CREATE FUNCTION cf_sync.tick(org uuid, OUT seq bigint, OUT hlc bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  key text := 'cf.tick_' || replace(org::text, '-', '');
  st text := current_setting(key, true);  -- 'next seq,last seq,next hlc,block'
  part text[];
  blk bigint := 1;
BEGIN
  IF st IS NOT NULL AND st <> '' THEN
    part := string_to_array(st, ',');
    IF part[1]::bigint <= part[2]::bigint THEN
      seq := part[1]::bigint;
      hlc := part[3]::bigint;
      PERFORM set_config(key, (seq + 1)::text || ',' || part[2] || ',' || (hlc + 1)::text
                              || ',' || part[4], true);
      RETURN;
    END IF;
    blk := least(part[4]::bigint * 2, 4096);
  END IF;
  INSERT INTO cf_sync.org_clock AS c (org_id, head_seq, last_hlc)
  VALUES (org, blk, cf_sync.wall_hlc() + blk - 1)
  ON CONFLICT (org_id) DO UPDATE
    SET head_seq = c.head_seq + blk,
        last_hlc = greatest(c.last_hlc + 1, cf_sync.wall_hlc()) + blk - 1
  RETURNING c.head_seq - blk + 1, c.last_hlc - blk + 1 INTO seq, hlc;
  PERFORM set_config(key, (seq + 1)::text || ',' || (seq + blk - 1)::text || ','
                          || (hlc + 1)::text || ',' || blk::text, true);
END $$;

-- The version (hlc, master node) in its 24-byte form.
CREATE FUNCTION cf_sync.master_version(hlc bigint) RETURNS bytea
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT int8send(hlc) || uuid_send(c.master_node) FROM cf_sync.config AS c
$$;

-- True when this transaction is a sync push of the server: the login role is
-- a member of cf_sync_server and the push published its sequence range.
-- Returns the range start, or NULL.
CREATE FUNCTION cf_sync.push_seq_lo() RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT CASE WHEN pg_has_role(session_user, 'cf_sync_server', 'MEMBER')
              THEN nullif(current_setting('cf.push_seq_lo', true), '')::bigint END
$$;

-- ---------------------------------------------------------------------------
-- The stamp trigger: BEFORE INSERT and BEFORE UPDATE on the nine org-bound
-- tables, for direct writes only: the triggers' WHEN clause (evaluated by
-- the executor, no PL/pgSQL call) skips the rows a sync push writes (see
-- push_row below), which keeps pushes cheap.  TG_ARGV[0] is the table
-- number, TG_ARGV[1..ncols] the column names in core/schema.c order.  Its
-- names sort after "<table>_set_updated_at", so it sees updated_at as that
-- trigger left it.
CREATE FUNCTION cf_sync.stamp_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  ncols int := TG_NARGS - 1;
  org uuid;
  t record;
  ver bytea;
  vers bytea;
  n jsonb;
  o jsonb;
  col text;
BEGIN
  IF TG_TABLE_NAME = 'organizations' THEN
    org := NEW.id;
  ELSE
    org := NEW.org_id;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    IF TG_TABLE_NAME = 'organizations' THEN
      IF NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION 'clientflow: the key of a row cannot change' USING ERRCODE = '23514',
          CONSTRAINT = 'cf_sync_key_immutable';
      END IF;
    ELSIF NEW.id IS DISTINCT FROM OLD.id OR NEW.org_id IS DISTINCT FROM OLD.org_id THEN
      RAISE EXCEPTION 'clientflow: the key of a row cannot change' USING ERRCODE = '23514',
        CONSTRAINT = 'cf_sync_key_immutable';
    END IF;
  END IF;

  -- A direct write: versions from the master's clock.
  SELECT * INTO t FROM cf_sync.tick(org);
  ver := cf_sync.master_version(t.hlc);
  n := to_jsonb(NEW);
  IF TG_OP = 'UPDATE' AND length(OLD.cf_versions) = (ncols + 1) * 24 THEN
    vers := OLD.cf_versions;
    o := to_jsonb(OLD);
    FOR i IN 1..ncols LOOP
      col := TG_ARGV[i];
      IF col NOT IN ('org_id', 'id') AND (n -> col) IS DISTINCT FROM (o -> col) THEN
        vers := overlay(vers PLACING ver FROM (i - 1) * 24 + 1 FOR 24);
      END IF;
    END LOOP;
  ELSE
    vers := ''::bytea;
    FOR i IN 1..ncols LOOP
      IF TG_ARGV[i] IN ('org_id', 'id') THEN
        vers := vers || '\x000000000000000000000000000000000000000000000000'::bytea;
      ELSE
        vers := vers || ver;
      END IF;
    END LOOP;
    vers := vers || ver;  -- deleted = 0
  END IF;
  NEW.cf_versions := vers;
  NEW.cf_seq := t.seq;
  RETURN NEW;
END $$;

-- The tombstone trigger: AFTER DELETE on the nine org-bound tables (same
-- arguments as stamp_row).
CREATE FUNCTION cf_sync.record_tombstone() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  ncols int := TG_NARGS - 1;
  org uuid;
  lo bigint;
  t record;
  ver bytea;
  seq bigint;
BEGIN
  IF TG_TABLE_NAME = 'organizations' THEN
    org := OLD.id;
  ELSE
    org := OLD.org_id;
  END IF;
  lo := nullif(current_setting('cf.push_seq_lo', true), '')::bigint;
  IF lo IS NOT NULL AND OLD.cf_seq >= lo AND length(OLD.cf_versions) = (ncols + 1) * 24
     AND pg_has_role(session_user, 'cf_sync_server', 'MEMBER') THEN
    -- Pushed delete: the push stamped the deleted cell and cf_seq first.
    ver := substring(OLD.cf_versions FROM ncols * 24 + 1 FOR 24);
    seq := OLD.cf_seq;
  ELSE
    SELECT * INTO t FROM cf_sync.tick(org);
    ver := cf_sync.master_version(t.hlc);
    seq := t.seq;
  END IF;
  INSERT INTO cf_sync.tombstones AS ts (org_id, table_no, id, deleted_version, cf_seq)
  VALUES (org, TG_ARGV[0]::smallint, OLD.id, ver, seq)
  ON CONFLICT (org_id, table_no, id) DO UPDATE
    SET deleted_version = EXCLUDED.deleted_version, cf_seq = EXCLUDED.cf_seq,
        deleted_at = now();
  RETURN NULL;
END $$;

-- users rows: versions like stamp_row; the sequence number is taken in every
-- org the user is a member of (cf_sync.user_seqs).
CREATE FUNCTION cf_sync.stamp_user() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  ncols int := TG_NARGS - 1;
  t record;
  m record;
  ver bytea;
  vers bytea;
  n jsonb;
  o jsonb;
  col text;
  ua int;
  pushed boolean;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.id IS DISTINCT FROM OLD.id THEN
    RAISE EXCEPTION 'clientflow: the key of a row cannot change' USING ERRCODE = '23514',
      CONSTRAINT = 'cf_sync_key_immutable';
  END IF;
  pushed := cf_sync.push_seq_lo() IS NOT NULL
            AND length(NEW.cf_versions) = (ncols + 1) * 24
            AND (TG_OP = 'INSERT' OR NEW.cf_versions IS DISTINCT FROM OLD.cf_versions);
  IF pushed THEN
    IF TG_OP = 'UPDATE' THEN
      FOR i IN 1..ncols LOOP
        IF TG_ARGV[i] = 'updated_at' THEN ua := i - 1; END IF;
      END LOOP;
      IF substring(NEW.cf_versions FROM ua * 24 + 1 FOR 24)
         = substring(OLD.cf_versions FROM ua * 24 + 1 FOR 24) THEN
        NEW.updated_at := OLD.updated_at;
      END IF;
    END IF;
  ELSE
    SELECT h INTO t FROM (SELECT (greatest(cf_sync.wall_hlc(),
                                           coalesce(max(c.last_hlc), 0) + 1)) AS h
                          FROM cf_sync.org_clock AS c
                          JOIN public.memberships AS mm ON mm.org_id = c.org_id
                          WHERE mm.user_id = NEW.id) AS x;
    ver := cf_sync.master_version(t.h);
    n := to_jsonb(NEW);
    IF TG_OP = 'UPDATE' AND length(OLD.cf_versions) = (ncols + 1) * 24 THEN
      vers := OLD.cf_versions;
      o := to_jsonb(OLD);
      FOR i IN 1..ncols LOOP
        col := TG_ARGV[i];
        IF col <> 'id' AND (n -> col) IS DISTINCT FROM (o -> col) THEN
          vers := overlay(vers PLACING ver FROM (i - 1) * 24 + 1 FOR 24);
        END IF;
      END LOOP;
    ELSE
      vers := '\x000000000000000000000000000000000000000000000000'::bytea;  -- id
      FOR i IN 2..ncols + 1 LOOP
        vers := vers || ver;
      END LOOP;
    END IF;
    NEW.cf_versions := vers;
  END IF;
  -- A sequence number in each of the user's orgs, in org order (no
  -- deadlock between two such writers).
  FOR m IN SELECT mm.org_id FROM public.memberships AS mm
           WHERE mm.user_id = NEW.id ORDER BY mm.org_id LOOP
    SELECT * INTO t FROM cf_sync.tick(m.org_id);
    INSERT INTO cf_sync.user_seqs AS us (org_id, user_id, cf_seq)
    VALUES (m.org_id, NEW.id, t.seq)
    ON CONFLICT (org_id, user_id) DO UPDATE SET cf_seq = EXCLUDED.cf_seq;
  END LOOP;
  RETURN NEW;
END $$;

-- A pushed update that did not write updated_at (its version is unchanged):
-- undo set_updated_at's now().  Fired only for such rows (WHEN clause).
CREATE FUNCTION cf_sync.keep_updated_at() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
  NEW.updated_at := OLD.updated_at;
  RETURN NEW;
END $$;

-- A new membership brings the member's users row into the org's cursor.
CREATE FUNCTION cf_sync.membership_user_seq() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  INSERT INTO cf_sync.user_seqs AS us (org_id, user_id, cf_seq)
  VALUES (NEW.org_id, NEW.user_id, NEW.cf_seq)
  ON CONFLICT (org_id, user_id) DO UPDATE SET cf_seq = EXCLUDED.cf_seq;
  RETURN NULL;
END $$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA cf_sync FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Columns and triggers on the ten tables.
DO $$
DECLARE
  spec record;
  cols text;
  ncols int;
  push_row text;
BEGIN
  FOR spec IN
    SELECT * FROM (VALUES
      (0, 'organizations'), (1, 'users'), (2, 'memberships'), (3, 'contacts'),
      (4, 'deals'), (5, 'activities'), (6, 'appointments'), (7, 'messages'),
      (8, 'automations'), (9, 'daily_metrics')) AS s(no, name)
  LOOP
    -- The column names in table order (= core/schema.c order), before the
    -- sync columns are added.
    SELECT string_agg(quote_literal(a.attname), ', ' ORDER BY a.attnum), count(*)
      INTO cols, ncols
    FROM pg_catalog.pg_attribute AS a
    WHERE a.attrelid = format('public.%I', spec.name)::regclass
      AND a.attnum > 0 AND NOT a.attisdropped;
    EXECUTE format('ALTER TABLE public.%I ADD COLUMN cf_versions bytea', spec.name);
    IF spec.name = 'users' THEN
      EXECUTE format('CREATE TRIGGER zz_cf_sync_stamp BEFORE INSERT OR UPDATE ON public.%I '
                     'FOR EACH ROW EXECUTE FUNCTION cf_sync.stamp_user(%s, %s)',
                     spec.name, spec.no, cols);
      EXECUTE format('UPDATE public.%I SET cf_versions = NULL', spec.name);
      EXECUTE format('ALTER TABLE public.%I ALTER COLUMN cf_versions SET NOT NULL', spec.name);
    ELSE
      EXECUTE format('ALTER TABLE public.%I ADD COLUMN cf_seq bigint', spec.name);
      -- push_row: the row is written by a sync push of this transaction
      -- (login role in cf_sync_server, cf_seq in the reserved range, full
      -- versions): its versions and cf_seq are kept as given.
      push_row := format('coalesce(NEW.cf_seq >= coalesce(nullif(pg_catalog.current_setting('
                         '''cf.push_seq_lo'', true), '''')::bigint, 9223372036854775807) '
                         'AND length(NEW.cf_versions) = %s '
                         'AND pg_catalog.pg_has_role(session_user, ''cf_sync_server'', '
                         '''MEMBER''), false)', (ncols + 1) * 24);
      EXECUTE format('CREATE TRIGGER zz_cf_sync_stamp_insert BEFORE INSERT ON public.%I '
                     'FOR EACH ROW WHEN (NOT %s) EXECUTE FUNCTION cf_sync.stamp_row(%s, %s)',
                     spec.name, push_row, spec.no, cols);
      EXECUTE format('CREATE TRIGGER zz_cf_sync_stamp_update BEFORE UPDATE ON public.%I '
                     'FOR EACH ROW WHEN (NOT (%s AND NEW.cf_seq IS DISTINCT FROM OLD.cf_seq)) '
                     'EXECUTE FUNCTION cf_sync.stamp_row(%s, %s)',
                     spec.name, push_row, spec.no, cols);
      -- updated_at is the last column of every table.
      EXECUTE format('CREATE TRIGGER zz_cf_sync_keep_updated_at BEFORE UPDATE ON public.%I '
                     'FOR EACH ROW WHEN (%s AND NEW.cf_seq IS DISTINCT FROM OLD.cf_seq '
                     'AND substring(NEW.cf_versions FROM %s FOR 24) '
                     '= substring(OLD.cf_versions FROM %s FOR 24)) '
                     'EXECUTE FUNCTION cf_sync.keep_updated_at()',
                     spec.name, push_row, (ncols - 1) * 24 + 1, (ncols - 1) * 24 + 1);
      EXECUTE format('CREATE TRIGGER zz_cf_sync_tombstone AFTER DELETE ON public.%I '
                     'FOR EACH ROW EXECUTE FUNCTION cf_sync.record_tombstone(%s, %s)',
                     spec.name, spec.no, cols);
      -- Rows that existed before this migration get master versions now.
      EXECUTE format('UPDATE public.%I SET cf_seq = NULL', spec.name);
      EXECUTE format('ALTER TABLE public.%I ALTER COLUMN cf_versions SET NOT NULL, '
                     'ALTER COLUMN cf_seq SET NOT NULL', spec.name);
      IF spec.name = 'organizations' THEN
        EXECUTE 'CREATE INDEX organizations_cf_seq_idx ON public.organizations (id, cf_seq)';
      ELSE
        EXECUTE format('CREATE INDEX %I ON public.%I (org_id, cf_seq)',
                       spec.name || '_cf_seq_idx', spec.name);
      END IF;
    END IF;
  END LOOP;
END $$;

CREATE TRIGGER zz_cf_sync_user_seq AFTER INSERT ON public.memberships
  FOR EACH ROW EXECUTE FUNCTION cf_sync.membership_user_seq();

-- ---------------------------------------------------------------------------
-- The functions the sync server calls as `authenticated`.

-- Starts a push of n changes by node to org.  Serialises the org's writers
-- (locks the clock row), tells whether batch_seq was already applied (a
-- retry: the recorded results are returned and nothing else happens), and
-- otherwise reserves n sequence numbers from seq_lo and lets the clock adopt
-- max_hlc (the greatest HLC in the batch, already checked against the skew
-- bound by the server).  member is false, and nothing is locked, when
-- auth.uid() is not a member of org.
CREATE FUNCTION cf_sync.push_begin(org uuid, node uuid, batch bigint, n integer,
                                   max_hlc bigint,
                                   OUT member boolean, OUT replay boolean,
                                   OUT last_batch bigint, OUT results text,
                                   OUT seq_lo bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  uid uuid := auth.uid();
  nb record;
BEGIN
  replay := false;
  member := uid IS NOT NULL AND EXISTS (SELECT 1 FROM public.memberships AS m
                                        WHERE m.org_id = org AND m.user_id = uid);
  IF NOT member THEN
    RETURN;
  END IF;
  INSERT INTO cf_sync.org_clock (org_id) VALUES (org) ON CONFLICT (org_id) DO NOTHING;
  PERFORM 1 FROM cf_sync.org_clock AS c WHERE c.org_id = org FOR UPDATE;
  SELECT * INTO nb FROM cf_sync.node_batches AS b
  WHERE b.org_id = org AND b.node_id = node AND b.user_id = uid;
  IF FOUND THEN
    last_batch := nb.batch_seq;
    IF batch <= nb.batch_seq THEN
      replay := true;
      IF batch = nb.batch_seq THEN
        results := nb.results;
      END IF;
      RETURN;
    END IF;
  END IF;
  UPDATE cf_sync.org_clock AS c
     SET head_seq = c.head_seq + greatest(n, 0),
         last_hlc = greatest(c.last_hlc, max_hlc)
   WHERE c.org_id = org
  RETURNING c.head_seq - greatest(n, 0) + 1 INTO seq_lo;
END $$;

-- Records the results of a node's batch (same transaction as the push).
CREATE FUNCTION cf_sync.push_record(org uuid, node uuid, batch bigint, res text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  INSERT INTO cf_sync.node_batches AS b (org_id, node_id, user_id, batch_seq, results)
  SELECT org, node, auth.uid(), batch, res
  WHERE EXISTS (SELECT 1 FROM public.memberships AS m
                WHERE m.org_id = org AND m.user_id = auth.uid())
  ON CONFLICT (org_id, node_id, user_id) DO UPDATE
    SET batch_seq = EXCLUDED.batch_seq, results = EXCLUDED.results, pushed_at = now()
$$;

-- Starts a pull of org: membership of auth.uid(), the cursor head and the
-- purge horizon as the caller's snapshot sees them.
CREATE FUNCTION cf_sync.pull_begin(org uuid, OUT member boolean, OUT head_seq bigint,
                                   OUT purged_seq bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  uid uuid := auth.uid();
BEGIN
  member := uid IS NOT NULL AND EXISTS (SELECT 1 FROM public.memberships AS m
                                        WHERE m.org_id = org AND m.user_id = uid);
  head_seq := 0;
  purged_seq := 0;
  IF member THEN
    SELECT c.head_seq, c.purged_seq INTO head_seq, purged_seq
    FROM cf_sync.org_clock AS c WHERE c.org_id = org;
    head_seq := coalesce(head_seq, 0);
    purged_seq := coalesce(purged_seq, 0);
  END IF;
END $$;

-- The users rows of org's members changed after cursor `after`, in cursor
-- order, at most lim of them; empty unless auth.uid() is a member of org.
CREATE FUNCTION cf_sync.pull_users(org uuid, after bigint, lim integer)
RETURNS TABLE (cf_seq bigint, id uuid, email text, full_name text, avatar_url text,
               metadata jsonb, created_at timestamptz, updated_at timestamptz,
               cf_versions bytea)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT s.cf_seq, u.id, u.email, u.full_name, u.avatar_url, u.metadata,
         u.created_at, u.updated_at, u.cf_versions
  FROM cf_sync.user_seqs AS s
  JOIN public.users AS u ON u.id = s.user_id
  WHERE s.org_id = org AND s.cf_seq > after
    AND EXISTS (SELECT 1 FROM public.memberships AS m
                WHERE m.org_id = org AND m.user_id = auth.uid())
  ORDER BY s.cf_seq
  LIMIT lim
$$;

-- Which of ids exist in table table_no of org, whatever RLS lets auth.uid()
-- see: a push uses it to tell "the user may not write this existing row"
-- (permission) from "a new row".  Only for a member of org, and only ids in
-- that org (or the org's own organizations row, or users rows).
CREATE FUNCTION cf_sync.existing_ids(org uuid, table_no integer, ids uuid[])
RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  names text[] := ARRAY['organizations', 'users', 'memberships', 'contacts', 'deals',
                        'activities', 'appointments', 'messages', 'automations',
                        'daily_metrics'];
BEGIN
  IF table_no < 0 OR table_no > 9 OR NOT EXISTS (
       SELECT 1 FROM public.memberships AS m WHERE m.org_id = org AND m.user_id = auth.uid()) THEN
    RETURN;
  END IF;
  IF table_no = 0 THEN
    RETURN QUERY SELECT o.id FROM public.organizations AS o WHERE o.id = org AND o.id = ANY (ids);
  ELSIF table_no = 1 THEN
    RETURN QUERY SELECT u.id FROM public.users AS u WHERE u.id = ANY (ids);
  ELSE
    RETURN QUERY EXECUTE format('SELECT t.id FROM public.%I AS t WHERE t.org_id = $1 '
                                'AND t.id = ANY ($2)', names[table_no + 1])
      USING org, ids;
  END IF;
END $$;

-- Operators: drops the tombstones of every org deleted more than `keep` ago
-- and raises each org's purged_seq past them.  Returns the number dropped.
CREATE FUNCTION cf_sync.purge_tombstones(keep interval) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public AS $$
DECLARE
  r record;
  dropped bigint := 0;
  k bigint;
BEGIN
  FOR r IN SELECT t.org_id, max(t.cf_seq) AS upto FROM cf_sync.tombstones AS t
           WHERE t.deleted_at < now() - keep GROUP BY t.org_id ORDER BY t.org_id LOOP
    UPDATE cf_sync.org_clock AS c SET purged_seq = greatest(c.purged_seq, r.upto)
    WHERE c.org_id = r.org_id;
    DELETE FROM cf_sync.tombstones AS t WHERE t.org_id = r.org_id AND t.cf_seq <= r.upto;
    GET DIAGNOSTICS k = ROW_COUNT;
    dropped := dropped + k;
  END LOOP;
  RETURN dropped;
END $$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA cf_sync FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cf_sync.push_begin(uuid, uuid, bigint, integer, bigint),
                          cf_sync.push_record(uuid, uuid, bigint, text),
                          cf_sync.pull_begin(uuid),
                          cf_sync.pull_users(uuid, bigint, integer),
                          cf_sync.existing_ids(uuid, integer, uuid[])
  TO authenticated;
