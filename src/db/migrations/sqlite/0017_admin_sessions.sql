-- 0017_admin_sessions (SQLite): server-side sessions of the admin console
-- (src/admin/session.c). The cookie holds a random token; only its SHA-256
-- (hex) is stored. A session remembers the role it was opened with: a role
-- change or a deactivation ends it on the next request on any node.
-- Keep parallel to pgsql/0017_admin_sessions.sql. Owner: src/admin.
CREATE TABLE admin_sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX admin_sessions_token_key ON admin_sessions (token_hash);
CREATE INDEX admin_sessions_user_idx ON admin_sessions (user_id);
CREATE INDEX admin_sessions_expires_idx ON admin_sessions (expires_at);
-- keyset reads of the console's lists over whole tables
CREATE INDEX orders_created_idx ON orders (created_at, id);
CREATE INDEX subscriptions_created_idx ON subscriptions (created_at, id);
CREATE INDEX jobs_state_created_idx ON jobs (state, created_at, id);
CREATE INDEX payment_events_received_idx ON payment_events (received_at, event_id);
