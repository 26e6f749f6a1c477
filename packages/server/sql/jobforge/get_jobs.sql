-- The tenant's jobs with these ids.
-- :tenant_id  text
-- :ids        uuid[]
select
-- @include job_columns
  from jobs where tenant_id = :tenant_id and id = any(:ids::uuid[])
