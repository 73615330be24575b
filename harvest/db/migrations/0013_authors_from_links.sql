-- Distinct authors per domain are counted from links, as 0012 counts distinct
-- posts: domain_authors (a reference count per domain and author, 702 MB at
-- 10^7 links, 74 bytes per link, and the most expensive upsert of a fold)
-- goes.
--
-- A fold reads the live links of the authors its facets touch (their posts
-- off posts_author_idx, each post's links under the primary key) and
-- compares each touched domain's count now with the count less the fold's
-- net change: a domain gains an author whose count rose from zero and loses
-- one whose count fell to it. The read grows with the touched authors' links
-- (bench/query.py's harvest: ~200 a post; one of Medium's most prolific
-- authors writes a few thousand posts), where the upsert grew with the table.
-- A post that moves to another author leaves the old author's facets with
-- -1 and the new one's with +1, and posts says who its author is now, so the
-- same comparison holds.

DROP TABLE domain_authors;

CREATE FUNCTION summaries_authors() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WITH d AS (
        SELECT domain_id, author_id, sum(sign) AS delta
        FROM pg_temp.summary_delta WHERE NOT lost AND author_id IS NOT NULL GROUP BY 1, 2
        HAVING sum(sign) <> 0
    ), authors AS MATERIALIZED (
        SELECT DISTINCT author_id FROM d
    ), live AS (
        -- every live link of the authors' posts, grouped: one index range per
        -- post (filtering by the touched domains first would probe a post's
        -- links once per pair)
        SELECT l.domain_id, p.author_id, count(*) AS links
        FROM authors a JOIN posts p ON p.author_id = a.author_id
        JOIN links l ON l.post_id = p.post_id
        WHERE l.lost_at IS NULL
        GROUP BY 1, 2
    )
    UPDATE domain_totals s SET authors = s.authors + came.n
    FROM (SELECT d.domain_id,
                 sum((coalesce(live.links, 0) > 0)::int
                     - (coalesce(live.links, 0) - d.delta > 0)::int) AS n
          FROM d LEFT JOIN live USING (domain_id, author_id) GROUP BY 1) came
    WHERE s.domain_id = came.domain_id AND came.n <> 0;
END
$$;

SELECT summaries_patch('summaries_apply_0006', '    WITH d AS (
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
                      AND coalesce(d.author_id, 0) = coalesce(up.author_id, 0)
        WHERE up.author_id IS NOT NULL GROUP BY 1
    )
    UPDATE domain_totals s SET authors = s.authors + came.n
    FROM came WHERE s.domain_id = came.domain_id AND came.n <> 0;
    IF shrinks THEN
        DELETE FROM domain_authors t USING (SELECT DISTINCT domain_id, author_id
                                            FROM pg_temp.summary_delta WHERE sign < 0) d
        WHERE t.domain_id = d.domain_id AND coalesce(t.author_id, 0) = coalesce(d.author_id, 0)
          AND t.links = 0;
    END IF;
',
    '    PERFORM summaries_authors();
');
SELECT summaries_patch('summaries_recount_0006', '    DROP TABLE pg_temp.recount_facets;',
    '    DROP TABLE pg_temp.recount_facets, pg_temp.recount_domain_authors;');
SELECT summaries_patch('summaries_rebuild_0006', '''domain_totals'', ''domain_dofollow_posts'',
                                ''domain_authors'', ',
    '''domain_totals'', ''domain_dofollow_posts'', ');
