-- A link's rel attribute is an id in a dictionary of the rel values seen:
-- text[] cost 50 bytes in every link row at 10^7 (nearly all of them
-- '{noopener,ugc,nofollow}'), an integer 4. Pages pick their rel values, so
-- the dictionary is as open as they are (an integer id, not a smallint).
-- Readers name the value by REL_SQL (harvest.db.report); the backlinks view
-- keeps its rel column.
CREATE TABLE rels (
    rel_id  integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rel     text[]  NOT NULL UNIQUE
);
INSERT INTO rels (rel) SELECT DISTINCT rel FROM links ORDER BY 1;

CREATE FUNCTION pg_temp.rel_id_of(tokens text[]) RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT rel_id FROM rels WHERE rel = tokens
$$;

-- The view reads the column being replaced: kept as PostgreSQL prints it, put
-- back with the value looked up (checked to occur once).
DO $$
DECLARE
    view text := pg_get_viewdef('backlinks'::regclass);
BEGIN
    IF array_length(string_to_array(view, 'l.rel,'), 1) <> 2 THEN
        RAISE EXCEPTION 'backlinks is not the view 0016 expects: %', view;
    END IF;
    DROP VIEW backlinks;
    ALTER TABLE links ALTER COLUMN rel DROP DEFAULT;
    ALTER TABLE links ALTER COLUMN rel TYPE integer USING pg_temp.rel_id_of(rel);
    ALTER TABLE links RENAME COLUMN rel TO rel_id;
    EXECUTE 'CREATE VIEW backlinks AS '
        || replace(view, 'l.rel,', '(SELECT r.rel FROM rels r WHERE r.rel_id = l.rel_id) AS rel,');
END
$$;
