-- The highest seq of the tenant (0 when none): where a new subscription starts.
-- :tenant_id  text
select coalesce(max(seq), 0) as head from truth_assertions where tenant_id = :tenant_id
