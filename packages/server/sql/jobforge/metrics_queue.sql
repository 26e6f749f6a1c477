-- Unfinished jobs per tenant, pool, type and status, and the age in seconds of the oldest of each
-- group: since it could run (waiting statuses: its run_at) or since its lease began (leased: its
-- updated_at). The metrics listener reads it on each scrape, across tenants.
select tenant_id, pool, type, status, count(*)::int as n,
       greatest(0, extract(epoch from now() - min(case when status in (@statuses(leased)) then updated_at else run_at end)))::float8
         as oldest_seconds
  from jobs
 where status in (@statuses(waiting), @statuses(leased))
 group by tenant_id, pool, type, status
