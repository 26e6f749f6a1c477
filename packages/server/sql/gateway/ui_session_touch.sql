-- Records a session's use (its idle expiry counts from here).
-- :token_hash  bytea  SHA-256 of the session token
update ui_sessions set last_seen_at = now() where token_hash = :token_hash
