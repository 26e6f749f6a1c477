-- Opens a dashboard session for a key (the SHA-256 of its token, never the token) that ends at the
-- absolute expiry whatever its use; answers when it ends.
-- :token_hash        bytea    SHA-256 of the session token
-- :key_id            uuid     the API key the session acts as
-- :tenant_id         text     that key's tenant
-- :absolute_seconds  float8   lifetime from now, however active
insert into ui_sessions (token_hash, key_id, tenant_id, expires_at)
values (:token_hash, :key_id, :tenant_id, now() + make_interval(secs => :absolute_seconds::double precision))
returning expires_at
