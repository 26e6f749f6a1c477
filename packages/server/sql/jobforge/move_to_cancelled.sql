-- Ends a job as cancelled: at once while it waits, or once its runner stops (or its lease runs out).
-- :tenant_id  text
-- :id         uuid
-- :error      jsonb  the JOB_CANCELLED envelope (sealed)
update jobs set status = @to(cancel), error = :error, result = null, lease_id = null, lease_runner_id = null,
       lease_expires_at = null, dead_lettered_at = null, updated_at = now(), finished_at = now()
 where tenant_id = :tenant_id and id = :id and status in (@from(cancel))
returning
-- @include job_columns
