-- 0022_notifications_created (PostgreSQL): the events of every user created since a time, for
-- a node that polls while Redis is away (src/notify/notify.c).
-- Keep parallel to sqlite/0022_notifications_created.sql. Owner: src/notify.
CREATE INDEX notifications_created ON notifications (created_at);
