-- The contracts of these job types (those that have one).
-- :tenant_id  text
-- :types      text[]
select
-- @include job_type_columns
  from job_types where tenant_id = :tenant_id and type = any(:types::text[])
