-- sql/server/session.sql: the statements of the sync server's sessions
-- (sync/server.c) besides push and pull (sql/server/master_sync.sql).
-- Each starts at a "-- @name NAME" line.

-- @name hello
-- $1 org, $2 node.  Run as the user (as_user): whether the user is a
-- member, the org's cursor head, their role, and the last batch of this node
-- the master recorded, for the WELCOME frame.
SELECT p.member, p.head_seq,
       (SELECT m.role FROM public.memberships AS m
         WHERE m.org_id = $1::uuid AND m.user_id = auth.uid()) AS role,
       cf_sync.node_last_batch($1::uuid, $2::uuid) AS last_batch
FROM cf_sync.pull_begin($1::uuid) AS p

-- @name members
-- $1 org, $2 user ids (uuid[]).  Run as a member (as_user): which of the
-- users are members of the org now.  RLS shows an org's memberships only to
-- its members, so a caller who lost the org sees none.  The shared pull
-- (sync/server/server.c) sends its page only to sessions of these users.
SELECT u::text
FROM unnest($2::uuid[]) AS u
WHERE EXISTS (SELECT 1 FROM public.memberships AS m
              WHERE m.org_id = $1::uuid AND m.user_id = u)
