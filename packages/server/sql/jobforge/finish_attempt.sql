-- Closes a job's open attempt with its outcome (and a failure's envelope and signature).
-- :tenant_id       text
-- :job_id          uuid
-- :attempt         int
-- :outcome         text   completed | failed | lease_expired | cancelled | released
-- :error           jsonb  the failure's envelope (sealed), or null
-- :signature       text   the runner's signature over a signed failure, or null
-- :cert_fingerprint text  the certificate that signature verifies under, or null
update job_attempts set finished_at = now(), outcome = :outcome, error = :error, result_signature = :signature,
       runner_cert_fingerprint = :cert_fingerprint
 where tenant_id = :tenant_id and job_id = :job_id and attempt = :attempt and finished_at is null
