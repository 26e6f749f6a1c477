-- Locks those of the given leases that the runner still holds (job, lease id and fencing token).
-- :tenant_id  text
-- :runner_id  text
-- :leases     jsonb   [{job_id, lease_id, fencing_token}]
-- :job_ids    uuid[]  the same jobs' ids
select j.tenant_id, j.id, j.type, j.pool, j.priority, j.status, j.request, j.request_digest, j.attempts, j.retry_base,
       j.run_at, j.expires_at, j.timeout_ms, j.lease_id, j.lease_runner_id, j.lease_expires_at, j.fencing_token,
       j.cancel_requested_at, j.result, j.error, j.dead_lettered_at, j.submitted_by, j.created_at, j.updated_at, j.finished_at
  from jobs j
  join jsonb_to_recordset(:leases::jsonb) as r(job_id uuid, lease_id uuid, fencing_token bigint)
    on j.id = r.job_id and j.lease_id = r.lease_id and j.fencing_token = r.fencing_token
 where j.tenant_id = :tenant_id and j.id = any(:job_ids::uuid[])
   and coalesce(j.status in (@statuses(leased)) and j.lease_runner_id = :runner_id, false)
 order by j.id
   for update of j
