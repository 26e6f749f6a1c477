-- The columns of a rotation run as RunRow reads them, with the milliseconds left before its sweep
-- may start (by the database clock).
id, status, phase, cursor, sweep_after, rows_scanned, rows_rewritten, started_by, started_at, updated_at, finished_at,
greatest(0, ceil(extract(epoch from (sweep_after - now())) * 1000))::int as wait_ms
