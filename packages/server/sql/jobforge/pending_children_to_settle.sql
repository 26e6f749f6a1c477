-- Pending jobs (any tenant) with a parent that has ended: what the flow sweep settles, in case a
-- crash came between a parent's end and the settling of its children.
-- :limit  int
select distinct d.tenant_id, d.child_id as id
  from jobs c join job_dependencies d on d.tenant_id = c.tenant_id and d.child_id = c.id
  join jobs p on p.tenant_id = d.tenant_id and p.id = d.parent_id
 where c.status in (@from(ready)) and p.status in (@statuses(terminal))
 limit :limit
