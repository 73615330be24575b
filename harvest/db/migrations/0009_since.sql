-- report --since from the summaries: the same counts as the other summaries,
-- per month in which harvest first saw the link (its first_seen, in UTC), so a
-- --since on the first of a month adds up the months from it on instead of
-- reading every link first seen since.
--
-- A link's first_seen does not move once it is stored, so its month is a
-- facet like its domain. Distinct counts do not add up across months; the
-- domains and posts since M are counted by their newest month instead
-- (domain_last_seen, post_last_seen, seen_last_counts below). The posts behind
-- each domain would need a row per (month, domain, post), nearly one per link;
-- the report leaves that column out under --since and says so.

-- Every link (lost ones too, for the verdict) per month first seen, year first
-- published, placement and verdict.
CREATE TABLE seen_stats (
    seen           date    NOT NULL,
    year           integer,
    placement      text    NOT NULL,
    reason         text    NOT NULL,
    links          bigint  NOT NULL DEFAULT 0,
    lost           bigint  NOT NULL DEFAULT 0,
    nofollow       bigint  NOT NULL DEFAULT 0,
    ugc            bigint  NOT NULL DEFAULT 0,
    sponsored      bigint  NOT NULL DEFAULT 0,
    dofollow       bigint  NOT NULL DEFAULT 0,
    lost_dofollow  bigint  NOT NULL DEFAULT 0,
    UNIQUE NULLS NOT DISTINCT (seen, year, placement, reason)
);

-- Live links per month first seen and publication (NULL: none) and placement.
CREATE TABLE seen_publications (
    seen           date    NOT NULL,
    publication_id bigint,
    placement      text    NOT NULL,
    links          bigint  NOT NULL DEFAULT 0,
    nofollow       bigint  NOT NULL DEFAULT 0,
    ugc            bigint  NOT NULL DEFAULT 0,
    sponsored      bigint  NOT NULL DEFAULT 0,
    dofollow       bigint  NOT NULL DEFAULT 0,
    UNIQUE NULLS NOT DISTINCT (seen, publication_id, placement)
);

-- Live links per month first seen and tag (each of a post's tags counts them).
CREATE TABLE seen_tags (
    seen       date    NOT NULL,
    tag        text    NOT NULL,
    links      bigint  NOT NULL DEFAULT 0,
    nofollow   bigint  NOT NULL DEFAULT 0,
    ugc        bigint  NOT NULL DEFAULT 0,
    sponsored  bigint  NOT NULL DEFAULT 0,
    dofollow   bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (seen, tag)
);

-- Live links per month first seen and target domain: the top domains since a
-- month, and how many domains those months reach.
CREATE TABLE seen_domains (
    seen       date    NOT NULL,
    domain_id  bigint  NOT NULL,
    links      bigint  NOT NULL DEFAULT 0,
    nofollow   bigint  NOT NULL DEFAULT 0,
    ugc        bigint  NOT NULL DEFAULT 0,
    sponsored  bigint  NOT NULL DEFAULT 0,
    dofollow   bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (seen, domain_id)
);

-- Live links and live dofollow links per month first seen and post: how many
-- posts, and the posts with the most dofollow links, since a month.
CREATE TABLE seen_posts (
    seen      date    NOT NULL,
    post_id   bigint  NOT NULL,
    links     bigint  NOT NULL DEFAULT 0,
    dofollow  bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (seen, post_id)
);

-- A domain's (a post's) months in the rows above, newest first: a --since
-- report's top domains look up the most linked domains' months there.
CREATE INDEX seen_domains_domain_idx ON seen_domains (domain_id, seen);
CREATE INDEX seen_posts_post_idx ON seen_posts (post_id, seen);

-- The newest month in which harvest first saw a live link to the domain (of
-- the post), and per month how many domains (posts) have it as their newest:
-- a domain has live links first seen since M if and only if its newest such
-- month is M or later, so the domains and posts since M are a sum over the
-- months from M, not a count of distinct rows.
CREATE TABLE domain_last_seen (
    domain_id  bigint  PRIMARY KEY,
    seen       date    NOT NULL
);
CREATE TABLE post_last_seen (
    post_id    bigint  PRIMARY KEY,
    seen       date    NOT NULL
);
CREATE TABLE seen_last_counts (
    seen     date    PRIMARY KEY,
    domains  bigint  NOT NULL DEFAULT 0,
    posts    bigint  NOT NULL DEFAULT 0
);

