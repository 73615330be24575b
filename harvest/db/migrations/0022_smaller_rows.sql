-- Smaller rows where PostgreSQL's alignment lets them shrink. A heap row is
-- padded to 8 bytes, and a column to its own alignment, so narrowing a
-- column gains nothing unless the row crosses an 8-byte boundary; each change
-- below does (bench/query.py's harvest at 10^7 links, deploy/README.md):
--
-- * links and author_links keep their URL key in their unique index only:
--   url_key(target_url) is computed where a row is written or looked up, and
--   the stored copy, 8 bytes a row, goes. An upgraded harvest gets the space
--   back as rows are rewritten (or at once with VACUUM FULL links): dropping
--   the column does not rewrite the table, which at 10^8 links would need
--   another ~20 GB of free disk for as long as it ran.
-- * seen_domains.domain_id, publication_domains.domain_id and .posts are
--   integers, as domain_id is in links (0021).
-- * group_stats counts in integers, as domain_stats does: its largest row
--   counts one year's links of one placement and verdict in every
--   publication and tag, far under 2^31 at 10^9 links (tag_stats, with the
--   same totals, keeps bigint).
ALTER TABLE links DROP COLUMN url_hash;
CREATE UNIQUE INDEX links_key ON links (post_id, location, position, url_key(target_url));
ALTER TABLE author_links DROP COLUMN url_hash;
CREATE UNIQUE INDEX author_links_key ON author_links (author_id, position, url_key(target_url));

ALTER TABLE seen_domains ALTER COLUMN domain_id TYPE integer;
ALTER TABLE publication_domains
    ALTER COLUMN domain_id TYPE integer,
    ALTER COLUMN posts TYPE integer;
-- rel_summary reads group_stats: put back as PostgreSQL prints it (its sums
-- become bigint where they were numeric).
DO $$
DECLARE
    view text := pg_get_viewdef('rel_summary'::regclass);
BEGIN
    DROP VIEW rel_summary;
    ALTER TABLE group_stats
        ALTER COLUMN links TYPE integer,
        ALTER COLUMN lost TYPE integer,
        ALTER COLUMN nofollow TYPE integer,
        ALTER COLUMN ugc TYPE integer,
        ALTER COLUMN sponsored TYPE integer,
        ALTER COLUMN dofollow TYPE integer,
        ALTER COLUMN lost_dofollow TYPE integer;
    EXECUTE 'CREATE VIEW rel_summary AS ' || view;
END
$$;
