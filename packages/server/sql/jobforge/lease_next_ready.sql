-- Leases the best ready jobs of the runner's tenant, pool and types (the PostgreSQL queue):
-- highest priority first, then oldest run_at. SKIP LOCKED lets concurrent claimers take disjoint
-- rows without waiting on each other. Keys already at their limit in this snapshot are passed
-- over, so they hold up no other work; the concurrency gate then decides with the keys' slot rows.
-- :tenant_id  text    the runner's tenant
-- :pool       text    the runner's pool
-- :types      text[]  job types to lease (already intersected with what the runner registered)
-- :max        int     the most jobs to lease
with
-- @include runner_guard
busy as (
  select j.type, j.concurrency_key as key from jobs j left join job_types t on t.tenant_id = j.tenant_id and t.type = j.type
   where j.tenant_id = :tenant_id and j.status in (@statuses(leased)) and j.concurrency_key is not null and j.type = any(:types::text[])
   group by j.type, j.concurrency_key
  having count(*) >= coalesce(min(t.concurrency_limit), 1)
),
cand as (
  select tenant_id, id, type, concurrency_key, priority, run_at from jobs j
   where tenant_id = :tenant_id and pool = :pool and status in (@statuses(claimable)) and type = any(:types::text[])
     and run_at <= now() and (expires_at is null or expires_at > now()) and cancel_requested_at is null
     and (select ok from guard)
     and (concurrency_key is null or not exists (select 1 from busy b where b.type = j.type and b.key = j.concurrency_key))
   order by priority desc, run_at, id
   limit :max
     for update skip locked
),
-- @include concurrency_gate
-- @include lease_picked
