-- 008_push_clock_last.sql: a push holds its org's clock row only from the
-- moment it takes its sequence numbers to its commit.
--
-- Before 008, cf_sync.push_begin locked the org clock row at the start of a
-- push and the push kept it through every round trip that followed (reads,
-- the merge in the server, writes, the record): the pushes of one org ran
-- one at a time end to end, and a device's push waited for every other
-- device's whole push (issue 14).  Now (docs/master-sync.md, "The change
-- cursor"):
--
--   1. push_begin checks membership and what the batch is, and serialises
--      only the pushes of the same (org, node, user) with a transaction-
--      scoped advisory lock (a retried batch waits for the first attempt
--      and is then a replay).  It no longer touches the org clock.
--   2. The push reads and merges without any org-wide lock.  Its UPDATEs
--      compare versions cell by cell as they write (a cell is set only when
--      the pushed version is not older than the one the row holds at that
--      moment), so a write committed by anyone between the read and the
--      write is never overwritten by an older version.
--   3. push_reserve takes the clock row lock, as before, and the server
--      sends it, the writes, the record and COMMIT in one pipelined round
--      trip: the lock is held for the server's execution of the writes and
--      the commit, never across a round trip to the sync server.
--   4. push_expect makes a write that RLS filtered silently (fewer rows
--      than sent) fail its statement, so the pipeline stops before COMMIT
--      and the server redoes the push statement by statement (the path that
--      rejects those rows one by one).
--
-- The cursor stays gapless and commit-ordered: every writer still takes its
-- numbers only while it holds the clock row lock, and keeps it until its
-- commit.

-- A lock key for the pushes of one (org, node, user): two int4 halves of a
-- hash, the first fixed so no other advisory lock of the database collides
-- with them by accident (the project takes no other advisory locks).
CREATE OR REPLACE FUNCTION cf_sync.push_begin(org uuid, node uuid, batch bigint,
                                              batch_digest bytea,
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
  PERFORM pg_advisory_xact_lock(
    1667658355,  -- 'cfps'
    hashtext(org::text || node::text || uid::text));
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

-- Reserves n cursor positions of org for the rows a push is about to write
-- and lets the org clock adopt max_hlc; returns the first position (NULL
-- when n <= 0 or auth.uid() is not a member).  With n > 0 it locks the
-- org's clock row until the transaction ends -- the only org-wide lock a
-- push takes -- creating the row if the org has none yet.  With n <= 0 the
-- row is written (and locked) only when the HLC moves (007).
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
    IF NOT FOUND THEN
      INSERT INTO cf_sync.org_clock (org_id, last_hlc) VALUES (org, max_hlc)
      ON CONFLICT (org_id) DO NOTHING;
    END IF;
    RETURN NULL;
  END IF;
  INSERT INTO cf_sync.org_clock AS c (org_id, head_seq, last_hlc)
  VALUES (org, n, max_hlc)
  ON CONFLICT (org_id) DO UPDATE
    SET head_seq = c.head_seq + n,
        last_hlc = greatest(c.last_hlc, max_hlc)
  RETURNING c.head_seq - n + 1 INTO lo;
  RETURN lo;
END $$;

-- Fails the statement (SQLSTATE CF001) unless a pushed write touched as many
-- rows as it was sent: RLS filters an UPDATE or DELETE silently, and a
-- pipelined push must not reach its COMMIT then (see 4. above).
CREATE FUNCTION cf_sync.push_expect(got bigint, want bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog AS $$
BEGIN
  IF got IS DISTINCT FROM want THEN
    RAISE EXCEPTION 'clientflow: a pushed write touched % of % rows', got, want
      USING ERRCODE = 'CF001';
  END IF;
  RETURN got;
END $$;
REVOKE ALL ON FUNCTION cf_sync.push_expect(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cf_sync.push_expect(bigint, bigint) TO authenticated;
