-- 013_pull_sources.sql: which sources of a pull have anything after the
-- cursor (docs/master-sync.md, "Pull": "Only the sources that changed").
--
-- A pull reads eleven sources (the ten tables, users through
-- cf_sync.pull_users, and the tombstones), each one RLS-filtered statement
-- whose policies evaluate auth.uid() and org_ids_for_user(): about 0.2 ms a
-- statement whatever it returns.  A live pull (one commit after the cursor)
-- finds something in one or two of them.  cf_sync.pull_start is pull_begin
-- (membership, head_seq, purged_seq) plus a bit mask of the sources that hold
-- a change of org numbered after `after`, read in the caller's snapshot: the
-- pull runs it inside its REPEATABLE READ transaction, so a source whose bit
-- is clear returns nothing after the cursor in that same snapshot and need
-- not be read.  The rows themselves are still read only through the
-- RLS-filtered statements; this function reveals, to a member of org only,
-- whether a source of that org has anything after a number -- nothing the
-- member could not read from the rows themselves.
--
-- Bit s (1 << s) is source s: 0..9 the table numbers of core/tables.h
-- (cf_sync.tables), 10 the tombstones.  A source is flagged when any row
-- of org in it has cf_seq > after, visible to RLS or not: flagging too much
-- only costs a read; flagging too little would lose a change, and cannot,
-- since every pulled row is such a row.  For users the test is on
-- cf_sync.user_seqs, which pull_users joins.  Each test is one probe of the
-- source's (org, cf_seq) index.
--
-- cf_sync.pull_begin stays: servers built before this migration call it.

CREATE FUNCTION cf_sync.pull_start(org uuid, after bigint, OUT member boolean,
                                   OUT head_seq bigint, OUT purged_seq bigint,
                                   OUT sources integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  uid uuid := auth.uid();
BEGIN
  member := uid IS NOT NULL AND EXISTS (SELECT 1 FROM public.memberships AS m
                                        WHERE m.org_id = org AND m.user_id = uid);
  head_seq := 0;
  purged_seq := 0;
  sources := 0;
  IF NOT member THEN
    RETURN;
  END IF;
  SELECT c.head_seq, c.purged_seq INTO head_seq, purged_seq
  FROM cf_sync.org_clock AS c WHERE c.org_id = org;
  head_seq := coalesce(head_seq, 0);
  purged_seq := coalesce(purged_seq, 0);
  SELECT
      (CASE WHEN EXISTS (SELECT 1 FROM public.organizations AS t
                         WHERE t.id = org AND t.cf_seq > after) THEN 1 ELSE 0 END)
    | (CASE WHEN EXISTS (SELECT 1 FROM cf_sync.user_seqs AS t
                         WHERE t.org_id = org AND t.cf_seq > after) THEN 2 ELSE 0 END)
    | (CASE WHEN EXISTS (SELECT 1 FROM public.memberships AS t
                         WHERE t.org_id = org AND t.cf_seq > after) THEN 4 ELSE 0 END)
    | (CASE WHEN EXISTS (SELECT 1 FROM public.contacts AS t
                         WHERE t.org_id = org AND t.cf_seq > after) THEN 8 ELSE 0 END)
    | (CASE WHEN EXISTS (SELECT 1 FROM public.deals AS t
                         WHERE t.org_id = org AND t.cf_seq > after) THEN 16 ELSE 0 END)
    | (CASE WHEN EXISTS (SELECT 1 FROM public.activities AS t
                         WHERE t.org_id = org AND t.cf_seq > after) THEN 32 ELSE 0 END)
    | (CASE WHEN EXISTS (SELECT 1 FROM public.appointments AS t
                         WHERE t.org_id = org AND t.cf_seq > after) THEN 64 ELSE 0 END)
    | (CASE WHEN EXISTS (SELECT 1 FROM public.messages AS t
                         WHERE t.org_id = org AND t.cf_seq > after) THEN 128 ELSE 0 END)
    | (CASE WHEN EXISTS (SELECT 1 FROM public.automations AS t
                         WHERE t.org_id = org AND t.cf_seq > after) THEN 256 ELSE 0 END)
    | (CASE WHEN EXISTS (SELECT 1 FROM public.daily_metrics AS t
                         WHERE t.org_id = org AND t.cf_seq > after) THEN 512 ELSE 0 END)
    | (CASE WHEN EXISTS (SELECT 1 FROM cf_sync.tombstones AS t
                         WHERE t.org_id = org AND t.cf_seq > after) THEN 1024 ELSE 0 END)
  INTO sources;
END $$;

REVOKE ALL ON FUNCTION cf_sync.pull_start(uuid, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cf_sync.pull_start(uuid, bigint) TO authenticated;
