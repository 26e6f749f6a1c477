-- Tenants in id order, a page at a time.
-- :after  text  the last id of the previous page, or null for the first page
-- :limit  int
select id, name, status, created_at from tenants where (:after::text is null or id > :after) order by id limit :limit
