-- Appends job events (data already sealed where it holds a runner's text).
-- :events  jsonb  [{id, tenant_id, job_id, type, data}]
insert into job_events (id, tenant_id, job_id, type, data)
select t.id, t.tenant_id, t.job_id, t.type, t.data
  from jsonb_to_recordset(:events::jsonb) as t(id uuid, tenant_id text, job_id uuid, type text, data jsonb)
