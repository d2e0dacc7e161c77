-- 0015_requests_promotions_blog (PostgreSQL): requests and reviews
-- (src/requests), paid promotions and their products (src/promotions), blog
-- posts (src/blog). Keep parallel to sqlite/0015_requests_promotions_blog.sql.
-- project_id columns name rows of the showcase (src/projects), checked
-- through src/projects/specialists.h rather than by a foreign key.

CREATE TABLE requests (
    id UUID PRIMARY KEY,
    client_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    specialist_id UUID NOT NULL REFERENCES vendor_profiles (id) ON DELETE CASCADE,
    specialist_user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id UUID,
    message TEXT NOT NULL,
    budget BIGINT,
    currency TEXT NOT NULL DEFAULT 'usd',
    status TEXT NOT NULL
        CHECK (status IN ('new', 'accepted', 'declined', 'cancelled', 'completed')),
    client_finished_at BIGINT,
    specialist_finished_at BIGINT,
    completed_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX requests_client_idx ON requests (client_id, created_at, id);
CREATE INDEX requests_specialist_user_idx ON requests (specialist_user_id, created_at, id);
CREATE INDEX requests_specialist_idx ON requests (specialist_id, status);
CREATE INDEX requests_project_idx ON requests (project_id);
CREATE INDEX requests_status_idx ON requests (status, created_at);

-- One review per completed request; hidden_at set by staff.
CREATE TABLE reviews (
    id UUID PRIMARY KEY,
    request_id UUID NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    specialist_id UUID NOT NULL REFERENCES vendor_profiles (id) ON DELETE CASCADE,
    author_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    text TEXT NOT NULL DEFAULT '',
    reply_text TEXT,
    reply_at BIGINT,
    hidden_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX reviews_request_key ON reviews (request_id);
CREATE INDEX reviews_specialist_idx ON reviews (specialist_id, created_at, id);
CREATE INDEX reviews_specialist_rating_idx ON reviews (specialist_id, rating, created_at, id);
CREATE INDEX reviews_author_idx ON reviews (author_id);

CREATE TABLE promotion_products (
    product TEXT PRIMARY KEY CHECK (product IN ('TOP', 'DETAILED', 'PRO')),
    target TEXT NOT NULL CHECK (target IN ('project', 'specialist')),
    price BIGINT NOT NULL CHECK (price > 0),
    currency TEXT NOT NULL DEFAULT 'usd',
    duration_days INTEGER NOT NULL CHECK (duration_days >= 1),
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at BIGINT NOT NULL
);
INSERT INTO promotion_products VALUES ('TOP', 'project', 999, 'usd', 7, TRUE, 0);
INSERT INTO promotion_products VALUES ('DETAILED', 'project', 499, 'usd', 7, TRUE, 0);
INSERT INTO promotion_products VALUES ('PRO', 'specialist', 1999, 'usd', 30, TRUE, 0);

-- target_id: the project (TOP, DETAILED) or the vendor profile (PRO);
-- price and duration are copied from the product at purchase.
CREATE TABLE promotions (
    id UUID PRIMARY KEY,
    product TEXT NOT NULL REFERENCES promotion_products (product),
    target_id UUID NOT NULL,
    project_id UUID,
    specialist_id UUID NOT NULL REFERENCES vendor_profiles (id) ON DELETE CASCADE,
    owner_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'expired', 'cancelled')),
    price BIGINT NOT NULL,
    currency TEXT NOT NULL DEFAULT 'usd',
    duration_days INTEGER NOT NULL,
    starts_at BIGINT,
    ends_at BIGINT,
    payment_id UUID,
    paid_payment_id UUID,
    attempt INTEGER NOT NULL DEFAULT 1,
    checkout_url TEXT,
    reminded_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX promotions_owner_idx ON promotions (owner_id, created_at, id);
CREATE INDEX promotions_target_idx ON promotions (target_id, product, status, ends_at);
CREATE INDEX promotions_specialist_idx ON promotions (specialist_id);
CREATE INDEX promotions_project_idx ON promotions (project_id);
CREATE INDEX promotions_status_idx ON promotions (status, ends_at);

CREATE TABLE blog_posts (
    id UUID PRIMARY KEY,
    slug TEXT NOT NULL,
    title TEXT NOT NULL,
    excerpt TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL DEFAULT '',
    author_id UUID REFERENCES users (id) ON DELETE SET NULL,
    published_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX blog_posts_slug_key ON blog_posts (slug);
CREATE INDEX blog_posts_published_idx ON blog_posts (published_at, id);
CREATE INDEX blog_posts_created_idx ON blog_posts (created_at, id);
CREATE INDEX blog_posts_author_idx ON blog_posts (author_id);
