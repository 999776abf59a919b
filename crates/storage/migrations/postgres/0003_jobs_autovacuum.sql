-- A queue table churns: every job is inserted, updated two or three times and finished.
-- Vacuum and analyze it far more often than the defaults (20 % / 10 % of the table) so dead
-- rows do not pile up in front of the claim index and the planner keeps using that index.
ALTER TABLE jobs SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 500,
    autovacuum_analyze_scale_factor = 0.01,
    autovacuum_analyze_threshold = 500
);
