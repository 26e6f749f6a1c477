-- Leases specific jobs popped from the Redis queue. The WHERE clause re-checks everything the queue
-- claimed (tenant, pool, type, readiness), so a stale or wrong queue entry leases nothing. The
-- answer's key_waiting lists the ids left waiting for their concurrency key (to be put back).
-- :tenant_id  text    the runner's tenant
-- :pool       text    the runner's pool
-- :types      text[]  job types the runner may lease
-- :ids        uuid[]  the popped job ids
with
-- @include runner_guard
cand as (
  select j.tenant_id, j.id, j.type, j.concurrency_key, j.priority, j.run_at from jobs j
   where j.tenant_id = :tenant_id and j.id = any(:ids::uuid[]) and (select ok from guard)
     -- Re-checks written as plain filters (coalesce hides them from index matching): the rows must
     -- be found through the primary key. With the statistics of a smaller table the planner would
     -- otherwise pick the partial ready-index, whose predicate these conditions imply, and walk the
     -- whole backlog to find a handful of ids.
     and coalesce(j.pool = :pool and j.type = any(:types::text[]) and j.status in (@statuses(claimable))
                  and j.run_at <= now() + interval '1 second', false)
     and (j.expires_at is null or j.expires_at > now()) and j.cancel_requested_at is null
   -- A row another transaction holds (a second claimer that popped a duplicate entry, a completion,
   -- a cancel) is skipped, never waited for: waiting on rows locked in another order is how two
   -- claimers deadlocked. A skipped job that is still waiting is put back in the index by
   -- reconciliation.
     for update of j skip locked
),
-- @include concurrency_gate
-- @include lease_picked
