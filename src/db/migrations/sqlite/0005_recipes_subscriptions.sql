-- 0005_recipes_subscriptions (SQLite): recipes and their full-text index,
-- one-time recipe purchases, chef subscriptions and their transition log.
-- Keep parallel to pgsql/0005_recipes_subscriptions.sql.
-- Owners: recipes + recipe_purchases + recipes_fts (src/recipes),
-- subscriptions + subscription_events (src/subscriptions).

CREATE TABLE recipes (
    id TEXT PRIMARY KEY,
    chef_id TEXT NOT NULL REFERENCES vendor_profiles (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    ingredients TEXT NOT NULL DEFAULT '[]',   -- JSON array of strings
    instructions TEXT NOT NULL DEFAULT '',
    cuisine TEXT NOT NULL DEFAULT '',
    dietary TEXT NOT NULL DEFAULT '[]',       -- JSON array of strings
    dietary_tags TEXT NOT NULL DEFAULT '|',   -- '|vegan|gluten-free|': the filter's form
    difficulty TEXT NOT NULL DEFAULT 'easy' CHECK (difficulty IN ('easy', 'medium', 'hard')),
    cook_minutes INTEGER NOT NULL DEFAULT 0 CHECK (cook_minutes >= 0),
    is_premium INTEGER NOT NULL DEFAULT 0 CHECK (is_premium IN (0, 1)),
    required_rank INTEGER NOT NULL DEFAULT 1 CHECK (required_rank >= 1),
    price BIGINT CHECK (price IS NULL OR price > 0),
    currency TEXT NOT NULL DEFAULT 'usd',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- keyset orderings of the lists and the filters they combine with
CREATE INDEX recipes_created_idx ON recipes (created_at, id);
CREATE INDEX recipes_chef_idx ON recipes (chef_id, created_at, id);
CREATE INDEX recipes_cuisine_idx ON recipes (cuisine, created_at, id);
CREATE INDEX recipes_cook_idx ON recipes (cook_minutes, id);
CREATE INDEX recipes_title_idx ON recipes (title, id);
CREATE INDEX recipes_premium_idx ON recipes (is_premium, created_at, id);

-- Full text over the searchable fields, kept by triggers (external content).
-- Title and summary are the public teaser; ingredients are locked for a
-- premium recipe, so searches by a caller who cannot open it are confined
-- to {title summary} (src/recipes/recipes.c).
CREATE VIRTUAL TABLE recipes_fts USING fts5(
    title, summary, ingredients, content='recipes', content_rowid='rowid',
    tokenize='unicode61 remove_diacritics 2');
-- Document counts per term, for choosing how to run a search (recipes.c).
CREATE VIRTUAL TABLE recipes_fts_vocab USING fts5vocab(recipes_fts, 'row');
CREATE TRIGGER recipes_fts_ai AFTER INSERT ON recipes BEGIN
    INSERT INTO recipes_fts (rowid, title, summary, ingredients)
    VALUES (new.rowid, new.title, new.summary, new.ingredients);
END;
CREATE TRIGGER recipes_fts_ad AFTER DELETE ON recipes BEGIN
    INSERT INTO recipes_fts (recipes_fts, rowid, title, summary, ingredients)
    VALUES ('delete', old.rowid, old.title, old.summary, old.ingredients);
END;
CREATE TRIGGER recipes_fts_au AFTER UPDATE OF title, summary, ingredients ON recipes BEGIN
    INSERT INTO recipes_fts (recipes_fts, rowid, title, summary, ingredients)
    VALUES ('delete', old.rowid, old.title, old.summary, old.ingredients);
    INSERT INTO recipes_fts (rowid, title, summary, ingredients)
    VALUES (new.rowid, new.title, new.summary, new.ingredients);
END;

-- One-time purchases of a priced recipe. attempt numbers the checkouts of
-- one recipe (the payments idempotency key is purpose + recipe + attempt).
CREATE TABLE recipe_purchases (
    id TEXT PRIMARY KEY,
    recipe_id TEXT NOT NULL REFERENCES recipes (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'paid', 'expired', 'refunded')),
    payment_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX recipe_purchases_key ON recipe_purchases (recipe_id, user_id);
CREATE UNIQUE INDEX recipe_purchases_attempt_key ON recipe_purchases (recipe_id, attempt);
CREATE INDEX recipe_purchases_user_idx ON recipe_purchases (user_id, status);

-- A user's subscription to a chef on a plan. status: incomplete -> active
-- -> past_due -> active | expired; -> canceled; incomplete -> expired.
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chef_id TEXT NOT NULL REFERENCES vendor_profiles (id) ON DELETE CASCADE,
    plan_id TEXT NOT NULL REFERENCES plans (id),
    pending_plan_id TEXT REFERENCES plans (id),   -- a downgrade waiting for the renewal
    status TEXT NOT NULL
        CHECK (status IN ('incomplete', 'active', 'past_due', 'canceled', 'expired')),
    cancel_at_period_end INTEGER NOT NULL DEFAULT 0 CHECK (cancel_at_period_end IN (0, 1)),
    current_period_start BIGINT,
    current_period_end BIGINT,
    grace_until BIGINT,
    cancel_set_at BIGINT NOT NULL DEFAULT 0,  -- when souk last set cancel_at_period_end
    provider_subscription_id TEXT,
    payment_id TEXT,                  -- payments row of the first checkout
    checkout_url TEXT,
    ended_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- at most one subscription granting access per (subscriber, chef)
CREATE UNIQUE INDEX subscriptions_live_key ON subscriptions (user_id, chef_id)
    WHERE status IN ('active', 'past_due');
CREATE INDEX subscriptions_user_idx ON subscriptions (user_id, status, created_at, id);
CREATE INDEX subscriptions_chef_idx ON subscriptions (chef_id, status, created_at, id);
CREATE INDEX subscriptions_plan_idx ON subscriptions (plan_id);
CREATE INDEX subscriptions_pending_plan_idx ON subscriptions (pending_plan_id);
CREATE INDEX subscriptions_provider_idx ON subscriptions (provider_subscription_id);
CREATE INDEX subscriptions_payment_idx ON subscriptions (payment_id);
CREATE INDEX subscriptions_period_idx ON subscriptions (status, current_period_end);
CREATE INDEX subscriptions_grace_idx ON subscriptions (status, grace_until);

-- Every transition, with who or what caused it.
CREATE TABLE subscription_events (
    id TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    from_status TEXT,
    to_status TEXT NOT NULL,
    cause TEXT NOT NULL,          -- user | webhook:<type> | job:<kind> | reconcile | system
    actor_user_id TEXT,
    event_id TEXT,                -- evt_... when a webhook caused it
    detail TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX subscription_events_sub_idx ON subscription_events (subscription_id, created_at);
