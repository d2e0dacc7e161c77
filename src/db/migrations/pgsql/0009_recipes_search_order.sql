-- 0009_recipes_search_order (PostgreSQL): nothing to change. The SQLite
-- migration of this number keys the FTS5 index by the recipes' order
-- (recipes.seq); PostgreSQL's search walks recipes_created_idx and tests
-- the GIN-indexed tsvector per row, which already reads about one page.
-- Kept so that both dialects have the same versions.
SELECT 1;
