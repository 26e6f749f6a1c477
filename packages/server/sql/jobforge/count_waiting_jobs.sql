-- The tenant's waiting jobs: what the queued-jobs quota limits.
-- :tenant_id  text
select count(*)::int as n from jobs where tenant_id = :tenant_id and status in (@statuses(waiting))
