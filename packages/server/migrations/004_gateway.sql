-- Gateway: API keys (stored only as hashes) and per-tenant quotas.

-- The reserved platform tenant. An API key with role admin here is a platform administrator: it
-- manages tenants and quotas. No jobs are expected to run in it.
insert into tenants (id, name) values ('system', 'Platform administration') on conflict (id) do nothing;

create table api_keys (
  id                 uuid primary key,
  tenant_id          text not null references tenants (id),
  -- The public part of the key (cpk_<prefix>_<secret>): found by index, safe to log and show.
  prefix             text not null unique
    constraint api_keys_prefix_format check (prefix ~ '^[0-9a-f]{16}$'),
  -- SHA-256 of the whole key text. The secret is 256 random bits, so a fast hash is as strong as
  -- a slow one here and keeps authentication cheap (docs/gateway.md).
  secret_hash        bytea not null
    constraint api_keys_secret_hash_length check (length(secret_hash) = 32),
  role               text not null
    constraint api_keys_role_check check (role in ('admin', 'operator', 'submitter', 'viewer')),
  name               text not null
    constraint api_keys_name_length check (length(name) between 1 and 200),
  -- Ed25519 public key (SPKI PEM) that verifies this key's signed critical requests.
  signing_public_key text not null,
  expires_at         timestamptz,
  revoked_at         timestamptz,
  last_used_at       timestamptz,
  created_by         text,
  created_at         timestamptz not null default now()
);
create index api_keys_tenant_idx on api_keys (tenant_id, created_at desc, id);

-- Absent row or null column = no limit beyond the gateway's defaults.
create table tenant_quotas (
  tenant_id           text primary key references tenants (id),
  max_queued_jobs     integer constraint tenant_quotas_max_queued_check check (max_queued_jobs >= 0),
  max_running_jobs    integer constraint tenant_quotas_max_running_check check (max_running_jobs >= 0),
  max_payload_bytes   integer constraint tenant_quotas_max_payload_check check (max_payload_bytes > 0),
  requests_per_second integer constraint tenant_quotas_rps_check check (requests_per_second > 0),
  burst               integer constraint tenant_quotas_burst_check check (burst > 0),
  updated_by          text,
  updated_at          timestamptz not null default now()
);
