-- A page of the tenant's jobs, newest first, with optional filters (null: any) and a keyset cursor
-- (the created_at and id of the previous page's last job).
-- :tenant_id         text
-- :status            text         only jobs in this status
-- :type              text         only jobs of this type
-- :dead_lettered     boolean      only dead-lettered jobs (true) or only others (false)
-- :after_created_at  timestamptz  cursor
-- :after_id          uuid         cursor
-- :limit             int
select
-- @include job_columns
  from jobs
 where tenant_id = :tenant_id
   and (:status::text is null or status = :status::text)
   and (:type::text is null or type = :type::text)
   and (:dead_lettered::boolean is null or (dead_lettered_at is not null) = :dead_lettered::boolean)
   and (:after_created_at::timestamptz is null or (created_at, id) < (:after_created_at::timestamptz, :after_id::uuid))
 order by created_at desc, id desc
 limit :limit
