-- Keyed jobs: a countdown or a reconcile is found (cancelled, moved) by its key, and at most
-- one job per key is queued or running at a time (unique jobs). Done, dead and cancelled jobs
-- keep their key for the record without blocking a new one.
ALTER TABLE jobs ADD COLUMN job_key TEXT;
CREATE UNIQUE INDEX jobs_live_key ON jobs (job_key) WHERE state IN ('queued', 'running');

-- Periodic jobs: one row per schedule, holding the start of the next period to fire. A
-- runner fires by moving `next_at` forward with compare-and-set, so exactly one runner of
-- any number of processes enqueues each period, and the schedule survives restarts.
CREATE TABLE periodic (
    name        TEXT PRIMARY KEY,
    next_at     INTEGER NOT NULL,
    fired_at    INTEGER,
    fired_job   INTEGER
);
