-- One job-type contract.
-- :tenant_id  text
-- :type       text
select
-- @include job_type_columns
  from job_types where tenant_id = :tenant_id and type = :type
