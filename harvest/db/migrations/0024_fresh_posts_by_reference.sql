-- A new post's links go into the delta log by reference: the post's id, not
-- a facet per link. Most of what a crawl stores is posts it has never stored
-- before, and for those the statement trigger of 0006/0011 computed every
-- link's facets, grouped them and wrote them to summary_pending, which the
-- fold then read back and deleted: about 45 % of the time of the COPY into
-- links (bench/ingest.py's write path, 3,000 pages). Now the store marks the
-- COPY of new posts' links (harvest.fresh_posts = on, for that statement
-- only), the trigger records the posts in summary_fresh_posts, and the fold
-- reads their facets from links in its own snapshot.
--
-- Exact: a post is listed here only by the transaction that created it and
-- its first links, so until a fold takes it none of its links was ever
-- counted. Whatever happened to it since (links added, lost or changed by a
-- recrawl, its facts updated) left signed facets in summary_pending that
-- describe changes its links as they are now already show: the fold drops
-- them and counts the post from links once. Both are read in one REPEATABLE
-- READ snapshot (the fold refuses any other), so a change committed after
-- it stays pending, post and facets alike, for the next fold.

CREATE TABLE summary_fresh_posts (post_id bigint PRIMARY KEY);
ALTER TABLE summary_fresh_posts SET (autovacuum_vacuum_scale_factor = 0.01,
                                     autovacuum_vacuum_insert_scale_factor = 0.01);

-- Everything not yet in the summaries, as facets: what a fold adds, and what
-- the regate takes away from a recount of links. Each fresh post and its
-- links are read off their indexes (OFFSET 0 keeps the planner from turning
-- that into a join that may read all of posts or links: a count of listed
-- posts it overestimates, from a log bloated between vacuums, would tip it).
CREATE VIEW summary_pending_facets AS
    SELECT pp.* FROM summary_pending pp
    WHERE NOT EXISTS (SELECT 1 FROM summary_fresh_posts fp WHERE fp.post_id = pp.post_id)
    UNION ALL
    SELECT f.* FROM summary_fresh_posts fp,
         LATERAL (SELECT * FROM posts p WHERE p.post_id = fp.post_id OFFSET 0) p,
         LATERAL (SELECT * FROM links l WHERE l.post_id = fp.post_id OFFSET 0) l,
         LATERAL summaries_facets(1, l::links, p::posts) f;

-- 0006's insert trigger (as 0011 left it) and 0011's fold, patched in place.
SELECT summaries_patch('summaries_links_inserted', 'BEGIN
    PERFORM summaries_delta_table();', 'BEGIN
    IF current_setting(''harvest.fresh_posts'', true) = ''on'' THEN
        INSERT INTO summary_fresh_posts SELECT DISTINCT post_id FROM new_links
        ON CONFLICT DO NOTHING;
        RETURN NULL;
    END IF;
    PERFORM summaries_delta_table();');

-- The facets, the fresh posts' links and the deletes after them must see one
-- snapshot (in READ COMMITTED each statement would take its own). Writers only
-- add rows, and folds take turns: what the snapshot sees is what was read.
SELECT summaries_patch('summaries_fold', 'BEGIN
    PERFORM pg_advisory_xact_lock(', 'BEGIN
    IF current_setting(''transaction_isolation'') <> ''repeatable read'' THEN
        RAISE EXCEPTION ''summaries_fold() runs in a REPEATABLE READ transaction'';
    END IF;
    PERFORM pg_advisory_xact_lock(');
SELECT summaries_patch('summaries_fold', '    WITH gone AS (DELETE FROM summary_pending RETURNING *)
    INSERT INTO pg_temp.summary_delta', '    INSERT INTO pg_temp.summary_delta');
SELECT summaries_patch('summaries_fold', '    FROM gone
    GROUP BY 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    HAVING sum(sign) <> 0;
    GET DIAGNOSTICS taken = ROW_COUNT;', '    FROM summary_pending_facets
    GROUP BY 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    HAVING sum(sign) <> 0;
    GET DIAGNOSTICS taken = ROW_COUNT;
    DELETE FROM summary_pending;
    DELETE FROM summary_fresh_posts;');
