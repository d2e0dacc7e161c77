-- 0004_payments (SQLite): checkout sessions and their ledger, the webhook
-- inbox, and the state of the built-in Stripe sandbox.
-- Keep parallel to pgsql/0004_payments.sql. Owner: src/payments.

-- One row per checkout we asked the provider for (the payment intention).
-- Webhooks are matched through session_id (recorded before the URL is
-- handed out), then payment_intent / subscription_id learnt from events.
CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    user_id TEXT,
    purpose TEXT NOT NULL,
    object_id TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    mode TEXT NOT NULL CHECK (mode IN ('payment', 'subscription')),
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded', 'expired')),
    idempotency_key TEXT NOT NULL,
    spec TEXT NOT NULL,                 -- the checkout parameters (JSON), to reopen
    session_id TEXT,
    checkout_url TEXT,
    expires_at BIGINT,
    payment_intent TEXT,
    subscription_id TEXT,
    customer_id TEXT,
    amount_refunded BIGINT NOT NULL DEFAULT 0,
    status_event_at BIGINT NOT NULL DEFAULT 0, -- created time of the event that set status
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX payments_idem_key ON payments (idempotency_key);
CREATE UNIQUE INDEX payments_session_key ON payments (session_id);
CREATE UNIQUE INDEX payments_object_key ON payments (purpose, object_id, attempt);
CREATE INDEX payments_user_idx ON payments (user_id, created_at, id);
CREATE INDEX payments_pi_idx ON payments (payment_intent);
CREATE INDEX payments_sub_idx ON payments (subscription_id);

-- Every charge, refund and failure, once: unique per (kind, provider id).
CREATE TABLE payment_ledger (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments (id),
    kind TEXT NOT NULL CHECK (kind IN ('charge', 'refund', 'failure')),
    provider_id TEXT NOT NULL,          -- pi_/in_ (charges), re_/ch_ (refunds), evt_ (failures)
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX payment_ledger_key ON payment_ledger (kind, provider_id);
CREATE INDEX payment_ledger_payment_idx ON payment_ledger (payment_id, created_at);

-- The webhook inbox: one row per event id, whatever happened to it.
CREATE TABLE payment_events (
    event_id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('applied', 'ignored', 'review', 'stale', 'failed')),
    reason TEXT,
    payment_id TEXT,
    provider_object TEXT,
    event_created_at BIGINT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    received_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX payment_events_status_idx ON payment_events (status, received_at);

-- Newest event applied per provider object (sub_..., pi_...): an older
-- event never undoes a newer state.
CREATE TABLE payment_objects (
    provider_id TEXT PRIMARY KEY,
    payment_id TEXT,
    last_event_at BIGINT NOT NULL,
    last_event_id TEXT NOT NULL,
    status TEXT
);

-- ---- the sandbox (SOUK_PAYMENTS=sandbox) ----------------------------------
-- Stripe-shaped objects (checkout.session, payment_intent, charge,
-- subscription, invoice, refund, customer) as JSON; `private` holds what
-- Stripe would not show (the card used for renewals, dunning counters).
CREATE TABLE sandbox_objects (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT '',    -- status, for conditional updates (open -> complete)
    object TEXT NOT NULL,
    private TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX sandbox_objects_type_idx ON sandbox_objects (type, created_at);

-- Idempotency-Key replay: first response stored per key.
CREATE TABLE sandbox_idempotency (
    key TEXT PRIMARY KEY,
    request TEXT NOT NULL,             -- method, path and body, to detect a reuse
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Events the sandbox emitted (delivered by jobs, retried like Stripe).
CREATE TABLE sandbox_events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0
);
