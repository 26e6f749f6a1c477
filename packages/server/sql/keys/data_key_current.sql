-- The tenant's current data key.
-- :tenant_id  text
select k.tenant_id, k.id, k.kek_id, k.wrapped from data_key_current c
  join data_keys k on k.tenant_id = c.tenant_id and k.id = c.key_id
 where c.tenant_id = :tenant_id
