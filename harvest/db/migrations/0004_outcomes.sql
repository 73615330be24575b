-- A crawl's outcome (harvest.crawl.outcome): the run row says why it ended the
-- way it did, and crawl_failures also lists the pages that were blocked
-- (a challenge, or a host the crawl gave up on) and those robots.txt forbids.
ALTER TABLE crawl_runs ADD COLUMN reason text;

ALTER TABLE crawl_failures DROP CONSTRAINT crawl_failures_kind_check;
ALTER TABLE crawl_failures ADD CONSTRAINT crawl_failures_kind_check
    CHECK (kind IN ('failed', 'unparsed', 'blocked', 'skipped'));
