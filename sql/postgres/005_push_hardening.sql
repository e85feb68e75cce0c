-- 005_push_hardening.sql: the master never trusts a pushed batch.
-- docs/master-sync.md ("Push", "Batches", "Values the master computes")
-- explains each rule; sync/master_sync.c is the code that relies on them.
--
-- 1. Batches are identified by (org, node, user, batch seq) AND a digest of
--    the batch's bytes.  push_begin answers one of:
--      new      a batch above the node's last one: push it;
--      replay   the node's last batch again, same digest: answer with the
--               recorded results, change nothing;
--      reused   the node's last batch number with other contents;
--      stale    a batch number below the node's last one.
--    reused and stale change nothing and are protocol errors: two replicas
--    claim one node id (a copied directory, a restored backup), and no
--    answer may pretend that a batch it did not apply was applied.
-- 2. Cursor positions are reserved by push_reserve, once the push knows
--    how many rows it will write (none: the head does not move), and the
--    org clock adopts the batch's greatest HLC only then.
-- 3. set_updated_at (001) does not run for rows a sync push writes: their
--    updated_at is the value its version belongs to, as on every replica.
--    (It replaces 003's keep_updated_at, which restored updated_at only
--    when the push did not write it, and let now() replace a pushed value
--    equal to the old one under the pushed version.)
-- 4. A row may only name users who are members of its org
--    (activities.user_id): checked by a trigger for every writer, so the
--    sync push, the REST API and direct SQL all get the same 23503.

-- ---------------------------------------------------------------------------
-- 1, 2. Push bookkeeping.

ALTER TABLE cf_sync.node_batches ADD COLUMN digest bytea
  CHECK (digest IS NULL OR length(digest) = 32);

DROP FUNCTION cf_sync.push_begin(uuid, uuid, bigint, integer, bigint);
DROP FUNCTION cf_sync.push_record(uuid, uuid, bigint, text);

