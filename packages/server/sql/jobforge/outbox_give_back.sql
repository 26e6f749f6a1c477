-- Gives a claimed, undelivered row back for the next round.
-- :id  bigint
update result_outbox set next_attempt_at = now() where id = :id and delivered_at is null
