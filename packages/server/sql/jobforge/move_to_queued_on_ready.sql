-- Queues pending jobs whose parents have ended (the ready transition), each with its job.queued
-- event; answers what the dispatch queue needs of them.
-- :tenant_id  text
-- :ids        uuid[]
with ready as (
  update jobs set status = @to(ready), run_at = greatest(run_at, now()), updated_at = now()
   where tenant_id = :tenant_id and id = any(:ids::uuid[]) and status in (@from(ready))
  returning tenant_id, id, pool, type, priority, run_at, status
), ev as (
  insert into job_events (id, tenant_id, job_id, type, data)
  select gen_random_uuid(), tenant_id, id, 'job.queued', jsonb_build_object('status', status, 'runAt', run_at) from ready
)
select tenant_id, id, pool, type, priority, run_at from ready
