-- Stores a wrapped data key. Replacing an existing record is a re-wrap: the key is the same, only
-- its wrapping changes.
-- :tenant_id  text
-- :id         text
-- :kek_id     text   the KEK that wraps it
-- :wrapped    bytea
insert into data_keys (tenant_id, id, kek_id, wrapped) values (:tenant_id, :id, :kek_id, :wrapped)
on conflict (tenant_id, id) do update set kek_id = excluded.kek_id, wrapped = excluded.wrapped, rewrapped_at = now()
