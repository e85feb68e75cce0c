-- 007_adopt_batch_hlc.sql: the org clock adopts every new batch's HLC, also
-- when the batch writes nothing.
--
-- 005 let cf_sync.push_reserve adopt the batch's greatest HLC only when it
-- reserved cursor positions, i.e. when the batch wrote rows.  A batch whose
-- every change was superseded (an edit of a row the master had deleted)
-- then left the org clock behind the node's versions, and a later direct
-- write of that row (re-creating it with the same id) got an older HLC than
-- the node's superseded edit: the node kept its edit, the master its row,
-- forever (found by clientflow sim, examples/scenarios/
-- superseded_edit_outlives_recreate.scn).  Now push_reserve with n = 0
-- adopts the HLC without reserving anything, and the push calls it for
-- every new batch (docs/master-sync.md, "Versions of writes").  The clock
-- row is written only when the HLC moves, so a batch that changes nothing
-- and brings no newer HLC wakes nobody.

CREATE OR REPLACE FUNCTION cf_sync.push_reserve(org uuid, n integer, max_hlc bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  lo bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM public.memberships AS m
                 WHERE m.org_id = org AND m.user_id = auth.uid()) THEN
    RETURN NULL;
  END IF;
  IF n <= 0 THEN
    UPDATE cf_sync.org_clock AS c SET last_hlc = max_hlc
     WHERE c.org_id = org AND c.last_hlc < max_hlc;
    RETURN NULL;
  END IF;
  UPDATE cf_sync.org_clock AS c
     SET head_seq = c.head_seq + n,
         last_hlc = greatest(c.last_hlc, max_hlc)
   WHERE c.org_id = org
  RETURNING c.head_seq - n + 1 INTO lo;
  RETURN lo;
END $$;
