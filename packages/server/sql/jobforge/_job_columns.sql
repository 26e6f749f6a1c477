-- Every column of a job row, in the order JobRow lists them (included where a whole row is read).
tenant_id, id, type, pool, priority, status, request, request_digest, attempts, retry_base, run_at, expires_at, timeout_ms,
lease_id, lease_runner_id, lease_expires_at, fencing_token, cancel_requested_at, result, error, dead_lettered_at, submitted_by,
created_at, updated_at, finished_at, flow_id
