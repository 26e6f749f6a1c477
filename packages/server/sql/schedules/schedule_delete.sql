-- Deletes a schedule (its jobs stay).
-- :tenant_id  text
-- :id         uuid
delete from schedules where tenant_id = :tenant_id and id = :id returning id
