-- Stores a new API key (the SHA-256 of its text, never the text) if its tenant exists; no row when
-- it does not.
-- :id                  uuid
-- :tenant_id           text
-- :prefix              text         the key's public, indexed part
-- :secret_hash         bytea        SHA-256 of the whole key text
-- :role                text
-- :name                text
-- :signing_public_key  text         SPKI PEM of the Ed25519 key that verifies its signed requests
-- :expires_at          timestamptz  or null: never
-- :created_by          text         or null
insert into api_keys (id, tenant_id, prefix, secret_hash, role, name, signing_public_key, expires_at, created_by)
select :id, :tenant_id, :prefix, :secret_hash, :role, :name, :signing_public_key, :expires_at, :created_by
 where exists (select 1 from tenants where id = :tenant_id)
returning
-- @include api_key_columns
