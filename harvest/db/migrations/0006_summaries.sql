-- Maintained summaries: the analyst's answers without a scan of links.
--
-- At 10^8 link rows a GROUP BY over links takes minutes; these tables hold the
-- same counts, kept exact by statement-level triggers in the writer's own
-- transaction. Every statement that changes links or posts turns its rows into
-- signed "facets" (+1 for a row as it is now, -1 as it was) and adds them up
-- here, so a summary always equals the recount of what links and posts hold.
-- `harvest db check` recounts from links and says whether they agree
-- (harvest.db.summaries); deploy/README.md has the sizes and the costs.
--
-- Counters: links counts every link (lost ones too, as the verdict does);
-- lost the lost ones; nofollow, ugc, sponsored and dofollow count live links;
-- lost_dofollow the lost ones with a followed anchor.

-- Where on the page a link stands, as the report groups it.
CREATE FUNCTION link_placement(location text, kind text, block text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN location = 'author_bio' THEN 'author_bio'
                WHEN kind = 'link_card' THEN 'link_card'
                WHEN block IN ('caption', 'figure') THEN 'caption'
                ELSE 'body' END
$$;

-- Per target domain, month first published, placement and verdict.
CREATE TABLE domain_stats (
    domain_id     bigint  NOT NULL,
    month         date,
    placement     text    NOT NULL,
    reason        text    NOT NULL,
    links         bigint  NOT NULL DEFAULT 0,
    lost          bigint  NOT NULL DEFAULT 0,
    nofollow      bigint  NOT NULL DEFAULT 0,
    ugc           bigint  NOT NULL DEFAULT 0,
    sponsored     bigint  NOT NULL DEFAULT 0,
    dofollow      bigint  NOT NULL DEFAULT 0,
    lost_dofollow bigint  NOT NULL DEFAULT 0,
    UNIQUE NULLS NOT DISTINCT (domain_id, month, placement, reason)
);

-- Per publication, tag and year first published, placement and verdict. A
-- post's links count once under tag '' (all tags) and once under each tag.
CREATE TABLE group_stats (
    publication_id bigint,
    tag           text    NOT NULL,
    year          integer,
    placement     text    NOT NULL,
    reason        text    NOT NULL,
    links         bigint  NOT NULL DEFAULT 0,
    lost          bigint  NOT NULL DEFAULT 0,
    nofollow      bigint  NOT NULL DEFAULT 0,
    ugc           bigint  NOT NULL DEFAULT 0,
    sponsored     bigint  NOT NULL DEFAULT 0,
    dofollow      bigint  NOT NULL DEFAULT 0,
    lost_dofollow bigint  NOT NULL DEFAULT 0,
    UNIQUE NULLS NOT DISTINCT (tag, publication_id, year, placement, reason)
);

-- The same without publications: tag '' is every link once, the figures of
-- stats and of an unfiltered report; a tag's rows are a tag report's. Small
-- (tags x years x placements x reasons), so those answers stay milliseconds.
CREATE TABLE tag_stats (
    tag           text    NOT NULL,
    year          integer,
    placement     text    NOT NULL,
    reason        text    NOT NULL,
    links         bigint  NOT NULL DEFAULT 0,
    lost          bigint  NOT NULL DEFAULT 0,
    nofollow      bigint  NOT NULL DEFAULT 0,
    ugc           bigint  NOT NULL DEFAULT 0,
    sponsored     bigint  NOT NULL DEFAULT 0,
    dofollow      bigint  NOT NULL DEFAULT 0,
    lost_dofollow bigint  NOT NULL DEFAULT 0,
    UNIQUE NULLS NOT DISTINCT (tag, year, placement, reason)
);

-- Per publication and placement, live links: the whole report's table by
-- publication and its dofollow links by publication and placement, without
-- reading group_stats' years, tags and verdicts.
CREATE TABLE publication_stats (
    publication_id bigint,
    placement     text    NOT NULL,
    links         bigint  NOT NULL DEFAULT 0,
    nofollow      bigint  NOT NULL DEFAULT 0,
    ugc           bigint  NOT NULL DEFAULT 0,
    sponsored     bigint  NOT NULL DEFAULT 0,
    dofollow      bigint  NOT NULL DEFAULT 0,
    UNIQUE NULLS NOT DISTINCT (publication_id, placement)
);

-- Per target domain, live links only: what top-domains and backlinks' totals
-- print. posts, authors and publications are distinct counts, kept by the
-- reference counts below.
CREATE TABLE domain_totals (
    domain_id     bigint  PRIMARY KEY,
    links         bigint  NOT NULL DEFAULT 0,
    lost          bigint  NOT NULL DEFAULT 0,
    nofollow      bigint  NOT NULL DEFAULT 0,
    ugc           bigint  NOT NULL DEFAULT 0,
    sponsored     bigint  NOT NULL DEFAULT 0,
    dofollow      bigint  NOT NULL DEFAULT 0,
    passing       bigint  NOT NULL DEFAULT 0,
    posts         bigint  NOT NULL DEFAULT 0,
    authors       bigint  NOT NULL DEFAULT 0,
    publications  bigint  NOT NULL DEFAULT 0
);
CREATE INDEX domain_totals_links_idx ON domain_totals (links DESC, domain_id);
CREATE INDEX domain_totals_dofollow_idx ON domain_totals (dofollow DESC, domain_id);

-- Reference counts of live links: a row exists while its count is positive,
-- and its coming and going moves the distinct counts above.
CREATE TABLE domain_posts (
    domain_id     bigint  NOT NULL,
    post_id       bigint  NOT NULL,
    links         bigint  NOT NULL,
    dofollow      bigint  NOT NULL,
    PRIMARY KEY (domain_id, post_id)
);
-- the report's "posts with the most dofollow links to this domain"
CREATE INDEX domain_posts_dofollow_idx ON domain_posts (domain_id, dofollow DESC, post_id)
    WHERE dofollow > 0;

CREATE TABLE domain_authors (
    domain_id     bigint  NOT NULL,
    author_id     bigint,
    links         bigint  NOT NULL,
    UNIQUE NULLS NOT DISTINCT (domain_id, author_id)
);

-- Also the domain report's table by publication, hence the rel counters.
CREATE TABLE domain_publications (
    domain_id      bigint  NOT NULL,
    publication_id bigint,
    links          bigint  NOT NULL,
    nofollow       bigint  NOT NULL,
    ugc            bigint  NOT NULL,
    sponsored      bigint  NOT NULL,
    dofollow       bigint  NOT NULL,
    UNIQUE NULLS NOT DISTINCT (domain_id, publication_id)
);

-- A post's live links under the groups it belongs to: when a post changes
-- publication, year or tags, its old row empties and a new one fills, which
-- moves group_posts.
CREATE TABLE post_groups (
    post_id        bigint  NOT NULL,
    publication_id bigint,
    year           integer,
    tags           text[]  NOT NULL,
    links          bigint  NOT NULL,
    dofollow       bigint  NOT NULL,
    UNIQUE NULLS NOT DISTINCT (post_id, publication_id, year, tags)
);
CREATE INDEX post_groups_dofollow_idx ON post_groups (dofollow DESC, post_id) WHERE dofollow > 0;

-- Posts with at least one live link, per publication, tag ('' = all) and year.
CREATE TABLE group_posts (
    publication_id bigint,
    tag            text    NOT NULL,
    year           integer,
    posts          bigint  NOT NULL DEFAULT 0,
    UNIQUE NULLS NOT DISTINCT (tag, publication_id, year)
);

-- Backlinks page in a stable order, host by host and post by post, and the
-- next page starts where the last one ended (keyset): one index range scan,
-- at any depth. It replaces links_domain_host_idx, whose two columns it leads with.
CREATE INDEX links_domain_page_idx
    ON links (domain_id, host_id, post_id, location, position, url_hash);
DROP INDEX links_domain_host_idx;
-- report --tag reaches a tag's posts without reading every post
CREATE INDEX posts_tags_idx ON posts USING gin (tags);

-- The facets of one statement's rows, signed; filled by the triggers below and
-- emptied by summaries_apply. A temporary table: each session has its own.
CREATE FUNCTION summaries_delta_table() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.summary_delta') IS NULL THEN
        CREATE TEMP TABLE summary_delta (
            sign           integer NOT NULL,
            domain_id      bigint  NOT NULL,
            post_id        bigint  NOT NULL,
            author_id      bigint,
            publication_id bigint,
            month          date,
            year           integer,
            tags           text[]  NOT NULL,
            placement      text    NOT NULL,
            reason         text    NOT NULL,
            lost           boolean NOT NULL,
            nofollow       boolean NOT NULL,
            ugc            boolean NOT NULL,
            sponsored      boolean NOT NULL
        ) ON COMMIT DELETE ROWS;
    END IF;
END
$$;

-- Adds the signed facets in summary_delta to every summary, then empties it.
-- Rows are upserted in key order, so concurrent writers lock them in the same
-- order (a deadlock that still happens is replayed by harvest.db.connection).
CREATE FUNCTION summaries_apply() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    -- only a statement that took rows away can empty a reference count
    shrinks boolean := EXISTS (SELECT 1 FROM pg_temp.summary_delta WHERE sign < 0);
BEGIN
    INSERT INTO domain_stats AS s (domain_id, month, placement, reason, links, lost,
                                   nofollow, ugc, sponsored, dofollow, lost_dofollow)
    SELECT * FROM (
        SELECT domain_id, month, placement, reason, sum(sign) AS links,
               coalesce(sum(sign) FILTER (WHERE lost), 0) AS lost,
               coalesce(sum(sign) FILTER (WHERE NOT lost AND nofollow), 0) AS nofollow,
               coalesce(sum(sign) FILTER (WHERE NOT lost AND ugc), 0) AS ugc,
               coalesce(sum(sign) FILTER (WHERE NOT lost AND sponsored), 0) AS sponsored,
               coalesce(sum(sign) FILTER (WHERE NOT lost AND NOT (nofollow OR ugc OR sponsored)), 0) AS dofollow,
               coalesce(sum(sign) FILTER (WHERE lost AND NOT (nofollow OR ugc OR sponsored)), 0) AS lost_dofollow
        FROM pg_temp.summary_delta GROUP BY 1, 2, 3, 4
    ) d
    WHERE links <> 0 OR lost <> 0 OR nofollow <> 0 OR ugc <> 0 OR sponsored <> 0
       OR dofollow <> 0 OR lost_dofollow <> 0
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (domain_id, month, placement, reason) DO UPDATE SET
        links = s.links + EXCLUDED.links,
        lost = s.lost + EXCLUDED.lost,
        nofollow = s.nofollow + EXCLUDED.nofollow,
        ugc = s.ugc + EXCLUDED.ugc,
        sponsored = s.sponsored + EXCLUDED.sponsored,
        dofollow = s.dofollow + EXCLUDED.dofollow,
        lost_dofollow = s.lost_dofollow + EXCLUDED.lost_dofollow;

    INSERT INTO group_stats AS s (publication_id, tag, year, placement, reason, links, lost,
                                  nofollow, ugc, sponsored, dofollow, lost_dofollow)
    SELECT * FROM (
        SELECT publication_id, t.tag, year, placement, reason, sum(sign) AS links,
               coalesce(sum(sign) FILTER (WHERE lost), 0) AS lost,
               coalesce(sum(sign) FILTER (WHERE NOT lost AND nofollow), 0) AS nofollow,
               coalesce(sum(sign) FILTER (WHERE NOT lost AND ugc), 0) AS ugc,
               coalesce(sum(sign) FILTER (WHERE NOT lost AND sponsored), 0) AS sponsored,
               coalesce(sum(sign) FILTER (WHERE NOT lost AND NOT (nofollow OR ugc OR sponsored)), 0) AS dofollow,
               coalesce(sum(sign) FILTER (WHERE lost AND NOT (nofollow OR ugc OR sponsored)), 0) AS lost_dofollow
        FROM pg_temp.summary_delta
        CROSS JOIN LATERAL unnest('{""}'::text[] || tags) AS t(tag)
        GROUP BY 1, 2, 3, 4, 5
    ) d
    WHERE links <> 0 OR lost <> 0 OR nofollow <> 0 OR ugc <> 0 OR sponsored <> 0
       OR dofollow <> 0 OR lost_dofollow <> 0
    ORDER BY 2, 1, 3, 4, 5
    ON CONFLICT (tag, publication_id, year, placement, reason) DO UPDATE SET
        links = s.links + EXCLUDED.links,
        lost = s.lost + EXCLUDED.lost,
        nofollow = s.nofollow + EXCLUDED.nofollow,
        ugc = s.ugc + EXCLUDED.ugc,
        sponsored = s.sponsored + EXCLUDED.sponsored,
        dofollow = s.dofollow + EXCLUDED.dofollow,
        lost_dofollow = s.lost_dofollow + EXCLUDED.lost_dofollow;

    INSERT INTO tag_stats AS s (tag, year, placement, reason, links, lost,
                                  nofollow, ugc, sponsored, dofollow, lost_dofollow)
    SELECT * FROM (
        SELECT t.tag, year, placement, reason, sum(sign) AS links,
               coalesce(sum(sign) FILTER (WHERE lost), 0) AS lost,
               coalesce(sum(sign) FILTER (WHERE NOT lost AND nofollow), 0) AS nofollow,
               coalesce(sum(sign) FILTER (WHERE NOT lost AND ugc), 0) AS ugc,
               coalesce(sum(sign) FILTER (WHERE NOT lost AND sponsored), 0) AS sponsored,
               coalesce(sum(sign) FILTER (WHERE NOT lost AND NOT (nofollow OR ugc OR sponsored)), 0) AS dofollow,
               coalesce(sum(sign) FILTER (WHERE lost AND NOT (nofollow OR ugc OR sponsored)), 0) AS lost_dofollow
        FROM pg_temp.summary_delta
        CROSS JOIN LATERAL unnest('{""}'::text[] || tags) AS t(tag)
        GROUP BY 1, 2, 3, 4
    ) d
    WHERE links <> 0 OR lost <> 0 OR nofollow <> 0 OR ugc <> 0 OR sponsored <> 0
       OR dofollow <> 0 OR lost_dofollow <> 0
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (tag, year, placement, reason) DO UPDATE SET
        links = s.links + EXCLUDED.links,
        lost = s.lost + EXCLUDED.lost,
        nofollow = s.nofollow + EXCLUDED.nofollow,
        ugc = s.ugc + EXCLUDED.ugc,
        sponsored = s.sponsored + EXCLUDED.sponsored,
        dofollow = s.dofollow + EXCLUDED.dofollow,
        lost_dofollow = s.lost_dofollow + EXCLUDED.lost_dofollow;

    INSERT INTO publication_stats AS s (publication_id, placement, links, nofollow, ugc,
                                        sponsored, dofollow)
    SELECT * FROM (
        SELECT publication_id, placement, sum(sign) AS links,
               coalesce(sum(sign) FILTER (WHERE nofollow), 0) AS nofollow,
               coalesce(sum(sign) FILTER (WHERE ugc), 0) AS ugc,
               coalesce(sum(sign) FILTER (WHERE sponsored), 0) AS sponsored,
               coalesce(sum(sign) FILTER (WHERE NOT (nofollow OR ugc OR sponsored)), 0) AS dofollow
        FROM pg_temp.summary_delta WHERE NOT lost GROUP BY 1, 2
    ) d
    WHERE links <> 0 OR nofollow <> 0 OR ugc <> 0 OR sponsored <> 0 OR dofollow <> 0
    ORDER BY 1, 2
    ON CONFLICT (publication_id, placement) DO UPDATE SET
        links = s.links + EXCLUDED.links,
        nofollow = s.nofollow + EXCLUDED.nofollow,
        ugc = s.ugc + EXCLUDED.ugc,
        sponsored = s.sponsored + EXCLUDED.sponsored,
        dofollow = s.dofollow + EXCLUDED.dofollow;

    INSERT INTO domain_totals AS s (domain_id, links, lost, nofollow, ugc, sponsored, dofollow,
                                    passing)
    SELECT * FROM (
        SELECT domain_id,
               coalesce(sum(sign) FILTER (WHERE NOT lost), 0) AS links,
               coalesce(sum(sign) FILTER (WHERE lost), 0) AS lost,
               coalesce(sum(sign) FILTER (WHERE NOT lost AND nofollow), 0) AS nofollow,
               coalesce(sum(sign) FILTER (WHERE NOT lost AND ugc), 0) AS ugc,
               coalesce(sum(sign) FILTER (WHERE NOT lost AND sponsored), 0) AS sponsored,
               coalesce(sum(sign) FILTER (WHERE NOT lost AND NOT (nofollow OR ugc OR sponsored)), 0)
                   AS dofollow,
               coalesce(sum(sign) FILTER (WHERE reason = 'follow'), 0) AS passing
        FROM pg_temp.summary_delta GROUP BY 1
    ) d
    WHERE links <> 0 OR lost <> 0 OR nofollow <> 0 OR ugc <> 0 OR sponsored <> 0
       OR dofollow <> 0 OR passing <> 0
    ORDER BY 1
    ON CONFLICT (domain_id) DO UPDATE SET
        links = s.links + EXCLUDED.links,
        lost = s.lost + EXCLUDED.lost,
        nofollow = s.nofollow + EXCLUDED.nofollow,
        ugc = s.ugc + EXCLUDED.ugc,
        sponsored = s.sponsored + EXCLUDED.sponsored,
        dofollow = s.dofollow + EXCLUDED.dofollow,
        passing = s.passing + EXCLUDED.passing;

    -- Reference counts, live links only. "came" is +1 when a count rises from
    -- zero and -1 when it falls to zero.
    WITH d AS (
        SELECT domain_id, post_id, sum(sign) AS links,
               coalesce(sum(sign) FILTER (WHERE NOT (nofollow OR ugc OR sponsored)), 0) AS dofollow
        FROM pg_temp.summary_delta WHERE NOT lost GROUP BY 1, 2
    ), up AS (
        INSERT INTO domain_posts AS t SELECT * FROM d WHERE links <> 0 OR dofollow <> 0
        ORDER BY 1, 2
        ON CONFLICT (domain_id, post_id) DO UPDATE SET
            links = t.links + EXCLUDED.links, dofollow = t.dofollow + EXCLUDED.dofollow
        RETURNING t.domain_id, t.post_id, t.links
    ), came AS (
        SELECT up.domain_id,
               sum(CASE WHEN up.links > 0 AND up.links = d.links THEN 1
                        WHEN up.links = 0 AND d.links < 0 THEN -1 ELSE 0 END) AS n
        FROM up JOIN d USING (domain_id, post_id) GROUP BY 1
    )
    UPDATE domain_totals s SET posts = s.posts + came.n
    FROM came WHERE s.domain_id = came.domain_id AND came.n <> 0;
    IF shrinks THEN
        DELETE FROM domain_posts t USING (SELECT DISTINCT domain_id, post_id FROM pg_temp.summary_delta
                                          WHERE sign < 0) d
        WHERE t.domain_id = d.domain_id AND t.post_id = d.post_id AND t.links = 0;
    END IF;

    WITH d AS (
        SELECT domain_id, author_id, sum(sign) AS links
        FROM pg_temp.summary_delta WHERE NOT lost GROUP BY 1, 2
    ), up AS (
        INSERT INTO domain_authors AS t SELECT * FROM d WHERE links <> 0 ORDER BY 1, 2
        ON CONFLICT (domain_id, author_id) DO UPDATE SET links = t.links + EXCLUDED.links
        RETURNING t.domain_id, t.author_id, t.links
    ), came AS (
        SELECT up.domain_id,
               sum(CASE WHEN up.links > 0 AND up.links = d.links THEN 1
                        WHEN up.links = 0 AND d.links < 0 THEN -1 ELSE 0 END) AS n
        FROM up JOIN d ON d.domain_id = up.domain_id
                      AND d.author_id IS NOT DISTINCT FROM up.author_id
        WHERE up.author_id IS NOT NULL GROUP BY 1
    )
    UPDATE domain_totals s SET authors = s.authors + came.n
    FROM came WHERE s.domain_id = came.domain_id AND came.n <> 0;
    IF shrinks THEN
        DELETE FROM domain_authors t USING (SELECT DISTINCT domain_id, author_id
                                            FROM pg_temp.summary_delta WHERE sign < 0) d
        WHERE t.domain_id = d.domain_id AND t.author_id IS NOT DISTINCT FROM d.author_id
          AND t.links = 0;
    END IF;

    WITH d AS (
        SELECT domain_id, publication_id, sum(sign) AS links,
               coalesce(sum(sign) FILTER (WHERE nofollow), 0) AS nofollow,
               coalesce(sum(sign) FILTER (WHERE ugc), 0) AS ugc,
               coalesce(sum(sign) FILTER (WHERE sponsored), 0) AS sponsored,
               coalesce(sum(sign) FILTER (WHERE NOT (nofollow OR ugc OR sponsored)), 0) AS dofollow
        FROM pg_temp.summary_delta WHERE NOT lost GROUP BY 1, 2
    ), up AS (
        INSERT INTO domain_publications AS t SELECT * FROM d
        WHERE links <> 0 OR nofollow <> 0 OR ugc <> 0 OR sponsored <> 0 OR dofollow <> 0
        ORDER BY 1, 2
        ON CONFLICT (domain_id, publication_id) DO UPDATE SET
            links = t.links + EXCLUDED.links, nofollow = t.nofollow + EXCLUDED.nofollow,
            ugc = t.ugc + EXCLUDED.ugc, sponsored = t.sponsored + EXCLUDED.sponsored,
            dofollow = t.dofollow + EXCLUDED.dofollow
        RETURNING t.domain_id, t.publication_id, t.links
    ), came AS (
        SELECT up.domain_id,
               sum(CASE WHEN up.links > 0 AND up.links = d.links THEN 1
                        WHEN up.links = 0 AND d.links < 0 THEN -1 ELSE 0 END) AS n
        FROM up JOIN d ON d.domain_id = up.domain_id
                      AND d.publication_id IS NOT DISTINCT FROM up.publication_id
        WHERE up.publication_id IS NOT NULL GROUP BY 1
    )
    UPDATE domain_totals s SET publications = s.publications + came.n
    FROM came WHERE s.domain_id = came.domain_id AND came.n <> 0;
    IF shrinks THEN
        DELETE FROM domain_publications t USING (SELECT DISTINCT domain_id, publication_id
                                                 FROM pg_temp.summary_delta WHERE sign < 0) d
        WHERE t.domain_id = d.domain_id AND t.publication_id IS NOT DISTINCT FROM d.publication_id
          AND t.links = 0;
    END IF;

    WITH d AS (
        SELECT post_id, publication_id, year, tags, sum(sign) AS links,
               coalesce(sum(sign) FILTER (WHERE NOT (nofollow OR ugc OR sponsored)), 0) AS dofollow
        FROM pg_temp.summary_delta WHERE NOT lost GROUP BY 1, 2, 3, 4
    ), up AS (
        INSERT INTO post_groups AS t SELECT * FROM d WHERE links <> 0 OR dofollow <> 0
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (post_id, publication_id, year, tags) DO UPDATE SET
            links = t.links + EXCLUDED.links, dofollow = t.dofollow + EXCLUDED.dofollow
        RETURNING t.post_id, t.publication_id, t.year, t.tags, t.links
    ), came AS (
        SELECT up.publication_id, g.tag, up.year,
               sum(CASE WHEN up.links > 0 AND up.links = d.links THEN 1
                        WHEN up.links = 0 AND d.links < 0 THEN -1 ELSE 0 END) AS n
        FROM up JOIN d ON d.post_id = up.post_id
                      AND d.publication_id IS NOT DISTINCT FROM up.publication_id
                      AND d.year IS NOT DISTINCT FROM up.year AND d.tags = up.tags
        CROSS JOIN LATERAL unnest('{""}'::text[] || up.tags) AS g(tag)
        GROUP BY 1, 2, 3
    )
    INSERT INTO group_posts AS s (publication_id, tag, year, posts)
    SELECT * FROM came WHERE n <> 0 ORDER BY 2, 1, 3
    ON CONFLICT (tag, publication_id, year) DO UPDATE SET posts = s.posts + EXCLUDED.posts;
    IF shrinks THEN
        DELETE FROM post_groups t USING (SELECT DISTINCT post_id FROM pg_temp.summary_delta
                                         WHERE sign < 0) d
        WHERE t.post_id = d.post_id AND t.links = 0 AND t.dofollow = 0;
    END IF;

    TRUNCATE pg_temp.summary_delta;
END
$$;

-- One link's facets on its post: what each summary groups and counts it by.
CREATE FUNCTION summaries_facets(sign integer, l links, p posts)
RETURNS TABLE (sign integer, domain_id bigint, post_id bigint, author_id bigint,
               publication_id bigint, month date, year integer, tags text[], placement text,
               reason text, lost boolean, nofollow boolean, ugc boolean, sponsored boolean)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sign, l.domain_id, l.post_id, p.author_id, p.publication_id,
           date_trunc('month', p.first_published_at AT TIME ZONE 'UTC')::date,
           extract(year FROM p.first_published_at AT TIME ZONE 'UTC')::integer,
           p.tags, link_placement(l.location, l.kind, l.block), link_verdict(l, p),
           l.lost_at IS NOT NULL, l.nofollow, l.ugc, l.sponsored
$$;

CREATE FUNCTION summaries_links_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM summaries_delta_table();
    INSERT INTO pg_temp.summary_delta
    SELECT f.* FROM new_links n JOIN posts p ON p.post_id = n.post_id,
         LATERAL summaries_facets(1, n, p) f;
    PERFORM summaries_apply();
    RETURN NULL;
END
$$;

CREATE FUNCTION summaries_links_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM summaries_delta_table();
    INSERT INTO pg_temp.summary_delta
    SELECT f.* FROM old_links o JOIN posts p ON p.post_id = o.post_id,
         LATERAL summaries_facets(-1, o, p) f;
    PERFORM summaries_apply();
    RETURN NULL;
END
$$;

CREATE FUNCTION summaries_links_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM summaries_delta_table();
    INSERT INTO pg_temp.summary_delta
    SELECT f.* FROM old_links o JOIN posts p ON p.post_id = o.post_id,
         LATERAL summaries_facets(-1, o, p) f
    UNION ALL
    SELECT f.* FROM new_links n JOIN posts p ON p.post_id = n.post_id,
         LATERAL summaries_facets(1, n, p) f;
    PERFORM summaries_apply();
    RETURN NULL;
END
$$;

-- A post's facts move its links between verdicts and groups: each of its links
-- leaves the groups of the old row and joins those of the new one. Only posts
-- whose summarised columns changed are looked at.
CREATE FUNCTION summaries_posts_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM summaries_delta_table();
    INSERT INTO pg_temp.summary_delta
    SELECT f.* FROM old_posts o JOIN new_posts n ON n.post_id = o.post_id
         JOIN links l ON l.post_id = o.post_id, LATERAL summaries_facets(-1, l, o) f
    WHERE (o.status, o.complete, o.facts_at, o.robots, o.x_robots, o.canonical_elsewhere,
           o.first_published_at, o.author_id, o.publication_id, o.tags)
          IS DISTINCT FROM
          (n.status, n.complete, n.facts_at, n.robots, n.x_robots, n.canonical_elsewhere,
           n.first_published_at, n.author_id, n.publication_id, n.tags)
    UNION ALL
    SELECT f.* FROM old_posts o JOIN new_posts n ON n.post_id = o.post_id
         JOIN links l ON l.post_id = o.post_id, LATERAL summaries_facets(1, l, n) f
    WHERE (o.status, o.complete, o.facts_at, o.robots, o.x_robots, o.canonical_elsewhere,
           o.first_published_at, o.author_id, o.publication_id, o.tags)
          IS DISTINCT FROM
          (n.status, n.complete, n.facts_at, n.robots, n.x_robots, n.canonical_elsewhere,
           n.first_published_at, n.author_id, n.publication_id, n.tags);
    PERFORM summaries_apply();
    RETURN NULL;
END
$$;

CREATE TRIGGER summaries_links_ins AFTER INSERT ON links
    REFERENCING NEW TABLE AS new_links FOR EACH STATEMENT
    EXECUTE FUNCTION summaries_links_inserted();
CREATE TRIGGER summaries_links_upd AFTER UPDATE ON links
    REFERENCING OLD TABLE AS old_links NEW TABLE AS new_links FOR EACH STATEMENT
    EXECUTE FUNCTION summaries_links_updated();
CREATE TRIGGER summaries_links_del AFTER DELETE ON links
    REFERENCING OLD TABLE AS old_links FOR EACH STATEMENT
    EXECUTE FUNCTION summaries_links_deleted();
CREATE TRIGGER summaries_posts_upd AFTER UPDATE ON posts
    REFERENCING OLD TABLE AS old_posts NEW TABLE AS new_posts FOR EACH STATEMENT
    EXECUTE FUNCTION summaries_posts_updated();

-- The same counts from scratch, in plain GROUP BYs over every link, into
-- temporary recount_* tables: `harvest db check` compares them with the
-- maintained ones, and summaries_rebuild puts them in place.
CREATE FUNCTION summaries_recount() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DROP TABLE IF EXISTS pg_temp.recount_facets, pg_temp.recount_domain_stats,
        pg_temp.recount_group_stats, pg_temp.recount_tag_stats, pg_temp.recount_publication_stats,
        pg_temp.recount_domain_totals, pg_temp.recount_domain_posts,
        pg_temp.recount_domain_authors, pg_temp.recount_domain_publications,
        pg_temp.recount_post_groups, pg_temp.recount_group_posts;
    CREATE TEMP TABLE recount_facets AS
    SELECT f.* FROM links l JOIN posts p ON p.post_id = l.post_id,
         LATERAL summaries_facets(1, l, p) f;

    CREATE TEMP TABLE recount_domain_stats AS
    SELECT domain_id, month, placement, reason, count(*) AS links,
           count(*) FILTER (WHERE lost) AS lost,
           count(*) FILTER (WHERE NOT lost AND nofollow) AS nofollow,
           count(*) FILTER (WHERE NOT lost AND ugc) AS ugc,
           count(*) FILTER (WHERE NOT lost AND sponsored) AS sponsored,
           count(*) FILTER (WHERE NOT lost AND NOT (nofollow OR ugc OR sponsored)) AS dofollow,
           count(*) FILTER (WHERE lost AND NOT (nofollow OR ugc OR sponsored)) AS lost_dofollow
    FROM recount_facets GROUP BY 1, 2, 3, 4;

    CREATE TEMP TABLE recount_group_stats AS
    SELECT publication_id, t.tag, year, placement, reason, count(*) AS links,
           count(*) FILTER (WHERE lost) AS lost,
           count(*) FILTER (WHERE NOT lost AND nofollow) AS nofollow,
           count(*) FILTER (WHERE NOT lost AND ugc) AS ugc,
           count(*) FILTER (WHERE NOT lost AND sponsored) AS sponsored,
           count(*) FILTER (WHERE NOT lost AND NOT (nofollow OR ugc OR sponsored)) AS dofollow,
           count(*) FILTER (WHERE lost AND NOT (nofollow OR ugc OR sponsored)) AS lost_dofollow
    FROM recount_facets CROSS JOIN LATERAL unnest('{""}'::text[] || tags) AS t(tag)
    GROUP BY 1, 2, 3, 4, 5;

    CREATE TEMP TABLE recount_tag_stats AS
    SELECT t.tag, year, placement, reason, count(*) AS links,
           count(*) FILTER (WHERE lost) AS lost,
           count(*) FILTER (WHERE NOT lost AND nofollow) AS nofollow,
           count(*) FILTER (WHERE NOT lost AND ugc) AS ugc,
           count(*) FILTER (WHERE NOT lost AND sponsored) AS sponsored,
           count(*) FILTER (WHERE NOT lost AND NOT (nofollow OR ugc OR sponsored)) AS dofollow,
           count(*) FILTER (WHERE lost AND NOT (nofollow OR ugc OR sponsored)) AS lost_dofollow
    FROM recount_facets CROSS JOIN LATERAL unnest('{""}'::text[] || tags) AS t(tag)
    GROUP BY 1, 2, 3, 4;

    CREATE TEMP TABLE recount_publication_stats AS
    SELECT publication_id, placement, count(*) AS links,
           count(*) FILTER (WHERE nofollow) AS nofollow,
           count(*) FILTER (WHERE ugc) AS ugc,
           count(*) FILTER (WHERE sponsored) AS sponsored,
           count(*) FILTER (WHERE NOT (nofollow OR ugc OR sponsored)) AS dofollow
    FROM recount_facets WHERE NOT lost GROUP BY 1, 2;

    CREATE TEMP TABLE recount_domain_posts AS
    SELECT domain_id, post_id, count(*) AS links,
           count(*) FILTER (WHERE NOT (nofollow OR ugc OR sponsored)) AS dofollow
    FROM recount_facets WHERE NOT lost GROUP BY 1, 2;

    CREATE TEMP TABLE recount_domain_authors AS
    SELECT domain_id, author_id, count(*) AS links
    FROM recount_facets WHERE NOT lost GROUP BY 1, 2;

    CREATE TEMP TABLE recount_domain_publications AS
    SELECT domain_id, publication_id, count(*) AS links,
           count(*) FILTER (WHERE nofollow) AS nofollow,
           count(*) FILTER (WHERE ugc) AS ugc,
           count(*) FILTER (WHERE sponsored) AS sponsored,
           count(*) FILTER (WHERE NOT (nofollow OR ugc OR sponsored)) AS dofollow
    FROM recount_facets WHERE NOT lost GROUP BY 1, 2;

    CREATE TEMP TABLE recount_post_groups AS
    SELECT post_id, publication_id, year, tags, count(*) AS links,
           count(*) FILTER (WHERE NOT (nofollow OR ugc OR sponsored)) AS dofollow
    FROM recount_facets WHERE NOT lost GROUP BY 1, 2, 3, 4;

    CREATE TEMP TABLE recount_group_posts AS
    SELECT publication_id, t.tag, year, count(*) AS posts
    FROM recount_post_groups CROSS JOIN LATERAL unnest('{""}'::text[] || tags) AS t(tag)
    GROUP BY 1, 2, 3;

    CREATE TEMP TABLE recount_domain_totals AS
    SELECT f.*, coalesce(dp.n, 0) AS posts, coalesce(da.n, 0) AS authors,
           coalesce(dpub.n, 0) AS publications
    FROM (SELECT domain_id,
                 count(*) FILTER (WHERE NOT lost) AS links,
                 count(*) FILTER (WHERE lost) AS lost,
                 count(*) FILTER (WHERE NOT lost AND nofollow) AS nofollow,
                 count(*) FILTER (WHERE NOT lost AND ugc) AS ugc,
                 count(*) FILTER (WHERE NOT lost AND sponsored) AS sponsored,
                 count(*) FILTER (WHERE NOT lost AND NOT (nofollow OR ugc OR sponsored)) AS dofollow,
                 count(*) FILTER (WHERE reason = 'follow') AS passing
          FROM recount_facets GROUP BY 1) f
    LEFT JOIN (SELECT domain_id, count(*) AS n FROM recount_domain_posts GROUP BY 1) dp
           USING (domain_id)
    LEFT JOIN (SELECT domain_id, count(*) AS n FROM recount_domain_authors
               WHERE author_id IS NOT NULL GROUP BY 1) da USING (domain_id)
    LEFT JOIN (SELECT domain_id, count(*) AS n FROM recount_domain_publications
               WHERE publication_id IS NOT NULL GROUP BY 1) dpub USING (domain_id);
    DROP TABLE pg_temp.recount_facets;
END
$$;

-- Recount and put the recount in place: the migration's first fill, and
-- `harvest db check --repair`.
CREATE FUNCTION summaries_rebuild() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    name text;
BEGIN
    PERFORM summaries_recount();
    FOREACH name IN ARRAY ARRAY['domain_stats', 'group_stats', 'tag_stats', 'publication_stats',
                                'domain_totals', 'domain_posts',
                                'domain_authors', 'domain_publications', 'post_groups',
                                'group_posts'] LOOP
        EXECUTE format('TRUNCATE %I', name);
        EXECUTE format('INSERT INTO %I SELECT * FROM pg_temp.%I', name, 'recount_' || name);
        EXECUTE format('DROP TABLE pg_temp.%I', 'recount_' || name);
    END LOOP;
END
$$;

-- One vocabulary (README.md, "Field names"): the views name a link's target
-- domain and host as every command and export does, and count links as
-- links, nofollow_links, ugc_links, sponsored_links, dofollow_links and
-- passing_links. domain_summary and rel_summary read the summaries now, so they
-- answer at any size.
DROP VIEW backlinks;
DROP VIEW domain_summary;
DROP VIEW rel_summary;
CREATE VIEW backlinks AS
SELECT d.domain                              AS domain,
       h.host                                AS host,
       l.target_url,
       coalesce(l.target_url_raw, l.target_url) AS target_url_raw,
       p.medium_id                           AS post_id,
       coalesce(p.canonical_url, p.url)      AS post_url,
       p.title                               AS post_title,
       a.username                            AS author,
       a.name                                AS author_name,
       pub.key                               AS publication,
       l.anchor_text,
       l.rel,
       l.nofollow,
       l.ugc,
       l.sponsored,
       NOT (l.nofollow OR l.ugc OR l.sponsored) AS dofollow,
       l.location,
       l.kind,
       l.block,
       l.position,
       p.first_published_at,
       l.first_seen,
       l.last_seen,
       l.lost_at,
       v.reason = 'follow'                   AS passes,
       v.reason,
       p.status                              AS post_status,
       p.access                              AS post_access,
       p.complete                            AS post_complete,
       p.robots || p.x_robots                AS page_robots,
       p.canonical_elsewhere
FROM links l
JOIN domains d ON d.domain_id = l.domain_id
JOIN hosts h ON h.host_id = l.host_id
JOIN posts p ON p.post_id = l.post_id
LEFT JOIN authors a ON a.author_id = p.author_id
LEFT JOIN publications pub ON pub.publication_id = p.publication_id
CROSS JOIN LATERAL (SELECT link_verdict(l, p) AS reason) v;

CREATE VIEW domain_summary AS
SELECT d.domain, t.links, t.posts, t.authors, t.publications,
       t.nofollow AS nofollow_links, t.ugc AS ugc_links, t.sponsored AS sponsored_links,
       t.dofollow AS dofollow_links, t.passing AS passing_links, t.lost AS lost_links,
       round(t.nofollow::numeric / t.links, 4) AS nofollow_share
FROM domain_totals t JOIN domains d USING (domain_id)
WHERE t.links > 0;

CREATE VIEW rel_summary AS
SELECT 'publication'::text AS dimension, coalesce(pub.key, '(none)') AS value,
       sum(s.links - s.lost) AS links, sum(s.nofollow) AS nofollow_links,
       sum(s.ugc) AS ugc_links, sum(s.sponsored) AS sponsored_links,
       sum(s.dofollow) AS dofollow_links
FROM group_stats s LEFT JOIN publications pub USING (publication_id)
WHERE s.tag = '' GROUP BY 2 HAVING sum(s.links - s.lost) > 0
UNION ALL
SELECT 'tag', s.tag, sum(s.links - s.lost), sum(s.nofollow), sum(s.ugc), sum(s.sponsored),
       sum(s.dofollow)
FROM group_stats s WHERE s.tag <> '' GROUP BY 2 HAVING sum(s.links - s.lost) > 0
UNION ALL
SELECT 'year', coalesce(s.year::text, '(unknown)'), sum(s.links - s.lost), sum(s.nofollow),
       sum(s.ugc), sum(s.sponsored), sum(s.dofollow)
FROM group_stats s WHERE s.tag = '' GROUP BY 2 HAVING sum(s.links - s.lost) > 0;

SELECT summaries_rebuild();
