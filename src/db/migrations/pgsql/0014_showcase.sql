-- 0014_showcase (PostgreSQL): the home-services showcase. Specialists are
-- vendor profiles with categories; projects with media; favorites; one row
-- per viewer per target per UTC day (views_daily) and one per target per
-- day (stats_daily) for the statistics. Keep parallel to sqlite/0014_showcase.sql.
-- Owner: src/projects (media rows: src/media through src/projects).
--
-- Denormalised on the profile (pushed by src/requests and src/promotions
-- through src/projects/specialists.h, or kept by src/projects):
-- rating_sum, review_count, completed_requests, pro_until, project_count,
-- view_count, favorite_count. is_specialist = categories is not empty.
-- Days are whole days since 1970-01-01 UTC.

ALTER TABLE vendor_profiles ADD COLUMN categories TEXT NOT NULL DEFAULT '[]';
ALTER TABLE vendor_profiles ADD COLUMN is_specialist BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE vendor_profiles ADD COLUMN rating_sum BIGINT NOT NULL DEFAULT 0;
ALTER TABLE vendor_profiles ADD COLUMN review_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE vendor_profiles ADD COLUMN completed_requests BIGINT NOT NULL DEFAULT 0;
ALTER TABLE vendor_profiles ADD COLUMN pro_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE vendor_profiles ADD COLUMN project_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE vendor_profiles ADD COLUMN view_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE vendor_profiles ADD COLUMN favorite_count BIGINT NOT NULL DEFAULT 0;
CREATE INDEX vendor_profiles_specialist_idx ON vendor_profiles (is_specialist, created_at, id);

CREATE TABLE vendor_categories (
    vendor_id UUID NOT NULL REFERENCES vendor_profiles (id) ON DELETE CASCADE,
    slug TEXT NOT NULL,
    PRIMARY KEY (vendor_id, slug)
);
CREATE INDEX vendor_categories_slug_idx ON vendor_categories (slug, vendor_id);

-- deleted_at: a deleted project stays as a row (requests may name it) and
-- leaves every read; hidden_at: hidden by staff.
CREATE TABLE projects (
    id UUID PRIMARY KEY,
    vendor_id UUID NOT NULL REFERENCES vendor_profiles (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT '',
    city TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',          -- JSON array of slugs
    area_m2 DOUBLE PRECISION,
    budget BIGINT CHECK (budget IS NULL OR budget >= 0),
    currency TEXT NOT NULL DEFAULT 'usd',
    media_count INTEGER NOT NULL DEFAULT 0,
    view_count BIGINT NOT NULL DEFAULT 0,
    favorite_count BIGINT NOT NULL DEFAULT 0,
    top_until BIGINT NOT NULL DEFAULT 0,
    detailed_until BIGINT NOT NULL DEFAULT 0,
    hidden_at BIGINT,
    deleted_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX projects_created_idx ON projects (created_at, id);
CREATE INDEX projects_vendor_idx ON projects (vendor_id, created_at, id);
CREATE INDEX projects_category_idx ON projects (category, created_at, id);
CREATE INDEX projects_city_idx ON projects (city, created_at, id);
CREATE INDEX projects_top_idx ON projects (top_until, created_at, id);

CREATE TABLE project_tags (
    project_id UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (project_id, tag)
);
CREATE INDEX project_tags_tag_idx ON project_tags (tag, project_id);

-- file_hash: the file served (sha256 hex; after the metadata-stripping job,
-- the stripped file's); thumb_hash: the thumbnail's, once made.
CREATE TABLE project_media (
    id UUID PRIMARY KEY,
    project_id UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('image', 'document')),
    content_type TEXT NOT NULL,
    file_hash TEXT NOT NULL,
    thumb_hash TEXT,
    width INTEGER,
    height INTEGER,
    size BIGINT NOT NULL,
    processed_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX project_media_project_idx ON project_media (project_id, position);
CREATE INDEX project_media_file_idx ON project_media (file_hash);
CREATE INDEX project_media_thumb_idx ON project_media (thumb_hash);

CREATE TABLE favorites (
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_id UUID NOT NULL,
    target_type TEXT NOT NULL CHECK (target_type IN ('project', 'specialist')),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, target_id)
);
CREATE INDEX favorites_target_idx ON favorites (target_id);
CREATE INDEX favorites_user_idx ON favorites (user_id, created_at, target_id);

CREATE TABLE views_daily (
    target_id UUID NOT NULL,
    day INTEGER NOT NULL,
    viewer TEXT NOT NULL,                    -- user id, else "ip:<address>"
    PRIMARY KEY (target_id, day, viewer)
);

CREATE TABLE stats_daily (
    target_id UUID NOT NULL,
    day INTEGER NOT NULL,
    views BIGINT NOT NULL DEFAULT 0,
    favorites BIGINT NOT NULL DEFAULT 0,
    requests BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (target_id, day)
);
