-- Uses a join token once: only an unused, unexpired token matches, and it is used up in the same statement.
-- :token_hash  text
-- :used_by     text
update join_tokens set used_at = now(), used_by = :used_by
 where token_hash = :token_hash and used_at is null and expires_at > now()
returning id, tenant_id, pool
