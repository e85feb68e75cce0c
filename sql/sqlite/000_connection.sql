-- sqlite/000_connection.sql: settings of every replica connection.
--
-- Run by store/node.c right after opening the file, outside any
-- transaction.  docs/replica.md, "Durability", explains the choices.
--
-- WAL: readers never block the writer, and a commit is one append to the
-- log, so a crash (even SIGKILL mid-commit) leaves either the whole
-- transaction or none of it.
PRAGMA journal_mode = WAL;
-- FULL: the WAL is fsync'ed at every commit, so a committed write also
-- survives a power cut or an OS crash, not only a process crash (NORMAL
-- could lose the last transactions on power loss, which the promise
-- "nothing a field laptop writes may be lost" does not allow).  The cost is
-- one fsync per transaction; bulk writers batch their writes in one.
PRAGMA synchronous = FULL;
-- 64 MiB page cache (the default is about 2 MiB, too small for a replica of
-- a few hundred thousand rows).
PRAGMA cache_size = -65536;
-- Referential integrity is the master's job: a replica must accept remote
-- rows in any order (a child may arrive before its parent), and merges are
-- column-wise, so local foreign keys would refuse valid states.
PRAGMA foreign_keys = OFF;
PRAGMA temp_store = MEMORY;
-- The views and triggers call the library's SQL functions (store/sqlfn.c).
PRAGMA trusted_schema = ON;
-- Another process (the CLI, a second app) may hold the write lock briefly.
PRAGMA busy_timeout = 5000;
