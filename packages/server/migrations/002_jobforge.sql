-- JobForge: jobs, their events and attempts, job-type contracts, runners and join tokens.
-- Every tenant-owned table carries tenant_id and is keyed by it first.

create sequence job_fencing_seq as bigint;

create table job_types (
  tenant_id     text not null references tenants (id),
  type          text not null,
  input_schema  jsonb,
  output_schema jsonb,
  pool          text not null default 'default',
  version       integer not null default 1,
  updated_at    timestamptz not null default now(),
  primary key (tenant_id, type)
);

create table jobs (
  tenant_id           text not null references tenants (id),
  id                  uuid not null,
  type                text not null,
  pool                text not null,
  priority            smallint not null check (priority between 0 and 100),
  status              text not null check (status in ('pending', 'queued', 'running', 'completed', 'failed', 'cancelled', 'retrying')),
  request             jsonb not null,
  request_digest      text not null,
  attempts            integer not null default 0,
  -- attempts made before the last re-drive or release; the retry budget counts from here
  retry_base          integer not null default 0,
  run_at              timestamptz not null,
  expires_at          timestamptz,
  timeout_ms          integer not null check (timeout_ms > 0),
  lease_id            uuid,
  lease_runner_id     text,
  lease_expires_at    timestamptz,
  fencing_token       bigint,
  cancel_requested_at timestamptz,
  result              jsonb,
  error               jsonb,
  dead_lettered_at    timestamptz,
  submitted_by        text,
  created_at          timestamptz not null default now(),
  updated_at          timestamptz not null default now(),
  finished_at         timestamptz,
  primary key (tenant_id, id),
  check ((status = 'running') = (lease_id is not null))
);
-- The PostgreSQL queue scans this in claim order and skips other types.
create index jobs_ready_idx on jobs (tenant_id, pool, priority desc, run_at, id) where status in ('queued', 'retrying');
create index jobs_lease_expiry_idx on jobs (lease_expires_at) where status = 'running';
create index jobs_expiry_idx on jobs (expires_at) where status in ('queued', 'retrying') and expires_at is not null;
create index jobs_list_idx on jobs (tenant_id, created_at desc, id desc);
create index jobs_status_list_idx on jobs (tenant_id, status, created_at desc, id desc);
create index jobs_dead_letter_idx on jobs (tenant_id, dead_lettered_at desc) where dead_lettered_at is not null;

create table job_events (
  seq        bigserial primary key,
  id         uuid not null unique,
  tenant_id  text not null,
  job_id     uuid not null,
  type       text not null,
  created_at timestamptz not null default now(),
  data       jsonb,
  foreign key (tenant_id, job_id) references jobs (tenant_id, id)
);
create index job_events_job_idx on job_events (tenant_id, job_id, seq);

create table job_attempts (
  tenant_id        text not null,
  job_id           uuid not null,
  attempt          integer not null,
  runner_id        text not null,
  lease_id         uuid not null,
  fencing_token    bigint not null,
  started_at       timestamptz not null,
  finished_at      timestamptz,
  outcome          text check (outcome in ('completed', 'failed', 'lease_expired', 'cancelled', 'released')),
  error            jsonb,
  -- the runner's signature over the outcome and the certificate it was verified against
  result_signature text,
  runner_cert_fingerprint text,
  primary key (tenant_id, job_id, attempt),
  foreign key (tenant_id, job_id) references jobs (tenant_id, id)
);
create unique index job_attempts_fencing_idx on job_attempts (fencing_token);

create table runners (
  id                text primary key,
  tenant_id         text not null references tenants (id),
  pool              text not null,
  name              text not null,
  version           text,
  capabilities      jsonb not null default '[]',
  job_types         text[] not null default '{}',
  tags              text[] not null default '{}',
  status            text not null default 'enrolled' check (status in ('enrolled', 'active', 'revoked')),
  last_heartbeat_at timestamptz,
  revoked_at        timestamptz,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now()
);
create index runners_tenant_idx on runners (tenant_id, pool);

create table runner_certificates (
  serial_number  text primary key,
  runner_id      text not null references runners (id),
  fingerprint256 text not null,
  certificate_pem text not null,
  not_after      timestamptz not null,
  issued_at      timestamptz not null default now(),
  revoked_at     timestamptz
);
create index runner_certificates_runner_idx on runner_certificates (runner_id);

create table join_tokens (
  id          uuid primary key,
  tenant_id   text not null references tenants (id),
  pool        text not null,
  token_hash  text not null unique,
  expires_at  timestamptz not null,
  used_at     timestamptz,
  used_by     text,
  created_by  text,
  created_at  timestamptz not null default now()
);