-- The facets gain the month first seen, last so that the rows 0006 and 0008
-- read keep their places. A session that made its summary_delta before this
-- migration has one without it: the column is added there too (the table is
-- empty between statements).
ALTER FUNCTION summaries_delta_table() RENAME TO summaries_delta_table_0006;
CREATE FUNCTION summaries_delta_table() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.summary_delta') IS NULL THEN
        PERFORM summaries_delta_table_0006();
        ALTER TABLE pg_temp.summary_delta ADD COLUMN seen date NOT NULL;
    ELSIF NOT EXISTS (SELECT 1 FROM pg_attribute
                      WHERE attrelid = to_regclass('pg_temp.summary_delta')
                        AND attname = 'seen' AND NOT attisdropped) THEN
        ALTER TABLE pg_temp.summary_delta ADD COLUMN seen date NOT NULL;
    END IF;
END
$$;

DROP FUNCTION summaries_facets(integer, links, posts);
CREATE FUNCTION summaries_facets(sign integer, l links, p posts)
RETURNS TABLE (sign integer, domain_id bigint, post_id bigint, author_id bigint,
               publication_id bigint, month date, year integer, tags text[], placement text,
               reason text, lost boolean, nofollow boolean, ugc boolean, sponsored boolean,
               seen date)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sign, l.domain_id, l.post_id, p.author_id, p.publication_id,
           date_trunc('month', p.first_published_at AT TIME ZONE 'UTC')::date,
           extract(year FROM p.first_published_at AT TIME ZONE 'UTC')::integer,
           p.tags, link_placement(l.location, l.kind, l.block), link_verdict(l, p),
           l.lost_at IS NOT NULL, l.nofollow, l.ugc, l.sponsored,
           date_trunc('month', l.first_seen AT TIME ZONE 'UTC')::date
$$;

-- The counters of seen_stats (every link, lost ones too) and of the live-link
-- tables, in their columns' order.
CREATE FUNCTION summaries_every_0009() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['links', 'lost', 'nofollow', 'ugc', 'sponsored', 'dofollow', 'lost_dofollow']
$$;
CREATE FUNCTION summaries_live_0009() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['links', 'nofollow', 'ugc', 'sponsored', 'dofollow']
$$;

-- One table above's rows, as a SELECT grouped by keys (names of the facets,
-- or of what source adds, such as a tag) over signed facets (agg sum(sign)) or
-- a recount's facets (agg count(*)). A table that keeps a lost counter counts
-- every link (seen_stats, for the verdict); the others count live links only.
CREATE FUNCTION summaries_grouped_0009(agg text, keys text, source text, counters text[])
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format('SELECT %s, %s FROM %s %s GROUP BY %s', keys,
                  string_agg(format(CASE c
                      WHEN 'links' THEN '%1$s'
                      WHEN 'lost' THEN 'coalesce(%1$s FILTER (WHERE lost), 0)'
                      WHEN 'dofollow' THEN 'coalesce(%1$s FILTER (WHERE NOT lost AND NOT '
                                           '(nofollow OR ugc OR sponsored)), 0)'
                      WHEN 'lost_dofollow' THEN 'coalesce(%1$s FILTER (WHERE lost AND NOT '
                                                '(nofollow OR ugc OR sponsored)), 0)'
                      ELSE 'coalesce(%1$s FILTER (WHERE NOT lost AND %2$I), 0)'
                  END || ' AS %2$I', agg, c), ', ' ORDER BY n),
                  source, CASE WHEN 'lost' = ANY (counters) THEN '' ELSE 'WHERE NOT lost' END,
                  keys)
    FROM unnest(counters) WITH ORDINALITY AS u(c, n)
$$;

