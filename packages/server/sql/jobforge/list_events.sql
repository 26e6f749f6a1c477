-- A job's events after a sequence number, oldest first.
-- :tenant_id  text
-- :job_id     uuid
-- :after_seq  bigint
-- :limit      int
select seq, id, job_id, type, created_at, data from job_events
 where tenant_id = :tenant_id and job_id = :job_id and seq > :after_seq::bigint
 order by seq
 limit :limit
