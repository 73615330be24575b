-- Pages a crawl could not harvest: fetches that failed for good (after every
-- retry) and pages the parsers did not recognize, with the reason, so that
-- `harvest crawl-report RUN` can list them and `harvest reparse` can retry
-- the kept raw HTML of unparsed pages.
CREATE TABLE crawl_failures (
    failure_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      bigint REFERENCES crawl_runs,
    url         text        NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('failed', 'unparsed')),
    reason      text        NOT NULL,
    at          timestamptz NOT NULL,
    raw_path    text
);
CREATE INDEX crawl_failures_run_idx ON crawl_failures (run_id);
