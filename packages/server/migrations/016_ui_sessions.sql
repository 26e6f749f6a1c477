-- Dashboard sessions (docs/dashboard.md): an API key exchanged for a short-lived browser session.
-- Only the SHA-256 of the session token is stored. A session has no rights of its own: every
-- request reads its key's row, so revoking or expiring the key ends its sessions at once.
create table ui_sessions (
  token_hash   bytea primary key
    constraint ui_sessions_token_hash_length check (length(token_hash) = 32),
  key_id       uuid not null references api_keys (id) on delete cascade,
  tenant_id    text not null references tenants (id),
  created_at   timestamptz not null default now(),
  -- Idle expiry counts from here; written at most every few seconds (src/gateway/ui-sessions.ts).
  last_seen_at timestamptz not null default now(),
  -- Absolute expiry: no request extends it.
  expires_at   timestamptz not null
);
create index ui_sessions_key_idx on ui_sessions (key_id);
create index ui_sessions_expiry_idx on ui_sessions (expires_at);

alter table ui_sessions enable row level security;
alter table ui_sessions force row level security;
create policy tenant_isolation on ui_sessions using (cp_tenant_visible(tenant_id)) with check (cp_tenant_visible(tenant_id));
