-- Tenants that have a current data key (every tenant with ciphertext), in id order after a cursor.
-- :after  text  the last tenant of the previous page, or null for the first page
-- :limit  int
select tenant_id from data_key_current where (:after::text is null or tenant_id > :after) order by tenant_id limit :limit
