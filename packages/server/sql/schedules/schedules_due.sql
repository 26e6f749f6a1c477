-- Takes a firing lease on schedules (any tenant) with a slot due or a buffered fire waiting and
-- no live lease: rows another replica is taking are skipped, never waited for.
-- :now       timestamptz  the scheduler's clock
-- :limit     int
-- :lease     uuid         this firing's lease
-- :lease_ms  int          how long the lease lasts
with due as (
  select tenant_id as due_tenant, id as due_id from schedules
   where not paused and ((next_fire_at is not null and next_fire_at <= :now) or buffered_at is not null)
     and (firing_until is null or firing_until < now())
   order by next_fire_at nulls last
   limit :limit
     for update skip locked
)
update schedules s set firing_lease = :lease, firing_until = now() + make_interval(secs => :lease_ms::double precision / 1000)
  from due where s.tenant_id = due.due_tenant and s.id = due.due_id
returning
-- @include schedule_columns
