-- report --publication and --tag from the summaries: their top domains and
-- domain counts, their tables by publication and by tag, and a tag's posts
-- with the most dofollow links, instead of a read of every link of the
-- group's posts (the largest publication or tag holds millions at 10^8).
--
-- domain_publications already counts live links per (domain, publication); the
-- report wants them in link order within one publication, and the posts behind
-- them. tag_domains keeps the same per (tag, domain). Posts are distinct
-- counts: they move when a post's live links to a domain come or go under a
-- group, which domain_posts (the post's live links to the domain) tells.

CREATE INDEX domain_publications_top_idx
    ON domain_publications (publication_id, links DESC, domain_id)
    WHERE publication_id IS NOT NULL;

-- Posts of a publication with at least one live link to the domain.
CREATE TABLE publication_domains (
    publication_id bigint NOT NULL,
    domain_id      bigint NOT NULL,
    posts          bigint NOT NULL,
    PRIMARY KEY (publication_id, domain_id)
);

-- How many domains a tag's (publication_id NULL) or a publication's (tag
-- NULL) live links reach: its rows in tag_domains or publication_domains.
CREATE TABLE group_domain_totals (
    tag            text,
    publication_id bigint,
    domains        bigint NOT NULL,
    UNIQUE NULLS NOT DISTINCT (tag, publication_id)
);

-- Per tag and target domain, live links (each of a post's tags counts them
-- once) and the posts carrying them.
CREATE TABLE tag_domains (
    tag        text    NOT NULL,
    domain_id  bigint  NOT NULL,
    links      bigint  NOT NULL DEFAULT 0,
    nofollow   bigint  NOT NULL DEFAULT 0,
    ugc        bigint  NOT NULL DEFAULT 0,
    sponsored  bigint  NOT NULL DEFAULT 0,
    dofollow   bigint  NOT NULL DEFAULT 0,
    posts      bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (tag, domain_id)
);
CREATE INDEX tag_domains_top_idx ON tag_domains (tag, links DESC, domain_id);

-- Per tag, publication and placement, live links: a tag report's table by
-- publication and a publication report's table by tag, without group_stats'
-- years and verdicts (a tag's rows there grow with publications x years).
CREATE TABLE tag_publications (
    tag            text    NOT NULL,
    publication_id bigint,
    placement      text    NOT NULL,
    links          bigint  NOT NULL DEFAULT 0,
    nofollow       bigint  NOT NULL DEFAULT 0,
    ugc            bigint  NOT NULL DEFAULT 0,
    sponsored      bigint  NOT NULL DEFAULT 0,
    dofollow       bigint  NOT NULL DEFAULT 0,
    UNIQUE NULLS NOT DISTINCT (tag, publication_id, placement)
);
CREATE INDEX tag_publications_publication_idx ON tag_publications (publication_id, tag);

-- Per tag, the posts with live dofollow links and how many: a tag report's
-- "posts with the most dofollow links" in index order (post_groups would be
-- read in dofollow order until enough posts of the tag turn up).
CREATE TABLE tag_dofollow_posts (
    tag       text    NOT NULL,
    post_id   bigint  NOT NULL,
    dofollow  bigint  NOT NULL,
    PRIMARY KEY (tag, post_id)
);
CREATE INDEX tag_dofollow_posts_top_idx ON tag_dofollow_posts (tag, dofollow DESC, post_id);

-- Every batch updates rows of the busiest tags and publications here, and the
-- updates of tag_domains cannot be HOT (links is indexed): they are vacuumed
-- after 1 % of them changed, not PostgreSQL's default 20 %, so the dead rows
-- do not pile up in the index scans a report makes.
ALTER TABLE tag_domains SET (autovacuum_vacuum_scale_factor = 0.01,
                             autovacuum_vacuum_insert_scale_factor = 0.01);
ALTER TABLE publication_domains SET (autovacuum_vacuum_scale_factor = 0.01,
                                     autovacuum_vacuum_insert_scale_factor = 0.01);

-- Adds the facets in summary_delta to the tables above, before
-- summaries_apply_0006 adds them to domain_posts (and empties summary_delta).
-- For the distinct posts and domains: a post's live links
-- to a domain once the statement is applied are domain_posts' count plus the
-- delta, and all of them stand under the publication and tags the post has
-- now: a group the post left keeps none of them.
CREATE FUNCTION summaries_apply_0008() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tag_domains AS s (tag, domain_id, links, nofollow, ugc, sponsored, dofollow)
    SELECT * FROM (
        SELECT t.tag, domain_id, sum(sign) AS links,
               coalesce(sum(sign) FILTER (WHERE nofollow), 0) AS nofollow,
               coalesce(sum(sign) FILTER (WHERE ugc), 0) AS ugc,
               coalesce(sum(sign) FILTER (WHERE sponsored), 0) AS sponsored,
               coalesce(sum(sign) FILTER (WHERE NOT (nofollow OR ugc OR sponsored)), 0) AS dofollow
        FROM pg_temp.summary_delta CROSS JOIN LATERAL unnest(tags) AS t(tag)
        WHERE NOT lost GROUP BY 1, 2
    ) d
    WHERE links <> 0 OR nofollow <> 0 OR ugc <> 0 OR sponsored <> 0 OR dofollow <> 0
    ORDER BY 1, 2
    ON CONFLICT (tag, domain_id) DO UPDATE SET
        links = s.links + EXCLUDED.links,
        nofollow = s.nofollow + EXCLUDED.nofollow,
        ugc = s.ugc + EXCLUDED.ugc,
        sponsored = s.sponsored + EXCLUDED.sponsored,
        dofollow = s.dofollow + EXCLUDED.dofollow;

    INSERT INTO tag_publications AS s (tag, publication_id, placement, links, nofollow, ugc,
                                       sponsored, dofollow)
    SELECT * FROM (
        SELECT t.tag, publication_id, placement, sum(sign) AS links,
               coalesce(sum(sign) FILTER (WHERE nofollow), 0) AS nofollow,
               coalesce(sum(sign) FILTER (WHERE ugc), 0) AS ugc,
               coalesce(sum(sign) FILTER (WHERE sponsored), 0) AS sponsored,
               coalesce(sum(sign) FILTER (WHERE NOT (nofollow OR ugc OR sponsored)), 0) AS dofollow
        FROM pg_temp.summary_delta CROSS JOIN LATERAL unnest(tags) AS t(tag)
        WHERE NOT lost GROUP BY 1, 2, 3
    ) d
    WHERE links <> 0 OR nofollow <> 0 OR ugc <> 0 OR sponsored <> 0 OR dofollow <> 0
    ORDER BY 1, 2, 3
    ON CONFLICT (tag, publication_id, placement) DO UPDATE SET
        links = s.links + EXCLUDED.links,
        nofollow = s.nofollow + EXCLUDED.nofollow,
        ugc = s.ugc + EXCLUDED.ugc,
        sponsored = s.sponsored + EXCLUDED.sponsored,
        dofollow = s.dofollow + EXCLUDED.dofollow;

    INSERT INTO tag_dofollow_posts AS s (tag, post_id, dofollow)
    SELECT t.tag, post_id, sum(sign)
    FROM pg_temp.summary_delta CROSS JOIN LATERAL unnest(tags) AS t(tag)
    WHERE NOT lost AND NOT (nofollow OR ugc OR sponsored)
    GROUP BY 1, 2 HAVING sum(sign) <> 0 ORDER BY 1, 2
    ON CONFLICT (tag, post_id) DO UPDATE SET dofollow = s.dofollow + EXCLUDED.dofollow;

    IF to_regclass('pg_temp.group_domain_delta') IS NULL THEN
        CREATE TEMP TABLE group_domain_delta (
            tag            text,
            publication_id bigint,
            domain_id      bigint NOT NULL,
            delta          bigint NOT NULL,
            after          bigint NOT NULL
        ) ON COMMIT DELETE ROWS;
    END IF;
    -- Per group (a tag, or a publication) a post's live links to a domain
    -- gained or lost, and how many it has there afterwards.
    WITH pair AS (
        SELECT s.domain_id, s.post_id, coalesce(dp.links, 0) + s.links AS links
        FROM (SELECT domain_id, post_id, sum(sign) AS links FROM pg_temp.summary_delta
              WHERE NOT lost GROUP BY 1, 2) s
        LEFT JOIN domain_posts dp USING (domain_id, post_id)
    ), d AS (
        SELECT t.tag, NULL::bigint AS publication_id, domain_id, post_id, sum(sign) AS delta
        FROM pg_temp.summary_delta CROSS JOIN LATERAL unnest(tags) AS t(tag)
        WHERE NOT lost GROUP BY 1, 3, 4
        UNION ALL
        SELECT NULL, publication_id, domain_id, post_id, sum(sign)
        FROM pg_temp.summary_delta WHERE NOT lost AND publication_id IS NOT NULL
        GROUP BY 2, 3, 4
    )
    INSERT INTO pg_temp.group_domain_delta
    SELECT d.tag, d.publication_id, d.domain_id, d.delta,
           CASE WHEN d.tag = ANY (p.tags) OR d.publication_id = p.publication_id
                THEN pair.links ELSE 0 END
    FROM d JOIN pair USING (domain_id, post_id) JOIN posts p USING (post_id)
    WHERE d.delta <> 0;

    -- "came" is +1 for a post whose count rose from zero, -1 for one that fell
    -- to it; a group's domains move with its rows' posts: +1 for a row whose posts
    -- rose from zero, -1 for one that fell to it.
    WITH came AS (
        SELECT tag, domain_id, sum((after > 0)::int - (after - delta > 0)::int) AS n
        FROM pg_temp.group_domain_delta WHERE tag IS NOT NULL GROUP BY 1, 2
    ), up AS (
        UPDATE tag_domains s SET posts = s.posts + came.n
        FROM came WHERE s.tag = came.tag AND s.domain_id = came.domain_id AND came.n <> 0
        RETURNING s.tag, s.posts, came.n
    )
    INSERT INTO group_domain_totals AS s (tag, publication_id, domains)
    SELECT * FROM (
        SELECT tag, NULL::bigint, sum((posts > 0)::int - (posts - n > 0)::int) AS n
        FROM up GROUP BY 1
    ) moved
    WHERE n <> 0 ORDER BY 1
    ON CONFLICT (tag, publication_id) DO UPDATE SET domains = s.domains + EXCLUDED.domains;

    WITH came AS (
        SELECT publication_id, domain_id, sum((after > 0)::int - (after - delta > 0)::int) AS n
        FROM pg_temp.group_domain_delta WHERE publication_id IS NOT NULL GROUP BY 1, 2
    ), up AS (
        INSERT INTO publication_domains AS s
        SELECT * FROM came WHERE n <> 0 ORDER BY 1, 2
        ON CONFLICT (publication_id, domain_id) DO UPDATE SET posts = s.posts + EXCLUDED.posts
        RETURNING s.publication_id, s.domain_id, s.posts
    )
    INSERT INTO group_domain_totals AS s (tag, publication_id, domains)
    SELECT * FROM (
        SELECT NULL::text, up.publication_id,
               sum((up.posts > 0)::int - (up.posts - came.n > 0)::int) AS n
        FROM up JOIN came USING (publication_id, domain_id) GROUP BY 2
    ) moved
    WHERE n <> 0 ORDER BY 2
    ON CONFLICT (tag, publication_id) DO UPDATE SET domains = s.domains + EXCLUDED.domains;

    IF EXISTS (SELECT 1 FROM pg_temp.summary_delta WHERE sign < 0) THEN
        DELETE FROM tag_dofollow_posts s
        USING (SELECT DISTINCT t.tag, post_id FROM pg_temp.summary_delta
               CROSS JOIN LATERAL unnest(tags) AS t(tag) WHERE sign < 0) d
        WHERE s.tag = d.tag AND s.post_id = d.post_id AND s.dofollow = 0;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_temp.group_domain_delta WHERE delta < 0) THEN
        DELETE FROM tag_domains s USING (SELECT DISTINCT tag, domain_id
                                         FROM pg_temp.group_domain_delta
                                         WHERE delta < 0 AND tag IS NOT NULL) d
        WHERE s.tag = d.tag AND s.domain_id = d.domain_id AND s.links = 0 AND s.posts = 0;
        DELETE FROM publication_domains s USING (SELECT DISTINCT publication_id, domain_id
                                                 FROM pg_temp.group_domain_delta
                                                 WHERE delta < 0 AND publication_id IS NOT NULL) d
        WHERE s.publication_id = d.publication_id AND s.domain_id = d.domain_id
          AND s.posts = 0;
    END IF;
    TRUNCATE pg_temp.group_domain_delta;
END
$$;

-- 0006's functions keep their bodies under new names; the names the triggers,
-- `harvest db check` and `db check --repair` call now add the tables above.
ALTER FUNCTION summaries_apply() RENAME TO summaries_apply_0006;
ALTER FUNCTION summaries_recount() RENAME TO summaries_recount_0006;
ALTER FUNCTION summaries_rebuild() RENAME TO summaries_rebuild_0006;

CREATE FUNCTION summaries_apply() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM summaries_apply_0008();
    PERFORM summaries_apply_0006();
END
$$;

-- The recount of the tables above into recount_* tables, as
-- summaries_recount_0006 leaves its own: one pass over links gives each post's
-- live links per domain, and the groups come from it and the posts. A tag's
-- publications add up `stats` (group_stats, or the recount of it) over years
-- and verdicts.
CREATE FUNCTION summaries_recount_0008(stats regclass) RETURNS void LANGUAGE plpgsql
SET work_mem = '256MB' AS $$
BEGIN
    DROP TABLE IF EXISTS pg_temp.recount_pairs, pg_temp.recount_publication_domains,
        pg_temp.recount_tag_domains, pg_temp.recount_tag_publications,
        pg_temp.recount_tag_dofollow_posts, pg_temp.recount_group_domain_totals;
    CREATE TEMP TABLE recount_pairs AS
    SELECT l.*, p.publication_id, p.tags
    FROM (SELECT domain_id, post_id, count(*) AS links,
                 count(*) FILTER (WHERE nofollow) AS nofollow,
                 count(*) FILTER (WHERE ugc) AS ugc,
                 count(*) FILTER (WHERE sponsored) AS sponsored,
                 count(*) FILTER (WHERE NOT (nofollow OR ugc OR sponsored)) AS dofollow
          FROM links WHERE lost_at IS NULL GROUP BY 1, 2) l
    JOIN posts p USING (post_id);

    CREATE TEMP TABLE recount_publication_domains AS
    SELECT publication_id, domain_id, count(*) AS posts
    FROM pg_temp.recount_pairs WHERE publication_id IS NOT NULL GROUP BY 1, 2;
    CREATE TEMP TABLE recount_tag_domains AS
    SELECT t.tag, domain_id, sum(links)::bigint AS links, sum(nofollow)::bigint AS nofollow,
           sum(ugc)::bigint AS ugc, sum(sponsored)::bigint AS sponsored,
           sum(dofollow)::bigint AS dofollow, count(*) AS posts
    FROM pg_temp.recount_pairs CROSS JOIN LATERAL unnest(tags) AS t(tag) GROUP BY 1, 2;
    CREATE TEMP TABLE recount_tag_dofollow_posts AS
    SELECT t.tag, post_id, sum(dofollow)::bigint AS dofollow
    FROM pg_temp.recount_pairs CROSS JOIN LATERAL unnest(tags) AS t(tag)
    WHERE dofollow > 0 GROUP BY 1, 2;
    DROP TABLE pg_temp.recount_pairs;
    CREATE TEMP TABLE recount_group_domain_totals AS
    SELECT tag, NULL::bigint AS publication_id, count(*) AS domains
    FROM pg_temp.recount_tag_domains GROUP BY 1
    UNION ALL
    SELECT NULL, publication_id, count(*) FROM pg_temp.recount_publication_domains GROUP BY 2;

    EXECUTE format(
        'CREATE TEMP TABLE recount_tag_publications AS
         SELECT tag, publication_id, placement, sum(links - lost)::bigint AS links,
                sum(nofollow)::bigint AS nofollow, sum(ugc)::bigint AS ugc,
                sum(sponsored)::bigint AS sponsored, sum(dofollow)::bigint AS dofollow
         FROM %s WHERE tag <> %L GROUP BY 1, 2, 3 HAVING sum(links - lost) > 0', stats, '');
END
$$;

CREATE FUNCTION summaries_recount() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM summaries_recount_0006();
    PERFORM summaries_recount_0008('pg_temp.recount_group_stats');
END
$$;

-- Puts the recounts of this migration's tables in place.
CREATE FUNCTION summaries_place_0008() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['publication_domains', 'tag_domains', 'tag_publications',
                                'tag_dofollow_posts', 'group_domain_totals'] LOOP
        EXECUTE format('TRUNCATE %I', name);
        EXECUTE format('INSERT INTO %I SELECT * FROM pg_temp.%I', name, 'recount_' || name);
        EXECUTE format('DROP TABLE pg_temp.%I', 'recount_' || name);
    END LOOP;
END
$$;

-- Recount and put the recount in place (`harvest db check --repair`).
-- summaries_rebuild_0006 recounts through summaries_recount, the one above, and
-- leaves the recounts of this migration's tables for summaries_place_0008.
CREATE FUNCTION summaries_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM summaries_rebuild_0006();
    PERFORM summaries_place_0008();
END
$$;

-- The first fill: 0006's tables are maintained already, so only the new ones
-- are counted.
SELECT summaries_recount_0008('group_stats');
SELECT summaries_place_0008();
