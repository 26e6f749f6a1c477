-- Stores a single-use join token (its hash only) that expires after ttl_ms.
-- :id          text
-- :tenant_id   text
-- :pool        text
-- :token_hash  text
-- :ttl_ms      int
-- :created_by  text
insert into join_tokens (id, tenant_id, pool, token_hash, expires_at, created_by)
values (:id, :tenant_id, :pool, :token_hash, now() + make_interval(secs => :ttl_ms::double precision / 1000), :created_by)
returning expires_at
