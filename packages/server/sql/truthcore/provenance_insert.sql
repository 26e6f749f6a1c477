-- Inserts the provenance of (tenant, job, attempt) unless it exists; answers its recorded_at when
-- inserted. Result, evidence and failure come as JSON text (a bare string or array would otherwise
-- be sent as a PostgreSQL value), sealed where encryption is on.
-- :tenant_id                text
-- :job_id                   uuid
-- :attempt                  int
-- :fencing_token            text   decimal, as the runner signed it
-- :outcome                  text   completed | failed
-- :submitted_by             text
-- :request_digest           text
-- :result                   jsonb
-- :result_digest            text
-- :runner_id                text
-- :runner_spiffe_id         text
-- :runner_cert_serial       text
-- :runner_cert_fingerprint  text
-- :runner_cert_pem          text
-- :signature                text
-- :evidence                 jsonb  or null
-- :evidence_hash            text   or null
-- :recorded_by              text
-- :failure                  jsonb  the failure report the runner signed, or null
insert into truth_job_provenance (tenant_id, job_id, attempt, fencing_token, outcome, submitted_by, request_digest, result,
                                  result_digest, runner_id, runner_spiffe_id, runner_cert_serial, runner_cert_fingerprint,
                                  runner_cert_pem, signature, evidence, evidence_hash, recorded_by, failure)
values (:tenant_id, :job_id, :attempt, :fencing_token, :outcome, :submitted_by, :request_digest, :result::jsonb, :result_digest,
        :runner_id, :runner_spiffe_id, :runner_cert_serial, :runner_cert_fingerprint, :runner_cert_pem, :signature,
        :evidence::jsonb, :evidence_hash, :recorded_by, :failure::jsonb)
on conflict (tenant_id, job_id, attempt) do nothing
returning recorded_at
