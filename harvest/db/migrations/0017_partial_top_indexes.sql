-- The indexes that give a tag's and a publication's domains in link order
-- keep only the rows with at least 10 links (harvest.db.report.TOP_FROM):
-- the report asks for the first 25, and a long-tail domain under a tag or
-- in a publication (96-97 % of the rows at 10^7, one or two links each)
-- is never among them while 25 rows reach 10. A group whose 25th domain has
-- fewer is small enough to read whole, and the report does. They were 41
-- bytes per link at 10^7.
DROP INDEX tag_domains_top_idx;
CREATE INDEX tag_domains_top_idx ON tag_domains (tag, links DESC, domain_id)
    WHERE links >= 10;
DROP INDEX domain_publications_top_idx;
CREATE INDEX domain_publications_top_idx
    ON domain_publications (publication_id, links DESC, domain_id)
    WHERE publication_id IS NOT NULL AND links >= 10;
