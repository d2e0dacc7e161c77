-- 0003_jobs (SQLite): durable jobs, recurring schedules, the mail sent-markers,
-- stored notifications, and the table the test job kinds record their runs in.
-- Keep parallel to pgsql/0003_jobs.sql. Owners: src/jobs, src/mail, src/notify.

-- One row per job. state: pending -> running -> done | pending (retry) | dead.
-- attempt counts claims (1 on the first run) and fences a worker whose lease
-- was taken over: completion updates match (id, locked_by, attempt).
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'running', 'done', 'dead')),
    unique_key TEXT,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 5,
    run_at INTEGER NOT NULL,
    locked_by TEXT,
    lease_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER
);
-- At most one pending or running job per unique key.
CREATE UNIQUE INDEX jobs_unique_live ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('pending', 'running');
-- The claim query: due pending jobs and expired running ones, by run_at.
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('pending', 'running');
CREATE INDEX jobs_state_kind ON jobs (state, kind);
CREATE INDEX jobs_running_node ON jobs (locked_by) WHERE state = 'running';
CREATE INDEX jobs_done_finished ON jobs (finished_at) WHERE state = 'done';

-- Recurring sweeps: a node runs one when it moves next_run_at forward.
CREATE TABLE job_schedules (
    name TEXT PRIMARY KEY,
    next_run_at INTEGER NOT NULL
);

-- E-mail sent-markers (src/mail): 'sending' before the SMTP conversation,
-- 'sent' after it succeeded. message_id is fixed before the first attempt.
CREATE TABLE mail_sent (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('sending', 'sent')),
    message_id TEXT NOT NULL,
    to_addr TEXT NOT NULL,
    template TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    sent_at INTEGER
);

-- Stored notifications (src/notify). ids are UUIDv7: ordering by id is
-- ordering by creation, which Last-Event-ID replay relies on.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    read_at INTEGER
);
CREATE INDEX notifications_user_id ON notifications (user_id, id);
CREATE INDEX notifications_user_unread ON notifications (user_id, id) WHERE read_at IS NULL;

-- Filled only by the test job kinds (src/jobs/testjobs.c, SOUK_TEST_JOBS=1).
-- No key on purpose: a job run twice shows up as two rows.
CREATE TABLE test_job_runs (
    job_id TEXT NOT NULL,
    run_no INTEGER NOT NULL,
    node TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER NOT NULL
);
CREATE INDEX test_job_runs_job ON test_job_runs (job_id);
