-- 0009_recipes_search_order (SQLite): the full-text index keyed by the
-- recipes' order, so that FTS5 itself yields a search's matches newest
-- first and a page reads about page_size matching rows (src/recipes/recipes.c).
-- Keep parallel to pgsql/0009_recipes_search_order.sql (which has nothing to do).
--
-- recipes.seq: an integer that sorts like (created_at, id):
--     seq = created_at * 1024 + j
-- j numbers the recipes created in the same microsecond (0 for nearly all);
-- the backfill numbers ties by id, new rows take the next free j. It is set
-- by the insert trigger, never by the application, and does not change
-- (nothing updates created_at). created_at * 1024 fits an int64 until 2255.
--
-- recipes_fts is rebuilt with content_rowid = seq and prefix indexes for
-- two- and three-letter prefixes ("ch"* and "chi"* read one precomputed
-- doclist lazily, in rowid order, instead of merging every term's).
-- Owner: src/recipes.

DROP TRIGGER recipes_fts_ai;
DROP TRIGGER recipes_fts_ad;
DROP TRIGGER recipes_fts_au;
DROP TABLE recipes_fts_vocab; -- its counts read whole doclists: no longer used
DROP TABLE recipes_fts;

ALTER TABLE recipes ADD COLUMN seq INTEGER;
UPDATE recipes SET seq = t.seq
FROM (SELECT rowid AS rid,
             created_at * 1024 + row_number() OVER (PARTITION BY created_at ORDER BY id) - 1 AS seq
      FROM recipes) AS t
WHERE recipes.rowid = t.rid;
CREATE UNIQUE INDEX recipes_seq_key ON recipes (seq);

CREATE VIRTUAL TABLE recipes_fts USING fts5(
    title, summary, ingredients, content='recipes', content_rowid='seq', prefix='2 3',
    tokenize='unicode61 remove_diacritics 2');
INSERT INTO recipes_fts (recipes_fts) VALUES ('rebuild');

CREATE TRIGGER recipes_fts_ai AFTER INSERT ON recipes BEGIN
    UPDATE recipes SET seq = (
        SELECT COALESCE(MAX(seq) + 1, new.created_at * 1024) FROM recipes
        WHERE seq >= new.created_at * 1024 AND seq < new.created_at * 1024 + 1024)
    WHERE rowid = new.rowid;
    SELECT RAISE(ABORT, 'recipes: too many recipes created in one microsecond')
    WHERE (SELECT seq FROM recipes WHERE rowid = new.rowid) >= new.created_at * 1024 + 1024;
    INSERT INTO recipes_fts (rowid, title, summary, ingredients)
    SELECT seq, title, summary, ingredients FROM recipes WHERE rowid = new.rowid;
END;
CREATE TRIGGER recipes_fts_ad AFTER DELETE ON recipes BEGIN
    INSERT INTO recipes_fts (recipes_fts, rowid, title, summary, ingredients)
    VALUES ('delete', old.seq, old.title, old.summary, old.ingredients);
END;
CREATE TRIGGER recipes_fts_au AFTER UPDATE OF title, summary, ingredients ON recipes BEGIN
    INSERT INTO recipes_fts (recipes_fts, rowid, title, summary, ingredients)
    VALUES ('delete', old.seq, old.title, old.summary, old.ingredients);
    INSERT INTO recipes_fts (rowid, title, summary, ingredients)
    VALUES (new.seq, new.title, new.summary, new.ingredients);
END;
