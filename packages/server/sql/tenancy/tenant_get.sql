-- One tenant.
-- :id  text
select id, name, status, created_at from tenants where id = :id
