-- Completes each job only if it is still leased to this runner under the given lease, fencing
-- token, attempt and type — all checked in the WHERE clause, so a stale or foreign outcome records
-- nothing — with its attempt, its job.completed event and (a signed result) its outbox row for
-- TruthCore, in one statement. Answers the ids completed, each saying whether it has children in a
-- flow (to be settled next).
-- :tenant_id  text
-- :runner_id  text
-- :items      jsonb   [{id, lease_id, fencing_token, type, attempt, result, signature, fingerprint}]
-- :job_ids    uuid[]  the same jobs' ids
with r as materialized (
  select * from jsonb_to_recordset(:items::jsonb)
    as r(id uuid, lease_id uuid, fencing_token bigint, type text, attempt int, result jsonb, signature text, fingerprint text)
), done as (
  update jobs j set status = @to(complete), result = r.result, error = null, lease_id = null, lease_runner_id = null,
         lease_expires_at = null, updated_at = now(), finished_at = now()
    from r
   where j.tenant_id = :tenant_id and j.id = any(:job_ids::uuid[]) and j.id = r.id
     -- The lease checks are wrapped so that no partial index (the lease-expiry index is on running
     -- jobs) matches them: the rows are found by primary key whatever the statistics say. Without
     -- statistics the planner would otherwise AND that index with the tenant's list index and read
     -- every running and every listed job to find a few.
     and coalesce(j.status in (@statuses(leased)) and j.lease_runner_id = :runner_id, false)
     and j.lease_id = r.lease_id and j.fencing_token = r.fencing_token and j.attempts = r.attempt and j.type = r.type
  returning j.id, j.attempts, j.status
), att as (
  update job_attempts a set finished_at = now(), outcome = 'completed', result_signature = r.signature,
         runner_cert_fingerprint = r.fingerprint
    from done d join r on r.id = d.id
   where a.tenant_id = :tenant_id and a.job_id = any(:job_ids::uuid[]) and a.job_id = d.id and a.attempt = d.attempts
     and a.finished_at is null
), ev as (
  insert into job_events (id, tenant_id, job_id, type, data)
  select gen_random_uuid(), :tenant_id, d.id, 'job.completed',
         jsonb_build_object('status', d.status, 'attempt', d.attempts, 'runnerId', :runner_id::text)
    from done d
), outbox as (
  insert into result_outbox (tenant_id, job_id, attempt, fencing_token, runner_id, cert_fingerprint, signature)
  select :tenant_id, d.id, d.attempts, r.fencing_token, :runner_id::text, r.fingerprint, r.signature
    from done d join r on r.id = d.id
   where r.signature is not null and r.fingerprint is not null
)
select d.id, exists (select 1 from job_dependencies c where c.tenant_id = :tenant_id and c.parent_id = d.id) as has_children
  from done d
