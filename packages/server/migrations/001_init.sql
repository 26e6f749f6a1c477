-- Tenants. Every other row belongs to one. The id is lower-case ASCII because it travels into
-- Redis keys, certificate SANs and the app.tenant_id setting that row-level security reads.
create table tenants (
  id text primary key
    constraint tenants_id_format check (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name text not null,
  status text not null default 'active'
    constraint tenants_status_check check (status in ('active', 'suspended')),
  created_at timestamptz not null default now()
);
