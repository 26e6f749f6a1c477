-- The next results due for delivery to TruthCore, locked (SKIP LOCKED: every replica may deliver),
-- with what TruthCore needs to verify them: the job's request digest and submitter, the runner's
-- certificate, a completion's result, and a failure's attempt (its envelope and times).
-- :limit  int
select o.id, o.tenant_id, o.job_id, o.attempt, o.fencing_token, o.runner_id, o.signature, o.attempts, o.outcome, o.failure,
       case when o.outcome = 'completed' then j.result end as result,
       a.error as attempt_error, a.started_at as attempt_started_at, a.finished_at as attempt_finished_at,
       j.request_digest, j.submitted_by, c.certificate_pem, j.request -> 'metadata' ->> 'correlationId' as correlation_id,
       j.trace_parent
  from result_outbox o
  join jobs j on j.tenant_id = o.tenant_id and j.id = o.job_id
  -- A failure's envelope is its attempt's: the job's own error may be a later attempt's.
  left join job_attempts a on o.outcome = 'failed' and a.tenant_id = o.tenant_id and a.job_id = o.job_id and a.attempt = o.attempt
  left join runner_certificates c on c.fingerprint256 = o.cert_fingerprint and c.runner_id = o.runner_id
 where o.delivered_at is null and o.rejected_at is null and o.next_attempt_at <= now()
 order by o.next_attempt_at, o.id
 limit :limit
   for update of o skip locked
