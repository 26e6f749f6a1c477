-- A delivery that failed and will be tried again after a backoff.
-- :id          bigint
-- :last_error  text
-- :backoff_ms  int
update result_outbox set attempts = attempts + 1, last_error = :last_error,
       next_attempt_at = now() + make_interval(secs => :backoff_ms::double precision / 1000)
 where id = :id
