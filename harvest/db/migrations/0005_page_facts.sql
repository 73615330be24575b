-- What a Medium backlink is worth: the page facts of each post's newest fetch,
-- their history, the post's status, and a verdict per link.
--
-- A link passes value only when its post is still there, the link is still on
-- it, a logged-out reader sees it, the page may be indexed and followed, the
-- page is its own canonical, and the anchor carries no nofollow, ugc or
-- sponsored. README.md ("Is a Medium backlink worth anything?") explains each.

ALTER TABLE posts
    -- from the page (harvest.medium.facts)
    ADD COLUMN access              text CHECK (access IN ('public', 'member_only')),
    ADD COLUMN access_markers      text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN complete            boolean,
    ADD COLUMN paragraphs_seen     integer,
    ADD COLUMN paragraphs_total    integer,
    ADD COLUMN words_seen          integer,
    ADD COLUMN word_count          integer,
    ADD COLUMN robots              text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN canonical_elsewhere boolean NOT NULL DEFAULT false,
    ADD COLUMN language            text,
    ADD COLUMN latest_published_at timestamptz,
    ADD COLUMN updated_at          timestamptz,
    ADD COLUMN author_followers    bigint,
    ADD COLUMN publication_followers bigint,
    ADD COLUMN claps               bigint,
    ADD COLUMN responses           bigint,
    -- from the HTTP exchange
    ADD COLUMN http_status         integer,
    ADD COLUMN redirects           text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN fulfilled_by        text,
    ADD COLUMN x_robots            text[]  NOT NULL DEFAULT '{}',
    -- live | member_only | moved (the fetch was redirected to another address)
    -- | deleted (404, 410) | suspended (410 naming Medium's rules)
    ADD COLUMN status              text    NOT NULL DEFAULT 'live'
        CHECK (status IN ('live', 'member_only', 'moved', 'deleted', 'suspended')),
    ADD COLUMN status_at           timestamptz,
    -- the fetch the facts above come from (last_crawled_at may be a failed fetch's)
    ADD COLUMN facts_at            timestamptz;

-- One row per fetch that changed what the page says about its links.
CREATE TABLE post_history (
    post_id             bigint      NOT NULL REFERENCES posts,
    at                  timestamptz NOT NULL,
    run_id              bigint,
    status              text        NOT NULL,
    access              text,
    complete            boolean,
    robots              text[]      NOT NULL DEFAULT '{}',
    x_robots            text[]      NOT NULL DEFAULT '{}',
    canonical_url       text,
    canonical_elsewhere boolean     NOT NULL DEFAULT false,
    http_status         integer,
    PRIMARY KEY (post_id, at)
);

-- The verdict's one home: why a link does or does not pass value, first reason
-- that applies. Page-level reasons follow the anchor's own, so that "dofollow
-- exceptions" (followed anchors that still pass nothing) read off page_* and
-- canonical_elsewhere alone.
CREATE FUNCTION link_reason(
    post_status text, lost_at timestamptz, preview_missing boolean,
    sponsored boolean, ugc boolean, nofollow boolean,
    robots text[], x_robots text[], canonical_elsewhere boolean
) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN post_status IN ('deleted', 'suspended') THEN 'post_' || post_status
        WHEN lost_at IS NOT NULL THEN 'lost'
        WHEN preview_missing THEN 'preview_only'
        WHEN sponsored THEN 'sponsored'
        WHEN ugc THEN 'ugc'
        WHEN nofollow THEN 'nofollow'
        WHEN robots && '{noindex,none}' OR x_robots && '{noindex,none}' THEN 'page_noindex'
        WHEN robots && '{nofollow,none}' OR x_robots && '{nofollow,none}' THEN 'page_nofollow'
        WHEN canonical_elsewhere THEN 'canonical_elsewhere'
        ELSE 'follow'
    END
$$;

-- A link a member-only preview did not show: on the post before, not in the
-- newest (incomplete) fetch, so neither seen again nor lost.
CREATE FUNCTION link_preview_missing(complete boolean, last_seen timestamptz,
                                     facts_at timestamptz, lost_at timestamptz)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(complete, true) IS FALSE AND lost_at IS NULL AND last_seen < facts_at
$$;

-- The verdict of one link on its post, wired once: the views and harvest's
-- queries (harvest.db.report.REASON_SQL) call this, not link_reason's arguments.
CREATE FUNCTION link_verdict(l links, p posts)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT link_reason(p.status, l.lost_at,
                       link_preview_missing(p.complete, l.last_seen, p.facts_at, l.lost_at),
                       l.sponsored, l.ugc, l.nofollow, p.robots, p.x_robots,
                       p.canonical_elsewhere)
$$;

-- backlinks grows the verdict and the page facts behind it (new columns last,
-- as CREATE OR REPLACE VIEW requires).
CREATE OR REPLACE VIEW backlinks AS
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

CREATE OR REPLACE VIEW domain_summary AS
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
       max(l.last_seen)                           AS last_seen,
       count(*) FILTER (WHERE link_verdict(l, p) = 'follow') AS passing_links
FROM links l
JOIN domains d ON d.domain_id = l.domain_id
JOIN posts p ON p.post_id = l.post_id
WHERE l.lost_at IS NULL
GROUP BY d.domain;
