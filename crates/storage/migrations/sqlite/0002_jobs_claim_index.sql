-- Claims read the queue in (priority DESC, run_at, id) order: an index in that order lets a
-- claim stop at the first ready row instead of sorting every queued job.
DROP INDEX jobs_ready;
CREATE INDEX jobs_claim_order ON jobs (priority DESC, run_at, id) WHERE state = 'queued';
CREATE INDEX jobs_running_lease ON jobs (lease_until) WHERE state = 'running';
DROP INDEX jobs_lease;
