-- Locks the job iff it is currently leased to this runner under this lease id and fencing token.
-- :tenant_id      text
-- :id             uuid
-- :runner_id      text
-- :lease_id       uuid
-- :fencing_token  bigint
select
-- @include job_columns
  from jobs
 where tenant_id = :tenant_id and id = :id and status in (@statuses(leased)) and lease_runner_id = :runner_id
   and lease_id = :lease_id and fencing_token = :fencing_token::bigint
   for update
