-- Inserts the jobs of a submission that do not exist yet, each with its job.created and job.queued
-- events, in one statement; answers the rows actually inserted (a repeated id inserts nothing).
-- The request is not sent back: the caller has it in clear. A job with a concurrency key makes
-- sure its key has a slot row (the lease statements lock it). A job that waits for parents is
-- `pending` (the defer transition), with job.created only: it is queued when they have ended.
-- :jobs  jsonb  [{tenant_id, id, type, pool, priority, request, digest, run_at, expires_at, timeout_ms, submitted_by, trace_parent, concurrency_key, waiting, flow_id}]
with ins as (
  insert into jobs (tenant_id, id, type, pool, priority, status, request, request_digest, run_at, expires_at, timeout_ms,
                    submitted_by, trace_parent, concurrency_key, flow_id)
  select t.tenant_id, t.id, t.type, t.pool, t.priority, case when t.waiting then @to(defer) else @to(submit) end, t.request, t.digest, t.run_at, t.expires_at, t.timeout_ms,
         t.submitted_by, t.trace_parent, t.concurrency_key, t.flow_id
    from jsonb_to_recordset(:jobs::jsonb) as t(tenant_id text, id uuid, type text, pool text, priority int, request jsonb,
         digest text, run_at timestamptz, expires_at timestamptz, timeout_ms int, submitted_by text, trace_parent text,
         concurrency_key text, waiting boolean, flow_id uuid)
  on conflict (tenant_id, id) do nothing
  returning tenant_id, id, type, pool, priority, status, request_digest, attempts, retry_base, run_at, expires_at, timeout_ms,
            lease_id, lease_runner_id, lease_expires_at, fencing_token, cancel_requested_at, result, error, dead_lettered_at,
            submitted_by, created_at, updated_at, finished_at, concurrency_key
), slots as (
  insert into concurrency_slots (tenant_id, type, key)
  select distinct tenant_id, type, concurrency_key from ins where concurrency_key is not null
  on conflict do nothing
), ev as (
  insert into job_events (id, tenant_id, job_id, type, data)
  select gen_random_uuid(), ins.tenant_id, ins.id, e.type,
         case when e.type = 'job.queued' then jsonb_build_object('status', ins.status, 'runAt', ins.run_at)
              else jsonb_build_object('status', ins.status) end
    from ins cross join (values (1, 'job.created'), (2, 'job.queued')) as e(ord, type)
   where e.type = 'job.created' or ins.status = @to(submit)
   order by ins.id, e.ord
)
select tenant_id, id, type, pool, priority, status, request_digest, attempts, retry_base, run_at, expires_at, timeout_ms,
       lease_id, lease_runner_id, lease_expires_at, fencing_token, cancel_requested_at, result, error, dead_lettered_at,
       submitted_by, created_at, updated_at, finished_at
  from ins
