-- Runners per tenant, pool and state, an active runner silent for :stale_seconds (since its last
-- heartbeat, or since it registered if it has not sent one yet) counted as stale.
-- The metrics listener reads it on each scrape, across tenants.
-- :stale_seconds  int  how long without a heartbeat makes an active runner stale
select tenant_id, pool,
       case when status = 'active'
                 and coalesce(last_heartbeat_at, updated_at) < now() - make_interval(secs => :stale_seconds::double precision)
            then 'stale' else status end as state,
       count(*)::int as n
  from runners
 group by 1, 2, 3
