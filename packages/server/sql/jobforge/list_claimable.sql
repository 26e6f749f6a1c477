-- Claimable jobs in (tenant, id) order after a cursor, for rebuilding the dispatch queue.
-- :after_tenant_id  text  cursor, or null for the first page
-- :after_id         uuid  cursor
-- :limit            int
select tenant_id, id, pool, type, priority, run_at from jobs
 where status in (@statuses(claimable)) and cancel_requested_at is null
   and (:after_tenant_id::text is null or (tenant_id, id) > (:after_tenant_id::text, :after_id::uuid))
 order by tenant_id, id
 limit :limit
