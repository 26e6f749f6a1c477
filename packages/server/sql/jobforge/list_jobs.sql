-- A page of the tenant's jobs, newest first, with optional filters (null: any) and a keyset cursor
-- (the created_at and id of the previous page's last job). Each row also carries its created_at as
-- exact text (cursor_at): a JS Date would round it to the millisecond, and the next page would skip
-- the jobs of a batch, which share one now().
-- :tenant_id         text
-- :status            text         only jobs in this status
-- :type              text         only jobs of this type
-- :dead_lettered     boolean      only dead-lettered jobs (true) or only others (false)
-- :flow_id           uuid         only the jobs of this flow (its root and every job below it)
-- :after_created_at  text         cursor (cursor_at of the previous page's last job)
-- :after_id          uuid         cursor
-- :limit             int
select
-- @include job_columns
       , to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_at
  from jobs
 where tenant_id = :tenant_id
   and (:status::text is null or status = :status::text)
   and (:type::text is null or type = :type::text)
   and (:dead_lettered::boolean is null or (dead_lettered_at is not null) = :dead_lettered::boolean)
   and (:flow_id::uuid is null or flow_id = :flow_id::uuid or id = :flow_id::uuid)
   and (:after_created_at::timestamptz is null or (created_at, id) < (:after_created_at::timestamptz, :after_id::uuid))
 order by created_at desc, id desc
 limit :limit
