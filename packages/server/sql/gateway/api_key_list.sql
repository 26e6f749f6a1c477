-- A tenant's keys, newest first.
-- :tenant_id  text
-- :limit      int
select
-- @include api_key_columns
  from api_keys where tenant_id = :tenant_id order by created_at desc, id desc limit :limit
