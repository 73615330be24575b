-- A publication's posts with the most dofollow links, in that order: the
-- report read them off post_groups_dofollow_idx (every post, most dofollow
-- links first) until enough of the publication's turned up, which for a small
-- publication is most of the index (0.47 s at 10^7 links).
CREATE INDEX post_groups_publication_dofollow_idx
    ON post_groups (publication_id, dofollow DESC, post_id) WHERE dofollow > 0;
