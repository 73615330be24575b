-- The counters of the summaries with about a row per domain and group hold
-- integers: one key's links fit in 31 bits at any size this project plans
-- for (10^9 links in all), and a row gives back up to 4 bytes per counter
-- (rows are padded to 8 bytes). Sums over rows (`sum()`) are bigints as
-- before. The tables whose rows add up everything (tag_stats,
-- group_stats, seen_stats, publication_stats, domain_totals) keep bigints,
-- and so do the ones where alignment would give nothing back.
ALTER TABLE tag_domains
    ALTER COLUMN links TYPE integer, ALTER COLUMN nofollow TYPE integer,
    ALTER COLUMN ugc TYPE integer, ALTER COLUMN sponsored TYPE integer,
    ALTER COLUMN dofollow TYPE integer, ALTER COLUMN posts TYPE integer;
ALTER TABLE domain_stats
    ALTER COLUMN links TYPE integer, ALTER COLUMN lost TYPE integer,
    ALTER COLUMN nofollow TYPE integer, ALTER COLUMN ugc TYPE integer,
    ALTER COLUMN sponsored TYPE integer, ALTER COLUMN dofollow TYPE integer,
    ALTER COLUMN lost_dofollow TYPE integer;
ALTER TABLE domain_publications
    ALTER COLUMN links TYPE integer, ALTER COLUMN nofollow TYPE integer,
    ALTER COLUMN ugc TYPE integer, ALTER COLUMN sponsored TYPE integer,
    ALTER COLUMN dofollow TYPE integer;
ALTER TABLE seen_domains
    ALTER COLUMN links TYPE integer, ALTER COLUMN nofollow TYPE integer,
    ALTER COLUMN ugc TYPE integer, ALTER COLUMN sponsored TYPE integer,
    ALTER COLUMN dofollow TYPE integer;
ALTER TABLE seen_posts ALTER COLUMN links TYPE integer, ALTER COLUMN dofollow TYPE integer;
ALTER TABLE tag_publications
    ALTER COLUMN links TYPE integer, ALTER COLUMN nofollow TYPE integer,
    ALTER COLUMN ugc TYPE integer, ALTER COLUMN sponsored TYPE integer,
    ALTER COLUMN dofollow TYPE integer;
