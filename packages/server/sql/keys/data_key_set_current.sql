-- Makes a stored data key the tenant's current one (a foreign key refuses one that is not stored).
-- :tenant_id  text
-- :key_id     text
insert into data_key_current (tenant_id, key_id) values (:tenant_id, :key_id)
on conflict (tenant_id) do update set key_id = excluded.key_id, updated_at = now()
