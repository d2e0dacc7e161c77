-- 0010_recipes_fts_vocab (SQLite): the terms of recipes_fts again, which
-- 0009 dropped with the old index. src/recipes/recipes.c (expand_word)
-- expands a word of four or more characters into the exact terms it
-- prefixes, so that an FTS-driven search reads doclists lazily instead of
-- merging every prefixed term's doclist per query. Reading it counts whole
-- doclists, so recipes.c caches each expansion briefly.
-- Keep parallel to pgsql/0010_recipes_fts_vocab.sql. Owner: src/recipes.
CREATE VIRTUAL TABLE recipes_fts_vocab USING fts5vocab(recipes_fts, 'row');
