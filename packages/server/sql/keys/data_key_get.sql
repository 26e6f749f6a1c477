-- One wrapped data key of a tenant.
-- :tenant_id  text
-- :id         text
select tenant_id, id, kek_id, wrapped from data_keys where tenant_id = :tenant_id and id = :id
