-- One job of the tenant, locked for the transaction that is about to move it.
-- :tenant_id  text
-- :id         uuid
select
-- @include job_columns
  from jobs where tenant_id = :tenant_id and id = :id
   for update
