-- Who holds this exact lease on a job now (no row: nobody).
-- :tenant_id      text
-- :id             uuid
-- :lease_id       uuid
-- :fencing_token  bigint
select lease_runner_id from jobs
 where tenant_id = :tenant_id and id = :id and status in (@statuses(leased)) and lease_id = :lease_id
   and fencing_token = :fencing_token::bigint
