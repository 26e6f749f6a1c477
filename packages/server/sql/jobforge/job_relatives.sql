-- A job's parents and children in its flow.
-- :tenant_id  text
-- :id         uuid
select 'parent' as relation, parent_id as id from job_dependencies where tenant_id = :tenant_id and child_id = :id
union all
select 'child', child_id from job_dependencies where tenant_id = :tenant_id and parent_id = :id
 order by 1, 2
