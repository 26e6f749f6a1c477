-- Concurrency keys (orchestration): a job may carry `metadata.concurrencyKey`; at most the job
-- type's `concurrency_limit` jobs of one (tenant, type, key) hold a lease at once (1 when the type
-- sets none), across every runner and JobForge replica.
--
-- Each key has a slot row. Leasing locks it (FOR UPDATE SKIP LOCKED: a lessor never waits on
-- another) and records in `holders` the (job, fencing token) of each lease it grants; a later
-- lessor locks the row's newest version and counts the holders still running — a holder whose
-- job shows an older fencing token (or none, or no row) was leased after its snapshot and counts
-- as running. Completions never touch the row, so a finished job frees its place at once and no
-- outcome waits on a lessor.
alter table jobs add column concurrency_key text;
alter table job_types add column concurrency_limit integer;
alter table job_types add constraint job_types_concurrency_limit_check check (concurrency_limit > 0);

create table concurrency_slots (
  tenant_id text not null references tenants (id),
  type text not null,
  key text not null,
  holders jsonb not null default '[]'::jsonb,
  primary key (tenant_id, type, key)
);
alter table concurrency_slots enable row level security;
alter table concurrency_slots force row level security;
create policy tenant_isolation on concurrency_slots using (cp_tenant_visible(tenant_id)) with check (cp_tenant_visible(tenant_id));

-- The lease statements' pre-filter: which keys are already at their limit.
create index jobs_running_key_idx on jobs (tenant_id, type, concurrency_key) where status = 'running' and concurrency_key is not null;
