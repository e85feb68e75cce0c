-- sqlite/export.sql: the file cf_node_wipe() writes before it wipes a
-- revoked replica (store/node_crypt.c, docs/encryption.md "Wipe on
-- revocation").  Attached as cf_export; encrypted with the replica's key
-- when the replica is encrypted.  One row per change the master has not
-- taken: still in the outbox ('pending') or rejected ('rejected', with the
-- master's reason).  row is the whole row as a JSON object of the master's
-- columns (canonical text values) plus "deleted".
CREATE TABLE cf_export.changes (
  tbl TEXT NOT NULL,     -- the table (the view's name)
  id TEXT NOT NULL,      -- the row's id
  state TEXT NOT NULL,   -- 'pending' or 'rejected'
  code INTEGER,          -- rejected: CF_* code of the reason
  message TEXT,          -- rejected: the master's reason
  at_ms INTEGER,         -- rejected: when it was recorded (ms since the epoch)
  row TEXT NOT NULL      -- the row as JSON
);
