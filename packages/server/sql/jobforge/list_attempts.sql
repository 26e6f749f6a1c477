-- A job's attempts, first first.
-- :tenant_id  text
-- :job_id     uuid
select attempt, runner_id, lease_id, fencing_token, started_at, finished_at, outcome, error, result_signature,
       runner_cert_fingerprint
  from job_attempts
 where tenant_id = :tenant_id and job_id = :job_id
 order by attempt
