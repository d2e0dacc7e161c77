-- 0020_recipes_hidden (SQLite): a recipe hidden by staff (moderation kind "recipe",
-- src/recipes) leaves every public list, search and count; its detail is 404
-- except to its owner and staff. Keep parallel to pgsql/0020_recipes_hidden.sql.
ALTER TABLE recipes ADD COLUMN hidden_at BIGINT;
