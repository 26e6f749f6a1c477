-- A tenant's quotas (no row: no tenant-specific limits).
-- :tenant_id  text
select
-- @include quota_columns
  from tenant_quotas where tenant_id = :tenant_id