-- Starts a push of a batch by node to org: membership of auth.uid(), the
-- org clock row lock (it orders the org's writers until commit), and what
-- the batch is (outcome, see above).  member is false, and nothing is
-- locked, when auth.uid() is not a member of org.  Records made before
-- this migration carry no digest: a batch equal to such a record is a
-- replay.
CREATE FUNCTION cf_sync.push_begin(org uuid, node uuid, batch bigint, batch_digest bytea,
                                   OUT member boolean, OUT outcome text,
                                   OUT last_batch bigint, OUT results text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  uid uuid := auth.uid();
  nb record;
BEGIN
  outcome := 'revoked';
  last_batch := 0;
  member := uid IS NOT NULL AND EXISTS (SELECT 1 FROM public.memberships AS m
                                        WHERE m.org_id = org AND m.user_id = uid);
  IF NOT member THEN
    RETURN;
  END IF;
  INSERT INTO cf_sync.org_clock (org_id) VALUES (org) ON CONFLICT (org_id) DO NOTHING;
  PERFORM 1 FROM cf_sync.org_clock AS c WHERE c.org_id = org FOR UPDATE;
  outcome := 'new';
  SELECT * INTO nb FROM cf_sync.node_batches AS b
  WHERE b.org_id = org AND b.node_id = node AND b.user_id = uid;
  IF FOUND THEN
    last_batch := nb.batch_seq;
    IF batch < nb.batch_seq THEN
      outcome := 'stale';
    ELSIF batch = nb.batch_seq THEN
      IF nb.digest IS NULL OR nb.digest = batch_digest THEN
        outcome := 'replay';
        results := nb.results;
      ELSE
        outcome := 'reused';
      END IF;
    END IF;
  END IF;
END $$;

-- Reserves n (> 0) cursor positions of org for the rows a push is about to
-- write, and lets the org clock adopt max_hlc (the batch's greatest HLC,
-- already checked against the skew bound by the server).  Returns the first
-- position, or NULL when auth.uid() is not a member of org.  Called after
-- push_begin in the same transaction, which holds the clock row lock.
CREATE FUNCTION cf_sync.push_reserve(org uuid, n integer, max_hlc bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  lo bigint;
BEGIN
  IF n <= 0 OR NOT EXISTS (SELECT 1 FROM public.memberships AS m
                           WHERE m.org_id = org AND m.user_id = auth.uid()) THEN
    RETURN NULL;
  END IF;
  UPDATE cf_sync.org_clock AS c
     SET head_seq = c.head_seq + n,
         last_hlc = greatest(c.last_hlc, max_hlc)
   WHERE c.org_id = org
  RETURNING c.head_seq - n + 1 INTO lo;
  RETURN lo;
END $$;

-- Records a node's batch: its number, digest and results (same transaction
-- as the push).
CREATE FUNCTION cf_sync.push_record(org uuid, node uuid, batch bigint, batch_digest bytea,
                                    res text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  INSERT INTO cf_sync.node_batches AS b (org_id, node_id, user_id, batch_seq, results, digest)
  SELECT org, node, auth.uid(), batch, res, batch_digest
  WHERE EXISTS (SELECT 1 FROM public.memberships AS m
                WHERE m.org_id = org AND m.user_id = auth.uid())
  ON CONFLICT (org_id, node_id, user_id) DO UPDATE
    SET batch_seq = EXCLUDED.batch_seq, results = EXCLUDED.results,
        digest = EXCLUDED.digest, pushed_at = now()
$$;

REVOKE ALL ON FUNCTION cf_sync.push_begin(uuid, uuid, bigint, bytea),
                       cf_sync.push_reserve(uuid, integer, bigint),
                       cf_sync.push_record(uuid, uuid, bigint, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cf_sync.push_begin(uuid, uuid, bigint, bytea),
                          cf_sync.push_reserve(uuid, integer, bigint),
                          cf_sync.push_record(uuid, uuid, bigint, bytea, text)
  TO authenticated;

-- ---------------------------------------------------------------------------
-- 3. updated_at of pushed rows is the pushed one.
DO $$
DECLARE
  t text;
  ncols int;
  pushed text;
BEGIN
  FOREACH t IN ARRAY ARRAY['organizations', 'users', 'memberships', 'contacts', 'deals',
                           'activities', 'appointments', 'messages', 'automations',
                           'daily_metrics']
  LOOP
    SELECT count(*) INTO ncols
    FROM pg_catalog.pg_attribute AS a
    WHERE a.attrelid = format('public.%I', t)::regclass
      AND a.attnum > 0 AND NOT a.attisdropped
      AND a.attname NOT IN ('cf_versions', 'cf_seq');
    -- The same test as 003's push_row (the stamp triggers' WHEN clause),
    -- spelled with pg_catalog functions only: a trigger's WHEN runs with the
    -- writer's privileges.
    pushed := format('coalesce(nullif(pg_catalog.current_setting('
                     '''cf.push_seq_lo'', true), '''') IS NOT NULL '
                     'AND pg_catalog.length(NEW.cf_versions) = %s '
                     'AND pg_catalog.pg_has_role(session_user, ''cf_sync_server'', '
                     '''MEMBER'') AND %s, false)',
                     (ncols + 1) * 24,
                     CASE WHEN t = 'users'
                          THEN 'NEW.cf_versions IS DISTINCT FROM OLD.cf_versions'
                          ELSE 'NEW.cf_seq >= pg_catalog.current_setting(''cf.push_seq_lo'', '
                               'true)::bigint AND NEW.cf_seq IS DISTINCT FROM OLD.cf_seq'
                     END);
    EXECUTE format('DROP TRIGGER %I ON public.%I', t || '_set_updated_at', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON public.%I FOR EACH ROW '
                   'WHEN (NOT %s) EXECUTE FUNCTION public.set_updated_at()',
                   t || '_set_updated_at', t, pushed);
    IF t <> 'users' THEN
      EXECUTE format('DROP TRIGGER zz_cf_sync_keep_updated_at ON public.%I', t);
    END IF;
  END LOOP;
END $$;
DROP FUNCTION cf_sync.keep_updated_at();

-- ---------------------------------------------------------------------------
-- 4. Rows name only members of their org.  TG_ARGV[0] is the column that
-- holds a user id.  SECURITY DEFINER: memberships are read whatever the
-- writer may see; the answer only says "not a member of this org".
CREATE FUNCTION cf_sync.check_user_is_member() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  uid uuid := (to_jsonb(NEW) ->> TG_ARGV[0])::uuid;
BEGIN
  IF uid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public.memberships AS m
                                     WHERE m.org_id = NEW.org_id AND m.user_id = uid) THEN
    RAISE EXCEPTION 'clientflow: %.% names a user who is not a member of the organization',
      TG_TABLE_NAME, TG_ARGV[0]
      USING ERRCODE = '23503', CONSTRAINT = TG_TABLE_NAME || '_' || TG_ARGV[0] || '_member';
  END IF;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION cf_sync.check_user_is_member() FROM PUBLIC;

CREATE TRIGGER activities_user_id_member_insert BEFORE INSERT ON public.activities
  FOR EACH ROW WHEN (NEW.user_id IS NOT NULL)
  EXECUTE FUNCTION cf_sync.check_user_is_member('user_id');
CREATE TRIGGER activities_user_id_member_update BEFORE UPDATE ON public.activities
  FOR EACH ROW WHEN (NEW.user_id IS NOT NULL AND NEW.user_id IS DISTINCT FROM OLD.user_id)
  EXECUTE FUNCTION cf_sync.check_user_is_member('user_id');

-- ---------------------------------------------------------------------------
-- 5. The master holds only values a replica can hold (core/value.h): finite
-- timestamps and dates in years 0001..9999, finite numerics, text, jsonb
-- and arrays of at most CF_VALUE_MAX_BYTES (1 MiB) in Postgres' text form.
-- Checked for every writer (sync pushes are checked in C first; this covers
-- direct SQL and the REST API), so a pull never meets a value it cannot
-- send.  NOT VALID: rows stored before this migration are not re-checked
-- (a pull logs and skips a value it cannot convert, docs/master-sync.md).
DO $$
DECLARE
  c record;
  expr text;
BEGIN
  FOR c IN
    SELECT a.table_name, a.column_name, a.data_type
    FROM information_schema.columns AS a
    WHERE a.table_schema = 'public'
      AND a.table_name IN ('organizations', 'users', 'memberships', 'contacts', 'deals',
                           'activities', 'appointments', 'messages', 'automations',
                           'daily_metrics')
      AND a.column_name NOT IN ('cf_versions', 'cf_seq')
    ORDER BY a.table_name, a.ordinal_position
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
      EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I CHECK (%s) NOT VALID',
                     c.table_name, c.table_name || '_' || c.column_name || '_replicable',
                     expr);
    END IF;
  END LOOP;
END $$;
