-- sqlite/wipe.sql: what cf_node_wipe() deletes besides the rows of every
-- data table (store/node_crypt.c), inside the same transaction, with
-- PRAGMA secure_delete on.  The node's identity (cf_meta's node_id, org_id,
-- user_id), the clock and the settings other than the token stay, so the
-- replica can bootstrap again from cursor 0 if access comes back.
DELETE FROM cf_conflicts;
DELETE FROM cf_cursor;
DELETE FROM cf_meta WHERE k = 'setting.token';
