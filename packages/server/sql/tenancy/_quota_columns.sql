-- The columns of a tenant's quotas, as TenantQuotas shows them.
max_queued_jobs, max_running_jobs, max_payload_bytes, requests_per_second, burst, updated_at, updated_by
