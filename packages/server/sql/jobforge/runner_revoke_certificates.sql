-- Revokes every certificate a runner holds.
-- :runner_id  text
update runner_certificates set revoked_at = coalesce(revoked_at, now()) where runner_id = :runner_id
