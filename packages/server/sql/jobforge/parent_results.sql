-- The results of a leased job's parents, for its handler: only while the job is leased to this
-- runner under this lease and token (checked in the statement), and only parents of the job's own
-- tenant (the edges cannot cross tenants). No row when the lease is not held.
-- :tenant_id      text
-- :id             uuid    the child
-- :runner_id      text
-- :lease_id       uuid
-- :fencing_token  bigint
select p.id, p.type, p.status, p.result, p.error
  from jobs c
  join job_dependencies d on d.tenant_id = c.tenant_id and d.child_id = c.id
  join jobs p on p.tenant_id = d.tenant_id and p.id = d.parent_id
 where c.tenant_id = :tenant_id and c.id = :id and c.status in (@statuses(leased)) and c.lease_runner_id = :runner_id
   and c.lease_id = :lease_id and c.fencing_token = :fencing_token::bigint
 order by p.id
