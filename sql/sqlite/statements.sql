-- sqlite/statements.sql: the fixed statements of the replica, by name.
--
-- store/sqltext.c finds a statement by the "-- name: <name>" line before
-- it; the statement runs to the next such line.  Statements that depend on
-- a table's columns are generated from the schema descriptor instead
-- (store/ddl.c).  The tables are described in sqlite/001_meta.sql.

-- name: meta_get
SELECT v FROM cf_meta WHERE k = ?1

-- name: meta_put
INSERT INTO cf_meta (k, v) VALUES (?1, ?2)
  ON CONFLICT (k) DO UPDATE SET v = excluded.v

-- name: clock_get
SELECT ceiling FROM cf_clock WHERE id = 1

-- name: clock_raise
UPDATE cf_clock SET ceiling = ?1 WHERE id = 1 AND ceiling < ?1

-- name: outbox_count
SELECT count(*) FROM cf_outbox

-- name: outbox_list
SELECT seq, tx, tbl, rid, mask, batch FROM cf_outbox ORDER BY seq LIMIT ?1

-- name: outbox_next
SELECT seq, tx, tbl, rid, mask FROM cf_outbox WHERE batch = 0 AND seq > ?1
  ORDER BY seq LIMIT 1

-- name: outbox_mark
UPDATE cf_outbox SET batch = ?2 WHERE seq = ?1

-- name: outbox_unmark_all
UPDATE cf_outbox SET batch = 0 WHERE batch <> 0

-- name: outbox_get
SELECT tx, tbl, rid, mask, batch FROM cf_outbox WHERE seq = ?1

-- name: outbox_delete
DELETE FROM cf_outbox WHERE seq = ?1

-- name: outbox_append
INSERT INTO cf_outbox (seq, tx, tbl, rid, mask) VALUES (?1, ?1, ?2, ?3, ?4)

-- name: outbox_max_seq
SELECT max(seq) FROM cf_outbox

-- name: conflict_count
SELECT count(*) FROM cf_conflicts

-- name: conflict_from_outbox
INSERT INTO cf_conflicts (seq, tx, tbl, rid, mask, code, message, at_ms)
  SELECT seq, tx, tbl, rid, mask, ?2, ?3, ?4 FROM cf_outbox WHERE seq = ?1

-- name: conflict_list
SELECT id, seq, tx, tbl, rid, mask, code, message, at_ms FROM cf_conflicts
  ORDER BY id LIMIT ?1

-- name: conflict_get
SELECT tbl, rid, mask FROM cf_conflicts WHERE id = ?1

-- name: conflict_delete
DELETE FROM cf_conflicts WHERE id = ?1

-- name: cursor_get
SELECT cursor FROM cf_cursor WHERE org_id = ?1

-- name: cursor_put
INSERT INTO cf_cursor (org_id, cursor) VALUES (?1, ?2)
  ON CONFLICT (org_id) DO UPDATE SET cursor = excluded.cursor

-- name: integrity_check
PRAGMA integrity_check

-- name: begin_immediate
BEGIN IMMEDIATE

-- name: commit
COMMIT

-- name: rollback
ROLLBACK

-- name: journal_mode
PRAGMA journal_mode

-- name: has_meta
SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'cf_meta'
