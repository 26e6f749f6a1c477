-- Waiting jobs past their expiresAt, locked for the expirer (any tenant).
-- :limit  int
select
-- @include job_columns
  from jobs
 where status in (@from(expire)) and expires_at is not null and expires_at <= now()
 order by expires_at
 limit :limit
   for update skip locked
