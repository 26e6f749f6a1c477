-- Every column of a schedule.
tenant_id, id, name, template, cron, timezone, interval_ms, start_at, end_at, max_runs, runs, paused, overlap, catch_up,
catch_up_limit, next_fire_at, buffered_at, last_job_id, last_fired_at, created_by, created_at, updated_at
