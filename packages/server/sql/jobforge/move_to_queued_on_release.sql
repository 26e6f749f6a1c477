-- A lease handed back by a draining runner: queued again now, the attempt not counted against the
-- job's retries.
-- :tenant_id  text
-- :id         uuid
update jobs set status = @to(release), retry_base = retry_base + 1, run_at = now(), lease_id = null, lease_runner_id = null,
       lease_expires_at = null, updated_at = now()
 where tenant_id = :tenant_id and id = :id and status in (@from(release))
returning
-- @include job_columns
