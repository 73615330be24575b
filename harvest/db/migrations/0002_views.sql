-- Views for the questions analysts ask. Plain views: they read the current
-- tables, and a WHERE on their first column reaches the underlying indexes.

-- Who links to a domain: one row per link, newest facts.
CREATE VIEW backlinks AS
SELECT d.domain                              AS target_domain,
       h.host                                AS target_host,
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
       l.lost_at
FROM links l
JOIN domains d ON d.domain_id = l.domain_id
JOIN hosts h ON h.host_id = l.host_id
JOIN posts p ON p.post_id = l.post_id
LEFT JOIN authors a ON a.author_id = p.author_id
LEFT JOIN publications pub ON pub.publication_id = p.publication_id;

-- Per target domain: how much of Medium links there, and how much of it is nofollow.
CREATE VIEW domain_summary AS
SELECT d.domain                                   AS target_domain,
       count(*)                                   AS links,
       count(DISTINCT l.post_id)                  AS posts,
       count(DISTINCT p.author_id)                AS authors,
       count(*) FILTER (WHERE l.nofollow)         AS nofollow_links,
       count(*) FILTER (WHERE l.ugc)              AS ugc_links,
       count(*) FILTER (WHERE l.sponsored)        AS sponsored_links,
       count(*) FILTER (WHERE NOT (l.nofollow OR l.ugc OR l.sponsored)) AS dofollow_links,
       round(avg(l.nofollow::int), 4)             AS nofollow_share,
       min(l.first_seen)                          AS first_seen,
       max(l.last_seen)                           AS last_seen
FROM links l
JOIN domains d ON d.domain_id = l.domain_id
JOIN posts p ON p.post_id = l.post_id
WHERE l.lost_at IS NULL
GROUP BY d.domain;

-- rel distribution by publication, by tag and by first-publish year.
CREATE VIEW rel_summary AS
WITH live AS (
    SELECT l.nofollow, l.ugc, l.sponsored, p.tags, p.first_published_at, pub.key AS publication
    FROM links l
    JOIN posts p ON p.post_id = l.post_id
    LEFT JOIN publications pub ON pub.publication_id = p.publication_id
    WHERE l.lost_at IS NULL
)
SELECT 'publication'::text AS dimension, coalesce(publication, '(none)') AS value,
       count(*) AS links,
       count(*) FILTER (WHERE nofollow) AS nofollow,
       count(*) FILTER (WHERE ugc) AS ugc,
       count(*) FILTER (WHERE sponsored) AS sponsored,
       count(*) FILTER (WHERE NOT (nofollow OR ugc OR sponsored)) AS dofollow
FROM live GROUP BY 2
UNION ALL
SELECT 'tag', tag, count(*),
       count(*) FILTER (WHERE nofollow), count(*) FILTER (WHERE ugc),
       count(*) FILTER (WHERE sponsored),
       count(*) FILTER (WHERE NOT (nofollow OR ugc OR sponsored))
FROM live, unnest(tags) AS tag GROUP BY 2
UNION ALL
SELECT 'year', coalesce(extract(year FROM first_published_at)::int::text, '(unknown)'), count(*),
       count(*) FILTER (WHERE nofollow), count(*) FILTER (WHERE ugc),
       count(*) FILTER (WHERE sponsored),
       count(*) FILTER (WHERE NOT (nofollow OR ugc OR sponsored))
FROM live GROUP BY 2;
