-- Flows (orchestration): a job may name parents (`dependsOn`, jobs of its own tenant). It waits
-- in `pending` until they have ended; its parent policy (`fail`, `cancel`, `ignore`) decides what
-- a failed or cancelled parent does to it. The foreign keys hold both ends of an edge to one
-- tenant: no edge can join two tenants' jobs, whatever the code above does.
create table job_dependencies (
  tenant_id text not null,
  child_id uuid not null,
  parent_id uuid not null,
  policy text not null constraint job_dependencies_policy_check check (policy in ('fail', 'cancel', 'ignore')),
  primary key (tenant_id, child_id, parent_id),
  foreign key (tenant_id, child_id) references jobs (tenant_id, id),
  foreign key (tenant_id, parent_id) references jobs (tenant_id, id),
  constraint job_dependencies_not_self check (child_id <> parent_id)
);
create index job_dependencies_parent_idx on job_dependencies (tenant_id, parent_id);
alter table job_dependencies enable row level security;
alter table job_dependencies force row level security;
create policy tenant_isolation on job_dependencies using (cp_tenant_visible(tenant_id)) with check (cp_tenant_visible(tenant_id));

-- A flow is named by its root job's id: a child carries its first parent's flow (or that parent's
-- id when the parent is a root). Plain jobs carry none, so they cost the index nothing.
alter table jobs add column flow_id uuid;
create index jobs_flow_idx on jobs (tenant_id, flow_id) where flow_id is not null;
-- The sweep that settles children whose parents ended (a crash between a parent's end and its
-- children's settling leaves them pending) looks only at pending jobs.
create index jobs_pending_idx on jobs (tenant_id, id) where status = 'pending';
