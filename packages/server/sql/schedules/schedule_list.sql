-- The tenant's schedules by name.
-- :tenant_id  text
select
-- @include schedule_columns
  from schedules where tenant_id = :tenant_id order by name limit 1000
