-- harvest schema, version 1: who links where from Medium.
--
-- Sized for 10^8+ link rows: bigint keys everywhere, target hosts and
-- registered domains in dictionary tables so that links carry two bigints
-- instead of two strings and backlink look-ups are index scans on them.
-- See deploy/README.md for the capacity model.

CREATE TABLE crawl_runs (
    run_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    spider        text        NOT NULL,
    arguments     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    status        text        NOT NULL DEFAULT 'running',
    counts        jsonb       NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE authors (
    author_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text        NOT NULL UNIQUE,
    name          text,
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL
);

-- A publication is known by its slug (medium.com/<slug>), its own domain, or
-- both; "key" is the slug when there is one, else the domain.
CREATE TABLE publications (
    publication_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key           text        NOT NULL UNIQUE,
    slug          text,
    name          text,
    domain        text,
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL
);

CREATE TABLE posts (
    post_id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    medium_id          text        NOT NULL UNIQUE CHECK (medium_id ~ '^[0-9a-f]{10,12}$'),
    url                text,
    canonical_url      text,
    author_id          bigint REFERENCES authors,
    publication_id     bigint REFERENCES publications,
    title              text,
    tags               text[]      NOT NULL DEFAULT '{}',
    first_published_at timestamptz,
    first_crawled_at   timestamptz NOT NULL,
    last_crawled_at    timestamptz NOT NULL,
    last_run_id        bigint REFERENCES crawl_runs
);
CREATE INDEX posts_author_idx ON posts (author_id);
CREATE INDEX posts_publication_idx ON posts (publication_id);

CREATE TABLE domains (
    domain_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain        text NOT NULL UNIQUE
);

CREATE TABLE hosts (
    host_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    host          text   NOT NULL UNIQUE,
    domain_id     bigint NOT NULL REFERENCES domains
);

-- One row per (source post, location, position, normalized target). The key
-- hashes the URL so the primary key index stays narrow whatever the URL length.
--
-- links and author_links carry no FOREIGN KEY constraints on purpose: at 10^8
-- rows the per-row trigger checks cost more than half of a bulk load, and the
-- only writer (harvest.db.store) inserts ids it has just joined from posts,
-- hosts and domains in the same transaction, and never deletes from them.
CREATE TABLE links (
    post_id        bigint      NOT NULL,
    location       text        NOT NULL CHECK (location IN ('body', 'author_bio')),
    position       integer     NOT NULL CHECK (position >= 0),
    url_hash       uuid        NOT NULL GENERATED ALWAYS AS (md5(target_url)::uuid) STORED,
    target_url     text        NOT NULL,
    -- NULL when the href was already in normalized form
    target_url_raw text,
    host_id        bigint      NOT NULL,
    domain_id      bigint      NOT NULL,
    anchor_text    text        NOT NULL DEFAULT '',
    kind           text        NOT NULL CHECK (kind IN ('text', 'image', 'link_card', 'embed')),
    block          text,
    rel            text[]      NOT NULL DEFAULT '{}',
    nofollow       boolean     NOT NULL,
    ugc            boolean     NOT NULL,
    sponsored      boolean     NOT NULL,
    first_seen     timestamptz NOT NULL,
    last_seen      timestamptz NOT NULL,
    lost_at        timestamptz,
    PRIMARY KEY (post_id, location, position, url_hash)
);
-- One index serves both look-ups: by domain (leading column) and by host
-- (a host belongs to exactly one domain, so the query gives both columns).
CREATE INDEX links_domain_host_idx ON links (domain_id, host_id);

-- Bio links found on profile pages belong to an author, not to a post.
CREATE TABLE author_links (
    author_id      bigint      NOT NULL,
    position       integer     NOT NULL CHECK (position >= 0),
    url_hash       uuid        NOT NULL GENERATED ALWAYS AS (md5(target_url)::uuid) STORED,
    target_url     text        NOT NULL,
    target_url_raw text,
    host_id        bigint      NOT NULL,
    domain_id      bigint      NOT NULL,
    anchor_text    text        NOT NULL DEFAULT '',
    rel            text[]      NOT NULL DEFAULT '{}',
    nofollow       boolean     NOT NULL,
    ugc            boolean     NOT NULL,
    sponsored      boolean     NOT NULL,
    first_seen     timestamptz NOT NULL,
    last_seen      timestamptz NOT NULL,
    lost_at        timestamptz,
    PRIMARY KEY (author_id, position, url_hash)
);
CREATE INDEX author_links_domain_host_idx ON author_links (domain_id, host_id);
