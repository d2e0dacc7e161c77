-- 0002_identity (PostgreSQL): users, refresh tokens, revocations, vendor
-- profiles and their plans. Keep parallel to sqlite/0002_identity.sql.
-- Owners: users (src/users), refresh_tokens + auth_revocations (src/auth),
-- vendor_profiles + plans (src/vendors).

CREATE TABLE users (
    id UUID PRIMARY KEY,
    email TEXT NOT NULL,             -- normalised: trimmed, domain lower-cased
    password_hash TEXT NOT NULL,     -- Argon2id (crypto_pwhash_str)
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL CHECK (role IN ('CUSTOMER', 'VENDOR', 'MODERATOR', 'ADMIN')),
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    joined_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_joined_idx ON users (joined_at, id);

-- Refresh tokens are stored only as SHA-256 (hex); family_id groups the
-- chain of rotations that began with one login.
CREATE TABLE refresh_tokens (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id UUID NOT NULL,
    token_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX refresh_tokens_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

-- Revoked access tokens: kind 'jti' (one token, logout) or 'user' (every
-- token of subject issued at or before cutoff_ms). Every node polls rows by
-- created_at into its in-process cache; rows go after expires_at.
CREATE TABLE auth_revocations (
    id UUID PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('jti', 'user')),
    subject TEXT NOT NULL,
    cutoff_ms BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX auth_revocations_created_idx ON auth_revocations (created_at);
CREATE INDEX auth_revocations_expires_idx ON auth_revocations (expires_at);

-- One vendor profile per VENDOR user (a chef, a repair shop, a specialist).
CREATE TABLE vendor_profiles (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    business_name TEXT NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    bio TEXT NOT NULL DEFAULT '',
    specialties TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
    city TEXT NOT NULL DEFAULT '',
    is_verified BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX vendor_profiles_user_key ON vendor_profiles (user_id);
CREATE INDEX vendor_profiles_created_idx ON vendor_profiles (created_at, id);

-- Subscription tiers of a vendor; rank orders them (1 = lowest).
CREATE TABLE plans (
    id UUID PRIMARY KEY,
    vendor_id UUID NOT NULL REFERENCES vendor_profiles (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    price BIGINT NOT NULL CHECK (price >= 0),
    currency TEXT NOT NULL DEFAULT 'usd',
    billing_interval TEXT NOT NULL CHECK (billing_interval IN ('month', 'year')),
    rank INTEGER NOT NULL CHECK (rank >= 1),
    description TEXT NOT NULL DEFAULT '',
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX plans_vendor_idx ON plans (vendor_id, rank, id);
