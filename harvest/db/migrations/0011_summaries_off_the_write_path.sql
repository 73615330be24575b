-- Summaries off the write path: a writer's statement no longer adds its facets
-- to the summary tables in its own transaction. It appends them, net, to
-- summary_pending, and summaries_fold adds everything pending to the
-- summaries in one set-based pass, later and elsewhere (the crawl's folder
-- thread, `harvest db refresh`, the end of every crawl and `harvest db check`).
--
-- Why: the statement triggers of 0006 upserted ~20 tables per store batch,
-- 8x the cost of the links themselves (bench/query.py: 2,567 links/s against
-- 19,237 without), and every writer locked the same hot summary rows (tag '',
-- the biggest domains), so a second crawl worker added a third of one. Now a
-- writer's cost is one narrow append, and one folder at a time touches the
-- summary rows, in bigger groups: a domain's row is updated once per fold, not
-- once per batch.
--
-- Exact: facets are signed and summed, so folding later gives what folding at
-- once gave. A fold takes every pending row its snapshot sees, and a row's -1
-- is always committed after its +1 (the row must exist to be changed), so no
-- fold sees a removal before the addition it undoes; folds are serialized by
-- an advisory lock (class 0x68726664 'hrfd', key 0). Readers say how many
-- facets are not folded yet (harvest.db.summaries.pending).

-- One row per facet, shaped as summaries_facets returns them (0009).
CREATE TABLE summary_pending AS
    SELECT * FROM summaries_facets(NULL, NULL::links, NULL::posts) WITH NO DATA;
-- Rows come and go in bulk; autovacuum keeps up without help at the default
-- thresholds, but a table this hot is worth vacuuming sooner.
ALTER TABLE summary_pending SET (autovacuum_vacuum_scale_factor = 0.01,
                                 autovacuum_vacuum_insert_scale_factor = 0.01);

-- A statement's facets, net: a link seen again (its last_seen moved) leaves
-- and rejoins the same groups, and adds nothing here. Empties summary_delta.
CREATE FUNCTION summaries_pend_net() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO summary_pending
    SELECT sum(sign)::integer, domain_id, post_id, author_id, publication_id, month, year,
           tags, placement, reason, lost, nofollow, ugc, sponsored, seen
    FROM pg_temp.summary_delta
    GROUP BY 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    HAVING sum(sign) <> 0;
    TRUNCATE pg_temp.summary_delta;
END
$$;

-- Adds every pending facet this snapshot sees to the summaries and removes it
-- from the log, in the caller's transaction; returns how many net facets it
-- added. Waits for a fold running elsewhere (the summaries' rows are then
-- written by one transaction at a time, in key order, and never deadlock).
CREATE FUNCTION summaries_fold() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    taken bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(1752327780, 0);
    PERFORM summaries_delta_table();
    WITH gone AS (DELETE FROM summary_pending RETURNING *)
    INSERT INTO pg_temp.summary_delta
        (sign, domain_id, post_id, author_id, publication_id, month, year, tags, placement,
         reason, lost, nofollow, ugc, sponsored, seen)
    SELECT sum(sign)::integer, domain_id, post_id, author_id, publication_id, month, year,
           tags, placement, reason, lost, nofollow, ugc, sponsored, seen
    FROM gone
    GROUP BY 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    HAVING sum(sign) <> 0;
    GET DIAGNOSTICS taken = ROW_COUNT;
    IF taken > 0 THEN
        -- A fold holds thousands of facets, a trigger's statement tens: without
        -- statistics the planner takes the temp table for small.
        ANALYZE pg_temp.summary_delta;
        PERFORM summaries_apply();
    END IF;
    TRUNCATE pg_temp.summary_delta;
    RETURN taken;
END
$$;

-- Functions of 0006 and 0009 patched in place, each text checked, so that
-- those migrations stay the one home of the functions' bodies:
--
-- * The four triggers keep their bodies but for their last step: what they
--   gathered goes to the log, net, instead of into the summaries.
-- * A fold meets a big domain's authors and publications by the thousand:
--   0006 joined them with IS NOT DISTINCT FROM, which no hash can serve, so
--   every pair of a domain's rows was compared (3.2 of 4.5 s of a
--   56,000-facet fold went to domain_authors). The same match written as an
--   equality of coalesced ids (ids start at 1: 0 stands for none) hashes.
-- * 0009 locked the touched domains' and posts' rows so that two writers'
--   newest months could not miss each other. Folds are serialized now, and a
--   fold's snapshot is fixed: locking a post a writer changed since would
--   fail the fold, and waiting for one would stall the writer behind it.
DO $$
DECLARE
    fn    text;
    body  text;
    patch text[];
BEGIN
    FOREACH patch SLICE 1 IN ARRAY ARRAY[
        ['summaries_links_inserted', 'PERFORM summaries_apply();', 'PERFORM summaries_pend_net();'],
        ['summaries_links_deleted', 'PERFORM summaries_apply();', 'PERFORM summaries_pend_net();'],
        ['summaries_links_updated', 'PERFORM summaries_apply();', 'PERFORM summaries_pend_net();'],
        ['summaries_posts_updated', 'PERFORM summaries_apply();', 'PERFORM summaries_pend_net();'],
        ['summaries_apply_0006', 'd.author_id IS NOT DISTINCT FROM up.author_id',
         'coalesce(d.author_id, 0) = coalesce(up.author_id, 0)'],
        ['summaries_apply_0006', 't.author_id IS NOT DISTINCT FROM d.author_id',
         'coalesce(t.author_id, 0) = coalesce(d.author_id, 0)'],
        ['summaries_apply_0006', 'd.publication_id IS NOT DISTINCT FROM up.publication_id
        WHERE up.publication_id IS NOT NULL',
         'coalesce(d.publication_id, 0) = coalesce(up.publication_id, 0)
        WHERE up.publication_id IS NOT NULL'],
        ['summaries_apply_0006', 't.publication_id IS NOT DISTINCT FROM d.publication_id',
         'coalesce(t.publication_id, 0) = coalesce(d.publication_id, 0)'],
        ['summaries_apply_0009', '    PERFORM 1 FROM domains
    WHERE domain_id IN (SELECT domain_id FROM pg_temp.summary_delta WHERE NOT lost)
    ORDER BY domain_id FOR NO KEY UPDATE;
    PERFORM 1 FROM posts
    WHERE post_id IN (SELECT post_id FROM pg_temp.summary_delta WHERE NOT lost)
    ORDER BY post_id FOR NO KEY UPDATE;
', '']
    ] LOOP
        fn := patch[1];
        body := pg_get_functiondef(to_regprocedure(fn || '()'));
        IF position(patch[2] IN body) = 0 THEN
            RAISE EXCEPTION '% is not the function 0011 expects: %', fn, patch[2];
        END IF;
        EXECUTE replace(body, patch[2], patch[3]);
    END LOOP;
END
$$;
