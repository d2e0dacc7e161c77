-- 0010_recipes_fts_vocab (PostgreSQL): nothing to change (the SQLite
-- migration of this number restores the FTS5 vocabulary table that
-- src/recipes/recipes.c reads to expand prefixes). Kept so that both
-- dialects have the same versions.
SELECT 1;
