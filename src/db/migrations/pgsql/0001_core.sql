-- 0001_core (PostgreSQL): the first migration. Keep parallel to sqlite/0001_core.sql.
-- Conventions (see src/db/db.h): uuid keys, BIGINT money in minor units,
-- BIGINT microsecond timestamps named *_at, BOOLEAN booleans.

-- Small facts about this database (for example when it was created).
CREATE TABLE souk_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
