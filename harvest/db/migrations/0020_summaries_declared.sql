-- The summaries are declared once, in harvest/db/summary_defs.py: each
-- table's key and counts, and the rows it counts. The fold (its upserts of the
-- counts that add up are generated from the declarations) is installed by
-- migrate after the last migration, and again whenever what it generates
-- changes; the checksum of what is installed is kept here. The recount that
-- `harvest db check` compares and the rebuild are generated from them too,
-- and run range by range from harvest/db/summaries.py.
CREATE TABLE summary_layer (
    checksum     text        NOT NULL,
    installed_at timestamptz NOT NULL DEFAULT now()
);

-- Its dofollow links are added up like every other count now, and a row that
-- falls to zero is deleted after the upsert that zeroed it.
ALTER TABLE domain_dofollow_posts DROP CONSTRAINT domain_dofollow_posts_dofollow_check;

-- What 0006-0018 wrote by hand, three styles and eleven patches deep; the
-- generated summaries_apply replaces them in this migration's transaction.
DROP FUNCTION summaries_apply_0006(), summaries_apply_0008(), summaries_apply_0009(),
    summaries_authors(), summaries_pairs(), summaries_moves_table(),
    summaries_add_0009(text, text, text, text[]), summaries_grouped_0009(text, text, text, text[]),
    summaries_every_0009(), summaries_live_0009(),
    summaries_recount_0006(), summaries_recount_0008(regclass), summaries_recount_0009(),
    summaries_place_0008(), summaries_place_0009(), summaries_rebuild_0006(),
    summaries_recount(), summaries_rebuild();
