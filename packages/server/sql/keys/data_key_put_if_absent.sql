-- Stores a wrapped data key unless the tenant already has one under that id (whose record wins).
-- :tenant_id  text
-- :id         text
-- :kek_id     text   the KEK that wraps it
-- :wrapped    bytea
insert into data_keys (tenant_id, id, kek_id, wrapped) values (:tenant_id, :id, :kek_id, :wrapped)
on conflict (tenant_id, id) do nothing
