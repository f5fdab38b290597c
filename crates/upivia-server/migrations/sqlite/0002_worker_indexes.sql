-- The workers' scans must not grow with history. SQLite uses a partial
-- index only when the query's WHERE clause repeats the index's condition,
-- and it cannot see that `status = 'running'` implies `status IN (...)`:
-- the 0001 index on open requests was never used, so each worker pass read
-- every request ever made. One index per status the workers look for,
-- ordered the way they read.
DROP INDEX service_requests_open;
CREATE INDEX service_requests_executing ON service_requests(created_at) WHERE status = 'executing';
CREATE INDEX service_requests_running ON service_requests(created_at) WHERE status = 'running';
CREATE INDEX approvals_pending_expiry ON approvals(expires_at) WHERE status = 'pending';
