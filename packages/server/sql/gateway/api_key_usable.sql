-- Whether a key can still authenticate (exists, not revoked, not expired), judged by the database
-- clock; no row when there is no such key.
-- :id  uuid
select revoked_at is null and coalesce(expires_at > now(), true) as usable from api_keys where id = :id