-- Adds summary_delta's facets to one table above, in key order as 0006 does.
CREATE FUNCTION summaries_add_0009(target text, keys text, source text, counters text[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'INSERT INTO %I AS s (%s, %s) SELECT * FROM (%s) d '
        'WHERE %s ORDER BY %s ON CONFLICT (%s) DO UPDATE SET %s',
        target, keys, array_to_string(counters, ', '),
        summaries_grouped_0009('sum(sign)', keys, source, counters),
        (SELECT string_agg(c || ' <> 0', ' OR ') FROM unnest(counters) c), keys, keys,
        (SELECT string_agg(format('%1$I = s.%1$I + EXCLUDED.%1$I', c), ', ')
         FROM unnest(counters) c));
END
$$;

-- Adds the facets in summary_delta to the tables above (before
-- summaries_apply_0006 empties it).
CREATE FUNCTION summaries_apply_0009() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM summaries_add_0009('seen_stats', 'seen, year, placement, reason',
                               'pg_temp.summary_delta', summaries_every_0009());
    PERFORM summaries_add_0009('seen_publications', 'seen, publication_id, placement',
                               'pg_temp.summary_delta', summaries_live_0009());
    PERFORM summaries_add_0009('seen_tags', 'seen, tag',
                               'pg_temp.summary_delta CROSS JOIN LATERAL unnest(tags) AS t(tag)',
                               summaries_live_0009());
    PERFORM summaries_add_0009('seen_domains', 'seen, domain_id', 'pg_temp.summary_delta',
                               summaries_live_0009());
    PERFORM summaries_add_0009('seen_posts', 'seen, post_id', 'pg_temp.summary_delta',
                               ARRAY['links', 'dofollow']);

    -- A link that went away leaves a row of zeros behind only where it was
    -- the last one: those rows go, so a month's rows stay its live ones.
    IF EXISTS (SELECT 1 FROM pg_temp.summary_delta WHERE sign < 0) THEN
        DELETE FROM seen_domains s
        USING (SELECT DISTINCT seen, domain_id FROM pg_temp.summary_delta WHERE sign < 0) d
        WHERE s.seen = d.seen AND s.domain_id = d.domain_id AND s.links = 0;
        DELETE FROM seen_posts s
        USING (SELECT DISTINCT seen, post_id FROM pg_temp.summary_delta WHERE sign < 0) d
        WHERE s.seen = d.seen AND s.post_id = d.post_id AND s.links = 0;
    END IF;

    -- Each domain and post the statement touched: its newest month now (off
    -- the indexes above; every row left has live links), against the one kept.
    -- A newest month is not a sum that commutes: two writers that both move a
    -- domain's would each miss the other's uncommitted rows. So each writer
    -- first locks the domains' (and posts') dictionary rows, in id order, and
    -- looks after the wait, in a snapshot that holds the other's commit. (The
    -- key-share locks of foreign keys do not wait on these.)
    PERFORM 1 FROM domains
    WHERE domain_id IN (SELECT domain_id FROM pg_temp.summary_delta WHERE NOT lost)
    ORDER BY domain_id FOR NO KEY UPDATE;
    PERFORM 1 FROM posts
    WHERE post_id IN (SELECT post_id FROM pg_temp.summary_delta WHERE NOT lost)
    ORDER BY post_id FOR NO KEY UPDATE;
    IF to_regclass('pg_temp.seen_last_delta') IS NULL THEN
        CREATE TEMP TABLE seen_last_delta (
            domain_id  bigint,
            post_id    bigint,
            was        date,
            now        date
        ) ON COMMIT DELETE ROWS;
    END IF;
    INSERT INTO pg_temp.seen_last_delta
    SELECT * FROM (
        SELECT t.domain_id, NULL::bigint, l.seen,
               (SELECT max(s.seen) FROM seen_domains s WHERE s.domain_id = t.domain_id)
        FROM (SELECT DISTINCT domain_id FROM pg_temp.summary_delta WHERE NOT lost) t
        LEFT JOIN domain_last_seen l ON l.domain_id = t.domain_id
        UNION ALL
        SELECT NULL, t.post_id, l.seen,
               (SELECT max(s.seen) FROM seen_posts s WHERE s.post_id = t.post_id)
        FROM (SELECT DISTINCT post_id FROM pg_temp.summary_delta WHERE NOT lost) t
        LEFT JOIN post_last_seen l ON l.post_id = t.post_id
    ) d(domain_id, post_id, was, now)
    WHERE was IS DISTINCT FROM now;

    INSERT INTO domain_last_seen AS s (domain_id, seen)
    SELECT domain_id, now FROM pg_temp.seen_last_delta
    WHERE domain_id IS NOT NULL AND now IS NOT NULL ORDER BY 1
    ON CONFLICT (domain_id) DO UPDATE SET seen = EXCLUDED.seen;
    INSERT INTO post_last_seen AS s (post_id, seen)
    SELECT post_id, now FROM pg_temp.seen_last_delta
    WHERE post_id IS NOT NULL AND now IS NOT NULL ORDER BY 1
    ON CONFLICT (post_id) DO UPDATE SET seen = EXCLUDED.seen;
    INSERT INTO seen_last_counts AS s (seen, domains, posts)
    SELECT * FROM (
        SELECT seen, coalesce(sum(n) FILTER (WHERE domain_id IS NOT NULL), 0) AS domains,
               coalesce(sum(n) FILTER (WHERE post_id IS NOT NULL), 0) AS posts
        FROM (SELECT domain_id, post_id, now AS seen, 1 AS n FROM pg_temp.seen_last_delta
              WHERE now IS NOT NULL
              UNION ALL
              SELECT domain_id, post_id, was, -1 FROM pg_temp.seen_last_delta
              WHERE was IS NOT NULL) moved
        GROUP BY 1
    ) d
    ORDER BY 1
    ON CONFLICT (seen) DO UPDATE SET
        domains = s.domains + EXCLUDED.domains,
        posts = s.posts + EXCLUDED.posts;
    IF EXISTS (SELECT 1 FROM pg_temp.seen_last_delta WHERE now IS NULL) THEN
        DELETE FROM domain_last_seen s USING pg_temp.seen_last_delta d
        WHERE d.now IS NULL AND s.domain_id = d.domain_id;
        DELETE FROM post_last_seen s USING pg_temp.seen_last_delta d
        WHERE d.now IS NULL AND s.post_id = d.post_id;
    END IF;
    TRUNCATE pg_temp.seen_last_delta;
