-- Queues a runner's signed failure for TruthCore, in the transaction that records it (as a
-- completion is queued by the statement that records it).
-- :tenant_id         text
-- :job_id            uuid
-- :attempt           int
-- :fencing_token     bigint
-- :runner_id         text
-- :cert_fingerprint  text
-- :signature         text
-- :failure           jsonb   the report exactly as the runner signed it (message and details sealed)
insert into result_outbox (tenant_id, job_id, attempt, fencing_token, runner_id, cert_fingerprint, signature, outcome, failure)
values (:tenant_id, :job_id, :attempt, :fencing_token::bigint, :runner_id, :cert_fingerprint, :signature, 'failed',
        :failure::jsonb)
on conflict (tenant_id, job_id, attempt) do nothing
