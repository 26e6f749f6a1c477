-- Records a runner enrolled with a join token (status enrolled until it registers).
-- :id         text
-- :tenant_id  text
-- :pool       text
-- :name       text
insert into runners (id, tenant_id, pool, name) values (:id, :tenant_id, :pool, :name)
