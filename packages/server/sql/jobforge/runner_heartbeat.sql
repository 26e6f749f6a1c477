-- Records a heartbeat; a draining one also moves an active runner to draining (no new work).
-- :id        text
-- :draining  boolean
update runners set last_heartbeat_at = now(),
       status = case when :draining and status = 'active' then 'draining' else status end
 where id = :id
