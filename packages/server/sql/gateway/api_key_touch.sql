-- Records a key's use, at most once per interval across all replicas: the condition makes a second
-- replica's write within the interval a no-op instead of another row version.
-- :id                    uuid
-- :min_interval_seconds  float8
update api_keys set last_used_at = now()
 where id = :id and (last_used_at is null or last_used_at < now() - make_interval(secs => :min_interval_seconds::double precision))
