-- How this exact lease ended, if it has (tells a re-sent outcome from a stale one).
-- :tenant_id      text
-- :job_id         uuid
-- :lease_id       uuid
-- :fencing_token  bigint
-- :runner_id      text
select outcome from job_attempts
 where tenant_id = :tenant_id and job_id = :job_id and lease_id = :lease_id and fencing_token = :fencing_token::bigint
   and runner_id = :runner_id
