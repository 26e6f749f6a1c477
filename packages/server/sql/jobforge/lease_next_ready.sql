-- Leases the best ready jobs of the runner's tenant, pool and types (the PostgreSQL queue):
-- highest priority first, then oldest run_at. SKIP LOCKED lets concurrent claimers take disjoint
-- rows without waiting on each other.
-- :tenant_id  text    the runner's tenant
-- :pool       text    the runner's pool
-- :types      text[]  job types to lease (already intersected with what the runner registered)
-- :max        int     the most jobs to lease
with
-- @include runner_guard
picked as (
  select tenant_id, id from jobs
   where tenant_id = :tenant_id and pool = :pool and status in (@statuses(claimable)) and type = any(:types::text[])
     and run_at <= now() and (expires_at is null or expires_at > now()) and cancel_requested_at is null
     and (select ok from guard)
   order by priority desc, run_at, id
   limit :max
     for update skip locked
),
-- @include lease_picked
