-- Row-level security on every table that holds a tenant's rows: the second line of defence under
-- the `tenant_id = $1` every query already carries. A row is visible only when its tenant is the
-- connection's `app.tenant_id`, or when `app.scope` is 'system' (the duties that span tenants:
-- lease reaper, reconciler, outbox relay, key rotation, credential lookups before the tenant is
-- known). A connection that sets neither sees no rows and can write none.
--
-- FORCE applies the policies to the tables' owner as well; only superusers and roles with
-- BYPASSRLS are exempt, so services must not run as either (`controlplane doctor` checks).
-- Later migrations that read or change tenant rows must first run
--   select set_config('app.scope', 'system', true);
-- The application sets both settings per connection from its data scope (src/storage/data-scope.ts).

create function cp_tenant_visible(row_tenant text) returns boolean
  language sql stable parallel safe
  as $$ select row_tenant = current_setting('app.tenant_id', true) or current_setting('app.scope', true) = 'system' $$;

alter table tenants enable row level security;
alter table tenants force row level security;
create policy tenant_isolation on tenants using (cp_tenant_visible(id)) with check (cp_tenant_visible(id));

alter table tenant_quotas enable row level security;
alter table tenant_quotas force row level security;
create policy tenant_isolation on tenant_quotas using (cp_tenant_visible(tenant_id)) with check (cp_tenant_visible(tenant_id));

alter table api_keys enable row level security;
alter table api_keys force row level security;
create policy tenant_isolation on api_keys using (cp_tenant_visible(tenant_id)) with check (cp_tenant_visible(tenant_id));

alter table jobs enable row level security;
alter table jobs force row level security;
create policy tenant_isolation on jobs using (cp_tenant_visible(tenant_id)) with check (cp_tenant_visible(tenant_id));

alter table job_events enable row level security;
alter table job_events force row level security;
create policy tenant_isolation on job_events using (cp_tenant_visible(tenant_id)) with check (cp_tenant_visible(tenant_id));

alter table job_attempts enable row level security;
alter table job_attempts force row level security;
create policy tenant_isolation on job_attempts using (cp_tenant_visible(tenant_id)) with check (cp_tenant_visible(tenant_id));

alter table job_types enable row level security;
alter table job_types force row level security;
create policy tenant_isolation on job_types using (cp_tenant_visible(tenant_id)) with check (cp_tenant_visible(tenant_id));

alter table join_tokens enable row level security;
alter table join_tokens force row level security;
create policy tenant_isolation on join_tokens using (cp_tenant_visible(tenant_id)) with check (cp_tenant_visible(tenant_id));

alter table runners enable row level security;
alter table runners force row level security;
create policy tenant_isolation on runners using (cp_tenant_visible(tenant_id)) with check (cp_tenant_visible(tenant_id));

-- A certificate belongs to the tenant of its runner (the subquery is itself filtered by runners' policy).
alter table runner_certificates enable row level security;
alter table runner_certificates force row level security;
create policy tenant_isolation on runner_certificates
  using (exists (select 1 from runners r where r.id = runner_certificates.runner_id))
  with check (exists (select 1 from runners r where r.id = runner_certificates.runner_id));

alter table result_outbox enable row level security;
alter table result_outbox force row level security;
create policy tenant_isolation on result_outbox using (cp_tenant_visible(tenant_id)) with check (cp_tenant_visible(tenant_id));

alter table data_keys enable row level security;
alter table data_keys force row level security;
create policy tenant_isolation on data_keys using (cp_tenant_visible(tenant_id)) with check (cp_tenant_visible(tenant_id));

alter table data_key_current enable row level security;
alter table data_key_current force row level security;
create policy tenant_isolation on data_key_current using (cp_tenant_visible(tenant_id)) with check (cp_tenant_visible(tenant_id));

alter table truth_assertions enable row level security;
alter table truth_assertions force row level security;
create policy tenant_isolation on truth_assertions using (cp_tenant_visible(tenant_id)) with check (cp_tenant_visible(tenant_id));

alter table truth_job_provenance enable row level security;
alter table truth_job_provenance force row level security;
create policy tenant_isolation on truth_job_provenance using (cp_tenant_visible(tenant_id)) with check (cp_tenant_visible(tenant_id));

-- Audit events: a tenant reads its own; events of no tenant (start-up, failed authentication
-- before a tenant is known) only the system scope reads. Any scope may append an event of its own
-- tenant or of none. The chain's head is read in the system scope (src/audit/audit-chain.ts).
alter table audit_events enable row level security;
alter table audit_events force row level security;
create policy tenant_isolation on audit_events for select using (cp_tenant_visible(tenant_id));
create policy tenant_append on audit_events for insert with check (tenant_id is null or cp_tenant_visible(tenant_id));
