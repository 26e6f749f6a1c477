-- The tenant's running-jobs limit and how many of its jobs hold a lease now (no row: no limit).
-- :tenant_id  text
select q.max_running_jobs,
       (select count(*)::int from jobs j where j.tenant_id = :tenant_id and j.status in (@statuses(leased))) as running
  from tenant_quotas q
 where q.tenant_id = :tenant_id
