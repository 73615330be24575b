-- One write per summary row and fold where a row took two or more: a
-- (tag, domain) row of tag_domains took its links, then its posts; a
-- domain_totals row its links, then its posts, its authors and its
-- publications, four writes of the same row (and as many new row versions
-- and index entries) per fold. Now each row's changes are added up first and
-- written once.

SELECT summaries_patch('summaries_apply_0008', '    INSERT INTO tag_domains AS s (tag, domain_id, links, nofollow, ugc, sponsored, dofollow)
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

', '');
SELECT summaries_patch('summaries_apply_0008', '    WITH came AS (
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

',
    '    -- A (tag, domain) row''s links and its posts move in one write: the posts
    -- are +1 for a post whose live links there rose from zero, -1 for one
    -- whose fell to it; the tag''s domains move with the rows whose posts rose
    -- from zero or fell to it.
    WITH counts AS (
        SELECT t.tag, domain_id, sum(sign) AS links,
               coalesce(sum(sign) FILTER (WHERE nofollow), 0) AS nofollow,
               coalesce(sum(sign) FILTER (WHERE ugc), 0) AS ugc,
               coalesce(sum(sign) FILTER (WHERE sponsored), 0) AS sponsored,
               coalesce(sum(sign) FILTER (WHERE NOT (nofollow OR ugc OR sponsored)), 0) AS dofollow
        FROM pg_temp.summary_delta CROSS JOIN LATERAL unnest(tags) AS t(tag)
        WHERE NOT lost GROUP BY 1, 2
    ), came AS (
        SELECT tag, domain_id, sum((after > 0)::int - (after - delta > 0)::int) AS posts
        FROM pg_temp.group_domain_delta WHERE tag IS NOT NULL GROUP BY 1, 2
    ), d AS (
        SELECT tag, domain_id, coalesce(c.links, 0) AS links, coalesce(c.nofollow, 0) AS nofollow,
               coalesce(c.ugc, 0) AS ugc, coalesce(c.sponsored, 0) AS sponsored,
               coalesce(c.dofollow, 0) AS dofollow, coalesce(came.posts, 0) AS posts
        FROM counts c FULL JOIN came USING (tag, domain_id)
    ), up AS (
        INSERT INTO tag_domains AS s (tag, domain_id, links, nofollow, ugc, sponsored, dofollow,
                                      posts)
        SELECT * FROM d
        WHERE links <> 0 OR nofollow <> 0 OR ugc <> 0 OR sponsored <> 0 OR dofollow <> 0
           OR posts <> 0
        ORDER BY 1, 2
        ON CONFLICT (tag, domain_id) DO UPDATE SET
            links = s.links + EXCLUDED.links,
            nofollow = s.nofollow + EXCLUDED.nofollow,
            ugc = s.ugc + EXCLUDED.ugc,
            sponsored = s.sponsored + EXCLUDED.sponsored,
            dofollow = s.dofollow + EXCLUDED.dofollow,
            posts = s.posts + EXCLUDED.posts
        RETURNING s.tag, s.domain_id, s.posts
    )
    INSERT INTO group_domain_totals AS s (tag, publication_id, domains)
    SELECT * FROM (
        SELECT up.tag, NULL::bigint, sum((up.posts > 0)::int - (up.posts - d.posts > 0)::int) AS n
        FROM up JOIN d USING (tag, domain_id) GROUP BY 1
    ) moved
    WHERE n <> 0 ORDER BY 1
    ON CONFLICT (tag, publication_id) DO UPDATE SET domains = s.domains + EXCLUDED.domains;

');

-- domain_totals: the distinct posts, authors and publications a fold moves
-- are gathered in domain_moves, and the row is written after them, once.
CREATE FUNCTION summaries_moves_table() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.domain_moves') IS NULL THEN
        CREATE TEMP TABLE domain_moves (
            domain_id     bigint NOT NULL,
            posts         bigint NOT NULL DEFAULT 0,
            authors       bigint NOT NULL DEFAULT 0,
            publications  bigint NOT NULL DEFAULT 0
        ) ON COMMIT DELETE ROWS;
    END IF;
END
$$;
SELECT summaries_patch('summaries_apply', '    PERFORM summaries_pairs();
', '    PERFORM summaries_pairs();
    PERFORM summaries_moves_table();
');
SELECT summaries_patch('summaries_apply', '    TRUNCATE pg_temp.summary_pairs;',
    '    TRUNCATE pg_temp.summary_pairs, pg_temp.domain_moves;');
SELECT summaries_patch('summaries_apply_0006', '    INSERT INTO domain_totals AS s (domain_id, links, lost, nofollow, ugc, sponsored, dofollow,
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
               coalesce(sum(sign) FILTER (WHERE reason = ''follow''), 0) AS passing
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

', '');
SELECT summaries_patch('summaries_apply_0006', '    UPDATE domain_totals s SET posts = s.posts + came.n
    FROM (SELECT domain_id, sum((live > 0)::int - (live - delta > 0)::int) AS n
          FROM pg_temp.summary_pairs GROUP BY 1) came
    WHERE s.domain_id = came.domain_id AND came.n <> 0;
',
    '    INSERT INTO pg_temp.domain_moves (domain_id, posts)
    SELECT domain_id, sum((live > 0)::int - (live - delta > 0)::int)
    FROM pg_temp.summary_pairs GROUP BY 1;
');
SELECT summaries_patch('summaries_apply_0006', '    UPDATE domain_totals s SET publications = s.publications + came.n
    FROM came WHERE s.domain_id = came.domain_id AND came.n <> 0;
',
    '    INSERT INTO pg_temp.domain_moves (domain_id, publications)
    SELECT domain_id, n FROM came WHERE n <> 0;

    INSERT INTO domain_totals AS s (domain_id, links, lost, nofollow, ugc, sponsored, dofollow,
                                    passing, posts, authors, publications)
    SELECT * FROM (
        SELECT domain_id, coalesce(c.links, 0) AS links, coalesce(c.lost, 0) AS lost,
               coalesce(c.nofollow, 0) AS nofollow, coalesce(c.ugc, 0) AS ugc,
               coalesce(c.sponsored, 0) AS sponsored, coalesce(c.dofollow, 0) AS dofollow,
               coalesce(c.passing, 0) AS passing, coalesce(m.posts, 0) AS posts,
               coalesce(m.authors, 0) AS authors, coalesce(m.publications, 0) AS publications
        FROM (SELECT domain_id,
                     coalesce(sum(sign) FILTER (WHERE NOT lost), 0) AS links,
                     coalesce(sum(sign) FILTER (WHERE lost), 0) AS lost,
                     coalesce(sum(sign) FILTER (WHERE NOT lost AND nofollow), 0) AS nofollow,
                     coalesce(sum(sign) FILTER (WHERE NOT lost AND ugc), 0) AS ugc,
                     coalesce(sum(sign) FILTER (WHERE NOT lost AND sponsored), 0) AS sponsored,
                     coalesce(sum(sign) FILTER (WHERE NOT lost AND NOT (nofollow OR ugc
                                                                        OR sponsored)), 0)
                         AS dofollow,
                     coalesce(sum(sign) FILTER (WHERE reason = ''follow''), 0) AS passing
              FROM pg_temp.summary_delta GROUP BY 1) c
        FULL JOIN (SELECT domain_id, sum(posts) AS posts, sum(authors) AS authors,
                          sum(publications) AS publications
                   FROM pg_temp.domain_moves GROUP BY 1) m USING (domain_id)
    ) d
    WHERE links <> 0 OR lost <> 0 OR nofollow <> 0 OR ugc <> 0 OR sponsored <> 0
       OR dofollow <> 0 OR passing <> 0 OR posts <> 0 OR authors <> 0 OR publications <> 0
    ORDER BY 1
    ON CONFLICT (domain_id) DO UPDATE SET
        links = s.links + EXCLUDED.links,
        lost = s.lost + EXCLUDED.lost,
        nofollow = s.nofollow + EXCLUDED.nofollow,
        ugc = s.ugc + EXCLUDED.ugc,
        sponsored = s.sponsored + EXCLUDED.sponsored,
        dofollow = s.dofollow + EXCLUDED.dofollow,
        passing = s.passing + EXCLUDED.passing,
        posts = s.posts + EXCLUDED.posts,
        authors = s.authors + EXCLUDED.authors,
        publications = s.publications + EXCLUDED.publications;
');
SELECT summaries_patch('summaries_authors', '    UPDATE domain_totals s SET authors = s.authors + came.n
    FROM (SELECT d.domain_id,
                 sum((coalesce(live.links, 0) > 0)::int
                     - (coalesce(live.links, 0) - d.delta > 0)::int) AS n
          FROM d LEFT JOIN live USING (domain_id, author_id) GROUP BY 1) came
    WHERE s.domain_id = came.domain_id AND came.n <> 0;',
    '    INSERT INTO pg_temp.domain_moves (domain_id, authors)
    SELECT d.domain_id, sum((coalesce(live.links, 0) > 0)::int
                            - (coalesce(live.links, 0) - d.delta > 0)::int)
    FROM d LEFT JOIN live USING (domain_id, author_id) GROUP BY 1;');
