-- What a request with a session cookie needs, in one read: the session's expiry (absolute and idle,
-- by the database clock), and its key, tenant and rate quota exactly as an API key request reads
-- them, so a revoked or expired key ends its sessions at once.
-- :token_hash     bytea   SHA-256 of the session token
-- :idle_seconds   float8  a session unused this long is over
-- :touch_seconds  float8  last_seen_at older than this is due to be written again
select k.id, k.tenant_id, k.role, k.signing_public_key,
       k.revoked_at is not null as revoked,
       coalesce(k.expires_at <= now(), false) as expired,
       t.status = 'active' as tenant_active,
       q.requests_per_second, q.burst,
       s.expires_at <= now() as session_expired,
       s.last_seen_at <= now() - make_interval(secs => :idle_seconds::double precision) as session_idle,
       s.last_seen_at < now() - make_interval(secs => :touch_seconds::double precision) as touch_due,
       s.expires_at as session_expires_at
  from ui_sessions s
  join api_keys k on k.id = s.key_id
  join tenants t on t.id = k.tenant_id
  left join tenant_quotas q on q.tenant_id = k.tenant_id
 where s.token_hash = :token_hash
