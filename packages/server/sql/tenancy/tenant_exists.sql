-- One row when the tenant exists.
-- :id  text
select 1 from tenants where id = :id
