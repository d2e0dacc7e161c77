-- 0021_promotions_admin (PostgreSQL): keyset reads of the admin console's promotions
-- list over the whole table (src/admin/sec_promotions.c), newest first.
-- Keep parallel to sqlite/0021_promotions_admin.sql. Owner: src/promotions.
CREATE INDEX promotions_created_idx ON promotions (created_at, id);
