-- How many of the tenant's jobs are in each status, and how many are dead letters.
-- :tenant_id  text
select status, count(*)::int as n, (count(*) filter (where dead_lettered_at is not null))::int as dead_lettered
  from jobs
 where tenant_id = :tenant_id
 group by status
