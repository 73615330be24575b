-- A crawl run is alive while its process holds the run's advisory lock
-- (harvest.db.store.hold_run): a process that dies, however it dies, loses its
-- connection and with it the lock. So "running" with no lock held is a run
-- that died, whatever its row still says; readers show it so
-- (run_status), and the next crawl marks it for good (mark_dead_runs).
-- progress_at: when the run last wrote its counts (every few seconds while it
-- runs), so a dead run's row says how far it got and when.
ALTER TABLE crawl_runs ADD COLUMN progress_at timestamptz;

-- The lock's two keys: harvest's class (0x68727673, "hrvs") and the run id.
CREATE FUNCTION run_alive(run bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM pg_locks l
         WHERE l.locktype = 'advisory' AND l.granted
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND l.classid = 1752331891::oid AND l.objid = run::oid AND l.objsubid = 2)
$$;

CREATE FUNCTION run_status(status text, run bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN status = 'running' AND NOT run_alive(run) THEN 'died' ELSE status END
$$;
