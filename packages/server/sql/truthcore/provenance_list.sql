-- The provenance of every recorded attempt of a job, first first.
-- :tenant_id  text
-- :job_id     uuid
select
-- @include provenance_columns
  from truth_job_provenance where tenant_id = :tenant_id and job_id = :job_id order by attempt
