-- Ends a session (sign-out, or found expired).
-- :token_hash  bytea  SHA-256 of the session token
delete from ui_sessions where token_hash = :token_hash
