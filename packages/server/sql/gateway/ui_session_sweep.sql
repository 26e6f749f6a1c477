-- Removes sessions past their absolute expiry or idle too long (run at each sign-in, so the table
-- holds only live sessions and those since the last sign-in).
-- :idle_seconds  float8  a session unused this long is over
delete from ui_sessions
 where expires_at <= now() or last_seen_at <= now() - make_interval(secs => :idle_seconds::double precision)
