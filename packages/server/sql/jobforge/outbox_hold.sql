-- Pushes the next attempt of claimed rows out, so other deliverers skip them while this one works.
-- :ids      bigint[]
-- :hold_ms  int
update result_outbox set next_attempt_at = now() + make_interval(secs => :hold_ms::double precision / 1000)
 where id = any(:ids::bigint[])
