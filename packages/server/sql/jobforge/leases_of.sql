-- Every lease the runner holds now.
-- :tenant_id  text
-- :runner_id  text
select id, lease_id, fencing_token from jobs
 where status in (@statuses(leased)) and tenant_id = :tenant_id and lease_runner_id = :runner_id
