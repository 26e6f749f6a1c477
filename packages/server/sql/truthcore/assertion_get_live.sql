-- The assertion unless it has expired.
-- :tenant_id  text
-- :id         uuid
select
-- @include assertion_columns
  from truth_assertions where tenant_id = :tenant_id and id = :id and (expires_at is null or expires_at > now())
