-- Every column of a job provenance row, in the order ProvenanceRow lists them.
tenant_id, job_id, attempt, fencing_token, outcome, submitted_by, request_digest, result, result_digest, runner_id,
runner_spiffe_id, runner_cert_serial, runner_cert_fingerprint, runner_cert_pem, signature, evidence, evidence_hash, failure,
recorded_by, recorded_at
