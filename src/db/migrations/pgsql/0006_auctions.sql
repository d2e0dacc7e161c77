-- 0006_auctions (PostgreSQL): recipe auctions, their bids, and the awards
-- (the winner's payment request, then second chances down the bid list).
-- Keep parallel to sqlite/0006_auctions.sql. Owner: src/auctions.
--
-- Contention design: the auction row carries the leading amount, the
-- leader and the bid count; a bid is ONE conditional UPDATE of that row
-- (the rules are in its WHERE clause) plus the INSERT of the bid, in one
-- transaction. `seq` is the auction's bid_count after the update: the
-- unique (auction_id, seq) key proves that accepted bids are serialised.

CREATE TABLE auctions (
    id UUID PRIMARY KEY,
    recipe_id UUID NOT NULL REFERENCES recipes (id) ON DELETE CASCADE,
    chef_id UUID NOT NULL REFERENCES vendor_profiles (id) ON DELETE CASCADE,
    owner_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE, -- the chef's user
    -- 'open' covers scheduled (now < starts_at) and ended-not-yet-settled
    -- (ends_at <= now): those two are computed from the clock.
    status TEXT NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'awarded', 'unsold', 'cancelled')),
    starting_price BIGINT NOT NULL CHECK (starting_price > 0),
    min_increment BIGINT NOT NULL CHECK (min_increment > 0),
    reserve_price BIGINT CHECK (reserve_price IS NULL OR reserve_price > 0),
    currency TEXT NOT NULL DEFAULT 'usd',
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    soft_close_seconds INTEGER NOT NULL DEFAULT 0 CHECK (soft_close_seconds >= 0),
    current_price BIGINT,
    leader_id UUID REFERENCES users (id) ON DELETE SET NULL,
    prev_leader_id UUID,                     -- the leader before the last bid (for bid.outbid)
    bid_count INTEGER NOT NULL DEFAULT 0,
    extensions INTEGER NOT NULL DEFAULT 0,   -- soft-close extensions so far
    winner_id UUID REFERENCES users (id) ON DELETE SET NULL,
    pay_attempt INTEGER NOT NULL DEFAULT 0,  -- numbers the winners' checkouts
    ended_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (ends_at > starts_at)
);
-- one running auction per recipe
CREATE UNIQUE INDEX auctions_recipe_open_key ON auctions (recipe_id) WHERE status = 'open';
CREATE INDEX auctions_recipe_idx ON auctions (recipe_id, created_at);
CREATE INDEX auctions_chef_idx ON auctions (chef_id, created_at, id);
CREATE INDEX auctions_owner_idx ON auctions (owner_id);
CREATE INDEX auctions_leader_idx ON auctions (leader_id);
CREATE INDEX auctions_winner_idx ON auctions (winner_id);
CREATE INDEX auctions_created_idx ON auctions (created_at, id);
CREATE INDEX auctions_status_idx ON auctions (status, created_at, id);
-- the sweep that ends overdue auctions
CREATE INDEX auctions_due_idx ON auctions (ends_at) WHERE status = 'open';

CREATE TABLE bids (
    id UUID PRIMARY KEY,
    auction_id UUID NOT NULL REFERENCES auctions (id) ON DELETE CASCADE,
    bidder_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amount BIGINT NOT NULL CHECK (amount > 0),
    seq INTEGER NOT NULL,                   -- acceptance order within the auction
    previous_leader_id UUID,                -- who this bid outbid (NULL: nobody, or self)
    extended BOOLEAN NOT NULL DEFAULT FALSE, -- this bid pushed ends_at out
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX bids_seq_key ON bids (auction_id, seq);
CREATE INDEX bids_amount_idx ON bids (auction_id, amount, id);
CREATE INDEX bids_bidder_idx ON bids (bidder_id, created_at, id);

-- A payment request to a winner: rank 1 is the auction's winner, rank 2
-- the first second chance, ... status: pending -> paid | forfeited.
CREATE TABLE auction_awards (
    id UUID PRIMARY KEY,
    auction_id UUID NOT NULL REFERENCES auctions (id) ON DELETE CASCADE,
    bid_id UUID NOT NULL REFERENCES bids (id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rank INTEGER NOT NULL,
    amount BIGINT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid', 'forfeited')),
    -- last word from the payment provider: pending | succeeded | failed | expired
    payment_status TEXT NOT NULL DEFAULT 'pending',
    payment_id TEXT,
    checkout_url TEXT,
    pay_by BIGINT NOT NULL,
    paid_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX auction_awards_rank_key ON auction_awards (auction_id, rank);
CREATE UNIQUE INDEX auction_awards_user_key ON auction_awards (auction_id, user_id);
CREATE UNIQUE INDEX auction_awards_live_key ON auction_awards (auction_id)
    WHERE status IN ('pending', 'paid');
CREATE INDEX auction_awards_user_idx ON auction_awards (user_id, created_at, id);
CREATE INDEX auction_awards_bid_idx ON auction_awards (bid_id);
