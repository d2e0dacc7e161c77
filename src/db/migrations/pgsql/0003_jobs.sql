-- 0003_jobs (PostgreSQL): durable jobs, recurring schedules, the mail sent-markers,
-- stored notifications, and the table the test job kinds record their runs in.
-- Keep parallel to sqlite/0003_jobs.sql. Owners: src/jobs, src/mail, src/notify.

-- One row per job. state: pending -> running -> done | pending (retry) | dead.
-- attempt counts claims (1 on the first run) and fences a worker whose lease
-- was taken over: completion updates match (id, locked_by, attempt).
CREATE TABLE jobs (
    id uuid PRIMARY KEY,
    kind text NOT NULL,
    payload text NOT NULL DEFAULT '{}',
    state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'running', 'done', 'dead')),
    unique_key text,
    attempt integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 5,
    run_at bigint NOT NULL,
    locked_by text,
    lease_until bigint,
    last_error text,
    created_at bigint NOT NULL,
    started_at bigint,
    finished_at bigint
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
    name text PRIMARY KEY,
    next_run_at bigint NOT NULL
);

-- E-mail sent-markers (src/mail): 'sending' before the SMTP conversation,
-- 'sent' after it succeeded. message_id is fixed before the first attempt.
CREATE TABLE mail_sent (
    key text PRIMARY KEY,
    state text NOT NULL CHECK (state IN ('sending', 'sent')),
    message_id text NOT NULL,
    to_addr text NOT NULL,
    template text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    created_at bigint NOT NULL,
    sent_at bigint
);

-- Stored notifications (src/notify). ids are UUIDv7: ordering by id is
-- ordering by creation, which Last-Event-ID replay relies on.
CREATE TABLE notifications (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    type text NOT NULL,
    payload text NOT NULL DEFAULT '{}',
    created_at bigint NOT NULL,
    read_at bigint
);
CREATE INDEX notifications_user_id ON notifications (user_id, id);
CREATE INDEX notifications_user_unread ON notifications (user_id, id) WHERE read_at IS NULL;

-- Filled only by the test job kinds (src/jobs/testjobs.c, SOUK_TEST_JOBS=1).
-- No key on purpose: a job run twice shows up as two rows.
CREATE TABLE test_job_runs (
    job_id uuid NOT NULL,
    run_no integer NOT NULL,
    node text NOT NULL,
    started_at bigint NOT NULL,
    finished_at bigint NOT NULL
);
CREATE INDEX test_job_runs_job ON test_job_runs (job_id);
