-- The stored assertion, expired or not (idempotency compares against it).
-- :tenant_id  text
-- :id         uuid
select
-- @include assertion_columns
  from truth_assertions where tenant_id = :tenant_id and id = :id
