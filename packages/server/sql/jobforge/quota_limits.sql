-- The tenant's job quotas (no row: no limits).
-- :tenant_id  text
select max_queued_jobs, max_payload_bytes from tenant_quotas where tenant_id = :tenant_id
