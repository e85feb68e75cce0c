-- sqlite/001_meta.sql: the replica's metadata tables (fixed DDL).
--
-- Run by store/node.c inside the transaction that installs a new replica
-- file.  The data tables (cf_<table>), the app-facing views and their
-- triggers are generated from the schema descriptor (core/schema.h) by
-- store/ddl.c.  Every table here is described column by column in
-- docs/replica.md and in the header comment of store/node.c.

-- Node identity and schema bookkeeping, one row per key:
--   schema_version  integer  replica layout version (store/node.c)
--   node_id         blob(16) this replica's random node id
--   org_id          text     the organization this file replicates
--   user_id         text     the user the replica acts for
--   ddl_hash        text     SHA-256 of the generated views and triggers
--   created_ms      integer  wall-clock ms when the file was created
CREATE TABLE cf_meta (
  k TEXT PRIMARY KEY NOT NULL,
  v ANY
) STRICT, WITHOUT ROWID;

-- The clock's persisted ceiling.  Every HLC timestamp this node used in a
-- committed transaction is <= max(ceiling, max(cf_outbox.seq)): a local
-- write's HLC is its outbox entry's seq, and whatever removes entries
-- (push results) or adopts remote time (apply) raises the ceiling in the
-- same transaction, reserving a little time ahead.
CREATE TABLE cf_clock (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  ceiling INTEGER NOT NULL
) STRICT;
INSERT INTO cf_clock (id, ceiling) VALUES (1, 0);

-- The outbox: which row and which columns changed locally, in local
-- transaction order.  Values are read from the data table when a push batch
-- is built, so a logged write costs one small append.
CREATE TABLE cf_outbox (
  seq INTEGER PRIMARY KEY,          -- HLC of the change: local order, unique
  tx INTEGER NOT NULL,              -- HLC of the first write of its local transaction
  tbl INTEGER NOT NULL,             -- table number (core/schema.h)
  rid INTEGER NOT NULL,             -- rowid of the row in cf_<table>
  mask INTEGER NOT NULL,            -- bitmask of changed columns (schema column order)
  batch INTEGER NOT NULL DEFAULT 0  -- push batch it was sent in; 0 = not sent yet
) STRICT;

-- Changes the master rejected, with its reason.  They leave this table only
-- through cf_node_conflict_retry() or cf_node_conflict_discard().
CREATE TABLE cf_conflicts (
  id INTEGER PRIMARY KEY,           -- conflict id shown to the app
  seq INTEGER NOT NULL,             -- the outbox seq it came from
  tx INTEGER NOT NULL,              -- its local transaction
  tbl INTEGER NOT NULL,             -- table number
  rid INTEGER NOT NULL,             -- rowid in cf_<table>
  mask INTEGER NOT NULL,            -- columns of the rejected change
  code INTEGER NOT NULL,            -- CF_* result code of the rejection
  message TEXT NOT NULL,            -- the master's reason
  at_ms INTEGER NOT NULL            -- wall-clock ms when it was recorded
) STRICT;

-- Pull cursors: the master's change cursor for this org, stored in the same
-- transaction as the rows applied up to it.
CREATE TABLE cf_cursor (
  org_id TEXT PRIMARY KEY NOT NULL,
  cursor INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
