-- The named parents of a submission that exist in the tenant, locked FOR SHARE until the
-- submission commits: a parent cannot end unseen between this read and the children's insert (its
-- end waits for the lock, and then settles the children it can see).
-- :tenant_id  text
-- :ids        uuid[]  the parents named
select id, status, flow_id from jobs where tenant_id = :tenant_id and id = any(:ids::uuid[]) order by id for share
