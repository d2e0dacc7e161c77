-- 0019_moderation (SQLite): the audit trail, reports and bans.
-- Keep parallel to pgsql/0019_moderation.sql. Owners: audit_log (src/audit),
-- reports + user_bans (src/moderation).

-- Append-only: written in the transaction of the action it records; the
-- triggers refuse any UPDATE or DELETE, so nothing can rewrite history.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_id TEXT,                    -- NULL: the server or the payment provider
    actor_role TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,             -- "user.ban", "order.refund", ...
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    before_json TEXT,                 -- the changed fields before, JSON object
    after_json TEXT,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at_idx ON audit_log (at, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, at);
CREATE INDEX audit_log_action_idx ON audit_log (action, at);
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id, at);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- A user's report on a piece of content (or a user). At most one open
-- report per (reporter, target).
CREATE TABLE reports (
    id TEXT PRIMARY KEY,
    reporter_id TEXT NOT NULL,        -- kept (not a foreign key) when the reporter is erased
    target_type TEXT NOT NULL
        CHECK (target_type IN ('listing', 'message', 'user', 'review', 'project', 'recipe')),
    target_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    resolution_action TEXT,
    resolution_note TEXT,
    resolved_by TEXT,
    resolved_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX reports_open_key ON reports (reporter_id, target_type, target_id)
    WHERE status = 'open';
CREATE INDEX reports_queue_idx ON reports (status, created_at, id);
CREATE INDEX reports_target_idx ON reports (target_type, target_id, status);
CREATE INDEX reports_reporter_idx ON reports (reporter_id);

-- Bans: one row per user; lifted_at set by an unban. banned_until NULL is
-- permanent; a ban ends by itself once banned_until has passed.
CREATE TABLE user_bans (
    user_id TEXT PRIMARY KEY,
    banned_until BIGINT,
    reason TEXT NOT NULL DEFAULT '',
    banned_by TEXT,
    created_at BIGINT NOT NULL,
    lifted_at BIGINT
);

-- Erasure (GDPR art. 17): the tombstone user and the anonymised vendor
-- profile keep their ids for the records that must stay.
ALTER TABLE users ADD COLUMN erased_at BIGINT;
ALTER TABLE vendor_profiles ADD COLUMN erased_at BIGINT;