END
$$;

CREATE OR REPLACE FUNCTION summaries_apply() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM summaries_apply_0009();
    PERFORM summaries_apply_0008();
    PERFORM summaries_apply_0006();
END
$$;

-- The recount of the tables above into recount_* tables, from one pass over
-- every link.
CREATE FUNCTION summaries_recount_0009() RETURNS void LANGUAGE plpgsql
SET work_mem = '256MB' AS $$
DECLARE
    one record;
BEGIN
    DROP TABLE IF EXISTS pg_temp.recount_seen_facets, pg_temp.recount_seen_stats,
        pg_temp.recount_seen_publications, pg_temp.recount_seen_tags,
        pg_temp.recount_seen_domains, pg_temp.recount_seen_posts,
        pg_temp.recount_domain_last_seen, pg_temp.recount_post_last_seen,
        pg_temp.recount_seen_last_counts;
    CREATE TEMP TABLE recount_seen_facets AS
    SELECT f.seen, f.year, f.placement, f.reason, f.publication_id, f.tags, f.domain_id,
           f.post_id, f.lost, f.nofollow, f.ugc, f.sponsored
    FROM links l JOIN posts p ON p.post_id = l.post_id, LATERAL summaries_facets(1, l, p) f;
    FOR one IN SELECT * FROM (VALUES
        ('seen_stats', 'seen, year, placement, reason', '', summaries_every_0009()),
        ('seen_publications', 'seen, publication_id, placement', '', summaries_live_0009()),
        ('seen_tags', 'seen, tag', 'CROSS JOIN LATERAL unnest(tags) AS t(tag)',
         summaries_live_0009()),
        ('seen_domains', 'seen, domain_id', '', summaries_live_0009()),
        ('seen_posts', 'seen, post_id', '', ARRAY['links', 'dofollow'])
    ) v(target, keys, joined, counters) LOOP
        EXECUTE format('CREATE TEMP TABLE %I AS %s', 'recount_' || one.target,
                       summaries_grouped_0009('count(*)', one.keys,
                                              'pg_temp.recount_seen_facets ' || one.joined,
                                              one.counters));
    END LOOP;
    DROP TABLE pg_temp.recount_seen_facets;
    CREATE TEMP TABLE recount_domain_last_seen AS
    SELECT domain_id, max(seen) AS seen FROM pg_temp.recount_seen_domains GROUP BY 1;
    CREATE TEMP TABLE recount_post_last_seen AS
    SELECT post_id, max(seen) AS seen FROM pg_temp.recount_seen_posts GROUP BY 1;
    CREATE TEMP TABLE recount_seen_last_counts AS
    SELECT seen, sum(domains)::bigint AS domains, sum(posts)::bigint AS posts
    FROM (SELECT seen, 1 AS domains, 0 AS posts FROM pg_temp.recount_domain_last_seen
          UNION ALL
          SELECT seen, 0, 1 FROM pg_temp.recount_post_last_seen) newest
    GROUP BY 1;
END
$$;

CREATE OR REPLACE FUNCTION summaries_recount() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM summaries_recount_0006();
    PERFORM summaries_recount_0008('pg_temp.recount_group_stats');
    PERFORM summaries_recount_0009();
END
$$;

-- Puts the recounts of this migration's tables in place, month by month: a
-- --since reads the last months' rows, which then lie together on disk (as
-- the store's batches leave them, month after month).
CREATE FUNCTION summaries_place_0009() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['seen_stats', 'seen_publications', 'seen_tags', 'seen_domains',
                                'seen_posts', 'domain_last_seen', 'post_last_seen',
                                'seen_last_counts'] LOOP
        EXECUTE format('TRUNCATE %I', name);
        EXECUTE format('INSERT INTO %I SELECT * FROM pg_temp.%I ORDER BY 1', name,
                       'recount_' || name);
        EXECUTE format('DROP TABLE pg_temp.%I', 'recount_' || name);
    END LOOP;
END
$$;

-- summaries_rebuild_0006 recounts through summaries_recount, the one above,
-- and leaves the recounts of 0008's and this migration's tables to place.
CREATE OR REPLACE FUNCTION summaries_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM summaries_rebuild_0006();
    PERFORM summaries_place_0008();
    PERFORM summaries_place_0009();
END
$$;

-- The first fill: the tables before this migration are maintained already.
SELECT summaries_recount_0009();
SELECT summaries_place_0009();
