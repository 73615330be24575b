-- A post's live links to a domain (a "pair") are read from links, not kept.
--
-- domain_posts held one row per post and domain it links to: the reference
-- counts behind domain_totals.posts and 0008's distinct posts per group, and
-- the domain report's posts with the most dofollow links. At 10^7 links it
-- was the largest summary (976 MB, 102 bytes per link) and a random upsert
-- per facet in every fold. What it answered is in links already: a fold
-- reads the live links of the posts it folds (they were just written, and a
-- post's links lie together under the primary key), and a pair's count
-- before the fold is its count now less the fold's net change. Folds are
-- serialized and read links in the snapshot that holds every facet they
-- take (0011), so "now" is exactly the state those facets lead to.
--
-- Kept: the pairs with live dofollow links (about one in seven), for the
-- domain report, in domain_dofollow_posts.

CREATE TABLE domain_dofollow_posts (
    domain_id  bigint  NOT NULL,
    post_id    bigint  NOT NULL,
    dofollow   integer NOT NULL CHECK (dofollow > 0),
    PRIMARY KEY (domain_id, post_id)
);
CREATE INDEX domain_dofollow_posts_top_idx
    ON domain_dofollow_posts (domain_id, dofollow DESC, post_id);
INSERT INTO domain_dofollow_posts
SELECT domain_id, post_id, dofollow FROM domain_posts WHERE dofollow > 0 ORDER BY 1, 2;
DROP TABLE domain_posts;

-- Every pair the pending facets touch (a post that moved groups touches its
-- pairs with no net change): its net change of live links, and its live and
-- live dofollow links now. One read of each touched post's links, shared by
-- 0006's distinct posts per domain and 0008's per group.
CREATE FUNCTION summaries_pairs() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.summary_pairs') IS NULL THEN
        CREATE TEMP TABLE summary_pairs (
            domain_id  bigint NOT NULL,
            post_id    bigint NOT NULL,
            delta      bigint NOT NULL,
            live       bigint NOT NULL,
            dofollow   bigint NOT NULL
        ) ON COMMIT DELETE ROWS;
    END IF;
    INSERT INTO pg_temp.summary_pairs
    SELECT d.domain_id, d.post_id, d.delta, coalesce(n.live, 0), coalesce(n.dofollow, 0)
    FROM (SELECT domain_id, post_id, sum(sign) AS delta
          FROM pg_temp.summary_delta WHERE NOT lost GROUP BY 1, 2) d
    LEFT JOIN (SELECT l.domain_id, l.post_id, count(*) AS live,
                      count(*) FILTER (WHERE NOT (l.nofollow OR l.ugc OR l.sponsored)) AS dofollow
               FROM links l
               WHERE l.post_id IN (SELECT post_id FROM pg_temp.summary_delta WHERE NOT lost)
                 AND l.lost_at IS NULL
               GROUP BY 1, 2) n USING (domain_id, post_id);
    ANALYZE pg_temp.summary_pairs;
END
$$;

CREATE OR REPLACE FUNCTION summaries_apply() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM summaries_pairs();
    PERFORM summaries_apply_0009();
    PERFORM summaries_apply_0008();
    PERFORM summaries_apply_0006();
    TRUNCATE pg_temp.summary_pairs;
END
$$;

-- Replaces one text in a summary function's body, checked: the migrations
-- from here on change 0006's and 0008's functions in place this way (as 0011
-- did in a loop of its own), so each function's body keeps one home and a
-- database that is not as expected stops the migration.
CREATE FUNCTION summaries_patch(fn text, old text, new text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    body text := pg_get_functiondef(to_regprocedure(fn || '()'));
BEGIN
    IF position(old IN body) = 0 THEN
        RAISE EXCEPTION '% is not the function this migration expects: %', fn, old;
    END IF;
    EXECUTE replace(body, old, new);
END
$$;

-- 0006's and 0008's functions read the pairs instead of domain_posts.
SELECT summaries_patch('summaries_apply_0006', '    WITH d AS (
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
',
    '    UPDATE domain_totals s SET posts = s.posts + came.n
    FROM (SELECT domain_id, sum((live > 0)::int - (live - delta > 0)::int) AS n
          FROM pg_temp.summary_pairs GROUP BY 1) came
    WHERE s.domain_id = came.domain_id AND came.n <> 0;
    INSERT INTO domain_dofollow_posts AS t
    SELECT domain_id, post_id, dofollow FROM pg_temp.summary_pairs WHERE dofollow > 0
    ORDER BY 1, 2
    ON CONFLICT (domain_id, post_id) DO UPDATE SET dofollow = EXCLUDED.dofollow
    WHERE t.dofollow <> EXCLUDED.dofollow;
    DELETE FROM domain_dofollow_posts t USING pg_temp.summary_pairs d
    WHERE d.dofollow = 0 AND t.domain_id = d.domain_id AND t.post_id = d.post_id;
');
SELECT summaries_patch('summaries_apply_0008', '    WITH pair AS (
        SELECT s.domain_id, s.post_id, coalesce(dp.links, 0) + s.links AS links
        FROM (SELECT domain_id, post_id, sum(sign) AS links FROM pg_temp.summary_delta
              WHERE NOT lost GROUP BY 1, 2) s
        LEFT JOIN domain_posts dp USING (domain_id, post_id)
    ), d AS (',
    '    WITH pair AS (
        SELECT domain_id, post_id, live AS links FROM pg_temp.summary_pairs
    ), d AS (');
SELECT summaries_patch('summaries_recount_0006', 'pg_temp.recount_domain_totals, pg_temp.recount_domain_posts,',
    'pg_temp.recount_domain_totals, pg_temp.recount_domain_posts,
        pg_temp.recount_domain_dofollow_posts,');
SELECT summaries_patch('summaries_recount_0006', '    DROP TABLE pg_temp.recount_facets;',
    '    DROP TABLE pg_temp.recount_facets;
    CREATE TEMP TABLE recount_domain_dofollow_posts AS
    SELECT domain_id, post_id, dofollow FROM pg_temp.recount_domain_posts WHERE dofollow > 0;
    DROP TABLE pg_temp.recount_domain_posts;');
SELECT summaries_patch('summaries_rebuild_0006', '''domain_totals'', ''domain_posts'',',
    '''domain_totals'', ''domain_dofollow_posts'',');
