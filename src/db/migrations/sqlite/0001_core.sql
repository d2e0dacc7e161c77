-- 0001_core (SQLite): the first migration. Keep parallel to pgsql/0001_core.sql.
-- Conventions (see src/db/db.h): UUIDv7 text keys, BIGINT money in minor units,
-- BIGINT microsecond timestamps named *_at, booleans as INTEGER 0/1.

-- Small facts about this database (for example when it was created).
CREATE TABLE souk_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
