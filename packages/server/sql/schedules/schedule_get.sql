-- One schedule of the tenant.
-- :tenant_id  text
-- :id         uuid
select
-- @include schedule_columns
  from schedules where tenant_id = :tenant_id and id = :id
