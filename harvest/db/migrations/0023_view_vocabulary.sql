-- The backlinks view in the words every other answer uses: where on the page a
-- link stands is its placement (location stays: the part of the page it is
-- stored under), and a publication is also named and located by its own
-- domain. The new columns go at the end, as CREATE OR REPLACE VIEW requires;
-- the definition is the view's own, as 0021 left it.
DO $$
DECLARE
    view text := rtrim(pg_get_viewdef('backlinks'::regclass), E'; \n');
BEGIN
    view := regexp_replace(
        view,
        E'\n   FROM ',
        E',\n    link_placement(l.location, l.kind, l.block) AS placement,'
        || E'\n    pub.name AS publication_name,\n    pub.domain AS publication_domain\n   FROM ');
    EXECUTE 'CREATE OR REPLACE VIEW backlinks AS ' || view;
END
$$;
