-- Re-drives a failed or cancelled job: a fresh retry budget, queued now.
-- :tenant_id  text
-- :id         uuid
update jobs set status = @to(redrive), retry_base = attempts, run_at = now(), error = null, result = null,
       dead_lettered_at = null, cancel_requested_at = null, finished_at = null, updated_at = now()
 where tenant_id = :tenant_id and id = :id and status in (@from(redrive))
returning
-- @include job_columns
