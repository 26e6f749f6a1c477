-- Revokes a runner of the tenant (its certificates are revoked by runner_revoke_certificates).
-- :id         text
-- :tenant_id  text
update runners set status = 'revoked', revoked_at = coalesce(revoked_at, now()), updated_at = now()
 where id = :id and tenant_id = :tenant_id
returning
-- @include runner_columns
