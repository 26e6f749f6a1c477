-- Creates a tenant; no row when the id is taken.
-- :id    text
-- :name  text
insert into tenants (id, name) values (:id, :name) on conflict (id) do nothing returning id, name, status, created_at
