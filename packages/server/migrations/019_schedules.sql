-- Schedules (orchestration): a tenant's recurring job. Each fire submits an ordinary job whose id
-- is derived from the schedule and the slot's time, so two replicas, a restart or a clock step
-- never fire a slot twice. The row holds the next slot; a firing replica takes a short lease on
-- the row (firing_lease, firing_until), submits the slots' jobs and moves next_fire_at on under
-- that lease. A replica that dies mid-fire leaves a lease that runs out; the next one recomputes
-- the same slots, whose jobs already exist.
create table schedules (
  tenant_id text not null references tenants (id),
  id uuid not null,
  name text not null,
  template jsonb not null,
  cron text,
  timezone text not null default 'UTC',
  interval_ms bigint constraint schedules_interval_check check (interval_ms >= 1000),
  start_at timestamptz,
  end_at timestamptz,
  max_runs integer constraint schedules_max_runs_check check (max_runs > 0),
  runs integer not null default 0,
  paused boolean not null default false,
  overlap text not null constraint schedules_overlap_check check (overlap in ('skip', 'buffer-one', 'allow', 'cancel-previous')),
  catch_up text not null constraint schedules_catch_up_check check (catch_up in ('skip', 'latest', 'all')),
  catch_up_limit integer not null default 10 constraint schedules_catch_up_limit_check check (catch_up_limit between 1 and 1000),
  next_fire_at timestamptz,
  buffered_at timestamptz,
  last_job_id uuid,
  last_fired_at timestamptz,
  firing_lease uuid,
  firing_until timestamptz,
  created_by text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint schedules_one_rule check ((cron is null) <> (interval_ms is null)),
  constraint schedules_name_unique unique (tenant_id, name)
);
create index schedules_due_idx on schedules (next_fire_at) where not paused and next_fire_at is not null;
create index schedules_buffered_idx on schedules (buffered_at) where buffered_at is not null;
alter table schedules enable row level security;
alter table schedules force row level security;
create policy tenant_isolation on schedules using (cp_tenant_visible(tenant_id)) with check (cp_tenant_visible(tenant_id));
