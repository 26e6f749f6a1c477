-- One job of the tenant.
-- :tenant_id  text
-- :id         uuid
select
-- @include job_columns
  from jobs where tenant_id = :tenant_id and id = :id
