-- (Postgres tunes autovacuum for the jobs table here; SQLite needs nothing.)
SELECT 1;
