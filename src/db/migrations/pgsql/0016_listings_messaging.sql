-- 0016_listings_messaging (PostgreSQL): listings with free-form attributes, and
-- private message threads. Keep parallel to sqlite/0016_listings_messaging.sql.
-- Owners: listings (src/listings), threads + thread_participants + messages
-- (src/messaging).

-- attributes is JSONB (an object, limits checked by src/listings), with
-- a GIN index (jsonb_path_ops) for the attr. equality filters (@>).
-- lat/lon are both set or both NULL. hidden_at is set by
-- staff (moderation): a hidden listing leaves every public list.
CREATE TABLE listings (
    id UUID PRIMARY KEY,
    vendor_id UUID NOT NULL REFERENCES vendor_profiles (id) ON DELETE CASCADE,
    owner_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE, -- the profile's user
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT '',
    price BIGINT NOT NULL CHECK (price >= 0),
    currency TEXT NOT NULL DEFAULT 'usd',
    attributes JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    city TEXT NOT NULL DEFAULT '',
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    status TEXT NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'active', 'reserved', 'sold', 'archived')),
    hidden_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK ((lat IS NULL) = (lon IS NULL)),
    CHECK (lat IS NULL OR (lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180))
);
-- The public list (active, not hidden) in its default order, by price, by place.
CREATE INDEX listings_public_idx ON listings (created_at, id)
    WHERE status = 'active' AND hidden_at IS NULL;
CREATE INDEX listings_price_idx ON listings (currency, price, id)
    WHERE status = 'active' AND hidden_at IS NULL;
CREATE INDEX listings_geo_idx ON listings (lat, lon)
    WHERE status = 'active' AND hidden_at IS NULL AND lat IS NOT NULL;
CREATE INDEX listings_attributes_idx ON listings USING GIN (attributes jsonb_path_ops);
CREATE INDEX listings_category_idx ON listings (category, created_at, id);
CREATE INDEX listings_city_idx ON listings (city, created_at, id);
CREATE INDEX listings_vendor_idx ON listings (vendor_id, created_at, id);
CREATE INDEX listings_owner_idx ON listings (owner_id);

-- A thread has exactly two participants (user_a started it). A listing thread
-- is one per (listing, asker); a direct thread one per pair (pair_key is the
-- two user ids in order, NULL on listing threads).
CREATE TABLE threads (
    id UUID PRIMARY KEY,
    listing_id UUID REFERENCES listings (id) ON DELETE SET NULL,
    user_a UUID NOT NULL REFERENCES users (id),
    user_b UUID NOT NULL REFERENCES users (id),
    pair_key TEXT,
    last_message_id UUID,
    last_message_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK (user_a <> user_b)
);
CREATE UNIQUE INDEX threads_listing_asker_key ON threads (listing_id, user_a)
    WHERE listing_id IS NOT NULL;
CREATE UNIQUE INDEX threads_pair_key ON threads (pair_key) WHERE pair_key IS NOT NULL;
CREATE INDEX threads_user_a_idx ON threads (user_a);
CREATE INDEX threads_user_b_idx ON threads (user_b);

-- One row per participant: their read mark, their hiding, and a copy of the
-- thread's last_message_at so that the caller's thread list is one index range.
CREATE TABLE thread_participants (
    thread_id UUID NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users (id),
    last_read_at BIGINT NOT NULL DEFAULT 0,
    hidden BOOLEAN NOT NULL DEFAULT FALSE,
    last_message_at BIGINT NOT NULL,
    PRIMARY KEY (thread_id, user_id)
);
CREATE INDEX thread_participants_list_idx
    ON thread_participants (user_id, hidden, last_message_at, thread_id);

-- A deleted message keeps its row (deleted_at); a hidden one (hidden_at, by
-- staff) likewise. Both show as placeholders.
CREATE TABLE messages (
    id UUID PRIMARY KEY,
    thread_id UUID NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    sender_id UUID NOT NULL REFERENCES users (id),
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT,
    hidden_at BIGINT
);
CREATE INDEX messages_thread_idx ON messages (thread_id, created_at, id);
CREATE INDEX messages_sender_idx ON messages (sender_id);
