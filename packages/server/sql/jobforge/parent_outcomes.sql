-- What each of these (locked, pending) children's parents decide: `ready` when every parent
-- completed (or, under policy ignore, ended); `orphan` or `cancel` as soon as a parent failed or
-- was cancelled under policy fail or cancel; nothing while parents still run.
-- :tenant_id  text
-- :ids        uuid[]  the children
select d.child_id as id,
       case when bool_or(p.status in (@to(fail), @to(cancel))) and min(d.policy) = 'fail' then 'orphan'
            when bool_or(p.status in (@to(fail), @to(cancel))) and min(d.policy) = 'cancel' then 'cancel'
            when bool_and(p.status = @to(complete))
              or (min(d.policy) = 'ignore' and bool_and(p.status in (@statuses(terminal)))) then 'ready'
       end as outcome,
       array_agg(p.id order by p.id) filter (where p.status in (@to(fail), @to(cancel))) as failed_parents
  from job_dependencies d join jobs p on p.tenant_id = d.tenant_id and p.id = d.parent_id
 where d.tenant_id = :tenant_id and d.child_id = any(:ids::uuid[])
 group by d.child_id
