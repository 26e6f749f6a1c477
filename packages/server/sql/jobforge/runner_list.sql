-- The tenant's runners, oldest first.
-- :tenant_id  text
select
-- @include runner_columns
  from runners where tenant_id = :tenant_id order by created_at, id
