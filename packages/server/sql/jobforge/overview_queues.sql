-- The tenant's waiting jobs by type: how many, and how long the oldest has waited (database clock).
-- :tenant_id  text
select type, count(*)::int as depth, extract(epoch from now() - min(created_at))::float8 as oldest_age_seconds
  from jobs
 where tenant_id = :tenant_id and status in (@statuses(waiting))
 group by type
 order by type
