-- Leased jobs whose lease has run out, locked for the reaper (any tenant).
-- :limit  int
select
-- @include job_columns
  from jobs
 where status in (@statuses(leased)) and lease_expires_at < now()
 order by lease_expires_at
 limit :limit
   for update skip locked
