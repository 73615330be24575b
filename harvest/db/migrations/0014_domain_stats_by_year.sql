-- domain_stats is keyed by the year first published, not the month: every
-- reader adds its months up into years (report --domain's table by year) or
-- into one row (its totals, placements and verdict), and a domain linked from
-- posts of many months kept a row for each (a long-tail domain has about a
-- row per link).

CREATE TEMP TABLE domain_stats_by_year AS
SELECT domain_id, extract(year FROM month)::integer AS year, placement, reason,
       sum(links) AS links, sum(lost) AS lost, sum(nofollow) AS nofollow, sum(ugc) AS ugc,
       sum(sponsored) AS sponsored, sum(dofollow) AS dofollow, sum(lost_dofollow) AS lost_dofollow
FROM domain_stats GROUP BY 1, 2, 3, 4;
TRUNCATE domain_stats;
ALTER TABLE domain_stats ALTER COLUMN month TYPE integer USING NULL;
ALTER TABLE domain_stats RENAME COLUMN month TO year;
ALTER TABLE domain_stats RENAME CONSTRAINT domain_stats_domain_id_month_placement_reason_key
    TO domain_stats_domain_id_year_placement_reason_key;
INSERT INTO domain_stats SELECT * FROM pg_temp.domain_stats_by_year ORDER BY 1, 2, 3, 4;
DROP TABLE pg_temp.domain_stats_by_year;

SELECT summaries_patch('summaries_apply_0006', 'INSERT INTO domain_stats AS s (domain_id, month, placement, reason,',
    'INSERT INTO domain_stats AS s (domain_id, year, placement, reason,');
SELECT summaries_patch('summaries_apply_0006', 'SELECT domain_id, month, placement, reason, sum(sign) AS links,',
    'SELECT domain_id, year, placement, reason, sum(sign) AS links,');
SELECT summaries_patch('summaries_apply_0006', 'ON CONFLICT (domain_id, month, placement, reason) DO UPDATE SET',
    'ON CONFLICT (domain_id, year, placement, reason) DO UPDATE SET');
SELECT summaries_patch('summaries_recount_0006', 'SELECT domain_id, month, placement, reason, count(*) AS links,',
    'SELECT domain_id, year, placement, reason, count(*) AS links,');
