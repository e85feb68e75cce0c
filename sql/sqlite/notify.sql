-- sqlite/notify.sql: the change journal of a replica (store/notify.c).
--
-- Every transaction that changes the data tables through the library (an
-- app's write through the views, a pulled page, a conflict retry or
-- discard) adds ONE row here, just before it commits: which tables and
-- which rows it changed and where the change came from.  Another handle on
-- the same file (a sync thread, another process) reads the rows added since
-- it last looked whenever PRAGMA data_version says someone else committed,
-- so a UI handle learns about changes it did not make.  One row per
-- transaction, never per changed row: the local write path pays one small
-- insert per commit.  docs/embedding.md, "How changes are found".
--
-- cf_journal
--   column  type     meaning
--   id      INTEGER  commit order; consecutive (a rolled-back row frees its id
--                    for the next), old rows are pruned, so a reader that
--                    finds its next id missing knows it fell behind
--   origin  INTEGER  1 local write, 2 pulled from the master
--   tables  INTEGER  bit t set: table number t changed (core/tables.h)
--   rows    BLOB     the changed rows, 9 bytes each: table number (1 byte),
--                    rid in cf_<table> (8 bytes, little-endian); NULL when
--                    the transaction changed more rows than a row lists
--                    (CF__JOURNAL_MAX_ROWS): every row of those tables may
--                    have changed

-- @name journal_create
CREATE TABLE IF NOT EXISTS cf_journal (
  id INTEGER PRIMARY KEY,
  origin INTEGER NOT NULL,
  tables INTEGER NOT NULL,
  rows BLOB
) STRICT;

-- @name journal_add
INSERT INTO cf_journal (origin, tables, rows) VALUES (?1, ?2, ?3);

-- @name journal_prune
DELETE FROM cf_journal WHERE id <= ?1;

-- @name journal_head
SELECT coalesce(max(id), 0) FROM cf_journal;

-- @name journal_since
SELECT id, origin, tables, rows FROM cf_journal WHERE id > ?1 ORDER BY id LIMIT 256;

-- @name data_version
PRAGMA data_version;

-- @name conflict_head
SELECT coalesce(max(id), 0) FROM cf_conflicts;

-- @name begin_deferred
BEGIN;
