-- Puts a job whose attempt failed (or whose lease ran out) back in line after a backoff.
-- :tenant_id  text
-- :id         uuid
-- :error      jsonb   the failure's envelope (sealed)
-- :delay_ms   int     the backoff before it may run again
update jobs set status = @to(retry), error = :error, run_at = now() + make_interval(secs => :delay_ms::double precision / 1000),
       lease_id = null, lease_runner_id = null, lease_expires_at = null, updated_at = now()
 where tenant_id = :tenant_id and id = :id and status in (@from(retry))
returning
-- @include job_columns
