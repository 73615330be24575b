-- Where harvest's GraphQL walks (a tag's, user's or publication's whole list of
-- posts, or a tag's month) last ended. A walk is recorded only when it reached
-- its end and its crawl finished with every page harvested, so the next crawl
-- of the same listing lists only posts newer than `newest` (and skips months
-- walked whole after they ended) without losing any post of a crawl that failed.
CREATE TABLE listing_walks (
    walk      text PRIMARY KEY,           -- the listing page: https://medium.com/tag/seo/archive
    newest    timestamptz,                -- the newest first-publish time walked
    posts     integer     NOT NULL,       -- posts the last walk listed
    requests  integer     NOT NULL,       -- GraphQL requests it took
    walked_at timestamptz NOT NULL,
    run_id    bigint REFERENCES crawl_runs (run_id) ON DELETE SET NULL
);

