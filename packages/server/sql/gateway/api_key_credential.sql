-- What authentication needs about a key, its tenant and the tenant's rate quota, in one read.
-- Expiry is judged by the database clock, the one clock every replica shares.
-- :prefix  text  the key's public part
select k.id, k.tenant_id, k.role, k.secret_hash, k.signing_public_key, k.last_used_at,
       k.revoked_at is not null as revoked,
       coalesce(k.expires_at <= now(), false) as expired,
       t.status = 'active' as tenant_active,
       q.requests_per_second, q.burst
  from api_keys k
  join tenants t on t.id = k.tenant_id
  left join tenant_quotas q on q.tenant_id = k.tenant_id
 where k.prefix = :prefix
