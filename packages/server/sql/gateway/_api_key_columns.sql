-- The columns of an API key as ApiKeyRecord shows it (never its secret hash).
id, tenant_id, prefix, role, name, expires_at, revoked_at, last_used_at, created_by, created_at
