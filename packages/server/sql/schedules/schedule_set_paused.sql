-- Pauses or resumes a schedule; resuming sets the next slot the caller computed from now (slots
-- of the pause are not fired). Any firing lease is ended: its advance records nothing.
-- :tenant_id     text
-- :id            uuid
-- :paused        boolean
-- :next_fire_at  timestamptz
update schedules set paused = :paused, next_fire_at = :next_fire_at, buffered_at = null, firing_lease = null,
       firing_until = null, updated_at = now()
 where tenant_id = :tenant_id and id = :id
returning
-- @include schedule_columns
