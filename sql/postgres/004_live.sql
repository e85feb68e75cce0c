-- 004_live.sql: live updates.  Every transaction that changes an org's rows
-- moves that org's row in cf_sync.org_clock (003_sync.sql), so one deferred
-- trigger there tells every listening sync server, at commit, that the org
-- has new changes: NOTIFY cf_changes, payload '<org id>:<head seq>'.
--
-- The trigger is a constraint trigger, deferred to commit time, and reads the
-- org's head as the committing transaction leaves it; all the events of one
-- transaction therefore send the same payload, which Postgres delivers once.
-- A rolled-back transaction notifies nobody (NOTIFY is transactional).  The
-- servers (sync/server.c) LISTEN on one connection each and wake the
-- sessions of that org, so replicas learn of commits by any writer -- pushes,
-- direct SQL, the REST API -- without polling, across any number of server
-- processes.

CREATE FUNCTION cf_sync.notify_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  head bigint;
BEGIN
  SELECT c.head_seq INTO head FROM cf_sync.org_clock AS c WHERE c.org_id = NEW.org_id;
  PERFORM pg_notify('cf_changes', NEW.org_id::text || ':' || coalesce(head, 0)::text);
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION cf_sync.notify_change() FROM PUBLIC;

CREATE CONSTRAINT TRIGGER org_clock_notify
  AFTER INSERT OR UPDATE ON cf_sync.org_clock
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION cf_sync.notify_change();

-- The last batch this user's node pushed to org (0 if none), for the WELCOME
-- frame: a node that lost a PUSH_RESULT learns whether its batch committed.
-- cf_sync.node_batches itself stays unreadable to authenticated.
CREATE FUNCTION cf_sync.node_last_batch(org uuid, node uuid) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT coalesce((SELECT b.batch_seq FROM cf_sync.node_batches AS b
                   WHERE b.org_id = org AND b.node_id = node AND b.user_id = auth.uid()), 0)
$$;
REVOKE ALL ON FUNCTION cf_sync.node_last_batch(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cf_sync.node_last_batch(uuid, uuid) TO authenticated;
