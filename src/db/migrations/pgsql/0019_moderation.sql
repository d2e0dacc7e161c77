-- 0019_moderation (PostgreSQL): the audit trail, reports and bans.
-- Keep parallel to sqlite/0019_moderation.sql. Owners: audit_log (src/audit),
-- reports + user_bans (src/moderation).

-- Append-only: written in the transaction of the action it records; the
-- trigger refuses any UPDATE or DELETE, so nothing can rewrite history.
CREATE TABLE audit_log (
    id uuid PRIMARY KEY,
    at bigint NOT NULL,
    actor_id uuid,
    actor_role text NOT NULL DEFAULT '',
    action text NOT NULL,
    target_type text NOT NULL,
    target_id text NOT NULL,
    before_json text,
    after_json text,
    note text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at_idx ON audit_log (at, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, at);
CREATE INDEX audit_log_action_idx ON audit_log (action, at);
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id, at);
CREATE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();

CREATE TABLE reports (
    id uuid PRIMARY KEY,
    reporter_id uuid NOT NULL,
    target_type text NOT NULL
        CHECK (target_type IN ('listing', 'message', 'user', 'review', 'project', 'recipe')),
    target_id uuid NOT NULL,
    reason text NOT NULL,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    resolution_action text,
    resolution_note text,
    resolved_by uuid,
    resolved_at bigint,
    created_at bigint NOT NULL
);
CREATE UNIQUE INDEX reports_open_key ON reports (reporter_id, target_type, target_id)
    WHERE status = 'open';
CREATE INDEX reports_queue_idx ON reports (status, created_at, id);
CREATE INDEX reports_target_idx ON reports (target_type, target_id, status);
CREATE INDEX reports_reporter_idx ON reports (reporter_id);

CREATE TABLE user_bans (
    user_id uuid PRIMARY KEY,
    banned_until bigint,
    reason text NOT NULL DEFAULT '',
    banned_by uuid,
    created_at bigint NOT NULL,
    lifted_at bigint
);

-- Erasure (GDPR art. 17): the tombstone user and the anonymised vendor
-- profile keep their ids for the records that must stay.
ALTER TABLE users ADD COLUMN erased_at bigint;
ALTER TABLE vendor_profiles ADD COLUMN erased_at bigint;
