-- The tenant's job-type contracts.
-- :tenant_id  text
select
-- @include job_type_columns
  from job_types where tenant_id = :tenant_id order by type
