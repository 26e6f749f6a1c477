-- How many of the tenant's runners are in each state.
-- :tenant_id  text
select status, count(*)::int as n from runners where tenant_id = :tenant_id group by status
