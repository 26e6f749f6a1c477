-- Records a firing step under its lease and ends the lease: the next slot, runs, the last job and
-- any buffered slot. Answers nothing when the lease was lost (it ran out and another replica took
-- the schedule, or the schedule was changed or deleted meanwhile).
-- :tenant_id      text
-- :id             uuid
-- :lease          uuid
-- :next_fire_at   timestamptz
-- :runs           int
-- :last_job_id    uuid
-- :last_fired_at  timestamptz
-- :buffered_at    timestamptz
update schedules set next_fire_at = :next_fire_at, runs = :runs, last_job_id = :last_job_id, last_fired_at = :last_fired_at,
       buffered_at = :buffered_at, firing_lease = null, firing_until = null
 where tenant_id = :tenant_id and id = :id and firing_lease = :lease
returning id
