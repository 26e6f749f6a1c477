-- Records a submission's flow edges (a repeated submission records nothing new).
-- :tenant_id  text
-- :edges      jsonb  [{child_id, parent_id, policy}]
insert into job_dependencies (tenant_id, child_id, parent_id, policy)
select :tenant_id, e.child_id, e.parent_id, e.policy
  from jsonb_to_recordset(:edges::jsonb) as e(child_id uuid, parent_id uuid, policy text)
on conflict do nothing
