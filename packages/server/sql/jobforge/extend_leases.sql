-- Extends the leases a runner still holds (job, lease id and fencing token must all match); answers
-- the jobs extended and whether each has been asked to cancel.
-- :tenant_id  text
-- :runner_id  text
-- :leases     jsonb   [{job_id, lease_id, fencing_token}]
-- :lease_ms   int     the new lease's length from now
-- :job_ids    uuid[]  the same jobs' ids (lets the planner find them by primary key)
update jobs j set lease_expires_at = now() + make_interval(secs => :lease_ms::double precision / 1000)
  from jsonb_to_recordset(:leases::jsonb) as l(job_id uuid, lease_id uuid, fencing_token bigint)
 where j.tenant_id = :tenant_id and j.id = any(:job_ids::uuid[]) and j.id = l.job_id and j.lease_id = l.lease_id
   and j.fencing_token = l.fencing_token
   and coalesce(j.lease_runner_id = :runner_id and j.status in (@statuses(leased)), false)
returning j.id, (j.cancel_requested_at is not null) as cancel_requested
