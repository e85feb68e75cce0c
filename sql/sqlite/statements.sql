-- sqlite/statements.sql: the fixed statements of the replica, by name.
--
-- store/sqltext.c finds a statement by the "-- @name <name>" line before
-- it (platform/assets.h); the statement runs to the next such line.  Statements that depend on
-- a table's columns are generated from the schema descriptor instead
-- (store/ddl.c).  The tables are described in sqlite/001_meta.sql.

-- @name meta_get
SELECT v FROM cf_meta WHERE k = ?1

-- @name meta_put
INSERT INTO cf_meta (k, v) VALUES (?1, ?2)
  ON CONFLICT (k) DO UPDATE SET v = excluded.v

-- @name clock_get
SELECT ceiling FROM cf_clock WHERE id = 1

-- @name clock_raise
UPDATE cf_clock SET ceiling = ?1 WHERE id = 1 AND ceiling < ?1

-- @name outbox_count
SELECT count(*) FROM cf_outbox

-- @name outbox_list
SELECT seq, tx, tbl, rid, mask, batch FROM cf_outbox ORDER BY seq LIMIT ?1

-- @name outbox_unmark_all
UPDATE cf_outbox SET batch = 0 WHERE batch <> 0

-- @name conflict_insert
INSERT INTO cf_conflicts (seq, tx, tbl, rid, mask, code, message, at_ms)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)

-- @name conflict_count
SELECT count(*) FROM cf_conflicts

-- @name conflict_list
SELECT id, seq, tx, tbl, rid, mask, code, message, at_ms FROM cf_conflicts
  ORDER BY id LIMIT ?1

-- @name conflict_get
SELECT tbl, rid, mask FROM cf_conflicts WHERE id = ?1

-- @name conflict_delete
DELETE FROM cf_conflicts WHERE id = ?1

-- @name cursor_get
SELECT cursor FROM cf_cursor WHERE org_id = ?1

-- @name cursor_put
INSERT INTO cf_cursor (org_id, cursor) VALUES (?1, ?2)
  ON CONFLICT (org_id) DO UPDATE SET cursor = excluded.cursor

-- @name integrity_check
PRAGMA integrity_check

-- @name begin_immediate
BEGIN IMMEDIATE

-- @name commit
COMMIT

-- @name rollback
ROLLBACK

-- @name journal_mode
PRAGMA journal_mode

-- @name has_meta
SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'cf_meta'

-- Per-table statements: {t} is replaced by the table's name (store/ddl.c).
-- The pending-change columns (_seq, _tx, _mask, _batch, _sent) are the
-- outbox; see docs/replica.md.

-- @name t_pending_next
-- A row whose earlier change still awaits its answer (_sent) is not sent
-- again until that answer arrives: at most one change per row in flight.
SELECT rid, _seq, _tx, _mask FROM "cf_{t}"
  WHERE _seq > ?1 AND _seq IS NOT NULL AND _batch = 0 AND _sent IS NULL
  ORDER BY _seq LIMIT 1

-- @name t_mark
UPDATE "cf_{t}" SET _batch = ?2 WHERE rid = ?1

-- @name t_unmark
UPDATE "cf_{t}" SET _batch = 0, _sent = NULL
  WHERE _seq IS NOT NULL AND (_batch <> 0 OR _sent IS NOT NULL)

-- @name t_unmark_row
-- One entry of a batch that was never sent goes back to the outbox.
UPDATE "cf_{t}" SET _batch = 0 WHERE rid = ?1 AND _batch <> 0

-- @name t_find_seq
SELECT rid, _tx, _mask FROM "cf_{t}" WHERE _seq = ?1 AND _seq IS NOT NULL

-- @name t_find_sent
SELECT rid, _tx, _mask FROM "cf_{t}" WHERE _sent = ?1 AND _sent IS NOT NULL

-- @name t_clear_seq
UPDATE "cf_{t}" SET _seq = NULL, _tx = NULL, _mask = NULL, _batch = 0 WHERE rid = ?1

-- @name t_clear_sent
UPDATE "cf_{t}" SET _sent = NULL WHERE rid = ?1

-- @name t_requeue
UPDATE "cf_{t}" SET _v = ?2,
  _sent = CASE WHEN _seq IS NOT NULL AND _batch <> 0 THEN _seq ELSE _sent END,
  _seq = ?3, _tx = ?3, _mask = coalesce(_mask, 0) | ?4, _batch = 0
  WHERE rid = ?1

-- @name t_set_v
UPDATE "cf_{t}" SET _v = ?2 WHERE rid = ?1

-- @name t_drop
DELETE FROM "cf_{t}" WHERE rid = ?1 AND _seq IS NULL

-- @name t_max_seq
SELECT max(_seq) FROM "cf_{t}" WHERE _seq IS NOT NULL
