-- A narrower link row: at 10^7 links `links` and its two indexes took 346
-- bytes per link, more than half the database. What each change gives back:
--
-- * url_hash is 64 bits of the URL's md5 instead of all 128: it only tells
--   apart two targets at the same post, location and position (a post edited
--   between crawls), and it is in both indexes.
-- * location, kind and block are enums (4 bytes, no length byte) instead of
--   text; their labels are in alphabetical order so that ORDER BY keeps the
--   order it had as text. A new label goes in at its alphabetical place
--   (ALTER TYPE ... ADD VALUE ... BEFORE/AFTER).
-- * host_id and domain_id are integers in links: 2^31 registered domains and
--   hosts is beyond any harvest this project plans for (10^9 links), and the
--   dictionaries keep their bigint ids (a store that met the limit would
--   stop with "integer out of range", losing nothing).
-- * links_domain_page_idx keeps (domain_id, host_id, post_id) only: a page of
--   backlinks comes off it in host and post order, and the few links of one
--   post to the domain are sorted as they come (an incremental sort), so the
--   keyset's last three columns need not be in the index.
--
-- Together, at 10^7 links (bench/query.py's harvest): heap 210 -> 179 bytes
-- per link, indexes 136 -> 72.
--
-- The backlinks view keeps text columns, so analysts' SQL reads as before;
-- writers keep sending text (an assignment cast takes it).
CREATE TYPE link_location AS ENUM ('author_bio', 'body');
CREATE TYPE link_kind AS ENUM ('embed', 'image', 'link_card', 'text');
CREATE TYPE link_block AS ENUM (
    'bio', 'caption', 'embed', 'figure', 'heading', 'link_card', 'list', 'paragraph',
    'preformatted', 'quote'
);
CREATE CAST (text AS link_location) WITH INOUT AS ASSIGNMENT;
CREATE CAST (text AS link_kind) WITH INOUT AS ASSIGNMENT;
CREATE CAST (text AS link_block) WITH INOUT AS ASSIGNMENT;

-- The one definition of a link's URL key, for links, author_links and
-- whatever looks a row up by its URL (harvest.db.renormalize).
CREATE FUNCTION url_key(url text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ('x' || left(md5(url), 16))::bit(64)::bigint;

-- The placement rule (0006) for the enum columns: readers and the summaries
-- call it with the link's own columns. (SQL functions are inlined: the
-- wrapper costs nothing.)
CREATE FUNCTION link_placement(location link_location, kind link_kind, block link_block)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT link_placement(location::text, kind::text, block::text)
$$;

-- The view reads the columns being changed: kept as PostgreSQL prints it and
-- put back with those columns as text (each checked to occur once).
DO $$
DECLARE
    view text := pg_get_viewdef('backlinks'::regclass);
    col text;
BEGIN
    FOREACH col IN ARRAY ARRAY['location', 'kind', 'block'] LOOP
        IF array_length(string_to_array(view, format('l.%s,', col)), 1) <> 2 THEN
            RAISE EXCEPTION 'backlinks is not the view 0021 expects: %', view;
        END IF;
        view := replace(view, format('l.%s,', col), format('l.%s::text AS %s,', col, col));
    END LOOP;
    DROP VIEW backlinks;
    ALTER TABLE links DROP CONSTRAINT links_location_check, DROP CONSTRAINT links_kind_check;
    -- One rewrite of the table: the drop takes both indexes with it, which
    -- are built again below on the narrower columns.
    ALTER TABLE links
        DROP COLUMN url_hash,
        ADD COLUMN url_hash bigint NOT NULL GENERATED ALWAYS AS (url_key(target_url)) STORED,
        ALTER COLUMN location TYPE link_location USING location::link_location,
        ALTER COLUMN kind TYPE link_kind USING kind::link_kind,
        ALTER COLUMN block TYPE link_block USING block::link_block,
        ALTER COLUMN host_id TYPE integer,
        ALTER COLUMN domain_id TYPE integer;
    ALTER TABLE links ADD PRIMARY KEY (post_id, location, position, url_hash);
    CREATE INDEX links_domain_page_idx ON links (domain_id, host_id, post_id);
    ALTER TABLE author_links
        DROP COLUMN url_hash,
        ADD COLUMN url_hash bigint NOT NULL GENERATED ALWAYS AS (url_key(target_url)) STORED,
        ALTER COLUMN host_id TYPE integer,
        ALTER COLUMN domain_id TYPE integer;
    ALTER TABLE author_links ADD PRIMARY KEY (author_id, position, url_hash);
    EXECUTE 'CREATE VIEW backlinks AS ' || view;
END
$$;
