-- Revokes a key of the tenant (of any tenant when tenant_id is null: platform administrators).
-- Revoking twice keeps the first time.
-- :id         uuid
-- :tenant_id  text  or null
update api_keys set revoked_at = coalesce(revoked_at, now())
 where id = :id and (:tenant_id::text is null or tenant_id = :tenant_id)
returning
-- @include api_key_columns
