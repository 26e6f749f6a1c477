-- Marks a running job for cancellation; its runner is told on its next heartbeat.
-- :tenant_id  text
-- :id         uuid
update jobs set cancel_requested_at = coalesce(cancel_requested_at, now()), updated_at = now()
 where tenant_id = :tenant_id and id = :id
