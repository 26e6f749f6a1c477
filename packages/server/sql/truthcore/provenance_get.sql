-- The provenance of one attempt of a job.
-- :tenant_id  text
-- :job_id     uuid
-- :attempt    int
select
-- @include provenance_columns
  from truth_job_provenance where tenant_id = :tenant_id and job_id = :job_id and attempt = :attempt
