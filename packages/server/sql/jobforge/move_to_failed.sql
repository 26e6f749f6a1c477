-- Fails a job for good and dead-letters it: its last attempt failed with no retry left, its lease
-- ran out with none left, it expired before it started, or a parent failed (parent policy fail).
-- :tenant_id  text
-- :id         uuid
-- :error      jsonb  the failure's envelope (sealed)
-- :result     jsonb  the failed JobResult (sealed), or null
update jobs set status = @to(fail), error = :error, result = :result, lease_id = null, lease_runner_id = null,
       lease_expires_at = null, dead_lettered_at = now(), updated_at = now(), finished_at = now()
 where tenant_id = :tenant_id and id = :id and status in (@from(fail, expire, orphan))
returning
-- @include job_columns
